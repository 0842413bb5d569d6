// The agent's timing with a fixed seed: first registration, heartbeat, exchange limits,
// backoff.
#include "health/agent/schedule.hpp"

#include <gtest/gtest.h>

namespace signpost::health::agent {
namespace {

using std::chrono::milliseconds;

TEST(Schedule, FirstDelayIsBoundedByCapAndTenthOfLease) {
  Random random(7);
  milliseconds longest{0};
  for (int i = 0; i < 2000; ++i) {
    const milliseconds delay = first_delay(15, milliseconds(1000), random);
    EXPECT_GE(delay.count(), 0);
    EXPECT_LE(delay.count(), 1000);
    longest = std::max(longest, delay);
  }
  EXPECT_GT(longest.count(), 900);  // spread over the whole window
  for (int i = 0; i < 2000; ++i) {
    EXPECT_LE(first_delay(3, milliseconds(1000), random).count(), 300);  // lease / 10
  }
  EXPECT_EQ(first_delay(3, milliseconds(0), random).count(), 0);
}

TEST(Schedule, HeartbeatIsAThirdOfTheLeaseLessJitter) {
  Random random(11);
  milliseconds shortest{100000};
  for (int i = 0; i < 2000; ++i) {
    const milliseconds delay = heartbeat_delay(15, random);
    EXPECT_LE(delay.count(), 5000);
    EXPECT_GE(delay.count(), 4000);
    shortest = std::min(shortest, delay);
  }
  EXPECT_LT(shortest.count(), 4100);
  EXPECT_GE(heartbeat_delay(1, random).count(), 100);
}

TEST(Schedule, SameSeedSameDelays) {
  Random a(5);
  Random b(5);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(heartbeat_delay(9, a), heartbeat_delay(9, b));
}

TEST(Schedule, ExchangeLimitsFitInAThirdOfTheLease) {
  EXPECT_EQ(exchange_limits(3).attempt_timeout, milliseconds(333));
  EXPECT_EQ(exchange_limits(3).attempts, 3);
  EXPECT_EQ(exchange_limits(1).attempt_timeout, milliseconds(200));
  EXPECT_EQ(exchange_limits(60).attempt_timeout, milliseconds(1000));
}

TEST(Schedule, BackoffDoublesUpToMaxAndResets) {
  Backoff backoff(milliseconds(500), milliseconds(3000));
  EXPECT_EQ(backoff.next(), milliseconds(500));
  EXPECT_EQ(backoff.next(), milliseconds(1000));
  EXPECT_EQ(backoff.next(), milliseconds(2000));
  EXPECT_EQ(backoff.next(), milliseconds(3000));
  EXPECT_EQ(backoff.next(), milliseconds(3000));
  backoff.reset();
  EXPECT_EQ(backoff.next(), milliseconds(500));
}

}  // namespace
}  // namespace signpost::health::agent
