// The registry store: the one mutable copy of every service and instance.
#pragma once

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "registry/model.hpp"
#include "registry/registry_view.hpp"
#include "registry/service_records.hpp"

namespace signpost::registry {

/// Services and instances, changed only on the registry thread (single writer). It
/// remembers which services and nodes changed, so that `build_view` rebuilds only those.
/// Registry thread only; allocates; throws RegistryError on invalid input.
///
/// Design. The store holds every instance for as long as it is registered, so it keeps them
/// packed (PackedInstance): an instance's name parts are map keys, and the full Instance is
/// made again only to build the records of a changed service or node.
class Store {
 public:
  explicit Store(BuildSettings settings);

  /// Adds or replaces a declared service (it then exists even without instances).
  void put_service(Service service);
  /// Adds or replaces an instance; creates its service when unknown (with `protocol`, tcp
  /// when not given). A protocol that differs from the known service's is an error.
  /// Returns true when anything changed.
  bool put_instance(Instance instance, std::optional<Protocol> protocol = std::nullopt);
  /// Removes an instance; a service that was only created for its instances goes with
  /// its last one. Returns true when it existed.
  bool remove_instance(const std::string& service, const std::string& id);
  /// Changes an instance's health. Returns true when it changed.
  bool set_health(const std::string& service, const std::string& id, Health health);
  /// Changes the highest TTL of an instance's records (Instance::max_ttl). Returns true when
  /// it changed.
  bool set_max_ttl(const std::string& service, const std::string& id, std::uint32_t max_ttl);
  /// Sets the operator's override of a registered instance (an empty one removes it); it
  /// lasts until replaced or the instance is removed, whatever its registrations say.
  /// Returns false when the instance is not registered.
  bool set_override(const std::string& service, const std::string& id, InstanceOverride value);
  /// The instance's override; empty when it has none. No allocation.
  InstanceOverride override_of(const std::string& service, const std::string& id) const;
  /// Replaces every service and instance that came from `source` with the given ones
  /// (config reload). Validates everything first: on error nothing changes.
  void replace_source(Source source, std::vector<Service> services, std::vector<Instance> instances);

  std::optional<Instance> find_instance(const std::string& service, const std::string& id) const;
  /// Where an instance came from, or nullopt when it is not registered. No allocation.
  std::optional<Source> source_of(const std::string& service, const std::string& id) const;
  /// Calls `visit(service, id, packed)` for every instance from `source`, service by service
  /// and in id order within one: a walk through the store, no lookup per instance.
  void visit_source(Source source,
                    const std::function<void(const Service&, const std::string&,
                                             const PackedInstance&)>& visit) const;
  /// Calls `visit(service, instance)` for the instances on `node` until it returns false.
  /// Time proportional to the instances visited.
  void visit_node(const std::string& node,
                  const std::function<bool(const std::string&, const Instance&)>& visit) const;
  /// The number of instances on `node`. No allocation.
  std::size_t node_size(const std::string& node) const;
  /// The ids of a service's instances (empty for an unknown service), in id order.
  std::vector<std::string> instance_ids(const std::string& service) const;
  /// The number of a service's instances. No allocation.
  std::size_t service_size(const std::string& service) const;
  const Service* find_service(const std::string& name) const;
  std::size_t instance_count() const noexcept { return instance_count_; }
  /// How many instances have an override, and how many of them are drained.
  std::size_t override_count() const noexcept { return override_count_; }
  std::size_t drained_count() const noexcept { return drained_count_; }
  /// Instances by health (indexed by Health), kept as they change: no walk.
  using HealthCounts = std::array<std::uint32_t, 3>;
  std::array<std::size_t, 3> health_counts() const noexcept { return health_counts_; }
  std::size_t service_count() const noexcept { return services_.size(); }
  std::size_t node_count() const noexcept { return nodes_.size(); }
  /// Calls `visit` with every service and its instances by health, in no set order: one
  /// step per service, none per instance (metrics, status).
  void visit_services(const std::function<void(const Service&, const HealthCounts&)>& visit) const;
  /// Calls `visit(service, id, override)` for every override of an instance from `source`.
  void visit_overrides(Source source,
                       const std::function<void(const std::string&, const std::string&,
                                                const InstanceOverride&)>& visit) const;
  /// How many instances came from `source`.
  std::size_t count_of(Source source) const noexcept {
    return source_counts_[static_cast<std::size_t>(source)];
  }
  /// Services and their instances, in name order (control plane listings).
  std::vector<std::pair<Service, std::vector<Instance>>> list() const;

  /// True when something changed since the last build_view.
  bool dirty() const noexcept { return !dirty_services_.empty() || !dirty_nodes_.empty(); }
  /// The next view: `previous` with only the changed services and nodes rebuilt.
  std::shared_ptr<const RegistryView> build_view(const RegistryView& previous);
  const BuildSettings& settings() const noexcept { return settings_; }

 private:
  using Packed = PackedInstance;
  using Instances = std::map<std::string, Packed>;  // by id
  struct ServiceEntry {
    Service service;
    bool declared = false;  // from put_service, kept without instances
    Instances instances;
    std::map<std::string, InstanceOverride> overrides;  // by id, of registered instances only
    std::array<std::uint32_t, 3> health_counts{};       // its instances by Health
  };
  /// One instance on a node. The pointers are to services_' keys and elements, which never
  /// move; an instance leaves its node's list before it is erased or moved to another node.
  struct OnNode {
    const std::string* service;
    const Instances::value_type* instance;
  };

  // Hashed, not ordered: the registry thread finds a service or node per change, and runs
  // cold (it wakes a few times a second), so each node a std::map search visits is a cache
  // miss. Elements stay put on rehash, which OnNode relies on.
  using Services = std::unordered_map<std::string, ServiceEntry>;
  Services::value_type& entry_for(const std::string& name, Protocol protocol);
  void touch(const std::string& service, const std::string& node);
  void leave_node(const Instances::value_type& stored);
  void drop_if_unused(const std::string& service);
  void count_health(ServiceEntry& entry, Health health, int delta) noexcept;
  // The instances of a service or node unpacked, with their overrides applied: what answers
  // use.
  std::vector<Instance> answer_instances(const ServiceEntry& entry, const std::string& name) const;

  BuildSettings settings_;
  Services services_;
  std::unordered_map<std::string, std::vector<OnNode>> nodes_;
  std::set<std::string> dirty_services_;
  std::set<std::string> dirty_nodes_;
  bool types_dirty_ = true;
  std::size_t instance_count_ = 0;
  std::size_t override_count_ = 0;
  std::size_t drained_count_ = 0;
  std::array<std::size_t, 3> health_counts_{};  // by Health
  std::array<std::size_t, 3> source_counts_{};  // by Source
};

}  // namespace signpost::registry
