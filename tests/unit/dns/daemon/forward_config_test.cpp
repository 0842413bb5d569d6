// The [forward] table: off by default, numeric upstreams in order, each once, a bounded
// timeout, loopback clients only unless `allow` says more; every error names the key.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dns/daemon/config.hpp"
#include "tests/unit/support/config_error.hpp"

namespace signpost::dns::daemon {
namespace {

using testing::config_error_of;

TEST(ForwardConfig, OffByDefault) {
  const Config config = parse_config("", "test.toml");
  EXPECT_TRUE(config.forward_servers.empty());
  EXPECT_EQ(config.forward_timeout_ms, 2000u);
  ASSERT_EQ(config.forward_allow.size(), 2u);
  EXPECT_EQ(answer::client_prefix_text(config.forward_allow[0]), "127.0.0.0/8");
  EXPECT_EQ(answer::client_prefix_text(config.forward_allow[1]), "::1/128");
}

TEST(ForwardConfig, AllowTakesPrefixesAndBareAddresses) {
  const Config config = parse_config(
      "[forward]\nallow = [\"10.0.0.0/8\", \"192.0.2.7\", \"2001:DB8::/32\", \"::/0\"]\n",
      "test.toml");
  std::vector<std::string> texts;
  for (const answer::ClientPrefix& prefix : config.forward_allow) {
    texts.push_back(answer::client_prefix_text(prefix));
  }
  EXPECT_EQ(texts, (std::vector<std::string>{"10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32",
                                             "::/0"}));
  EXPECT_TRUE(parse_config("[forward]\nallow = []\n", "test.toml").forward_allow.empty());
}

TEST(ForwardConfig, AllowErrorsNameTheKeyAndTheEntry) {
  for (const char* allow : {"[\"localhost\"]", "[\"10.0.0.0/33\"]", "[\"10.0.0.0/\"]",
                            "[\"2001:db8::/129\"]", "[\"10.0.0.0/8x\"]", "[\"10.0.0.1/8\"]",
                            "[\"10.0.0.0/8\", \"10.0.0.0/8\"]", "[\"\"]"}) {
    const std::string error = config_error_of(std::string("[forward]\nallow = ") + allow + "\n");
    EXPECT_NE(error.find("forward.allow"), std::string::npos) << allow << ": " << error;
  }
  EXPECT_NE(config_error_of("[forward]\nallow = [\"10.0.0.1/8\"]\n").find("\"10.0.0.0/8\""),
            std::string::npos);
  EXPECT_NE(config_error_of("[forward]\nallow = [\"10.0.0.0/8\", \"10.0.0.0/8\"]\n").find("twice"),
            std::string::npos);
  EXPECT_NE(config_error_of("[forward]\nallow = \"10.0.0.0/8\"\n").find("forward.allow"),
            std::string::npos);
  std::string many = "[forward]\nallow = [";
  for (int i = 0; i < 65; ++i) many += "\"10.0." + std::to_string(i) + ".0/24\",";
  many += "]\n";
  EXPECT_NE(config_error_of(many).find("more than 64"), std::string::npos);
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
