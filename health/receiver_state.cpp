// The heartbeat receiver's dynamic state, kept across restarts: exported for the memory
// backend's state file and taken back from it at start-up.
#include "health/heartbeat_receiver.hpp"

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
  return state;
}

std::vector<std::uint8_t> HeartbeatReceiver::encode_state(const registry::Store& store,
                                                          std::uint32_t serial) {
  backend::StateEncoder encoder(serial, Clocks{}.to_unix_ms(Clock::now()), tracker_.size());
  visit_state(
      store, [&](const backend::DynamicInstance& dynamic) { encoder.add(dynamic); },
      [&](const backend::DeletedGuard& deleted) { encoder.add(deleted); });
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
    const auto handle = tracker_.handle(key);
    const auto saved = handle ? tracker_.saved(*handle) : std::nullopt;
    if (!saved || handle->slot >= registered_.size()) return;
    const Registered& registered = registered_[handle->slot];
    out.instance = packed.unpack(service.name, id);
    out.instance.health = saved->reported;
    out.protocol = service.protocol;
    out.lease_seconds = static_cast<std::uint32_t>(
        std::chrono::duration_cast<std::chrono::seconds>(saved->lease).count());
    out.lease_end_unix_ms = clocks.to_unix_ms(saved->expires_at);
    out.flap_penalty = saved->flap.penalty;
    out.flap_updated_unix_ms = clocks.to_unix_ms(saved->flap.updated);
    out.suppressed = saved->flap.suppressed;
    out.key_name = registered.key != nullptr ? registered.key->name : std::string();
    out.replay = board_.guard(handle->slot).to_bytes();
    on_instance(out);
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
