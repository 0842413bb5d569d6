// Immutable snapshot of the served zones.
#include "registry/snapshot.hpp"

#include <algorithm>

namespace signpost::registry {

Snapshot::Snapshot(std::vector<std::shared_ptr<const dns::zone::Zone>> zones,
                   std::uint64_t generation, std::shared_ptr<const RegistryView> registry)
    : zones_(std::move(zones)), registry_(std::move(registry)), generation_(generation) {
  for (const auto& zone : zones_) {
    if (!by_origin_.emplace(zone->origin(), zone.get()).second) {
      throw dns::zone::ZoneError("zone " + dns::wire::name_to_text(zone->origin()) +
                                 " is defined twice");
    }
    min_labels_ = std::min(min_labels_, zone->origin_labels());
    max_labels_ = std::max(max_labels_, zone->origin_labels());
  }
  if (registry_ != nullptr) {
    const auto it = by_origin_.find(registry_->settings().domain);
    if (it == by_origin_.end()) {
      throw dns::zone::ZoneError("the registry zone " +
                                 dns::wire::name_to_text(registry_->settings().domain) +
                                 " has no apex records");
    }
    registry_zone_ = it->second;
  }
}

const dns::zone::Zone* Snapshot::find_zone(const dns::wire::Name& qname) const noexcept {
  if (qname.labels < min_labels_) return nullptr;
  // Longest suffix first: a child zone served here wins over its parent.
  const std::size_t first = qname.labels > max_labels_ ? qname.labels - max_labels_ : 0;
  const std::size_t last = qname.labels - min_labels_;
  for (std::size_t i = first; i <= last; ++i) {
    const auto it = by_origin_.find(qname.suffix_key(i));
    if (it != by_origin_.end()) return it->second;
  }
  return nullptr;
}

const dns::zone::Zone* Snapshot::find_zone(std::string_view key) const noexcept {
  std::size_t labels = dns::wire::count_labels(key);
  if (labels < min_labels_) return nullptr;
  std::size_t i = 0;
  while (labels >= min_labels_) {
    if (labels <= max_labels_) {
      const auto it = by_origin_.find(key.substr(i));
      if (it != by_origin_.end()) return it->second;
    }
    if (labels == 0) break;
    i += static_cast<std::uint8_t>(key[i]) + 1u;
    --labels;
  }
  return nullptr;
}

}  // namespace signpost::registry
