// Builds registries and snapshots for unit tests.
#pragma once

#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "registry/model.hpp"
#include "registry/snapshot.hpp"
#include "registry/store.hpp"

namespace signpost::testing {

/// Build settings for svc.internal. with the given answer limit.
registry::BuildSettings registry_settings(std::uint32_t answer_limit = 8);

/// An instance of `service` on node `node` at 10.0.0.<host> (and fd00::<host> when
/// `ipv6`), port 8080.
registry::Instance instance(const std::string& service, const std::string& id,
                            const std::string& node, std::uint8_t host,
                            std::uint16_t weight = 1, bool ipv6 = false);

/// A store and the views published from it, as the publisher keeps them.
class TestRegistry {
 public:
  explicit TestRegistry(std::uint32_t answer_limit = 8) : store(registry_settings(answer_limit)) {}
  explicit TestRegistry(const registry::BuildSettings& settings) : store(settings) {}
  /// A snapshot of the store now, plus the registry apex and example.test.
  registry::SnapshotPtr publish();

  registry::Store store;

 private:
  std::shared_ptr<const registry::RegistryView> view_ = std::make_shared<registry::RegistryView>();
};

}  // namespace signpost::testing
