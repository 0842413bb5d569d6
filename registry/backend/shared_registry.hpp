// A registry shared by several servers (the etcd backend), as the heartbeat receiver sees it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "registry/backend/state_file.hpp"

namespace signpost::registry::backend {

/// An instance written or changed in the shared registry (by any server).
struct SharedUpsert {
  DynamicInstance instance;
};
/// An instance gone from the shared registry: deregistered, or its lease expired.
struct SharedRemoved {
  std::string service;
  std::string id;
};
using SharedChange = std::variant<SharedUpsert, SharedRemoved>;

/// Where the receiver writes what this server's heartbeats change, so that every server of
/// the cluster learns it. Every call only queues (a short lock, no I/O), so the registry
/// thread may call it per UPDATE; any thread.
class SharedRegistry {
 public:
  virtual ~SharedRegistry() = default;
  /// A registration or a real change (health, damping, weight): written for every server.
  virtual void put(const DynamicInstance& instance) = 0;
  /// A deregistration, or an instance forgotten after being critical too long.
  virtual void remove(std::string_view service, std::string_view id) = 0;
  /// A heartbeat that changed nothing: keeps the instance alive, writes nothing.
  virtual void keep_alive(std::string_view service, std::string_view id) = 0;
  /// The instance's record as the shared registry last held it (written here or seen from
  /// another server), or nullopt. Allocates.
  virtual std::optional<DynamicInstance> record(std::string_view service,
                                                std::string_view id) const = 0;
};

}  // namespace signpost::registry::backend
