// The registry part of a snapshot: every service's and node's pre-encoded records.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "dns/wire/rrset.hpp"
#include "registry/service_records.hpp"
#include "registry/sharded_map.hpp"

namespace signpost::registry {

class Store;

/// Immutable view of the registry, shared by snapshots. Unchanged services and nodes are
/// shared between consecutive views, so publishing costs what changed. Lookups: any
/// thread, no allocation.
class RegistryView {
 public:
  /// The service with this lower-case label, or nullptr.
  const ServiceRecords* find_service(std::string_view name) const noexcept {
    return services_.find(name);
  }
  /// Starts loading where find_service(name) will look, and returns a handle for
  /// service_hint (a hint: see ShardedMap::prefetch).
  const void* prefetch_service(std::string_view name) const noexcept {
    return services_.prefetch(name);
  }
  /// The service that a prefetch_service handle leads to, if any; it may not be the one
  /// named. For more hints only.
  static const ServiceRecords* service_hint(const void* handle) noexcept {
    return ShardedMap<ServiceRecords>::value_in(handle);
  }
  /// The node with this lower-case label, or nullptr.
  const NodeRecords* find_node(std::string_view name) const noexcept { return nodes_.find(name); }
  /// _services._dns-sd._udp.<domain> PTR: one record per service (RFC 6763 §9).
  const dns::wire::RRset& service_types() const noexcept { return *service_types_; }
  std::size_t service_count() const noexcept { return services_.size(); }
  std::size_t node_count() const noexcept { return nodes_.size(); }
  const BuildSettings& settings() const noexcept { return *settings_; }

  /// Visits every service (control plane: listings, zone transfer).
  template <typename Visit>
  void for_each_service(Visit&& visit) const {
    services_.for_each(visit);
  }
  template <typename Visit>
  void for_each_node(Visit&& visit) const {
    nodes_.for_each(visit);
  }
  /// Visits each service that differs from `older`'s as visit(name, before, after), either
  /// nullptr when absent. Costs what changed between views built from one another (zone
  /// transfer diffs; see ShardedMap::for_each_change).
  template <typename Visit>
  void for_each_service_change(const RegistryView& older, Visit&& visit) const {
    services_.for_each_change(older.services_, visit);
  }
  /// The same for nodes.
  template <typename Visit>
  void for_each_node_change(const RegistryView& older, Visit&& visit) const {
    nodes_.for_each_change(older.nodes_, visit);
  }

 private:
  friend class Store;
  ShardedMap<ServiceRecords> services_;
  ShardedMap<NodeRecords> nodes_;
  std::shared_ptr<const dns::wire::RRset> service_types_ = std::make_shared<dns::wire::RRset>();
  std::shared_ptr<const BuildSettings> settings_ = std::make_shared<BuildSettings>();
};

}  // namespace signpost::registry
