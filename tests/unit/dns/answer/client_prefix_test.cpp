// Client prefixes: what parses, what is refused and why, and which addresses each contains,
// at the bit boundaries of both families.
#include "dns/answer/client_prefix.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace signpost::dns::answer {
namespace {

ClientPrefix prefix_of(std::string_view text) {
  std::string why;
  const std::optional<ClientPrefix> prefix = parse_client_prefix(text, why);
  EXPECT_TRUE(prefix.has_value()) << text << ": " << why;
  return prefix.value_or(ClientPrefix{});
}

ClientAddress client_of(const char* text) {
  ClientAddress client{};
  std::uint8_t octets[16];
  if (inet_pton(AF_INET, text, octets) == 1) return ipv4_client(octets);
  EXPECT_EQ(inet_pton(AF_INET6, text, octets), 1) << text;
  std::memcpy(client.data(), octets, 16);
  return client;
}

TEST(ClientPrefix, ParsesPrefixesAndBareAddressesOfBothFamilies) {
  EXPECT_EQ(prefix_of("127.0.0.0/8").length, 96 + 8);
  EXPECT_EQ(prefix_of("192.0.2.7").length, 128);
  EXPECT_EQ(prefix_of("0.0.0.0/0").length, 96);
  EXPECT_EQ(prefix_of("2001:db8::/32").length, 32);
  EXPECT_EQ(prefix_of("::1").length, 128);
  EXPECT_EQ(prefix_of("::/0").length, 0);
  EXPECT_EQ(prefix_of("127.0.0.0/8").address, client_of("127.0.0.0"));
  for (const char* text : {"127.0.0.0/8", "192.0.2.7/32", "0.0.0.0/0", "2001:db8::/32",
                           "::1/128", "::/0", "10.1.2.128/25", "fe80::/10"}) {
    EXPECT_EQ(client_prefix_text(prefix_of(text)), text);
  }
  EXPECT_EQ(client_prefix_text(prefix_of("2001:DB8:0::/48")), "2001:db8::/48");
}

TEST(ClientPrefix, RefusesWhatIsNotANumericPrefixAndSaysWhy) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "numeric"},
      {"localhost", "numeric"},
      {"10.0.0", "numeric"},
      {"10.0.0.0/33", "0-32"},
      {"2001:db8::/129", "0-128"},
      {"10.0.0.0/", "0-32"},
      {"10.0.0.0/+8", "0-32"},
      {"10.0.0.0/8/8", "0-32"},
      {"10.0.0.0/-1", "0-32"},
      {"10.0.0.0/ 8", "0-32"},
      {"10.0.0.0/99999999999999999999", "0-32"},
      {"10.0.0.1/8", "\"10.0.0.0/8\""},
      {"2001:db8::1/32", "\"2001:db8::/32\""},
      {"10.0.0.128/24", "\"10.0.0.0/24\""},
  };
  for (const auto& [text, reason] : cases) {
    std::string why;
    EXPECT_FALSE(parse_client_prefix(text, why).has_value()) << text;
    EXPECT_NE(why.find(reason), std::string::npos) << text << ": " << why;
  }
}

TEST(ClientPrefix, ContainsExactlyTheAddressesUnderIt) {
  const ClientPrefix net = prefix_of("10.1.2.128/25");
  EXPECT_TRUE(prefix_contains(net, client_of("10.1.2.128")));
  EXPECT_TRUE(prefix_contains(net, client_of("10.1.2.255")));
  EXPECT_FALSE(prefix_contains(net, client_of("10.1.2.127")));
  EXPECT_FALSE(prefix_contains(net, client_of("10.1.3.128")));
  EXPECT_FALSE(prefix_contains(net, client_of("::ffff:10.1.1.128")));
  const ClientPrefix host = prefix_of("127.0.0.2");
  EXPECT_TRUE(prefix_contains(host, client_of("127.0.0.2")));
  EXPECT_FALSE(prefix_contains(host, client_of("127.0.0.1")));
  const ClientPrefix v6 = prefix_of("fe80::/10");
  EXPECT_TRUE(prefix_contains(v6, client_of("fe80::1")));
  EXPECT_TRUE(prefix_contains(v6, client_of("febf:ffff::1")));
  EXPECT_FALSE(prefix_contains(v6, client_of("fec0::1")));
  EXPECT_FALSE(prefix_contains(prefix_of("::1/128"), client_of("::2")));
}

TEST(ClientPrefix, FamiliesMeetOnlyThroughTheMappedForm) {
  // Every IPv4 client is ::ffff:a.b.c.d: "::/0" holds it, an IPv4 prefix never holds IPv6.
  EXPECT_TRUE(prefix_contains(prefix_of("::/0"), client_of("192.0.2.1")));
  EXPECT_TRUE(prefix_contains(prefix_of("0.0.0.0/0"), client_of("192.0.2.1")));
  EXPECT_FALSE(prefix_contains(prefix_of("0.0.0.0/0"), client_of("2001:db8::1")));
  EXPECT_FALSE(prefix_contains(prefix_of("0.0.0.0/0"), client_of("::1")));
  EXPECT_TRUE(prefix_contains(prefix_of("::ffff:192.0.2.0/120"), client_of("192.0.2.9")));
}

TEST(ClientPrefix, AnyOfAListAndNoneOfAnEmptyOne) {
  const std::vector<ClientPrefix> loopback = {prefix_of("127.0.0.0/8"), prefix_of("::1/128")};
  EXPECT_TRUE(any_prefix_contains(loopback, client_of("127.255.0.1")));
  EXPECT_TRUE(any_prefix_contains(loopback, client_of("::1")));
  EXPECT_FALSE(any_prefix_contains(loopback, client_of("128.0.0.1")));
  EXPECT_FALSE(any_prefix_contains(loopback, client_of("2001:db8::1")));
  EXPECT_FALSE(any_prefix_contains({}, client_of("127.0.0.1")));
}

TEST(ClientPrefix, MaskClearsFromTheGivenBit) {
  ClientAddress address = client_of("10.1.2.255");
  mask_client_address(address, 96 + 25);
  EXPECT_EQ(address, client_of("10.1.2.128"));
  mask_client_address(address, 96 + 8);
  EXPECT_EQ(address, client_of("10.0.0.0"));
  mask_client_address(address, 0);
  EXPECT_EQ(address, ClientAddress{});
}

}  // namespace
}  // namespace signpost::dns::answer
