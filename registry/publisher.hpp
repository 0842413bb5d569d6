// The registry thread: applies changes, coalesces them and publishes snapshots.
//
// Design. Every change to the registry (config reload, control API, heartbeats, lease
// expiry) is a function posted to one thread, the only one that touches the Store: there
// are no locks around registry data. When the first change of a batch arrives the thread
// waits `batch_delay` (a few milliseconds) for more, applies them all, and publishes
// once: it builds the next RegistryView from the previous one, rebuilding only what
// changed, gives the registry zone's SOA a higher serial, wraps both with the static zones
// in a new immutable Snapshot and hands the pointer to `deliver`, which passes it to each
// DNS worker. A batch that changed nothing (a heartbeat renewal) publishes nothing.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "dns/zone/zone.hpp"
#include "registry/duration_histogram.hpp"
#include "registry/registry_zone.hpp"
#include "registry/snapshot.hpp"
#include "registry/store.hpp"

namespace signpost::registry {

/// Runs the registry thread. Public functions may be called from any thread.
class Publisher {
 public:
  using Deliver = std::function<void(SnapshotPtr)>;
  using Log = std::function<void(const std::string&)>;

  struct Settings {
    BuildSettings build;
    RegistryZoneSettings apex;  // serial is the first serial to publish
    std::chrono::milliseconds batch_delay{2};
  };

  /// Builds the first snapshot at once (so workers can start with it). Throws ZoneError
  /// or RegistryError when the zones conflict.
  Publisher(Settings settings, std::vector<std::shared_ptr<const dns::zone::Zone>> static_zones,
            Deliver deliver, Log log);
  ~Publisher();
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;

  /// Starts the registry thread.
  void start();
  /// Stops it after the changes already posted; idempotent.
  void stop();

  /// Queues a change; it runs on the registry thread. An exception it throws is logged.
  void post(std::function<void(Store&)> change);
  /// Runs `change` on the registry thread and waits until it is published (or found to
  /// change nothing). Rethrows its exception. Control plane only: never from the registry
  /// thread itself. Once stop() has begun, the change is dropped and apply returns at once.
  void apply(std::function<void(Store&)> change);
  /// Replaces the static zones (reload) and waits for the publish. Throws ZoneError when
  /// they conflict; the old zones then stay.
  void replace_zones(std::vector<std::shared_ptr<const dns::zone::Zone>> zones);
  /// A reload: replaces the static zones and runs `change` in one batch, so that one
  /// snapshot carries both. When the zones conflict (ZoneError) or `change` throws, neither
  /// takes effect. Waits for the publish; rethrows.
  void reload(std::vector<std::shared_ptr<const dns::zone::Zone>> zones,
              std::function<void(Store&)> change);

  /// Has `hook` run on the registry thread after the changes of every batch, before the
  /// batch is published: for work a burst of changes needs once, not per change. An empty
  /// hook removes it; once this returns, the old one is no longer running or called. Any
  /// thread but the registry thread.
  void on_batch_end(std::function<void(Store&)> hook);

  /// The snapshot most recently published.
  SnapshotPtr current() const;
  /// How many snapshots have been published.
  std::uint64_t generation() const;

  /// What /metrics shows of the publishes: how many, the registry zone's serial in the
  /// latest, and how long each took (view build, snapshot and hand-over to the workers).
  struct PublishStats {
    std::uint64_t publishes = 0;
    std::uint32_t serial = 0;
    DurationHistogram::Reading duration;
  };
  /// The publish counters now. Any thread; a short lock; no allocation.
  PublishStats publish_stats() const;

 private:
  struct Task {
    std::function<void(Store&)> change;
    std::shared_ptr<std::promise<void>> done;
  };
  void run();
  void run_batch(std::deque<Task>& batch);
  // Rebuilds what changed, publishes it and times both.
  void build_and_publish();
  void publish();

  Settings settings_;
  Deliver deliver_;
  Log log_;
  std::function<void(Store&)> batch_end_;
  Store store_;
  std::vector<std::shared_ptr<const dns::zone::Zone>> static_zones_;
  std::shared_ptr<const RegistryView> view_;
  bool zones_changed_ = false;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Task> queue_;
  bool stopping_ = false;
  SnapshotPtr current_;
  std::uint64_t generation_ = 0;
  std::uint32_t serial_;
  std::atomic<std::uint32_t> published_serial_{0};
  DurationHistogram publish_duration_;
  // Registry thread only: when the last batch ended and how long it took.
  std::chrono::steady_clock::time_point last_batch_end_{};
  std::chrono::steady_clock::duration last_batch_cost_{};
  std::thread thread_;
};

/// The registry zone's apex records with `serial`: synthesized, or taken from a static zone
/// with the same origin (whose SOA serial is replaced). Control plane; allocates.
std::shared_ptr<const dns::zone::Zone> build_apex_zone(const RegistryZoneSettings& settings,
                                                      const dns::zone::Zone* from_file,
                                                      std::uint32_t serial);

}  // namespace signpost::registry
