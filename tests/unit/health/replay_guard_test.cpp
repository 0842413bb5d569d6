// The replay guard: later times, up to four MACs in one second, and its saved form.
#include "health/replay_guard.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>

namespace signpost::health {
namespace {

std::array<std::uint8_t, 32> mac(std::uint8_t first) {
  std::array<std::uint8_t, 32> out{};
  out.fill(0x5a);
  out[0] = first;
  return out;
}

TEST(ReplayGuard, RefusesEarlierTimesAndRepeatedMacs) {
  ReplayGuard guard;
  EXPECT_TRUE(guard.accepts(100, mac(1)));
  guard.accept(100, mac(1));
  EXPECT_FALSE(guard.accepts(99, mac(2)));
  EXPECT_FALSE(guard.accepts(100, mac(1)));
  for (std::uint8_t m = 2; m <= 4; ++m) {
    EXPECT_TRUE(guard.accepts(100, mac(m)));
    guard.accept(100, mac(m));
  }
  EXPECT_FALSE(guard.accepts(100, mac(5)));  // four in one second at most
  EXPECT_TRUE(guard.accepts(101, mac(1)));
}

// Kept across a restart, a guard refuses what it refused before.
TEST(ReplayGuard, SavedFormRestoresTheSameGuard) {
  ReplayGuard guard;
  guard.accept(0x0102030405, mac(7));
  guard.accept(0x0102030405, mac(9));
  const ReplayGuard back = ReplayGuard::from_bytes(guard.to_bytes());
  EXPECT_EQ(back.time(), 0x0102030405u);
  EXPECT_FALSE(back.accepts(0x0102030405, mac(7)));
  EXPECT_FALSE(back.accepts(0x0102030405, mac(9)));
  EXPECT_TRUE(back.accepts(0x0102030405, mac(8)));
  EXPECT_EQ(back.to_bytes(), guard.to_bytes());
}

}  // namespace
}  // namespace signpost::health
