// Self-preservation: the condition, starting, both ways of ending, the block, the log.
#include "health/preservation.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace signpost::health {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Transition = Preservation::Transition;

const Clock::time_point kT0 = Clock::time_point(1000h);

class PreservationTest : public ::testing::Test {
 protected:
  Preservation make(PreservationSettings settings = {}) {
    return Preservation(settings, [this](const std::string& line) { lines.push_back(line); });
  }
  std::vector<std::string> lines;
};

TEST_F(PreservationTest, ConditionNeedsMoreThanTheThresholdOfEnoughInstances) {
  const Preservation preservation = make();
  EXPECT_FALSE(preservation.condition({.live = 100, .at_risk = 50}));  // exactly half: no
  EXPECT_TRUE(preservation.condition({.live = 100, .at_risk = 51}));
  EXPECT_TRUE(preservation.condition({.live = 10, .at_risk = 6}));
  EXPECT_FALSE(preservation.condition({.live = 9, .at_risk = 9}));  // below min_instances
  EXPECT_FALSE(preservation.condition({.live = 0, .at_risk = 0}));
}

TEST_F(PreservationTest, ThresholdZeroNeverPreserves) {
  Preservation preservation = make({.threshold = 0});
  EXPECT_FALSE(preservation.condition({.live = 1000, .at_risk = 1000}));
  EXPECT_EQ(preservation.update({.live = 1000, .at_risk = 1000}, kT0), Transition::none);
  EXPECT_FALSE(preservation.active());
  EXPECT_TRUE(lines.empty());
}

TEST_F(PreservationTest, StartsOnceAndLogsOnce) {
  Preservation preservation = make();
  EXPECT_EQ(preservation.update({.live = 100, .at_risk = 40}, kT0), Transition::none);
  EXPECT_FALSE(preservation.active());
  EXPECT_EQ(preservation.update({.live = 100, .at_risk = 62}, kT0 + 1s), Transition::started);
  EXPECT_TRUE(preservation.active());
  EXPECT_EQ(preservation.since(), kT0 + 1s);
  EXPECT_EQ(preservation.update({.live = 100, .at_risk = 80}, kT0 + 2s), Transition::none);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("SELF-PRESERVATION STARTED"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("62 of 100 instances (62%)"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("at most 300 s"), std::string::npos) << lines[0];
}

TEST_F(PreservationTest, EndsWhenHeartbeatsReturn) {
  Preservation preservation = make();
  preservation.update({.live = 100, .at_risk = 90}, kT0);
  EXPECT_EQ(preservation.update({.live = 100, .at_risk = 50, .overdue = 20}, kT0 + 42s),
            Transition::ended);
  EXPECT_FALSE(preservation.active());
  EXPECT_FALSE(preservation.blocked());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[1].find("SELF-PRESERVATION ENDED after 42 s: heartbeats returned"),
            std::string::npos)
      << lines[1];
  EXPECT_NE(lines[1].find("20 overdue leases expire unless renewed"), std::string::npos)
      << lines[1];
  // Not blocked: it may start again at once.
  EXPECT_EQ(preservation.update({.live = 100, .at_risk = 70}, kT0 + 43s), Transition::started);
}

TEST_F(PreservationTest, EndsAfterMaxAndStaysOffUntilTheConditionClears) {
  Preservation preservation = make({.max = 300s});
  preservation.update({.live = 100, .at_risk = 90}, kT0);
  EXPECT_EQ(preservation.update({.live = 100, .at_risk = 90}, kT0 + 299s), Transition::none);
  EXPECT_EQ(preservation.update({.live = 100, .at_risk = 90, .overdue = 80}, kT0 + 300s),
            Transition::ended);
  EXPECT_FALSE(preservation.active());
  EXPECT_TRUE(preservation.blocked());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[1].find("preservation_max reached"), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("expiring 80 overdue leases"), std::string::npos) << lines[1];
  // Still above the threshold: blocked, no new start, no new log line.
  EXPECT_EQ(preservation.update({.live = 100, .at_risk = 95}, kT0 + 400s), Transition::none);
  EXPECT_FALSE(preservation.active());
  EXPECT_EQ(lines.size(), 2u);
  // The condition clears once; then it may start again.
  EXPECT_EQ(preservation.update({.live = 100, .at_risk = 10}, kT0 + 500s), Transition::none);
  EXPECT_FALSE(preservation.blocked());
  EXPECT_EQ(preservation.update({.live = 100, .at_risk = 60}, kT0 + 501s), Transition::started);
}

TEST_F(PreservationTest, EndsWhenTooFewInstancesRemain) {
  Preservation preservation = make();
  preservation.update({.live = 20, .at_risk = 20}, kT0);
  EXPECT_EQ(preservation.update({.live = 5, .at_risk = 5, .overdue = 5}, kT0 + 1s),
            Transition::ended);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[1].find("only 5 live instances left"), std::string::npos) << lines[1];
}

TEST_F(PreservationTest, RejectsInconsistentSettings) {
  EXPECT_THROW(make({.threshold = 1.5}), std::invalid_argument);
  EXPECT_THROW(make({.threshold = -0.1}), std::invalid_argument);
  EXPECT_THROW(make({.window = 0s}), std::invalid_argument);
  EXPECT_THROW(make({.max = 0s}), std::invalid_argument);
}

}  // namespace
}  // namespace signpost::health
