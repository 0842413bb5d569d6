// signpostd's /metrics: every component's counters as Prometheus text.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "dns/net/connection_limit.hpp"
#include "dns/forward/upstream_forwarder.hpp"
#include "dns/net/worker.hpp"
#include "dns/xfr/transfer_server.hpp"
#include "health/heartbeat_receiver.hpp"
#include "registry/backend/etcd_registry.hpp"
#include "registry/publisher.hpp"
#include "registry/store.hpp"

namespace signpost::dns::daemon {

/// What render_metrics reads. Every pointer but `workers`, `publisher` and `store` may be null
/// (no heartbeat receiver, the memory backend); the pointees must outlive the call.
struct MetricsSources {
  const std::vector<std::unique_ptr<net::Worker>>* workers = nullptr;
  const net::ConnectionLimit* tcp_limit = nullptr;
  const health::HeartbeatReceiver* receiver = nullptr;
  const registry::Publisher* publisher = nullptr;
  const registry::backend::EtcdRegistry* etcd = nullptr;  // null: the memory backend
  const registry::Store* store = nullptr;
  const forward::ForwardCounters* forward = nullptr;  // null: forwarding off (counted as 0)
  const xfr::TransferCounters* transfers = nullptr;   // null: no [[transfer]] (counted as 0)
  double uptime_seconds = 0;
};

/// The body of GET /metrics (Content-Type `text/plain; version=0.0.4; charset=utf-8`):
/// answers by qtype, rcode and transport, truncations and drops (the workers' per-thread
/// counters, summed here: the answer path keeps no shared counter), TCP connections,
/// UPDATEs by result, zone transfers by type and result, NOTIFYs sent and failed, lease expiries, flap holds, self-preservation, instances by service
/// and health, snapshot publishes and their duration, the registry serial, the backend,
/// build and process. Call it on the registry thread (a change posted to the Publisher):
/// the store and the lease tracker are read there without a lock; the workers' counters are
/// read while they run. Allocates; time proportional to the registry's instances.
std::string render_metrics(const MetricsSources& sources);

}  // namespace signpost::dns::daemon
