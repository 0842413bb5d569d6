// [[transfer]]: what it sets, and each error naming its line and key.
#include <gtest/gtest.h>

#include <string>

#include "dns/daemon/config.hpp"
#include "tests/unit/support/config_error.hpp"
#include "tests/unit/support/test_zone.hpp"

namespace signpost::dns::daemon {
namespace {

constexpr const char* kKey = R"([[key]]
name = "xfr."
secret = "eGZyIGtleSBmb3IgdGhlIHNlY29uZGFyeSB0ZXN0cyAwMTI="
)";

using testing::config_error_of;

TEST(TransferConfig, SetsTheZonesRules) {
  const Config config = parse_config(std::string(kKey) + R"(
[[transfer]]
zone = "SVC.internal"
allow = ["127.0.0.1/32", "10.0.0.0/8", "::1"]
key = "xfr"
notify = ["127.0.0.1:5301", "[::1]:5302"]
notify_interval = 0.5
)", "test.toml");
  ASSERT_EQ(config.transfers.size(), 1u);
  const xfr::TransferPolicy& policy = config.transfers[0];
  EXPECT_EQ(policy.zone, testing::wire_name("svc.internal."));
  EXPECT_EQ(policy.zone_text, "svc.internal.");
  EXPECT_EQ(policy.key, testing::wire_name("xfr."));
  EXPECT_TRUE(policy.allows("10.1.2.3"));
  EXPECT_TRUE(policy.allows("::1"));
  EXPECT_FALSE(policy.allows("192.0.2.1"));
  ASSERT_EQ(policy.notify.size(), 2u);
  EXPECT_EQ(policy.notify[1].address, "::1");
  EXPECT_EQ(policy.notify[1].port, 5302);
  EXPECT_EQ(policy.notify_interval.count(), 500);
}

TEST(TransferConfig, DefaultsAllowNobodyAndNotifyEverySecond) {
  const Config config = parse_config("[[transfer]]\nzone = \"svc.internal.\"\n", "test.toml");
  ASSERT_EQ(config.transfers.size(), 1u);
  EXPECT_FALSE(config.transfers[0].allows("127.0.0.1"));
  EXPECT_TRUE(config.transfers[0].key.empty());
  EXPECT_EQ(config.transfers[0].notify_interval.count(), 1000);
  EXPECT_TRUE(parse_config("", "test.toml").transfers.empty());  // no transfers by default
}

TEST(TransferConfig, ErrorsNameTheKey) {
  EXPECT_NE(config_error_of("[[transfer]]\nzone = \"svc.internal.\"\nkey = \"nope.\"\n")
                .find("no [[key]] named 'nope.'"),
            std::string::npos);
  EXPECT_NE(config_error_of("[[transfer]]\nzone = \"svc.internal.\"\nallow = [\"10.0.0.1/8\"]\n")
                .find("transfer.allow"),
            std::string::npos);
  EXPECT_NE(config_error_of("[[transfer]]\nzone = \"svc.internal.\"\nnotify = [\"::1:53\"]\n")
                .find("transfer.notify"),
            std::string::npos);
  EXPECT_NE(config_error_of("[[transfer]]\nzone = \"a.\"\n[[transfer]]\nzone = \"A\"\n")
                .find("has two [[transfer]] tables"),
            std::string::npos);
  EXPECT_NE(config_error_of("[[transfer]]\nallow = []\n").find("transfer.zone"), std::string::npos);
  EXPECT_NE(config_error_of("[[transfer]]\nzone = \"a.\"\nnotify_interval = -1\n").find("notify_interval"),
            std::string::npos);
}

}  // namespace
}  // namespace signpost::dns::daemon
