// Pre-encoded answers of one service and of one node, built once per change.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "dns/zone/zone.hpp"
#include "registry/model.hpp"

namespace signpost::registry {

/// How snapshots are built: `[dns]` and `[health]` settings that shape the records.
struct BuildSettings {
  std::string domain;                 // registry zone apex, lower-case wire form
  std::uint32_t ttl = 5;              // dns.ttl
  std::uint32_t answer_limit = 8;     // dns.answer_limit (0 = all)
  double warning_weight = 0.25;       // health.warning_weight
  double panic_threshold = 0.0;       // health.panic_threshold (0 = off)
  std::size_t workers = 1;            // DNS workers, for per-worker round-robin state
};

/// The A, AAAA and SRV records of one set of instances, each with the effective weight
/// that orders it. SRV records are sorted by priority; `srv_groups` holds the start of
/// each priority group and, last, the record count.
struct RecordGroup {
  dns::zone::RRset a;
  dns::zone::RRset aaaa;
  dns::zone::RRset srv;
  std::vector<std::uint32_t> a_weights;
  std::vector<std::uint32_t> aaaa_weights;
  std::vector<std::uint32_t> srv_weights;
  std::vector<std::uint32_t> srv_groups;
  /// Smooth round-robin state, one row of `record count` per worker per RRset (A, AAAA,
  /// SRV); each worker writes only its own row.
  mutable std::vector<std::int64_t> round_robin;

  bool empty() const noexcept { return a.size() == 0 && aaaa.size() == 0 && srv.size() == 0; }
};

/// The DNS-SD records of one instance: <instance>._<service>._<proto>.<domain>.
struct InstanceRecords {
  dns::zone::RRset srv;
  dns::zone::RRset txt;
};

/// Everything one service answers with (DESIGN.md, "DNS names"). Immutable once built;
/// shared between snapshots until the service changes.
struct ServiceRecords {
  std::string name;
  Protocol protocol = Protocol::tcp;
  std::uint32_t ttl = 0;
  std::uint32_t answer_limit = 0;
  std::size_t instance_count = 0;  // registered, eligible or not
  RecordGroup all;                 // eligible instances
  std::unordered_map<std::string, RecordGroup, dns::zone::NameHash, std::equal_to<>> by_tag;
  dns::zone::RRset ptr;            // _<service>._<proto> PTR to the instance names
  std::unordered_map<std::string, InstanceRecords, dns::zone::NameHash, std::equal_to<>> instances;
};

/// The address records of one node: <node>.node.<domain>.
struct NodeRecords {
  dns::zone::RRset a;
  dns::zone::RRset aaaa;
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

/// The wire name <instance>._<service>._<proto>.<domain>.
std::string instance_name(const Instance& instance, Protocol protocol,
                          const BuildSettings& settings);

/// The wire name _<service>._<proto>.<domain>.
std::string service_type_name(std::string_view service, Protocol protocol,
                              const BuildSettings& settings);

}  // namespace signpost::registry
