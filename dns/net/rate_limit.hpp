// Response rate limiting (`[rrl]`): how many UDP responses a client prefix gets per second.
//
// Design. A fixed table of 65,536 buckets, each one 64-bit atomic word: the second it counts
// (24 bits), a tag of the prefix that owns it (16 bits) and the responses counted in that
// second (24 bits). A query hashes its client prefix (SipHash-2-4 under a random key, so that
// clients cannot pick prefixes that share a bucket) to a bucket and raises its count with one
// compare-and-swap; a new second, or another prefix's tag, starts the count again at 1. So the
// table is shared by every UDP thread with no lock and no allocation, and its memory (512 KiB)
// does not grow with the number of clients. Honest limits of that choice:
//  - the count is per calendar second of the server's clock, as in NSD and Knot: a client
//    may get up to twice the rate across a second's boundary, never more;
//  - two prefixes whose hashes meet in one bucket take it from each other at every query,
//    each starting a fresh count, so under heavy churn (far more active prefixes than
//    buckets) some clients escape the limit; none is ever limited for another's queries
//    beyond sharing a count within the same second and tag (1 in 65,536).
// Every limited response is dropped, except every `slip`-th, which is sent short (TC=1, or
// BADCOOKIE to a client that sent a cookie) so that a real client behind a spoofed flood
// still gets through, over TCP or with a cookie. Queries with a valid server cookie are
// counted but never limited (their source address is proven, RFC 7873 §5.2.5), and TCP is
// never limited. When `[rrl]` is off no limiter exists and the UDP path tests one pointer.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "dns/answer/cookie.hpp"
#include "dns/answer/responder.hpp"

namespace signpost::dns::net {

/// The `[rrl]` settings.
struct RateLimitSettings {
  std::uint32_t responses_per_second = 0;  // per client prefix; 0 = off
  std::uint32_t slip = 2;         // every slip-th limited response is sent short; 0 = none
  std::uint8_t ipv4_prefix = 24;  // client addresses are grouped by these prefix lengths
  std::uint8_t ipv6_prefix = 56;
};

/// The server-wide table of response counts per client prefix, shared by every UDP thread.
/// Any thread; lock-free; no allocation after construction.
class RateLimiter {
 public:
  static constexpr std::size_t kBuckets = std::size_t{1} << 16;

  /// `settings.responses_per_second` must not be 0. `hash_key` keys the prefix hash (random
  /// in the server). Control thread; allocates the table.
  RateLimiter(const RateLimitSettings& settings, const answer::SipKey& hash_key);

  /// Counts a response to `client` in second `now` (seconds since 1970, mod 2^32) and says
  /// whether it goes out, is dropped or is slipped. Any thread; noexcept; lock-free.
  answer::RateAction admit(const answer::ClientAddress& client, std::uint32_t now) noexcept;

  /// The prefix of `client` that is counted: the address with the bits past the configured
  /// prefix length cleared (IPv4 addresses stay in their IPv4-mapped form).
  answer::ClientAddress prefix_of(const answer::ClientAddress& client) const noexcept;

 private:
  RateLimitSettings settings_;
  answer::SipKey hash_key_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;
};

/// The wall clock in whole seconds since 1970, mod 2^32, from the coarse clock (a few
/// nanoseconds, no system call): what cookie timestamps and rate-limit seconds are in.
/// Any thread; noexcept.
std::uint32_t unix_seconds() noexcept;

}  // namespace signpost::dns::net
