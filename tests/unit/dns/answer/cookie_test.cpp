// DNS Cookies: every case of RFC 7873 §5.2 on check_cookie, server cookies to the octet
// (RFC 9018 §4), and the interoperability vectors of RFC 9018 Appendix A.
#include "dns/answer/cookie.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace signpost::dns::answer {
namespace {

std::vector<std::uint8_t> from_hex(const std::string& hex) {
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoul(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

ClientAddress address(const char* text) {
  ClientAddress client{};
  std::uint8_t v4[4];
  if (inet_pton(AF_INET, text, v4) == 1) return ipv4_client(v4);
  EXPECT_EQ(inet_pton(AF_INET6, text, client.data()), 1);
  return client;
}

SipKey key_of(const std::string& hex) {
  SipKey key{};
  const auto bytes = from_hex(hex);
  std::copy(bytes.begin(), bytes.end(), key.begin());
  return key;
}

const SipKey kSecret = key_of("e5e973e5a6b2a43f48e7dc849e37bfcf");
constexpr std::uint32_t kNow = 1559731985;  // 2019-06-05 10:53:05 UTC

using Reply = std::array<std::uint8_t, kReplyCookieSize>;

// A server cookie built by hand from RFC 9018 §4: version 1, reserved 0, timestamp, and the
// hash of client cookie | version | reserved | timestamp | address.
std::vector<std::uint8_t> expected_server_cookie(const std::vector<std::uint8_t>& client_cookie,
                                                 const std::vector<std::uint8_t>& ip,
                                                 std::uint32_t timestamp) {
  std::vector<std::uint8_t> head = {1, 0, 0, 0, static_cast<std::uint8_t>(timestamp >> 24),
                                    static_cast<std::uint8_t>(timestamp >> 16),
                                    static_cast<std::uint8_t>(timestamp >> 8),
                                    static_cast<std::uint8_t>(timestamp)};
  std::vector<std::uint8_t> input = client_cookie;
  input.insert(input.end(), head.begin(), head.end());
  input.insert(input.end(), ip.begin(), ip.end());
  std::uint8_t hash[8];
  store_le64(siphash24(kSecret, input), hash);
  head.insert(head.end(), hash, hash + 8);
  return head;
}

std::vector<std::uint8_t> server_part(const Reply& reply) {
  return {reply.begin() + kClientCookieSize, reply.end()};
}

TEST(Cookie, Rfc9018VectorLearningANewServerCookie) {
  // Appendix A.1: client 198.51.100.100 sends only a client cookie.
  Reply reply{};
  const auto option = from_hex("2464c4abcf10c957");
  EXPECT_EQ(check_cookie(option, address("198.51.100.100"), kSecret, kNow, reply),
            CookieStatus::client_only);
  EXPECT_EQ(std::vector<std::uint8_t>(reply.begin(), reply.end()),
            from_hex("2464c4abcf10c957010000005cf79f111f8130c3eee29480"));
}

TEST(Cookie, ClientCookieOnlyGetsAFreshServerCookie) {
  const auto client_cookie = from_hex("0102030405060708");
  Reply reply{};
  EXPECT_EQ(check_cookie(client_cookie, address("192.0.2.7"), kSecret, kNow, reply),
            CookieStatus::client_only);
  EXPECT_EQ(std::vector<std::uint8_t>(reply.begin(), reply.begin() + 8), client_cookie);
  EXPECT_EQ(server_part(reply), expected_server_cookie(client_cookie, {192, 0, 2, 7}, kNow));
}

TEST(Cookie, Ipv6ClientHashesAllSixteenOctets) {
  const auto client_cookie = from_hex("a1a2a3a4a5a6a7a8");
  const ClientAddress client = address("2001:db8::53");
  Reply reply{};
  EXPECT_EQ(check_cookie(client_cookie, client, kSecret, kNow, reply), CookieStatus::client_only);
  EXPECT_EQ(server_part(reply),
            expected_server_cookie(client_cookie, {client.begin(), client.end()}, kNow));
}

TEST(Cookie, MalformedLengthsAreRejected) {
  // RFC 7873 §5.2.2: a COOKIE option shorter than 8, between 9 and 15, or over 40 octets.
  Reply reply{};
  for (std::size_t length : {0u, 1u, 7u, 9u, 12u, 15u, 41u, 60u}) {
    const std::vector<std::uint8_t> option(length, 0x11);
    EXPECT_EQ(check_cookie(option, address("192.0.2.7"), kSecret, kNow, reply),
              CookieStatus::malformed)
        << length;
  }
  // 16 to 40 with a server cookie we did not make: well formed, but not ours.
  for (std::size_t length : {16u, 24u, 40u}) {
    const std::vector<std::uint8_t> option(length, 0x11);
    EXPECT_EQ(check_cookie(option, address("192.0.2.7"), kSecret, kNow, reply),
              CookieStatus::invalid)
        << length;
  }
}

TEST(Cookie, ValidServerCookieIsEchoedUntilHalfAnHourOld) {
  const ClientAddress client = address("192.0.2.7");
  Reply first{};
  check_cookie(from_hex("0102030405060708"), client, kSecret, kNow, first);
  for (std::uint32_t later : {0u, 60u, 1800u}) {
    Reply again{};
    EXPECT_EQ(check_cookie(first, client, kSecret, kNow + later, again), CookieStatus::valid);
    EXPECT_EQ(again, first) << later;  // the same cookie comes back
  }
  // Past half an hour it is still accepted, and a fresh one goes back (RFC 9018 §4.3).
  Reply refreshed{};
  EXPECT_EQ(check_cookie(first, client, kSecret, kNow + 1801, refreshed), CookieStatus::valid);
  EXPECT_EQ(server_part(refreshed),
            expected_server_cookie(from_hex("0102030405060708"), {192, 0, 2, 7}, kNow + 1801));
}

TEST(Cookie, TooOldOrTooFarInTheFutureIsInvalid) {
  const ClientAddress client = address("192.0.2.7");
  Reply first{};
  check_cookie(from_hex("0102030405060708"), client, kSecret, kNow, first);
  Reply reply{};
  EXPECT_EQ(check_cookie(first, client, kSecret, kNow + 3600, reply), CookieStatus::valid);
  EXPECT_EQ(check_cookie(first, client, kSecret, kNow + 3601, reply), CookieStatus::invalid);
  // A fresh cookie for the new time replaces the stale one.
  EXPECT_EQ(server_part(reply),
            expected_server_cookie(from_hex("0102030405060708"), {192, 0, 2, 7}, kNow + 3601));
  EXPECT_EQ(check_cookie(first, client, kSecret, kNow - 300, reply), CookieStatus::valid);
  EXPECT_EQ(check_cookie(first, client, kSecret, kNow - 301, reply), CookieStatus::invalid);
}

TEST(Cookie, TimestampsWrapAsSerialNumbers) {
  // A cookie stamped just before 2^32 seconds is valid just after (RFC 1982 arithmetic).
  const ClientAddress client = address("192.0.2.7");
  Reply first{};
  check_cookie(from_hex("0102030405060708"), client, kSecret, 0xFFFFFFF0u, first);
  Reply reply{};
  EXPECT_EQ(check_cookie(first, client, kSecret, 0x10u, reply), CookieStatus::valid);
}

TEST(Cookie, AnotherAddressSecretClientCookieOrVersionIsInvalid) {
  const ClientAddress client = address("192.0.2.7");
  Reply first{};
  check_cookie(from_hex("0102030405060708"), client, kSecret, kNow, first);
  Reply reply{};
  EXPECT_EQ(check_cookie(first, address("192.0.2.8"), kSecret, kNow, reply),
            CookieStatus::invalid);
  EXPECT_EQ(check_cookie(first, client, key_of("00000000000000000000000000000001"), kNow, reply),
            CookieStatus::invalid);
  Reply changed = first;
  changed[0] ^= 1;  // the client cookie is part of the hash
  EXPECT_EQ(check_cookie(changed, client, kSecret, kNow, reply), CookieStatus::invalid);
  changed = first;
  changed[8] = 2;  // version
  EXPECT_EQ(check_cookie(changed, client, kSecret, kNow, reply), CookieStatus::invalid);
  changed = first;
  changed[9] = 1;  // reserved octets must be zero
  EXPECT_EQ(check_cookie(changed, client, kSecret, kNow, reply), CookieStatus::invalid);
  changed = first;
  changed[23] ^= 0x80;  // the hash's last octet
  EXPECT_EQ(check_cookie(changed, client, kSecret, kNow, reply), CookieStatus::invalid);
  // Every invalid one is answered with a fresh cookie for this client.
  EXPECT_EQ(server_part(reply),
            expected_server_cookie(from_hex("0102030405060708"), {192, 0, 2, 7}, kNow));
}

}  // namespace
}  // namespace signpost::dns::answer
