// Answer ordering: exact orders for fixed seeds, and the distributions they must follow.
#include "dns/answer/order.hpp"

#include <gtest/gtest.h>

#include <array>
#include <map>
#include <numeric>
#include <vector>

namespace signpost::dns::answer {
namespace {

struct Scratch {
  std::vector<std::uint64_t> weights = std::vector<std::uint64_t>(4096);
  std::vector<std::uint16_t> indexes = std::vector<std::uint16_t>(4096);
  std::vector<double> keys = std::vector<double>(4096);
  OrderScratch view{weights, indexes, keys};
};

// Successive sampling written the plain way: the reference the fast path must match. A
// chosen index is replaced by the last one left, and the last one left takes no draw.
std::vector<std::uint16_t> reference_order(std::vector<std::uint32_t> weights, std::size_t k,
                                           Random& random) {
  std::vector<std::uint16_t> left(weights.size());
  std::iota(left.begin(), left.end(), 0);
  std::vector<std::uint16_t> out;
  while (out.size() < k && !left.empty()) {
    std::uint64_t total = 0;
    for (auto i : left) total += weights[i];
    std::size_t j = 0;
    if (left.size() > 1) {
      std::uint64_t r = random.below(total);
      while (r >= weights[left[j]]) r -= weights[left[j++]];
    }
    out.push_back(left[j]);
    left[j] = left.back();
    left.pop_back();
  }
  return out;
}

TEST(WeightedOrder, MatchesSuccessiveSamplingExactly) {
  const std::vector<std::uint32_t> weights{1000, 2000, 3000, 4000, 250};
  for (std::uint64_t seed : {1u, 2u, 42u, 1234567u}) {
    Random fast(seed);
    Random slow(seed);
    Scratch s;
    for (std::size_t limit : {0u, 1u, 3u}) {
      std::array<std::uint16_t, 8> out{};
      const std::size_t n = weighted_order(weights, limit, fast, s.view, out);
      const auto expected = reference_order(weights, limit == 0 ? weights.size() : limit, slow);
      ASSERT_EQ(n, expected.size());
      EXPECT_TRUE(std::equal(expected.begin(), expected.end(), out.begin())) << "seed " << seed;
    }
  }
}

TEST(WeightedOrder, SameSeedSameOrderAndEveryIndexOnce) {
  std::vector<std::uint32_t> weights(50, 1000);
  Scratch s1;
  Scratch s2;
  Random a(99);
  Random b(99);
  std::array<std::uint16_t, 50> x{};
  std::array<std::uint16_t, 50> y{};
  ASSERT_EQ(weighted_order(weights, 0, a, s1.view, x), 50u);  // uses exponential keys
  ASSERT_EQ(weighted_order(weights, 0, b, s2.view, y), 50u);
  EXPECT_EQ(x, y);
  std::array<std::uint16_t, 50> sorted = x;
  std::sort(sorted.begin(), sorted.end());
  for (std::uint16_t i = 0; i < 50; ++i) EXPECT_EQ(sorted[i], i);
}

double chi_square(const std::vector<double>& observed, const std::vector<double>& expected) {
  double chi = 0;
  for (std::size_t i = 0; i < observed.size(); ++i) {
    chi += (observed[i] - expected[i]) * (observed[i] - expected[i]) / expected[i];
  }
  return chi;
}

TEST(WeightedOrder, FirstPositionFollowsWeights) {
  const std::vector<std::uint32_t> weights{1, 2, 3, 4};
  Random random(2026);
  Scratch s;
  std::vector<double> first(4, 0);
  std::array<std::uint16_t, 4> out{};
  const int draws = 40000;
  for (int i = 0; i < draws; ++i) {
    weighted_order(weights, 0, random, s.view, out);
    first[out[0]] += 1;
  }
  const std::vector<double> expected{draws * 0.1, draws * 0.2, draws * 0.3, draws * 0.4};
  EXPECT_LT(chi_square(first, expected), 16.27);  // df = 3, p = 0.001
}

TEST(WeightedOrder, LargeInputsFollowWeightsToo) {
  // 64 indexes with limit 0 take the exponential-key path; index 0 weighs as much as 7
  // others together and must come first about 7/70 of the time... checked by chi-square.
  std::vector<std::uint32_t> weights(64, 1);
  weights[0] = 7;
  Random random(7);
  Scratch s;
  std::vector<double> first(2, 0);
  std::array<std::uint16_t, 64> out{};
  const int draws = 20000;
  for (int i = 0; i < draws; ++i) {
    weighted_order(weights, 0, random, s.view, out);
    first[out[0] == 0 ? 0 : 1] += 1;
  }
  const double p0 = 7.0 / 70.0;
  EXPECT_LT(chi_square(first, {draws * p0, draws * (1 - p0)}), 10.83);  // df = 1
}

TEST(WeightedOrder, LimitTwoOfTenEqualGivesTwentyPercentEach) {
  const std::vector<std::uint32_t> weights(10, 1000);
  Random random(5);
  Scratch s;
  std::vector<double> seen(10, 0);
  std::array<std::uint16_t, 2> out{};
  const int draws = 20000;
  for (int i = 0; i < draws; ++i) {
    ASSERT_EQ(weighted_order(weights, 2, random, s.view, out), 2u);
    ASSERT_NE(out[0], out[1]);
    seen[out[0]] += 1;
    seen[out[1]] += 1;
  }
  EXPECT_LT(chi_square(seen, std::vector<double>(10, draws * 0.2)), 27.88);  // df = 9
}

TEST(SmoothRoundRobin, GivesExactProportionsInEachWindow) {
  // The classic 5:1:1 sequence: a a b a c a a, repeating.
  const std::vector<std::uint32_t> weights{5, 1, 1};
  std::vector<std::int64_t> current(3, 0);
  std::vector<std::size_t> picks;
  for (int i = 0; i < 14; ++i) picks.push_back(smooth_round_robin(weights, current));
  const std::vector<std::size_t> expected{0, 0, 1, 0, 2, 0, 0, 0, 0, 1, 0, 2, 0, 0};
  EXPECT_EQ(picks, expected);
}

TEST(Random, BelowStaysInRange) {
  Random random(3);
  for (std::uint64_t bound : {1u, 2u, 3u, 1000u}) {
    for (int i = 0; i < 1000; ++i) EXPECT_LT(random.below(bound), bound);
  }
  for (int i = 0; i < 1000; ++i) {
    const double u = random.unit();
    EXPECT_GT(u, 0.0);
    EXPECT_LE(u, 1.0);
  }
}

}  // namespace
}  // namespace signpost::dns::answer
