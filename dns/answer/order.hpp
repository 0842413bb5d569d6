// Answer ordering: weighted random permutations and smooth weighted round robin.
//
// Design. Clients and caching resolvers mostly take the first address of an answer, so
// the order of the records is what spreads load. `weighted_order` writes a weighted
// random permutation: position 0 is index i with probability w_i / Σw, and every next
// position is drawn the same way from the indexes left (successive sampling without
// replacement). With a limit k only the first k positions are drawn, which is what an
// answer limit keeps. Small inputs use integer draws over a running total (n·k steps, no
// floating point); large ones use exponential keys (key_i = E_i / w_i with E_i ~ Exp(1),
// ascending), which gives the same distribution in n log k steps. `smooth_round_robin`
// is the deterministic alternative: over any window of Σw picks each index is first
// exactly w_i times. All functions are pure apart from the generator and the caller's
// scratch, allocation-free and noexcept, so they are tested with exact expected orders
// for fixed seeds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace signpost::dns::answer {

/// splitmix64's finalizer: every input bit reaches every output bit. The one 64-bit mixer
/// of the answer path (seeding, Client Subnet keys, rendezvous scores). Pure, noexcept.
constexpr std::uint64_t mix64(std::uint64_t z) noexcept {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/// A small fast generator (xoshiro256**), one per worker thread; seeded from `dns.seed`
/// when set so that answer orders are reproducible. Not thread-safe; no allocation.
class Random {
 public:
  explicit Random(std::uint64_t seed = 0x5eed) noexcept { reseed(seed); }
  void reseed(std::uint64_t seed) noexcept;
  std::uint64_t next() noexcept;
  /// Uniform in [0, bound) for bound > 0, without modulo bias (Lemire's method).
  std::uint64_t below(std::uint64_t bound) noexcept;
  /// Uniform in (0, 1].
  double unit() noexcept;

 private:
  std::uint64_t s_[4]{};
};

// next() and below() run several times per answer, so they are inline.
inline std::uint64_t Random::next() noexcept {
  const auto rotl = [](std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); };
  const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

inline std::uint64_t Random::below(std::uint64_t bound) noexcept {
  __extension__ using Wide = unsigned __int128;
  Wide m = static_cast<Wide>(next()) * bound;
  auto low = static_cast<std::uint64_t>(m);
  if (low < bound) {
    const std::uint64_t threshold = (0 - bound) % bound;
    while (low < threshold) {
      m = static_cast<Wide>(next()) * bound;
      low = static_cast<std::uint64_t>(m);
    }
  }
  return static_cast<std::uint64_t>(m >> 64);
}

/// Scratch space one worker reuses for every ordering; sized once at start-up.
struct OrderScratch {
  std::span<std::uint64_t> weights;  // working copy of weights
  std::span<std::uint16_t> indexes;  // working permutation
  std::span<double> keys;            // exponential keys for large inputs
};

/// Writes the first min(limit, n) positions of a weighted random permutation of
/// 0..n-1 into `out` (limit 0 means all) and returns how many were written. Every weight
/// must be positive; n must not exceed the scratch or 65,536. Any thread with its own
/// generator and scratch; noexcept; no allocation.
std::size_t weighted_order(std::span<const std::uint32_t> weights, std::size_t limit,
                           Random& random, OrderScratch& scratch,
                           std::span<std::uint16_t> out) noexcept;

/// One step of smooth weighted round robin over `weights` with per-index state `current`
/// (same length, kept by the caller between calls, zero initially). Returns the index
/// that goes first. noexcept; no allocation.
std::size_t smooth_round_robin(std::span<const std::uint32_t> weights,
                               std::span<std::int64_t> current) noexcept;

}  // namespace signpost::dns::answer
