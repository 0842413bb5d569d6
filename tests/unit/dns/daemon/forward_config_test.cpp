// The [forward] table: off by default, numeric upstreams in order, each once, a bounded
// timeout; every error names the key.
#include <gtest/gtest.h>

#include <string>

#include "dns/daemon/config.hpp"
#include "tests/unit/support/config_error.hpp"

namespace signpost::dns::daemon {
namespace {

using testing::config_error_of;

TEST(ForwardConfig, OffByDefault) {
  const Config config = parse_config("", "test.toml");
  EXPECT_TRUE(config.forward_servers.empty());
  EXPECT_EQ(config.forward_timeout_ms, 2000u);
}

TEST(ForwardConfig, TakesUpstreamsInOrder) {
  const Config config = parse_config(
      "[forward]\nservers = [\"192.0.2.1:53\", \"[2001:db8::1]:5353\"]\ntimeout_ms = 750\n",
      "test.toml");
  ASSERT_EQ(config.forward_servers.size(), 2u);
  EXPECT_EQ(config.forward_servers[0].text(), "192.0.2.1:53");
  EXPECT_EQ(config.forward_servers[1].text(), "[2001:db8::1]:5353");
  EXPECT_EQ(config.forward_timeout_ms, 750u);
}

TEST(ForwardConfig, RejectsWhatCannotBeAnUpstream) {
  for (const char* servers : {"[\"resolver.example:53\"]", "[\"192.0.2.1\"]",
                              "[\"192.0.2.1:0\"]", "[\"192.0.2.1:53\", \"192.0.2.1:53\"]"}) {
    const std::string error = config_error_of(std::string("[forward]\nservers = ") + servers + "\n");
    EXPECT_NE(error.find("forward.servers"), std::string::npos) << servers << ": " << error;
  }
  std::string nine = "[forward]\nservers = [";
  for (int i = 1; i <= 9; ++i) nine += "\"192.0.2." + std::to_string(i) + ":53\",";
  nine += "]\n";
  EXPECT_NE(config_error_of(nine).find("more than 8"), std::string::npos);
  EXPECT_NE(config_error_of("[forward]\ntimeout_ms = 10\n").find("forward.timeout_ms"),
            std::string::npos);
  EXPECT_NE(config_error_of("[forward]\nretries = 2\n").find("retries"), std::string::npos);
}

}  // namespace
}  // namespace signpost::dns::daemon
