// Immutable snapshot of everything the DNS workers answer from: static zones and the
// registry zone.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "dns/wire/name.hpp"
#include "dns/zone/zone.hpp"
#include "registry/registry_view.hpp"

namespace signpost::registry {

/// A frozen set of zones. Built on the control plane, then only read, by any number of
/// threads at once, without locks. Zones are shared between snapshots.
class Snapshot {
 public:
  /// Builds the zone index. Two zones with one origin are an error (ZoneError). With a
  /// registry view, the zone whose origin is the view's domain is the registry zone.
  /// Control plane; allocates.
  Snapshot(std::vector<std::shared_ptr<const dns::zone::Zone>> zones, std::uint64_t generation,
           std::shared_ptr<const RegistryView> registry = nullptr);

  /// The most specific zone at or above `qname` (lower-case), or nullptr when no served zone
  /// encloses it. Any thread; no allocation.
  const dns::zone::Zone* find_zone(const dns::wire::Name& qname) const noexcept;

  /// The same for a lower-case uncompressed wire name. Any thread; no allocation.
  const dns::zone::Zone* find_zone(std::string_view key) const noexcept;

  /// The registry zone (apex records), or nullptr without a registry.
  const dns::zone::Zone* registry_zone() const noexcept { return registry_zone_; }
  /// The registry's services and nodes, or nullptr.
  const RegistryView* registry() const noexcept { return registry_.get(); }
  const std::shared_ptr<const RegistryView>& registry_ptr() const noexcept { return registry_; }

  std::uint64_t generation() const noexcept { return generation_; }
  const std::vector<std::shared_ptr<const dns::zone::Zone>>& zones() const noexcept {
    return zones_;
  }

 private:
  std::vector<std::shared_ptr<const dns::zone::Zone>> zones_;
  std::unordered_map<std::string, const dns::zone::Zone*, dns::wire::NameHash, std::equal_to<>>
      by_origin_;
  std::size_t min_labels_ = 255;
  std::size_t max_labels_ = 0;
  std::shared_ptr<const RegistryView> registry_;
  const dns::zone::Zone* registry_zone_ = nullptr;
  std::uint64_t generation_;
};

using SnapshotPtr = std::shared_ptr<const Snapshot>;

}  // namespace signpost::registry
