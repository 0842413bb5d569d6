// Weighted rendezvous hashing: which record a client prefix gets.
//
// Design. Each record gets a score for a prefix, score_i = -ln(U_i) / w_i with U_i uniform
// in (0, 1] drawn from a hash of the prefix key and the record's RDATA; the lowest score
// wins. The -ln(U) are independent Exp(1) variables, so record i wins with probability
// w_i / Σw (a race of exponential clocks), and the share of prefixes given each record
// follows the weights. The choice depends only on the prefix and on each record's own
// address and weight, never on record order or on the other records' identities, so a
// registry change moves only the prefixes it must: a new record takes its share from every
// other, a removed one gives its prefixes away, and a weight change moves prefixes only to
// or from the record whose weight changed. Pure functions: any thread, noexcept, no
// allocation, O(n) for n records (one hash and one log each).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace signpost::dns::answer {

/// The score of a record with RDATA `rdata` and weight `weight` (> 0) for the prefix with
/// key `prefix_key`; lower wins. noexcept.
double rendezvous_score(std::uint64_t prefix_key, std::span<const std::uint8_t> rdata,
                        std::uint32_t weight) noexcept;

/// The index of the record the prefix gets among `weights.size()` records, the i-th with
/// RDATA `rdata_at(i)`: the lowest score; ties go to the lower index. 0 for no records.
/// noexcept; no allocation.
template <typename RdataAt>
std::size_t rendezvous_choice(std::uint64_t prefix_key, std::span<const std::uint32_t> weights,
                              RdataAt&& rdata_at) noexcept {
  std::size_t best = 0;
  double best_score = 0;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    const double score = rendezvous_score(prefix_key, rdata_at(i), weights[i]);
    if (i == 0 || score < best_score) {
      best = i;
      best_score = score;
    }
  }
  return best;
}

}  // namespace signpost::dns::answer
