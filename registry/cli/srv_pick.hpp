// The RFC 2782 choice a client makes among a name's SRV records.
//
// Design. RFC 2782 ("Usage rules") has a client try the lowest-priority group first and,
// inside it, pick among the records at random in proportion to their weights: order the
// group with the weight-0 records first, draw a number in [0, sum of weights] and take the
// first record whose running sum reaches it. Drawing from 0 inclusive is what lets a
// weight-0 record be chosen at all, and only then with a small chance ("records with weight
// 0 should have a very small chance of being selected"); we take the stricter reading the
// operator expects from a drain: a weight-0 record is chosen only when every record of the
// group weighs 0, then uniformly. The random source is passed in so a seed reproduces a pick.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace signpost::registry::cli {

/// One SRV record as a client sees it (RFC 2782 field names).
struct SrvTarget {
  std::uint16_t priority = 0;
  std::uint16_t weight = 0;
  std::uint16_t port = 0;
  std::string target;
};

/// The index in `records` of the record an RFC 2782 client connects to first: the lowest
/// priority present, then a weighted random choice inside that group (weight 0 only when the
/// whole group weighs 0). The same records in any order and the same generator state give
/// the same choice. `records` must not be empty (std::invalid_argument). Pure apart
/// from drawing from `random`; any thread with its own generator.
std::size_t pick_srv(const std::vector<SrvTarget>& records, std::mt19937_64& random);

}  // namespace signpost::registry::cli
