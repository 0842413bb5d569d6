// Weighted rendezvous hashing.
#include "dns/answer/rendezvous.hpp"

#include <cmath>
#include <limits>

#include "dns/answer/order.hpp"

namespace signpost::dns::answer {

namespace {

// A 64-bit hash of the prefix key and the RDATA (4 or 16 octets for A and AAAA), eight
// octets at a time, each step through the splitmix finalizer.
std::uint64_t hash(std::uint64_t prefix_key, std::span<const std::uint8_t> rdata) noexcept {
  std::uint64_t h = mix64(prefix_key ^ (0xA0761D6478BD642FULL + rdata.size()));
  std::uint64_t word = 0;
  std::size_t filled = 0;
  for (const std::uint8_t octet : rdata) {
    word = (word << 8) | octet;
    if (++filled == 8) {
      h = mix64(h ^ word);
      word = 0;
      filled = 0;
    }
  }
  if (filled != 0) h = mix64(h ^ word);
  return h;
}

}  // namespace

double rendezvous_score(std::uint64_t prefix_key, std::span<const std::uint8_t> rdata,
                        std::uint32_t weight) noexcept {
  if (weight == 0) return std::numeric_limits<double>::infinity();  // never chosen
  // 53 bits in (0, 1], so that the log is finite.
  const double unit = (static_cast<double>(hash(prefix_key, rdata) >> 11) + 1.0) * 0x1.0p-53;
  return -std::log(unit) / static_cast<double>(weight);
}

}  // namespace signpost::dns::answer
