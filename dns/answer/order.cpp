// Answer ordering.
#include "dns/answer/order.hpp"

#include <algorithm>
#include <cmath>

namespace signpost::dns::answer {

namespace {

std::uint64_t splitmix(std::uint64_t& state) noexcept {
  return mix64(state += 0x9E3779B97F4A7C15ULL);
}

// Above this many draw steps (n·k) the exponential-key method is cheaper.
constexpr std::size_t kIntegerDrawLimit = 1024;

std::size_t draw_integer(std::span<const std::uint32_t> weights, std::size_t k, Random& random,
                         OrderScratch& scratch, std::span<std::uint16_t> out) noexcept {
  const std::size_t n = weights.size();
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < n; ++i) {
    scratch.weights[i] = weights[i];
    scratch.indexes[i] = static_cast<std::uint16_t>(i);
    total += weights[i];
  }
  std::size_t left = n;
  for (std::size_t position = 0; position < k; ++position) {
    // The last index left needs no draw.
    std::size_t j = 0;
    if (left > 1) {
      std::uint64_t r = random.below(total);
      while (r >= scratch.weights[j]) {
        r -= scratch.weights[j];
        ++j;
      }
    }
    out[position] = scratch.indexes[j];
    total -= scratch.weights[j];
    // Remove j by moving the last index left into its place: the draw reads the indexes
    // left as a set, so their order changes no probability.
    --left;
    scratch.weights[j] = scratch.weights[left];
    scratch.indexes[j] = scratch.indexes[left];
  }
  return k;
}

std::size_t draw_keys(std::span<const std::uint32_t> weights, std::size_t k, Random& random,
                      OrderScratch& scratch, std::span<std::uint16_t> out) noexcept {
  const std::size_t n = weights.size();
  for (std::size_t i = 0; i < n; ++i) {
    scratch.keys[i] = -std::log(random.unit()) / static_cast<double>(weights[i]);
    scratch.indexes[i] = static_cast<std::uint16_t>(i);
  }
  const auto less = [&scratch](std::uint16_t a, std::uint16_t b) {
    return scratch.keys[a] < scratch.keys[b];
  };
  auto first = scratch.indexes.begin();
  std::partial_sort(first, first + static_cast<std::ptrdiff_t>(k),
                    first + static_cast<std::ptrdiff_t>(n), less);
  std::copy(first, first + static_cast<std::ptrdiff_t>(k), out.begin());
  return k;
}

}  // namespace

void Random::reseed(std::uint64_t seed) noexcept {
  std::uint64_t state = seed;
  for (auto& word : s_) word = splitmix(state);
}

double Random::unit() noexcept {
  // 53 random bits, shifted into (0, 1] so that log() is finite.
  return (static_cast<double>(next() >> 11) + 1.0) * 0x1.0p-53;
}

std::size_t weighted_order(std::span<const std::uint32_t> weights, std::size_t limit,
                           Random& random, OrderScratch& scratch,
                           std::span<std::uint16_t> out) noexcept {
  const std::size_t n = std::min({weights.size(), scratch.indexes.size(), scratch.weights.size(),
                                  std::size_t{65536}});
  std::size_t k = limit == 0 ? n : std::min(limit, n);
  k = std::min(k, out.size());
  if (k == 0) return 0;
  if (n == 1) {
    out[0] = 0;
    return 1;
  }
  if (n * k <= kIntegerDrawLimit || scratch.keys.size() < n) {
    return draw_integer(weights.first(n), k, random, scratch, out);
  }
  return draw_keys(weights.first(n), k, random, scratch, out);
}

std::size_t smooth_round_robin(std::span<const std::uint32_t> weights,
                               std::span<std::int64_t> current) noexcept {
  std::int64_t total = 0;
  std::size_t best = 0;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    current[i] += weights[i];
    total += weights[i];
    if (current[i] > current[best]) best = i;
  }
  current[best] -= total;
  return best;
}

}  // namespace signpost::dns::answer
