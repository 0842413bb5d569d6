// What `signpost watch` says changed between two views of the registry.
#include "registry/cli/watch.hpp"

#include <gtest/gtest.h>

namespace signpost::registry::cli {
namespace {

InstanceState passing(const std::string& weight = "1") {
  return InstanceState{"passing", false, weight, "-", weight, "10.0.0.1", "80"};
}

TEST(DescribeChanges, NothingChangedSaysNothing) {
  const RegistryState state = {{"web", {{"a", passing()}}}};
  EXPECT_TRUE(describe_changes(state, state).empty());
}

TEST(DescribeChanges, NamesDrainsHealthAndWeights) {
  const RegistryState before = {{"web", {{"a", passing("5")}, {"b", passing()}, {"c", passing()}}}};
  RegistryState after = before;
  after["web"]["a"].drained = true;
  after["web"]["a"].effective_weight = "0";
  after["web"]["b"].health = "critical";
  after["web"]["c"].weight_override = "9";
  after["web"]["c"].effective_weight = "9";
  EXPECT_EQ(describe_changes(before, after),
            (std::vector<std::string>{"web/a drained", "web/b passing->critical",
                                      "web/c weight 1->9"}));
  EXPECT_EQ(describe_changes(after, before),
            (std::vector<std::string>{"web/a undrained", "web/b critical->passing",
                                      "web/c weight 9->1 (registered)"}));
}

TEST(DescribeChanges, NamesInstancesAndServicesThatComeAndGo) {
  const RegistryState before = {{"db", {{"x", passing()}}}, {"web", {{"a", passing()}}}};
  const RegistryState after = {{"api", {}}, {"web", {{"a", passing()}, {"b", passing()}}}};
  EXPECT_EQ(describe_changes(before, after),
            (std::vector<std::string>{"+service api", "+web/b (passing)", "-service db",
                                      "-db/x"}));
}

TEST(DescribeChanges, ReportsAddressAndPortChanges) {
  const RegistryState before = {{"web", {{"a", passing()}}}};
  RegistryState after = before;
  after["web"]["a"].addresses = "10.0.0.2";
  after["web"]["a"].port = "81";
  EXPECT_EQ(describe_changes(before, after),
            (std::vector<std::string>{"web/a addresses 10.0.0.2", "web/a port 80->81"}));
}

}  // namespace
}  // namespace signpost::registry::cli
