// The HTTP API's view of signpostd's registry: reads and the operator's writes, run on the
// registry thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "health/heartbeat_receiver.hpp"
#include "registry/api/api_backend.hpp"
#include "registry/backend/etcd_registry.hpp"
#include "registry/publisher.hpp"

namespace signpost::dns::daemon {

/// Implements registry::api::ApiBackend for signpostd. Every call posts its work to the
/// registry thread (the publisher), which reads the store and the receiver's leases there;
/// a write's reply waits for the snapshot that carries it, so that a client that reads the
/// reply and then asks DNS sees the change. Public functions may be called from any thread.
class RegistryApi final : public registry::api::ApiBackend {
 public:
  /// Renders the Prometheus text of the server's metrics; registry thread.
  using Metrics = std::function<std::string(const registry::Store&)>;

  struct Backend {
    std::string kind = "memory";  // registry.backend
    std::string detail;           // the state file, or etcd's endpoints
    const registry::backend::EtcdRegistry* etcd = nullptr;
  };

  RegistryApi(registry::Publisher& publisher, health::HeartbeatReceiver& receiver,
              Backend backend, Metrics metrics);

  /// Called on the registry thread after each publish (App::deliver): answers the writes
  /// that waited for it and remembers the serial.
  void published(std::uint32_t serial);

  void services(Reply<std::vector<registry::api::ServiceSummary>> reply) override;
  void service(std::string name, Reply<std::optional<registry::api::ServiceInfo>> reply) override;
  void nodes(Reply<std::vector<registry::api::NodeInfo>> reply) override;
  void status(Reply<registry::api::StatusInfo> reply) override;
  void metrics(Reply<std::string> reply) override;
  void set_drained(std::string service, std::string id, bool drained, registry::api::Actor actor,
                   Reply<registry::api::WriteResult> reply) override;
  void set_weight(std::string service, std::string id, std::optional<std::uint16_t> weight,
                  registry::api::Actor actor, Reply<registry::api::WriteResult> reply) override;
  void deregister(std::string service, std::string id, registry::api::Actor actor,
                  Reply<registry::api::WriteResult> reply) override;
  std::uint32_t serial() const override { return serial_.load(std::memory_order_relaxed); }

 private:
  using Override = std::function<registry::InstanceOverride(registry::InstanceOverride)>;
  // The instance as the API shows it. Registry thread.
  registry::api::InstanceInfo instance_info(const registry::Store& store,
                                            const registry::Instance& instance) const;
  registry::api::ServiceSummary summary(const registry::Service& service,
                                        const std::vector<registry::Instance>& instances,
                                        const registry::Store& store) const;
  // Changes an instance's override and answers once the change is published.
  void write_override(std::string service, std::string id, std::string event,
                      registry::api::Actor actor, Override change,
                      Reply<registry::api::WriteResult> reply);
  // Why a write cannot be kept now (etcd unreachable), or "".
  std::string backend_down() const;
  // Answers now when the store has nothing to publish, else after the next publish.
  void answer_when_published(const registry::Store& store, registry::api::WriteResult result,
                             Reply<registry::api::WriteResult> reply);

  registry::Publisher& publisher_;
  health::HeartbeatReceiver& receiver_;
  const Backend backend_;
  const Metrics metrics_;
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::atomic<std::uint32_t> serial_{0};
  // Registry thread: writes whose reply waits for the next publish.
  std::vector<std::pair<registry::api::WriteResult, Reply<registry::api::WriteResult>>> waiting_;
};

}  // namespace signpost::dns::daemon
