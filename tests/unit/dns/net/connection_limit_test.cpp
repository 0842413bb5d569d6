// The TCP connection limits: in total, and from any one client address.
#include "dns/net/connection_limit.hpp"

#include <gtest/gtest.h>

namespace signpost::dns::net {
namespace {

using Admission = ConnectionLimit::Admission;

ClientAddress v4(std::uint8_t last) {
  // 127.0.0.<last> as IPv4-mapped IPv6, RFC 4291 §2.5.5.2.
  return {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, last};
}

TEST(ConnectionLimit, EachAddressGetsItsShare) {
  ConnectionLimit limit(10, 3);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limit.try_acquire(v4(1)), Admission::accepted);
  EXPECT_EQ(limit.try_acquire(v4(1)), Admission::client_full);
  EXPECT_EQ(limit.try_acquire(v4(2)), Admission::accepted);
  EXPECT_EQ(limit.open(), 4u);
  EXPECT_EQ(limit.open_from(v4(1)), 3u);
  EXPECT_EQ(limit.open_from(v4(2)), 1u);
  limit.release(v4(1));
  EXPECT_EQ(limit.try_acquire(v4(1)), Admission::accepted);
}

ClientAddress v6(std::uint8_t subnet, std::uint8_t host) {
  // 2001:db8:0:<subnet>::<host>
  return {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, subnet, 0, 0, 0, 0, 0, 0, 0, host};
}

// One host commonly holds a whole IPv6 /64: its addresses share one count, while IPv4
// addresses and other /64s have their own.
TEST(ConnectionLimit, AnIpv6SlashSixtyFourIsOneClient) {
  ConnectionLimit limit(100, 3);
  for (std::uint8_t host = 1; host <= 3; ++host) {
    EXPECT_EQ(limit.try_acquire(v6(1, host)), Admission::accepted);
  }
  EXPECT_EQ(limit.try_acquire(v6(1, 200)), Admission::client_full);
  EXPECT_EQ(limit.open_from(v6(1, 99)), 3u);
  EXPECT_EQ(limit.try_acquire(v6(2, 1)), Admission::accepted);
  for (std::uint8_t last = 1; last <= 4; ++last) {
    EXPECT_EQ(limit.try_acquire(v4(last)), Admission::accepted);
  }
  EXPECT_EQ(limit.clients(), 6u);
  limit.release(v6(1, 2));  // any address of the /64 gives back its slot
  EXPECT_EQ(limit.try_acquire(v6(1, 77)), Admission::accepted);
}

TEST(ConnectionLimit, TheTotalHoldsWhateverTheAddresses) {
  ConnectionLimit limit(4, 3);
  EXPECT_EQ(limit.try_acquire(v4(1)), Admission::accepted);
  EXPECT_EQ(limit.try_acquire(v4(2)), Admission::accepted);
  EXPECT_EQ(limit.try_acquire(v4(3)), Admission::accepted);
  EXPECT_EQ(limit.try_acquire(v4(4)), Admission::accepted);
  EXPECT_EQ(limit.try_acquire(v4(5)), Admission::server_full);
  EXPECT_EQ(limit.try_acquire(v4(1)), Admission::server_full);
  limit.release(v4(3));
  EXPECT_EQ(limit.try_acquire(v4(5)), Admission::accepted);
  EXPECT_EQ(limit.open(), 4u);
}

// The table keeps only addresses with a connection open, so it never outgrows the total.
TEST(ConnectionLimit, AddressesLeaveTheTableWithTheirLastConnection) {
  ConnectionLimit limit(1000, 2);
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 200; ++i) {
      ASSERT_EQ(limit.try_acquire(v4(static_cast<std::uint8_t>(i))), Admission::accepted);
    }
    EXPECT_EQ(limit.clients(), 200u);
    for (int i = 0; i < 200; ++i) limit.release(v4(static_cast<std::uint8_t>(i)));
    EXPECT_EQ(limit.clients(), 0u);
    EXPECT_EQ(limit.open(), 0u);
  }
  // A release with nothing acquired changes nothing.
  limit.release(v4(9));
  EXPECT_EQ(limit.open(), 0u);
  EXPECT_EQ(limit.try_acquire(v4(9)), Admission::accepted);
  EXPECT_EQ(limit.try_acquire(v4(9)), Admission::accepted);
  EXPECT_EQ(limit.try_acquire(v4(9)), Admission::client_full);
}

}  // namespace
}  // namespace signpost::dns::net
