// The heartbeat receiver's dynamic state, kept across restarts (exported for the memory
// backend's state file and taken back from it at start-up) and shared by the servers of a
// cluster (the etcd backend).
#include "health/heartbeat_receiver.hpp"

#include <algorithm>

namespace signpost::health {

namespace {

namespace backend = registry::backend;
using Clock = std::chrono::steady_clock;
using Wall = std::chrono::system_clock;

// A steady-clock time as wall-clock milliseconds, through a pair of "now"s read together:
// a steady time means nothing to the next process.
struct Clocks {
  Clock::time_point steady = Clock::now();
  Wall::time_point wall = Wall::now();

  std::int64_t to_unix_ms(Clock::time_point at) const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               (wall + std::chrono::duration_cast<Wall::duration>(at - steady)).time_since_epoch())
        .count();
  }
  Clock::time_point from_unix_ms(std::int64_t unix_ms) const {
    const Wall::time_point at{std::chrono::milliseconds(unix_ms)};
    return steady + std::chrono::duration_cast<Clock::duration>(at - wall);
  }
};

}  // namespace

void HeartbeatReceiver::keep_state(StateSink sink, std::function<std::uint32_t()> serial,
                                   std::chrono::milliseconds interval,
                                   std::chrono::milliseconds renewal_interval) {
  state_sink_ = std::move(sink);
  state_serial_ = std::move(serial);
  state_interval_ = interval;
  renewal_state_interval_ = renewal_interval;
}

backend::RegistryState HeartbeatReceiver::export_state(const registry::Store& store) {
  backend::RegistryState state;
  state.saved_unix_ms = visit_state(
      store, [&](const backend::DynamicInstance& dynamic) { state.instances.push_back(dynamic); },
      [&](const backend::DeletedGuard& deleted) { state.deleted.push_back(deleted); });
  visit_static_overrides(store, [&](const backend::StaticOverride& value) {
    state.overrides.push_back(value);
  });
  return state;
}

// The operator's overrides of static instances: the state file keeps them too, as the
// records of heartbeat instances keep theirs.
void HeartbeatReceiver::visit_static_overrides(
    const registry::Store& store, const std::function<void(const backend::StaticOverride&)>& visit) {
  store.visit_overrides(registry::Source::config, [&](const std::string& service,
                                                      const std::string& id,
                                                      const registry::InstanceOverride& value) {
    visit({.service = service, .id = id, .drained = value.drained, .weight = value.weight});
  });
}

std::vector<std::uint8_t> HeartbeatReceiver::encode_state(const registry::Store& store,
                                                          std::uint32_t serial) {
  backend::StateEncoder encoder(serial, Clocks{}.to_unix_ms(Clock::now()), tracker_.size());
  visit_state(
      store, [&](const backend::DynamicInstance& dynamic) { encoder.add(dynamic); },
      [&](const backend::DeletedGuard& deleted) { encoder.add(deleted); });
  visit_static_overrides(store, [&](const backend::StaticOverride& value) { encoder.add(value); });
  return encoder.finish();
}

// One instance at a time, in one reused record: a large registry is never copied whole,
// and what a record allocates is freed before the next (no heap left in pieces between the
// store's own allocations).
std::int64_t HeartbeatReceiver::visit_state(
    const registry::Store& store,
    const std::function<void(const backend::DynamicInstance&)>& on_instance,
    const std::function<void(const backend::DeletedGuard&)>& on_deleted) {
  const Clocks clocks;
  backend::DynamicInstance out;
  InstanceKey key;
  store.visit_source(registry::Source::heartbeat, [&](const registry::Service& service,
                                                      const std::string& id,
                                                      const registry::PackedInstance& packed) {
    key.service = service.name;
    key.id = id;
    out.instance = packed.unpack(service.name, id);
    out.protocol = service.protocol;
    const registry::InstanceOverride value = store.override_of(service.name, id);
    out.drained = value.drained;
    out.weight_override = value.weight;
    if (complete_record(key, out, clocks.steady, clocks.wall)) on_instance(out);
  });
  const auto memory = settings_.replay_memory;
  for (const auto& [forget_at, gone] : deletions_) {
    const auto guard = deleted_.find(gone);
    if (guard == deleted_.end()) continue;
    on_deleted({.service = gone.service,
                .id = gone.id,
                .replay = guard->second.to_bytes(),
                .forget_at_unix_ms = clocks.to_unix_ms(std::min(forget_at, clocks.steady + memory))});
  }
  return clocks.to_unix_ms(clocks.steady);
}

std::size_t HeartbeatReceiver::restore_state(const backend::RegistryState& state,
                                             registry::Store& store) {
  const Clocks clocks;
  std::size_t restored = 0;
  for (const backend::DynamicInstance& saved : state.instances) {
    const registry::Instance& instance = saved.instance;
    const TsigKey* key = nullptr;
    for (const TsigKey& candidate : signer_.keys()) {
      if (candidate.name == saved.key_name) key = &candidate;
    }
    std::string problem;
    if (key == nullptr) {
      problem = "its key " + saved.key_name + " is no longer configured";
    } else if (!key->allows(instance.service)) {
      problem = "its key " + key->name + " no longer allows the service";
    } else if (key_instances_[static_cast<std::size_t>(key - signer_.keys().data())] >=
                   key->max_instances ||
               tracker_.size() >= settings_.max_instances) {
      problem = "a quota (key.max_instances or health.max_instances) is full";
    } else if (store.source_of(instance.service, instance.id).has_value()) {
      problem = "the config declares it";
    } else if (const registry::Service* service = store.find_service(instance.service);
               service != nullptr && service->protocol != saved.protocol) {
      problem = "its service is now " + std::string(registry::to_string(service->protocol));
    }
    if (!problem.empty()) {
      log_("state: instance " + instance.id + " of " + instance.service + " left out: " + problem);
      continue;
    }
    const InstanceKey name{instance.service, instance.id};
    FlapState flap;
    flap.penalty = saved.flap_penalty;
    flap.updated = clocks.from_unix_ms(saved.flap_updated_unix_ms);
    flap.suppressed = saved.suppressed;
    if (flap.suppressed) flap.reuse_at = tracker_.damper().reuse_time(flap.penalty, flap.updated);
    tracker_.restore(name, std::chrono::seconds(saved.lease_seconds), instance.health,
                     clocks.from_unix_ms(saved.lease_end_unix_ms), flap, clocks.steady);
    const std::uint32_t slot = tracker_.handle(name)->slot;
    Registered& entry = registered_at(slot);
    board_.set_guard(slot, ReplayGuard::from_bytes(saved.replay));
    entry.key = key;
    ++key_instances_[static_cast<std::size_t>(key - signer_.keys().data())];
    registry::Instance published = instance;
    published.source = registry::Source::heartbeat;
    published.health = tracker_.effective_health(name);
    published.max_ttl = tracker_.ttl_cap(name);
    board_.set_open(slot, published.health != registry::Health::critical);
    store.put_instance(std::move(published), saved.protocol);
    take_override(saved, store);
    ++restored;
  }
  tracker_.take_changes();  // what they say is in the store already
  for (const backend::DeletedGuard& gone : state.deleted) {
    const InstanceKey name{gone.service, gone.id};
    if (tracker_.contains(name) || deleted_.contains(name)) continue;
    deleted_.emplace(name, ReplayGuard::from_bytes(gone.replay));
    deletions_.emplace_back(clocks.from_unix_ms(gone.forget_at_unix_ms), name);
  }
  std::sort(deletions_.begin(), deletions_.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const backend::StaticOverride& saved : state.overrides) {
    if (store.source_of(saved.service, saved.id) != registry::Source::config) {
      log_("state: the override of " + saved.id + " of " + saved.service +
           " left out: the config no longer declares it");
      continue;
    }
    store.set_override(saved.service, saved.id, {.drained = saved.drained, .weight = saved.weight});
  }
  return restored;
}

// Called from the lease tick. Exporting visits every instance (one to two microseconds each,
// on this thread), so renewals alone, which only move lease ends, wait for the longer
// interval, and both intervals stretch so that exporting never takes more than a few
// percent of the registry thread: with 100,000 instances an export takes about 150 ms.
void HeartbeatReceiver::save_state_if_due(registry::Store& store, Clock::time_point now) {
  if (!state_sink_) return;
  const auto since = now - last_state_;
  const bool changed = state_changed_.load(std::memory_order_relaxed);
  const bool renewed = leases_renewed_.load(std::memory_order_relaxed);
  const auto changes_every = std::max<Clock::duration>(state_interval_, 3 * last_export_cost_);
  const auto renewals_every =
      std::max<Clock::duration>(renewal_state_interval_, 20 * last_export_cost_);
  if (!(changed && since >= changes_every) && !(renewed && since >= renewals_every)) return;
  state_changed_.store(false, std::memory_order_relaxed);
  leases_renewed_.store(false, std::memory_order_relaxed);
  last_state_ = now;
  std::vector<std::uint8_t> bytes = encode_state(store, state_serial_());
  last_export_cost_ = Clock::now() - now;
  state_sink_(std::move(bytes));
}

}  // namespace signpost::health

namespace signpost::health {

bool HeartbeatReceiver::complete_record(const InstanceKey& key, backend::DynamicInstance& out,
                                        Clock::time_point steady, Wall::time_point wall) {
  const Clocks clocks{steady, wall};
  const auto handle = tracker_.handle(key);
  const auto saved = handle ? tracker_.saved(*handle) : std::nullopt;
  if (!saved || handle->slot >= registered_.size()) return false;
  const Registered& registered = registered_[handle->slot];
  out.instance.health = saved->reported;
  out.lease_seconds = static_cast<std::uint32_t>(
      std::chrono::duration_cast<std::chrono::seconds>(saved->lease).count());
  out.lease_end_unix_ms = clocks.to_unix_ms(saved->expires_at);
  out.flap_penalty = saved->flap.penalty;
  out.flap_updated_unix_ms = clocks.to_unix_ms(saved->flap.updated);
  out.suppressed = saved->flap.suppressed;
  out.key_name = registered.key != nullptr ? registered.key->name : std::string();
  out.replay = board_.guard(handle->slot).to_bytes();
  return true;
}

// ---- the cluster (etcd backend) -------------------------------------------------------

void HeartbeatReceiver::share_changes(const registry::Store& store) {
  std::sort(unshared_.begin(), unshared_.end());
  unshared_.erase(std::unique(unshared_.begin(), unshared_.end()), unshared_.end());
  const Clocks clocks;
  backend::DynamicInstance record;
  for (const InstanceKey& key : unshared_) {
    auto instance = store.find_instance(key.service, key.id);
    const registry::Service* service = store.find_service(key.service);
    if (!instance || service == nullptr) continue;
    record.instance = std::move(*instance);
    record.protocol = service->protocol;
    const registry::InstanceOverride value = store.override_of(key.service, key.id);
    record.drained = value.drained;
    record.weight_override = value.weight;
    if (complete_record(key, record, clocks.steady, clocks.wall)) shared_->put(record);
  }
  unshared_.clear();
}

void HeartbeatReceiver::let_go(std::uint32_t slot, const InstanceKey& key) {
  retire(slot);
  tracker_.remove(key);
}

bool HeartbeatReceiver::adopt(const InstanceKey& key, Clock::time_point now) {
  held_.erase(key);
  const auto record = shared_->record(key.service, key.id);
  if (!record || record->lease_seconds == 0) return false;
  const Clocks clocks{now, Wall::now()};
  FlapState flap;
  flap.penalty = record->flap_penalty;
  flap.updated = clocks.from_unix_ms(record->flap_updated_unix_ms);
  flap.suppressed = record->suppressed;
  if (flap.suppressed) flap.reuse_at = tracker_.damper().reuse_time(flap.penalty, flap.updated);
  const auto lease = std::chrono::seconds(record->lease_seconds);
  tracker_.restore(key, lease, record->instance.health, now + lease, flap, now);
  const std::uint32_t slot = tracker_.handle(key)->slot;
  registered_at(slot);
  board_.set_guard(slot, ReplayGuard::from_bytes(record->replay));
  return true;
}

std::size_t HeartbeatReceiver::apply_shared(const std::vector<backend::SharedChange>& changes,
                                            registry::Store& store) {
  std::size_t taken = 0;
  for (const backend::SharedChange& change : changes) {
    if (const auto* upsert = std::get_if<backend::SharedUpsert>(&change)) {
      take_shared(upsert->instance, store, taken);
    } else {
      drop_shared(std::get<backend::SharedRemoved>(change), store);
    }
  }
  publish_changes(store);
  return taken;
}

void HeartbeatReceiver::take_shared(const backend::DynamicInstance& record,
                                    registry::Store& store, std::size_t& taken) {
  const InstanceKey key{record.instance.service, record.instance.id};
  const auto source = store.source_of(key.service, key.id);
  if (source == registry::Source::config) {
    note_refusal("shared instance " + key.id + " of " + key.service +
                 " left out: this server's config declares it");
    return;
  }
  if (record.lease_seconds == 0) {
    take_deletion(record, store);
    return;
  }
  held_.erase(key);
  if (const auto handle = tracker_.handle(key)) {
    // This server's own write coming back, or an older one: what it tracks is as new. Its
    // overrides are the last an operator set on any server, as etcd ordered the writes.
    if (ReplayGuard::from_bytes(record.replay).time() <= board_.guard(handle->slot).time()) {
      take_override(record, store);
      return;
    }
    // Another server accepted a later UPDATE: the instance's agent heartbeats there now.
    let_go(handle->slot, key);
  }
  if (const registry::Service* service = store.find_service(key.service);
      service != nullptr && service->protocol != record.protocol) {
    note_refusal("shared instance " + key.id + " of " + key.service + " left out: its service is " +
                 std::string(registry::to_string(service->protocol)) + " here");
    return;
  }
  registry::Instance published = record.instance;
  published.source = registry::Source::heartbeat;
  if (record.suppressed) published.health = registry::Health::critical;
  // As a tracked instance's while it is renewed: a third of its lease.
  published.max_ttl = std::max<std::uint32_t>(1, record.lease_seconds / 3);
  if (store.put_instance(std::move(published), record.protocol)) ++taken;
  take_override(record, store);
}

// A deregistration travels as a tombstone rather than a bare delete, which carries nothing:
// every server learns the guard that deleted the instance and refuses its recorded UPDATEs
// as the deleting server does (for replay_memory). etcd drops the tombstone with its lease
// (etcd's minimum TTL); the removal that follows changes nothing. It costs what a delete
// did: the put, and the expiry of its lease.
void HeartbeatReceiver::share_deletion(const InstanceKey& key, const ReplayGuard& guard,
                                       const registry::Store& store) {
  auto instance = store.find_instance(key.service, key.id);
  const registry::Service* service = store.find_service(key.service);
  if (!instance || service == nullptr) {
    shared_->remove(key.service, key.id);
    return;
  }
  backend::DynamicInstance tombstone;
  tombstone.instance = std::move(*instance);
  tombstone.protocol = service->protocol;
  tombstone.lease_seconds = 0;
  tombstone.replay = guard.to_bytes();
  shared_->put(tombstone);
}

void HeartbeatReceiver::take_deletion(const backend::DynamicInstance& tombstone,
                                      registry::Store& store) {
  const InstanceKey key{tombstone.instance.service, tombstone.instance.id};
  const ReplayGuard guard = ReplayGuard::from_bytes(tombstone.replay);
  held_.erase(key);
  if (const auto handle = tracker_.handle(key)) {
    // Registered again here after that deletion: the later UPDATE stands.
    if (guard.time() <= board_.guard(handle->slot).time()) return;
    retire(handle->slot);
    tracker_.remove(key);
  }
  if (store.source_of(key.service, key.id) == registry::Source::heartbeat) {
    store.remove_instance(key.service, key.id);
  }
  remember_deleted(key, guard);
}

void HeartbeatReceiver::drop_shared(const backend::SharedRemoved& removed, registry::Store& store) {
  const InstanceKey key{removed.service, removed.id};
  if (store.source_of(key.service, key.id) != registry::Source::heartbeat) return;
  if (const auto handle = tracker_.handle(key)) {
    const auto state = tracker_.state(key, Clock::now());
    const bool heartbeating = handle->slot < registered_.size() &&
                              registered_[handle->slot].renewed && state && !state->expired &&
                              2 * state->remaining >= state->lease;
    if (heartbeating) {
      // Its agent heartbeats here: the shared registry expired it while this server could
      // not renew it (etcd unreachable). Written again, never out of the answers.
      unshared_.push_back(key);
      return;
    }
    // Not tracked here any more either way, its guard kept as a deleted one's: a held
    // instance that stayed tracked would be taken as unchanged by its next heartbeat (a
    // keep-alive, never written again, so the other servers drop it when they settle) and,
    // should its agent stop, let go of here and never leave this server's answers. Untracked,
    // its next heartbeat here registers it again and writes it.
    const ReplayGuard guard = board_.guard(handle->slot);
    retire(handle->slot);
    tracker_.remove(key);
    remember_deleted(key, guard);
    if (hold_removal(key, store, Clock::now())) return;
  } else if (hold_removal(key, store, Clock::now())) {
    return;
  }
  store.remove_instance(key.service, key.id);
}

// Self-preservation, per cluster. A server sees the leases of the instances other servers
// track run out only as removals from the shared registry, so it counts those: when more
// than preservation_threshold of the heartbeat instances are removed within
// preservation_window (etcd expired them together: their agents were cut off from the
// cluster, or a server could not renew them while cut off from etcd), the rest of the
// removals are held, the instances kept in the answers. A held instance written again (its
// server reconnected and renewed it, its agent registered it anywhere) is no longer held;
// when no more than the threshold are still held and nothing was held for 2 s, or after
// preservation_max, the held ones leave.
bool HeartbeatReceiver::hold_removal(const InstanceKey& key, const registry::Store& store,
                                     Clock::time_point now) {
  const LeaseSettings& leases = settings_.leases;
  while (!shared_removals_.empty() && now - shared_removals_.front() > leases.preservation_window) {
    shared_removals_.pop_front();
  }
  // Against the instances there were before the removals of the window, this one included.
  const std::size_t removed = shared_removals_.size() + 1;
  const std::size_t before = store.count_of(registry::Source::heartbeat) + shared_removals_.size();
  const bool mass = leases.preservation_threshold > 0 &&
                    before >= leases.preservation_min_instances &&
                    static_cast<double>(removed) >
                        leases.preservation_threshold * static_cast<double>(before);
  if (!mass && held_.empty()) {
    shared_removals_.push_back(now);
    return false;
  }
  if (held_.empty()) {
    holding_since_ = now;
    log_("SELF-PRESERVATION STARTED (cluster): " + std::to_string(removed) + " of " +
         std::to_string(before) + " heartbeat instances removed from the shared registry "
         "within " + std::to_string(leases.preservation_window.count()) +
         " s; keeping the rest in the answers until they are written again or for at most " +
         std::to_string(leases.preservation_max.count()) + " s");
  }
  held_.try_emplace(key, now);
  last_hold_ = now;
  return true;
}

void HeartbeatReceiver::review_held(registry::Store& store, Clock::time_point now) {
  if (held_.empty()) return;
  const LeaseSettings& leases = settings_.leases;
  const double instances = static_cast<double>(store.count_of(registry::Source::heartbeat));
  const bool settled = static_cast<double>(held_.size()) <= leases.preservation_threshold * instances &&
                       now - last_hold_ >= std::chrono::seconds(2);
  if (!settled && now - holding_since_ < leases.preservation_max) return;
  std::size_t left = 0;
  for (const auto& [key, since] : held_) {
    if (tracker_.contains(key)) continue;  // its agent heartbeats here now
    if (store.remove_instance(key.service, key.id)) ++left;
  }
  held_.clear();
  log_("SELF-PRESERVATION ENDED (cluster) after " +
       std::to_string(std::chrono::duration_cast<std::chrono::seconds>(now - holding_since_).count()) +
       " s: " + std::to_string(left) + " instances that were not written again leave the answers");
}

}  // namespace signpost::health
