// Response rate limiting on an injected clock: exact counts per second, slip, prefixes, and
// the count staying exact when threads share one bucket.
#include "dns/net/rate_limit.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace signpost::dns::net {
namespace {

using answer::RateAction;

answer::ClientAddress address(const char* text) {
  answer::ClientAddress client{};
  std::uint8_t v4[4];
  if (inet_pton(AF_INET, text, v4) == 1) return answer::ipv4_client(v4);
  EXPECT_EQ(inet_pton(AF_INET6, text, client.data()), 1);
  return client;
}

struct Tally {
  int answered = 0;
  int slipped = 0;
  int dropped = 0;
};

Tally run(RateLimiter& limiter, const char* client, std::uint32_t now, int queries) {
  Tally tally;
  for (int i = 0; i < queries; ++i) {
    switch (limiter.admit(address(client), now)) {
      case RateAction::answer: ++tally.answered; break;
      case RateAction::slip: ++tally.slipped; break;
      case RateAction::drop: ++tally.dropped; break;
    }
  }
  return tally;
}

const answer::SipKey kKey = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

TEST(RateLimiter, AnswersTheRateEachSecondAndSlipsEveryNth) {
  RateLimiter limiter({.responses_per_second = 5, .slip = 2}, kKey);
  // Limited responses 1..15: every second one slips.
  const Tally first = run(limiter, "192.0.2.1", 1000, 20);
  EXPECT_EQ(first.answered, 5);
  EXPECT_EQ(first.slipped, 7);
  EXPECT_EQ(first.dropped, 8);
  // The next second starts again.
  const Tally next = run(limiter, "192.0.2.1", 1001, 6);
  EXPECT_EQ(next.answered, 5);
  EXPECT_EQ(next.slipped + next.dropped, 1);
}

TEST(RateLimiter, SlipZeroDropsAllAndOneSlipsAll) {
  RateLimiter none({.responses_per_second = 3, .slip = 0}, kKey);
  const Tally dropped = run(none, "192.0.2.1", 50, 10);
  EXPECT_EQ(dropped.answered, 3);
  EXPECT_EQ(dropped.slipped, 0);
  EXPECT_EQ(dropped.dropped, 7);
  RateLimiter all({.responses_per_second = 3, .slip = 1}, kKey);
  const Tally slipped = run(all, "192.0.2.1", 50, 10);
  EXPECT_EQ(slipped.answered, 3);
  EXPECT_EQ(slipped.slipped, 7);
  EXPECT_EQ(slipped.dropped, 0);
}

TEST(RateLimiter, CountsPerPrefix) {
  RateLimiter limiter({.responses_per_second = 4, .slip = 0, .ipv4_prefix = 24,
                       .ipv6_prefix = 56},
                      kKey);
  // Two addresses of one /24 share a count; another /24 has its own.
  EXPECT_EQ(run(limiter, "198.51.100.1", 7, 3).answered, 3);
  EXPECT_EQ(run(limiter, "198.51.100.200", 7, 3).answered, 1);
  EXPECT_EQ(run(limiter, "198.51.101.1", 7, 5).answered, 4);
  // IPv6: one /56 shares, the next /56 does not.
  EXPECT_EQ(run(limiter, "2001:db8:0:100::1", 7, 3).answered, 3);
  EXPECT_EQ(run(limiter, "2001:db8:0:1ff::2", 7, 3).answered, 1);
  EXPECT_EQ(run(limiter, "2001:db8:0:200::1", 7, 5).answered, 4);
}

TEST(RateLimiter, PrefixOfClearsTheHostBits) {
  RateLimiter limiter({.responses_per_second = 1, .slip = 0, .ipv4_prefix = 20,
                       .ipv6_prefix = 33},
                      kKey);
  EXPECT_EQ(limiter.prefix_of(address("10.1.31.9")), address("10.1.16.0"));
  EXPECT_EQ(limiter.prefix_of(address("2001:db8:ffff::1")), address("2001:db8:8000::"));
}

TEST(RateLimiter, ThreadsSharingABucketCountExactly) {
  constexpr int kThreads = 4;
  constexpr int kEach = 20000;
  RateLimiter limiter({.responses_per_second = 1000, .slip = 0}, kKey);
  std::atomic<int> answered{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] { answered += run(limiter, "203.0.113.9", 42, kEach).answered; });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(answered.load(), 1000);
}

TEST(RateLimiter, UnixSecondsFollowsTheWallClock) {
  const auto before = static_cast<std::uint32_t>(std::time(nullptr));
  const std::uint32_t now = unix_seconds();
  const auto after = static_cast<std::uint32_t>(std::time(nullptr));
  // The coarse clock may trail by a tick (a few milliseconds) across a second's boundary.
  EXPECT_GE(now + 1, before);
  EXPECT_LE(now, after);
}

}  // namespace
}  // namespace signpost::dns::net
