// signpostd's [dns] cookie_secret and [rrl] options: defaults, values and errors.
#include <gtest/gtest.h>

#include <string>

#include "dns/daemon/config.hpp"
#include "tests/unit/support/config_error.hpp"

namespace signpost::dns::daemon {
namespace {

using testing::config_error_of;

TEST(ConfigGuard, DefaultsAreRandomSecretAndNoRateLimit) {
  const Config config = parse_config("", "test.toml");
  EXPECT_FALSE(config.cookie_secret_set);
  EXPECT_EQ(config.rrl.responses_per_second, 0u);
  EXPECT_EQ(config.rrl.slip, 2u);
  EXPECT_EQ(config.rrl.ipv4_prefix, 24);
  EXPECT_EQ(config.rrl.ipv6_prefix, 56);
}

TEST(ConfigGuard, CookieSecretIsThirtyTwoHexDigits) {
  const Config config =
      parse_config("[dns]\ncookie_secret = \"E5e973e5a6b2a43f48e7dc849e37bfcf\"\n", "test.toml");
  EXPECT_TRUE(config.cookie_secret_set);
  EXPECT_EQ(config.cookie_secret,
            (answer::SipKey{0xe5, 0xe9, 0x73, 0xe5, 0xa6, 0xb2, 0xa4, 0x3f, 0x48, 0xe7, 0xdc, 0x84,
                            0x9e, 0x37, 0xbf, 0xcf}));
  EXPECT_FALSE(parse_config("[dns]\ncookie_secret = \"\"\n", "test.toml").cookie_secret_set);
  for (const char* bad : {"e5e973", "e5e973e5a6b2a43f48e7dc849e37bfcfaa",
                          "g5e973e5a6b2a43f48e7dc849e37bfcf"}) {
    const std::string error = config_error_of(std::string("[dns]\ncookie_secret = \"") + bad + "\"\n");
    EXPECT_NE(error.find("test.toml:2: key 'dns.cookie_secret': must be 32 hexadecimal digits"),
              std::string::npos)
        << error;
  }
}

TEST(ConfigGuard, RateLimitOptionsAndRanges) {
  const Config config = parse_config(
      "[rrl]\nresponses_per_second = 50\nslip = 0\nipv4_prefix = 32\nipv6_prefix = 64\n",
      "test.toml");
  EXPECT_EQ(config.rrl.responses_per_second, 50u);
  EXPECT_EQ(config.rrl.slip, 0u);
  EXPECT_EQ(config.rrl.ipv4_prefix, 32);
  EXPECT_EQ(config.rrl.ipv6_prefix, 64);
  EXPECT_NE(config_error_of("[rrl]\nipv4_prefix = 33\n").find("key 'rrl.ipv4_prefix'"),
            std::string::npos);
  EXPECT_NE(config_error_of("[rrl]\nresponses_per_second = -1\n").find("rrl.responses_per_second"),
            std::string::npos);
  EXPECT_NE(config_error_of("[rrl]\nburst = 3\n").find("burst"), std::string::npos);
}

}  // namespace
}  // namespace signpost::dns::daemon
