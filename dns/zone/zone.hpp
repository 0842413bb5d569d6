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

#include "dns/wire/rrset.hpp"

namespace signpost::dns::zone {

// The shared vocabulary, named here as zones name it.
using wire::NameHash;
using wire::RRset;

/// Raised while building or loading a zone; carries a message naming the problem.
class ZoneError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

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
