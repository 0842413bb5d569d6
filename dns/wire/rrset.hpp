// The RRset and name-hash vocabulary that static zones and the registry share: records
// pre-encoded for the answer path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace signpost::dns::wire {

/// Hash for wire-form names that accepts std::string_view without building a string,
/// so lookups on the query path never allocate.
/// Names are short (a service name is about 20 octets), so the hash reads them eight octets
/// at a time, inline, and mixes each word in with a multiply and a shift; a final mix
/// spreads every input bit over both ends of the result (the registry's map takes its
/// shard from the high bits and its slot from the low ones).
struct NameHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view key) const noexcept {
    constexpr std::uint64_t kMultiplier = 0x9E3779B97F4A7C15ULL;
    const auto* p = reinterpret_cast<const unsigned char*>(key.data());
    std::size_t n = key.size();
    std::uint64_t h = (n + 1) * kMultiplier;
    const auto mix = [&h](std::uint64_t word) {
      h = (h ^ word) * kMultiplier;
      h ^= h >> 29;
    };
    for (; n >= 8; n -= 8, p += 8) {
      std::uint64_t word;
      std::memcpy(&word, p, 8);
      mix(word);
    }
    if (n >= 4) {
      std::uint32_t first;
      std::uint32_t last;
      std::memcpy(&first, p, 4);
      std::memcpy(&last, p + n - 4, 4);
      mix((std::uint64_t{first} << 32) | last);
    } else if (n > 0) {
      mix((std::uint64_t{p[0]} << 16) | (std::uint64_t{p[n / 2]} << 8) | p[n - 1]);
    }
    h ^= h >> 32;
    h *= 0xD6E8FEB86659FD93ULL;
    h ^= h >> 32;
    return static_cast<std::size_t>(h);
  }
};

/// One RRset, pre-encoded: each record is stored exactly as it follows its owner on the
/// wire (type, class, TTL, RDLENGTH, uncompressed RDATA), so answering copies bytes.
struct RRset {
  std::uint16_t type = 0;
  std::uint32_t ttl = 0;
  std::vector<std::uint8_t> wire;
  std::vector<std::uint32_t> offsets{0};  // record i is wire[offsets[i], offsets[i + 1])
  /// Per record: the lower-case wire name whose A/AAAA belong in the additional section
  /// (NS, MX, SRV targets), or empty. RRsets of types without targets may leave the whole
  /// vector empty (the registry's node records do).
  std::vector<std::string> targets;

  std::size_t size() const noexcept { return offsets.size() - 1; }
  /// The encoded record i (everything after the owner). Any thread; no allocation.
  std::span<const std::uint8_t> record(std::size_t i) const noexcept {
    return {wire.data() + offsets[i], offsets[i + 1] - offsets[i]};
  }
  /// The RDATA of record i.
  std::span<const std::uint8_t> rdata(std::size_t i) const noexcept { return record(i).subspan(10); }
};

/// Appends one IN-class record to `rrset` (whose type is set), encoding the fixed fields
/// and noting its additional-section target. Control plane; allocates.
void append_record(RRset& rrset, std::uint32_t ttl, std::span<const std::uint8_t> rdata);

}  // namespace signpost::dns::wire
