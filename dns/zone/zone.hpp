// Authoritative zone data, pre-encoded for the answer path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace signpost::dns::zone {

/// Raised while building or loading a zone; carries a message naming the problem.
class ZoneError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

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

/// All RRsets at one owner name; an empty node is an empty non-terminal (RFC 8020).
struct Node {
  std::vector<RRset> rrsets;  // sorted by type
  bool delegation = false;    // NS below the apex: a zone cut (RFC 1034 §4.2.1)

  /// The RRset of `type`, or nullptr. Any thread; no allocation.
  const RRset* find(std::uint16_t type) const noexcept;
  bool empty() const noexcept { return rrsets.empty(); }
};

/// An immutable authoritative zone. Built by ZoneBuilder; shared read-only between
/// threads.
class Zone {
 public:
  /// The apex in lower-case wire form.
  const std::string& origin() const noexcept { return origin_; }
  std::size_t origin_labels() const noexcept { return origin_labels_; }
  /// The node at a lower-case wire name, or nullptr. Any thread; no allocation.
  const Node* find(std::string_view key) const noexcept;
  const Node& apex() const noexcept { return *apex_; }
  const RRset& soa() const noexcept { return *soa_; }
  /// TTL of negative answers: min(SOA TTL, SOA MINIMUM), RFC 2308 §5.
  std::uint32_t negative_ttl() const noexcept { return negative_ttl_; }
  /// The SOA serial.
  std::uint32_t serial() const noexcept;
  bool has_wildcards() const noexcept { return has_wildcards_; }
  bool has_delegations() const noexcept { return has_delegations_; }
  std::size_t node_count() const noexcept { return nodes_.size(); }
  /// Visits every node (control plane: zone transfer, tests).
  template <typename Visit>
  void for_each_node(Visit&& visit) const {
    for (const auto& [key, node] : nodes_) visit(std::string_view(key), node);
  }

 private:
  friend class ZoneBuilder;
  std::string origin_;
  std::size_t origin_labels_ = 0;
  std::unordered_map<std::string, Node, NameHash, std::equal_to<>> nodes_;
  const Node* apex_ = nullptr;
  const RRset* soa_ = nullptr;
  std::uint32_t negative_ttl_ = 0;
  bool has_wildcards_ = false;
  bool has_delegations_ = false;
};

/// Collects records and builds an immutable Zone. Control plane; allocates; throws
/// ZoneError.
class ZoneBuilder {
 public:
  /// `origin` is the apex in wire form (any case).
  explicit ZoneBuilder(std::string_view origin);

  /// Adds one IN-class record. `owner` is an uncompressed wire name at or below the origin;
  /// `rdata` is uncompressed. Duplicate records are dropped (RFC 2181 §5); TTLs of one
  /// RRset are made equal (the smallest wins, RFC 2181 §5.2).
  void add(std::string_view owner, std::uint16_t type, std::uint32_t ttl,
           std::span<const std::uint8_t> rdata);

  /// Validates (one SOA at the apex, CNAME alone at its owner) and freezes the zone.
  std::shared_ptr<const Zone> build();

 private:
  std::unique_ptr<Zone> zone_;
  // Every record added, as owner, type and RDATA, so that a duplicate is found with one
  // hash lookup: a scan of its RRset made loading an RRset of n records take n² steps.
  std::unordered_set<std::string, NameHash, std::equal_to<>> records_;
};

}  // namespace signpost::dns::zone
