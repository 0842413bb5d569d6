// Builds registries and snapshots for unit tests.
#include "tests/unit/support/test_registry.hpp"

#include "registry/registry_zone.hpp"
#include "tests/unit/support/test_zone.hpp"

namespace signpost::testing {

registry::BuildSettings registry_settings(std::uint32_t answer_limit) {
  registry::BuildSettings settings;
  settings.domain = wire_name("svc.internal.");
  settings.answer_limit = answer_limit;
  settings.ttl = 5;
  return settings;
}

registry::Instance instance(const std::string& service, const std::string& id,
                            const std::string& node, std::uint8_t host, std::uint16_t weight,
                            bool ipv6) {
  registry::Instance i;
  i.service = service;
  i.id = id;
  i.node = node;
  i.ipv4.push_back({10, 0, 0, host});
  if (ipv6) i.ipv6.push_back({0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, host});
  i.port = 8080;
  i.weight = weight;
  return i;
}

registry::SnapshotPtr TestRegistry::publish() {
  view_ = store.build_view(*view_);
  const auto& view = view_;
  registry::RegistryZoneSettings apex;
  apex.domain = store.settings().domain;
  apex.serial = 7;
  apex.ns_addresses.push_back({127, 0, 0, 1});
  return std::make_shared<const registry::Snapshot>(
      std::vector<std::shared_ptr<const dns::zone::Zone>>{registry::build_registry_zone(apex),
                                                          example_zone()},
      1, view);
}

}  // namespace signpost::testing
