// signpostd's wiring: zones, the registry publisher and the DNS workers, and the signals
// that stop and reload them.
#pragma once

#include <signal.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "dns/daemon/config.hpp"
#include "dns/daemon/registry_api.hpp"
#include "dns/forward/upstream_forwarder.hpp"
#include "dns/net/worker.hpp"
#include "dns/xfr/transfer_server.hpp"
#include "health/heartbeat_receiver.hpp"
#include "health/tsig_query_handler.hpp"
#include "registry/backend/etcd_registry.hpp"
#include "registry/backend/state_file.hpp"
#include "registry/backend/state_lock.hpp"
#include "registry/backend/state_writer.hpp"
#include "registry/log/log.hpp"
#include "registry/api/http_server.hpp"
#include "registry/publisher.hpp"

namespace signpost::dns::daemon {

/// SIGINT, SIGTERM and SIGHUP: the signals the control thread waits for.
sigset_t handled_signals();

/// Checks `config` as start-up would, without opening sockets: loads its zones and builds a
/// snapshot with its static registrations. Returns a one-line summary. Throws ConfigError,
/// ZoneError or RegistryError. Control thread.
std::string check_config(Config config);

/// The running server. The constructor does all of start-up; run() serves until SIGINT or
/// SIGTERM. SIGHUP re-reads the configuration and reloads what may change at run time
/// (zones_dir and [[service]]); a reload that fails keeps the old data and logs why.
/// Create, run and destroy it on one thread (the main thread).
class App {
 public:
  /// Blocks the handled signals (before any thread starts, so that all threads inherit
  /// that), loads the zones, starts the registry thread and binds every listen address in
  /// every worker. `config_path` is re-read on SIGHUP; empty means the embedded default.
  /// Throws ConfigError, ZoneError, RegistryError or NetError.
  App(Config config, std::string config_path);
  ~App();
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  /// Starts the workers and waits for signals. Returns the exit status (0 after SIGINT or
  /// SIGTERM).
  int run();

 private:
  // False when a signal asked to stop before the registry could be read.
  bool open_state();
  bool open_etcd();
  void share_registry();
  void start_publisher();
  void use_huge_pages();
  void start_receiver();
  // Zone transfer out ([[transfer]], app_transfer.cpp); before the workers bind.
  void start_transfers();
  void keep_state();
  void save_final_state();
  void start_forwarder();
  void bind_workers();
  void start_http();
  // The Prometheus text of every counter; registry thread (it reads `store`).
  std::string render_server_metrics(const registry::Store& store) const;
  void announce() const;
  void reload();
  void deliver(const registry::SnapshotPtr& snapshot);
  void reclaim(registry::SnapshotPtr snapshot);
  // Frees the snapshots the workers gave back; returns how many.
  std::size_t free_reclaimed();
  void stop();
  void log_counters() const;

  Config config_;
  std::string config_path_;
  net::ConnectionLimit tcp_limit_;
  std::unique_ptr<net::RateLimiter> rate_limiter_;  // [rrl]; nullptr when off; outlives workers_
  std::vector<net::ListenEndpoint> endpoints_;  // as bound, ports resolved

  std::mutex workers_mutex_;  // guards workers_ against deliver() on the registry thread
  std::vector<std::unique_ptr<net::Worker>> workers_;
  // [forward]: null when off. Destroyed before the workers, whose replies it may still hold.
  std::unique_ptr<forward::UpstreamForwarder> forwarder_;
  // AXFR/IXFR and NOTIFY, when any [[transfer]] is set. Destroyed before the workers, whose
  // sessions its replies are posted to.
  std::unique_ptr<xfr::TransferServer> transfers_;
  std::unique_ptr<registry::Publisher> publisher_;
  std::unique_ptr<health::HeartbeatReceiver> receiver_;  // stopped before the workers
  std::unique_ptr<health::TsigQueryHandler> signed_queries_;  // queries with TSIG
  // The memory backend: the state file's lock and writer, and what it held at start-up
  // (until the receiver has taken it back).
  std::unique_ptr<registry::backend::StateFileLock> state_lock_;
  std::unique_ptr<registry::backend::StateWriter> state_writer_;
  registry::backend::RegistryState saved_state_;
  // The etcd backend: the shared registry, and what it held at start-up (until the receiver
  // has taken it).
  std::unique_ptr<registry::backend::EtcdRegistry> etcd_;
  registry::backend::EtcdRegistry::Loaded etcd_loaded_;
  bool stopped_early_ = false;  // stopped while waiting for etcd at start-up
  bool huge_pages_settled_ = false;
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();  // the registry's memory was put on huge pages, or could not be

  // The HTTP API ([http]): its view of the registry and its server. Set under workers_mutex_,
  // which deliver() holds on the registry thread.
  std::unique_ptr<RegistryApi> api_;
  std::unique_ptr<registry::api::HttpServer> http_;

  // Snapshots the workers have let go of, freed on the main thread.
  std::mutex reclaimed_mutex_;
  std::vector<registry::SnapshotPtr> reclaimed_;
};

}  // namespace signpost::dns::daemon
