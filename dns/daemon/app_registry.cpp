// signpostd's wiring of the registry's dynamic part: the heartbeat receiver, and the
// backend that keeps its instances (the state file, or etcd).
#include <malloc.h>
#include <signal.h>

#include <chrono>

#include "dns/daemon/app.hpp"

namespace signpost::dns::daemon {

// The registry's dynamic part, read before anything is served: the first answer already
// has every instance the last process had (memory backend: the state file) or the cluster
// has (etcd backend).
bool App::open_state() {
  if (config_.backend == "etcd") return open_etcd();
  if (config_.state_file.empty()) {
    log_line(LogLevel::info, "registry.state_file is \"\": heartbeat instances are not kept across restarts");
    return true;
  }
  try {
    state_lock_ = std::make_unique<registry::backend::StateFileLock>(config_.state_file);
  } catch (const std::runtime_error& e) {
    throw ConfigError(config_.source + ": key 'registry.state_file': " + e.what());
  }
  saved_state_ = registry::backend::load_state_file(config_.state_file, log_line);
  return true;
}

// Reads the whole registry from etcd. Until it has, nothing is answered: a server that
// answered before would answer NXDOMAIN for what the cluster holds, and resolvers would
// cache that; one that does not answer makes them ask another server.
bool App::open_etcd() {
  registry::backend::EtcdRegistrySettings settings;
  settings.etcd.endpoints = config_.etcd_endpoints;
  settings.etcd.dial_timeout = std::chrono::seconds(config_.etcd_dial_timeout);
  // A write that waits on a leader etcd lost is sent again after this, by when the other
  // members have elected a new one (etcd's election timeout is 1 s by default).
  settings.etcd.request_timeout = std::chrono::seconds(2);
  settings.prefix = config_.etcd_prefix;
  settings.max_queued = config_.max_instances;
  std::string endpoints;
  for (const std::string& endpoint : config_.etcd_endpoints) {
    endpoints += (endpoints.empty() ? "" : ", ") + endpoint;
  }
  etcd_ = std::make_unique<registry::backend::EtcdRegistry>(std::move(settings), log_line);
  const sigset_t signals = handled_signals();
  for (bool waiting = false;; waiting = true) {
    try {
      etcd_loaded_ = etcd_->load();
      if (waiting) log_line(LogLevel::info, "etcd reachable: registry read");
      return true;
    } catch (const std::exception& e) {
      if (!waiting) {
        log_line(LogLevel::warning, "etcd (" + endpoints + "): " + e.what() +
                                        "; not answering until the registry can be read");
      }
    }
    const timespec pause{0, 500'000'000};
    const int received = sigtimedwait(&signals, nullptr, &pause);
    if (received == SIGINT || received == SIGTERM) {
      log_line(LogLevel::info, "stopping before etcd could be read");
      return false;
    }
  }
}

namespace {

health::LeaseSettings lease_settings(const Config& config) {
  health::LeaseSettings leases;
  leases.min_lease = std::chrono::seconds(config.min_lease);
  leases.max_lease = std::chrono::seconds(config.max_lease);
  leases.deregister_after = std::chrono::seconds(config.deregister_after);
  leases.flap_half_life = std::chrono::seconds(config.flap_half_life);
  leases.preservation_threshold = config.preservation_threshold;
  leases.preservation_window = std::chrono::seconds(config.preservation_window);
  leases.preservation_max = std::chrono::seconds(config.preservation_max);
  leases.preservation_min_instances = config.preservation_min_instances;
  return leases;
}

}  // namespace

void App::start_receiver() {
  std::vector<health::TsigKey> keys;
  for (const KeyConfig& key : config_.keys) {
    keys.push_back(health::make_tsig_key(key.name, key.algorithm, key.secret, key.allow));
    keys.back().max_instances = key.max_instances;
  }
  // Signed queries are answered with the same keys (RFC 8945 §5.3).
  signed_queries_ = std::make_unique<health::TsigQueryHandler>(keys);
  health::ReceiverSettings settings;
  settings.domain = config_.domain;
  settings.leases = lease_settings(config_);
  settings.max_instances = config_.max_instances;
  receiver_ = std::make_unique<health::HeartbeatReceiver>(
      std::move(settings), std::move(keys), *publisher_,
      [](const std::string& message) { log_line(LogLevel::warning, message); });
  if (etcd_) receiver_->share_with(etcd_.get());
  receiver_->start();
  if (config_.keys.empty()) {
    log_line(LogLevel::info, "no [[key]]: heartbeat UPDATEs will be refused");
  }
}

// Takes back the saved heartbeat instances, then has the receiver hand its state to the
// writer: within 250 ms of a registration (on disk well within a second), and every 2 s
// while leases are only renewed.
void App::keep_state() {
  if (!state_lock_) return;
  if (!saved_state_.instances.empty() || !saved_state_.deleted.empty() ||
      !saved_state_.overrides.empty()) {
    std::size_t restored = 0;
    publisher_->apply([&](registry::Store& store) {
      restored = receiver_->restore_state(saved_state_, store);
    });
    log_line(LogLevel::info, "state file " + config_.state_file + ": " +
                                 plural(restored, "heartbeat instance") + " taken back");
  }
  saved_state_ = {};
  state_writer_ = std::make_unique<registry::backend::StateWriter>(config_.state_file, log_line);
  receiver_->keep_state(
      [this](std::vector<std::uint8_t> bytes) {
        state_writer_->submit_encoded(
            std::make_shared<const std::vector<std::uint8_t>>(std::move(bytes)));
      },
      [this] { return publisher_->current()->registry_zone()->serial(); },
      std::chrono::milliseconds(250), std::chrono::milliseconds(2000));
}

// The etcd backend: the registry read at start-up goes into the store before the workers
// bind, then the watch feeds the registry thread every change after that revision.
void App::share_registry() {
  if (!etcd_) return;
  std::vector<registry::backend::SharedChange> loaded;
  loaded.reserve(etcd_loaded_.instances.size());
  for (auto& instance : etcd_loaded_.instances) {
    loaded.emplace_back(registry::backend::SharedUpsert{std::move(instance)});
  }
  const std::int64_t revision = etcd_loaded_.revision;
  etcd_loaded_ = {};
  std::size_t taken = 0;
  publisher_->apply([&](registry::Store& store) { taken = receiver_->apply_shared(loaded, store); });
  loaded = {};
  malloc_trim(0);
  log_line(LogLevel::info, "etcd registry under " + config_.etcd_prefix + ": " +
                               plural(taken, "heartbeat instance") + " at revision " +
                               std::to_string(revision));
  etcd_->start_watch(revision, [this](std::vector<registry::backend::SharedChange> changes) {
    publisher_->post([this, changes = std::move(changes)](registry::Store& store) {
      receiver_->apply_shared(changes, store);
    });
  });
}

// On a clean stop the state on disk is the last one, not one from up to a tick before.
void App::save_final_state() {
  if (!state_writer_ || !receiver_ || !publisher_) return;
  publisher_->apply([this](registry::Store& store) {
    const std::uint32_t serial = publisher_->current()->registry_zone()->serial();
    state_writer_->submit_encoded(
        std::make_shared<const std::vector<std::uint8_t>>(receiver_->encode_state(store, serial)));
  });
  state_writer_->stop();
}

}  // namespace signpost::dns::daemon
