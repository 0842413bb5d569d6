// Weighted rendezvous hashing: shares follow the weights, and a registry change moves only
// the prefixes it must.
#include "dns/answer/rendezvous.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <vector>

#include "dns/answer/client_subnet.hpp"

namespace signpost::dns::answer {
namespace {

using Address = std::array<std::uint8_t, 4>;

std::uint64_t prefix_key(int p) {
  ClientSubnet subnet;
  subnet.present = true;
  subnet.family = kFamilyIpv4;
  subnet.source_prefix = 24;
  subnet.address = {10, static_cast<std::uint8_t>(p >> 8), static_cast<std::uint8_t>(p)};
  return client_prefix_key(subnet, 24);
}

std::size_t choose(std::uint64_t key, const std::vector<Address>& addresses,
                   const std::vector<std::uint32_t>& weights) {
  return rendezvous_choice(key, weights, [&](std::size_t i) {
    return std::span<const std::uint8_t>(addresses[i]);
  });
}

constexpr int kPrefixes = 4096;

TEST(Rendezvous, SharesFollowTheWeights) {
  const std::vector<Address> addresses{{{10, 0, 0, 1}}, {{10, 0, 0, 2}}, {{10, 0, 0, 3}}, {{10, 0, 0, 4}}};
  const std::vector<std::uint32_t> weights{1000, 2000, 3000, 4000};
  std::array<int, 4> counts{};
  for (int p = 0; p < kPrefixes; ++p) ++counts[choose(prefix_key(p), addresses, weights)];
  double chi2 = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    const double expected = kPrefixes * static_cast<double>(i + 1) / 10.0;
    chi2 += (counts[i] - expected) * (counts[i] - expected) / expected;
  }
  EXPECT_LT(chi2, 16.27);  // 3 dof, p = 0.001; deterministic, so it holds or never does
}

TEST(Rendezvous, ChoiceDoesNotDependOnRecordOrder) {
  const std::vector<Address> forward{{{10, 0, 0, 1}}, {{10, 0, 0, 2}}, {{10, 0, 0, 3}}};
  const std::vector<Address> backward{{{10, 0, 0, 3}}, {{10, 0, 0, 2}}, {{10, 0, 0, 1}}};
  for (int p = 0; p < 512; ++p) {
    const std::uint64_t key = prefix_key(p);
    EXPECT_EQ(forward[choose(key, forward, {1, 2, 3})], backward[choose(key, backward, {3, 2, 1})]);
  }
}

TEST(Rendezvous, ZeroWeightIsNeverChosen) {
  const std::vector<Address> addresses{{{10, 0, 0, 1}}, {{10, 0, 0, 2}}};
  for (int p = 0; p < 512; ++p) EXPECT_EQ(choose(prefix_key(p), addresses, {0, 1}), 1u);
}

TEST(Rendezvous, AWeightChangeMovesOnlyPrefixesOfThatInstance) {
  const std::vector<Address> addresses{{{10, 0, 0, 1}}, {{10, 0, 0, 2}}, {{10, 0, 0, 3}}, {{10, 0, 0, 4}}};
  int moved = 0;
  for (int p = 0; p < kPrefixes; ++p) {
    const std::uint64_t key = prefix_key(p);
    const std::size_t before = choose(key, addresses, {1, 2, 3, 4});
    const std::size_t after = choose(key, addresses, {1, 2, 3, 2});
    if (before == after) continue;
    ++moved;
    EXPECT_EQ(before, 3u);  // only the instance that lost weight gives prefixes away
  }
  // Its share falls from 4/10 to 2/8: 15% of the prefixes must move; allow 12-18%.
  EXPECT_GT(moved, kPrefixes * 12 / 100);
  EXPECT_LT(moved, kPrefixes * 18 / 100);
}

TEST(Rendezvous, ANewInstanceTakesOnlyItsShare) {
  std::vector<Address> addresses{{{10, 0, 0, 1}}, {{10, 0, 0, 2}}, {{10, 0, 0, 3}}};
  std::vector<Address> grown = addresses;
  grown.push_back({10, 0, 0, 9});
  int moved = 0;
  for (int p = 0; p < kPrefixes; ++p) {
    const std::uint64_t key = prefix_key(p);
    const std::size_t before = choose(key, addresses, {1, 1, 1});
    const std::size_t after = choose(key, grown, {1, 1, 1, 1});
    if (before == after) continue;
    ++moved;
    EXPECT_EQ(after, 3u);  // every moved prefix went to the new instance
  }
  EXPECT_GT(moved, kPrefixes * 21 / 100);  // a quarter, give or take
  EXPECT_LT(moved, kPrefixes * 29 / 100);
}

TEST(Rendezvous, PrefixKeyIgnoresBitsPastTheScope) {
  ClientSubnet a;
  a.present = true;
  a.family = kFamilyIpv4;
  a.source_prefix = 32;
  a.address = {198, 51, 100, 7};
  ClientSubnet b = a;
  b.address = {198, 51, 100, 200};
  EXPECT_EQ(client_prefix_key(a, 24), client_prefix_key(b, 24));
  EXPECT_NE(client_prefix_key(a, 32), client_prefix_key(b, 32));
  b.address = {198, 51, 101, 7};
  EXPECT_NE(client_prefix_key(a, 24), client_prefix_key(b, 24));
  b = a;
  b.address = {198, 51, 100 | 1, 7};
  EXPECT_EQ(client_prefix_key(a, 23), client_prefix_key(b, 23));
  b.family = kFamilyIpv6;
  EXPECT_NE(client_prefix_key(a, 24), client_prefix_key(b, 24));
}

}  // namespace
}  // namespace signpost::dns::answer
