// Response rate limiting: a fixed table of per-second counts.
#include "dns/net/rate_limit.hpp"

#include <time.h>

#include <algorithm>

#include "dns/answer/client_prefix.hpp"
#include "dns/answer/siphash.hpp"

namespace signpost::dns::net {

namespace {

// A bucket word: second (bits 40-63), tag (bits 24-39), count (bits 0-23).
constexpr std::uint64_t kCountMask = (std::uint64_t{1} << 24) - 1;
constexpr std::uint64_t kSecondMask = (std::uint64_t{1} << 24) - 1;
constexpr std::uint64_t kTagMask = 0xFFFF;

constexpr std::uint64_t pack(std::uint64_t second, std::uint64_t tag, std::uint64_t count) noexcept {
  return (second & kSecondMask) << 40 | (tag & kTagMask) << 24 | (count & kCountMask);
}

}  // namespace

RateLimiter::RateLimiter(const RateLimitSettings& settings, const answer::SipKey& hash_key)
    : settings_(settings),
      hash_key_(hash_key),
      buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(kBuckets)) {
  for (std::size_t i = 0; i < kBuckets; ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

answer::ClientAddress RateLimiter::prefix_of(const answer::ClientAddress& client) const noexcept {
  answer::ClientAddress prefix = client;
  // An IPv4 prefix of n bits is the mapped address's first 96 + n bits.
  answer::mask_client_address(
      prefix, answer::is_ipv4(client) ? 96u + settings_.ipv4_prefix : settings_.ipv6_prefix);
  return prefix;
}

answer::RateAction RateLimiter::admit(const answer::ClientAddress& client,
                                      std::uint32_t now) noexcept {
  const answer::ClientAddress prefix = prefix_of(client);
  const std::uint64_t hash = answer::siphash24(hash_key_, prefix);
  std::atomic<std::uint64_t>& bucket = buckets_[hash & (kBuckets - 1)];
  const std::uint64_t tag = hash >> 48;
  const std::uint64_t second = now & kSecondMask;
  std::uint64_t seen = bucket.load(std::memory_order_relaxed);
  std::uint64_t next = 0;
  do {
    const bool same = (seen >> 40) == second && ((seen >> 24) & kTagMask) == tag;
    const std::uint64_t count = same ? std::min((seen & kCountMask) + 1, kCountMask) : 1;
    next = pack(second, tag, count);
  } while (!bucket.compare_exchange_weak(seen, next, std::memory_order_relaxed));
  const std::uint64_t count = next & kCountMask;
  if (count <= settings_.responses_per_second) return answer::RateAction::answer;
  const std::uint64_t excess = count - settings_.responses_per_second;
  if (settings_.slip != 0 && excess % settings_.slip == 0) return answer::RateAction::slip;
  return answer::RateAction::drop;
}

std::uint32_t unix_seconds() noexcept {
  timespec now{};
  clock_gettime(CLOCK_REALTIME_COARSE, &now);
  return static_cast<std::uint32_t>(now.tv_sec);
}

}  // namespace signpost::dns::net
