// The registry zone's first serial after a start: the clock, or past the serial kept.
#include "registry/registry_zone.hpp"

#include <gtest/gtest.h>

#include "dns/wire/serial.hpp"

namespace signpost::registry {
namespace {

constexpr std::uint32_t kClock = 1765000000;  // December 2025

TEST(FirstSerial, IsTheClockWhenNothingWasKept) {
  EXPECT_EQ(first_serial(kClock, 0), kClock);
}

TEST(FirstSerial, IsTheClockWhenTheKeptSerialIsBehindIt) {
  // A server that published less than once a second: the clock is past its serial.
  EXPECT_EQ(first_serial(kClock, kClock - 5000), kClock);
  EXPECT_EQ(first_serial(kClock, kClock - kUnkeptSerials), kClock);
}

TEST(FirstSerial, SkipsTheUnkeptSerialsWhenTheKeptOneRanAheadOfTheClock) {
  // A burst of publishes ran the serial ahead; the crash may have lost up to 1,000 of them.
  EXPECT_EQ(first_serial(kClock, kClock), kClock + kUnkeptSerials);
  EXPECT_EQ(first_serial(kClock, kClock + 250), kClock + 250 + kUnkeptSerials);
  EXPECT_EQ(first_serial(kClock, kClock - kUnkeptSerials + 1), kClock + 1);
}

TEST(FirstSerial, IsGreaterThanAnySerialServedBeforeInSerialArithmetic) {
  // Across the wrap of 2106 (RFC 1982 §3.1): a kept serial just below 2^32 is followed by
  // a small one, which serial arithmetic takes as greater.
  constexpr std::uint32_t kKept = 4294967000u;
  const std::uint32_t first = first_serial(/*clock=*/kKept - 100, kKept);
  EXPECT_EQ(first, kKept + kUnkeptSerials);  // wrapped to 704
  EXPECT_LT(first, kKept);
  EXPECT_TRUE(dns::wire::serial_greater(first, kKept));
  EXPECT_EQ(first_serial(/*clock=*/10, kKept), kKept + kUnkeptSerials);
  EXPECT_EQ(first_serial(/*clock=*/2000, kKept), 2000u);
  for (const std::uint32_t kept : {1u, kClock, 2147483647u, 2147483648u, 4294967295u}) {
    for (std::uint32_t served = kept - kUnkeptSerials + 1; served != kept + 1; ++served) {
      ASSERT_TRUE(dns::wire::serial_greater(first_serial(kClock, kept), served))
          << "kept " << kept << ", served " << served;
    }
  }
}

TEST(SerialGreater, FollowsRfc1982) {
  using dns::wire::serial_greater;
  EXPECT_TRUE(serial_greater(2, 1));
  EXPECT_FALSE(serial_greater(1, 2));
  EXPECT_FALSE(serial_greater(7, 7));
  EXPECT_TRUE(serial_greater(0, 4294967295u));        // wrapped
  EXPECT_TRUE(serial_greater(2147483647u, 0));        // just under half the space ahead
  EXPECT_FALSE(serial_greater(2147483648u, 0));       // exactly half: undefined, not greater
  EXPECT_FALSE(serial_greater(0, 2147483648u));
}

}  // namespace
}  // namespace signpost::registry
