// Pre-encoded answers of one service and of one node, built once per change.
//
// Design. A service keeps every record it can answer with in one byte buffer, each encoded
// once as it follows its owner on the wire (type, class, TTL, RDLENGTH, RDATA). Everything
// else refers to records by their offset in that buffer: the address and SRV records of
// the service and of each tag, the DNS-SD PTR, SRV and TXT of each instance, and the glue
// of each SRV target. So a tag costs its offsets and weights, not a copy of its records,
// and an instance costs a few integers besides its encoded records. An SRV record is
// linked, at build time, to its target node's A/AAAA records (the glue), so that answering
// SRV needs no lookup by name. The glue is built from the addresses of the service's own
// instances on that node (all of them, as the node's records are built), so it changes only
// when the service does and a change to one service never rebuilds another. It equals the
// node's own A/AAAA as long as instances of other services on that node register the same
// addresses, as agents do (they send the node's addresses).
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dns/wire/rrset.hpp"
#include "registry/model.hpp"

namespace signpost::registry {

/// How snapshots are built: `[dns]` and `[health]` settings that shape the records.
struct BuildSettings {
  std::string domain;                 // registry zone apex, lower-case wire form
  std::uint32_t ttl = 5;              // dns.ttl
  std::uint32_t answer_limit = 8;     // dns.answer_limit (0 = all)
  double warning_weight = 0.25;       // health.warning_weight
  double panic_threshold = 0.0;       // health.panic_threshold (0 = off)
  /// Rows of round-robin state per RRset, one per answering thread (each DNS worker's UDP
  /// listeners and its TCP side) when dns.order is round_robin, 0 otherwise (weighted
  /// order keeps no state).
  std::size_t round_robin_rows = 1;

  bool operator==(const BuildSettings&) const = default;
};

/// Where a record starts in its ServiceRecords::wire.
using RecordAt = std::uint32_t;

/// The A and AAAA records of one SRV target, `<node>.node.<domain>`, for the additional
/// section: `a_count` A records, then `aaaa_count` AAAA records, back to back from `first`.
struct Glue {
  RecordAt first = 0;
  std::uint32_t a_count = 0;
  std::uint32_t aaaa_count = 0;
  /// Octets they take in a message, each owner compressed to a 2-octet pointer.
  std::uint32_t octets = 0;
};

/// The DNS-SD records of one eligible instance: <instance>._<service>._<proto>.<domain>.
struct InstanceRecords {
  RecordAt ptr = 0;     // its PTR at _<service>._<proto>, whose RDATA holds only the id label
                        // (the rest of the name is the owner's; see put_children)
  RecordAt srv = 0;     // its SRV, also used by the service's and its tags' SRV answers
  RecordAt txt = 0;     // its TXT (RFC 6763 §6)
  std::uint32_t glue = 0;  // index of its node's glue in ServiceRecords::glue
};

/// The A, AAAA and SRV records of one set of instances, each with the effective weight
/// that orders it. A and AAAA hold record offsets; SRV holds indexes into
/// ServiceRecords::instances, sorted by priority, and `srv_groups` the start of each
/// priority group and, last, the record count. All of them are back to back in one array,
/// so that an answer reads one block of memory rather than seven.
struct RecordGroup {
  std::vector<std::uint32_t> table;  // a, aaaa, srv, a_weights, aaaa_weights, srv_weights, srv_groups
  std::uint32_t a_count = 0;
  std::uint32_t aaaa_count = 0;
  std::uint32_t srv_count = 0;
  /// Smooth round-robin state, one row of `record count` per worker per RRset (A, AAAA,
  /// SRV); each worker writes only its own row. Empty in weighted order.
  mutable std::vector<std::int64_t> round_robin;

  std::span<const RecordAt> a() const noexcept { return part(0, a_count); }
  std::span<const RecordAt> aaaa() const noexcept { return part(a_count, aaaa_count); }
  std::span<const std::uint32_t> srv() const noexcept { return part(a_count + aaaa_count, srv_count); }
  std::span<const std::uint32_t> a_weights() const noexcept { return part(record_count(), a_count); }
  std::span<const std::uint32_t> aaaa_weights() const noexcept {
    return part(record_count() + a_count, aaaa_count);
  }
  std::span<const std::uint32_t> srv_weights() const noexcept {
    return part(record_count() + a_count + aaaa_count, srv_count);
  }
  std::span<const std::uint32_t> srv_groups() const noexcept {
    return std::span<const std::uint32_t>(table).subspan(2 * record_count());
  }
  std::size_t record_count() const noexcept { return std::size_t{a_count} + aaaa_count + srv_count; }
  bool empty() const noexcept { return record_count() == 0; }

 private:
  std::span<const std::uint32_t> part(std::size_t first, std::size_t count) const noexcept {
    return {table.data() + first, count};
  }
};

/// The instances carrying one tag: <tag>.<service>.<domain>.
struct TagGroup {
  std::string tag;
  RecordGroup group;
};

/// Everything one service answers with (DESIGN.md, "DNS names"). Immutable once built;
/// shared between snapshots until the service changes. Lookups: any thread, no allocation.
struct ServiceRecords {
  std::string name;
  Protocol protocol = Protocol::tcp;
  std::uint32_t ttl = 0;
  std::uint32_t answer_limit = 0;
  std::size_t instance_count = 0;        // registered, eligible or not
  std::vector<std::uint8_t> wire;        // every record below, encoded once
  std::vector<InstanceRecords> instances;  // eligible instances, by id
  std::vector<Glue> glue;                // one per node of the eligible instances
  RecordGroup all;                       // eligible instances
  std::vector<TagGroup> by_tag;          // sorted by tag

  /// The encoded record at `at` (everything after the owner).
  std::span<const std::uint8_t> record(RecordAt at) const noexcept {
    const std::size_t rdlength = (std::size_t{wire[at + 8]} << 8) | wire[at + 9];
    return {wire.data() + at, 10 + rdlength};
  }
  /// Loads what answers read first, one octet per cache line: the record group of all
  /// instances, the first `octets` of the wire and, for SRV answers, the instances and
  /// their glue. Returns the octets' sum, which the caller must use (see touch_lines).
  std::uint32_t touch(std::size_t octets, bool srv) const noexcept {
    std::uint32_t sum = touch_lines(all.table.data(), all.table.size() * sizeof(std::uint32_t));
    sum += touch_lines(wire.data(), std::min(octets, wire.size()));
    if (srv) {
      sum += touch_lines(instances.data(), instances.size() * sizeof(InstanceRecords));
      sum += touch_lines(glue.data(), glue.size() * sizeof(Glue));
    }
    return sum;
  }
  /// Reads one octet of each 64-octet line of [data, data + size) and returns their sum.
  /// Loads of a batch's services that do not depend on each other are in flight together
  /// in the CPU's out-of-order window; prefetch instructions in their place left most of
  /// the misses to the answers (measured), which meet them one at a time.
  static std::uint32_t touch_lines(const void* data, std::size_t size) noexcept {
    std::uint32_t sum = 0;
    const auto* octets = static_cast<const std::uint8_t*>(data);
    for (std::size_t at = 0; at < size; at += 64) sum += octets[at];
    return sum;
  }
  static void prefetch_bytes(const void* data, std::size_t size) noexcept {
    for (std::size_t at = 0; at < size; at += 64) __builtin_prefetch(static_cast<const char*>(data) + at);
  }
  /// The eligible instance with this lower-case id, or nullptr.
  const InstanceRecords* find_instance(std::string_view id) const noexcept;
  /// The group of this lower-case tag, or nullptr.
  const RecordGroup* find_tag(std::string_view tag) const noexcept;
  /// The lower-case wire name an instance's SRV points at: its node.
  std::string_view target(const InstanceRecords& instance) const noexcept;
};

/// The address records of one node: <node>.node.<domain>.
struct NodeRecords {
  /// The A records, then the AAAA records, back to back, each encoded as it follows its
  /// owner (type, class, TTL, RDLENGTH, RDATA): fixed sizes, so no offsets are kept.
  std::vector<std::uint8_t> wire;
  std::uint32_t a_count = 0;
  std::uint32_t aaaa_count = 0;

  static constexpr std::size_t kARecord = 10 + 4;
  static constexpr std::size_t kAaaaRecord = 10 + 16;
  std::span<const std::uint8_t> a(std::size_t i) const noexcept {
    return {wire.data() + i * kARecord, kARecord};
  }
  std::span<const std::uint8_t> aaaa(std::size_t i) const noexcept {
    return {wire.data() + a_count * kARecord + i * kAaaaRecord, kAaaaRecord};
  }

  bool operator==(const NodeRecords&) const = default;
};

/// Builds a service's records from its instances: drops drained (weight 0) and critical
/// ones, scales warning ones by warning_weight, and in panic mode (healthy fraction below
/// panic_threshold) keeps every instance with a weight. Control plane; allocates.
std::shared_ptr<const ServiceRecords> build_service_records(
    const Service& service, std::span<const Instance* const> instances,
    const BuildSettings& settings);

/// Builds a node's A/AAAA from the addresses of the instances on it (duplicates merged).
std::shared_ptr<const NodeRecords> build_node_records(std::span<const Instance* const> instances,
                                                      const BuildSettings& settings);

/// The wire name <node>.node.<domain>.
std::string node_name(std::string_view node, const BuildSettings& settings);

/// The wire name _<service>._<proto>.<domain>.
std::string service_type_name(std::string_view service, Protocol protocol,
                              const BuildSettings& settings);

}  // namespace signpost::registry
