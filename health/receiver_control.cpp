// The heartbeat receiver's part in the operator's writes (the HTTP API) and its audit log.
#include "health/heartbeat_receiver.hpp"

namespace signpost::health {

namespace backend = registry::backend;

void HeartbeatReceiver::audit(std::string_view event, const InstanceKey& key,
                              std::string_view who, std::initializer_list<AuditField> more) const {
  // The fixed fields, then the event's own: one line, one write.
  std::vector<AuditField> fields{{"service", key.service}, {"id", key.id}, {"who", who}};
  if (!from_.empty()) fields.emplace_back("from", from_);
  fields.insert(fields.end(), more.begin(), more.end());
  log_audit(event, fields);
}

void HeartbeatReceiver::audit_health(const InstanceKey& key, registry::Health health,
                                     Clock::time_point now) {
  const LeaseState state = tracker_.state(key, now).value_or(LeaseState{});
  const std::string_view value = registry::to_string(health);
  if (health == registry::Health::critical && state.expired) {
    counters_.expired.fetch_add(1, std::memory_order_relaxed);
    audit("expire", key, "lease", {{"health", value}});
  } else if (health == registry::Health::critical && state.suppressed) {
    counters_.flap_holds.fetch_add(1, std::memory_order_relaxed);
    audit("health", key, "flap damping", {{"health", value}, {"reason", "suppressed"}});
  } else {
    audit("health", key, "heartbeat", {{"health", value}});
  }
}

void HeartbeatReceiver::take_override(const backend::DynamicInstance& record,
                                      registry::Store& store) {
  store.set_override(record.instance.service, record.instance.id,
                     {.drained = record.drained, .weight = record.weight_override});
}

void HeartbeatReceiver::override_changed(const InstanceKey& key, const registry::Store& store) {
  const auto source = store.source_of(key.service, key.id);
  if (!source) return;
  state_changed_.store(true, std::memory_order_relaxed);  // the state file keeps both kinds
  if (*source != registry::Source::heartbeat || shared_ == nullptr) return;
  if (tracker_.contains(key)) {
    unshared_.push_back(key);
    share_changes(store);
    return;
  }
  // Tracked by another server: its record goes on as it is, with the new override; that
  // server's next write of it carries the override it has learnt from this one.
  auto record = shared_->record(key.service, key.id);
  if (!record || record->lease_seconds == 0) return;
  const registry::InstanceOverride value = store.override_of(key.service, key.id);
  record->drained = value.drained;
  record->weight_override = value.weight;
  shared_->put(*record);
}

bool HeartbeatReceiver::deregister(const InstanceKey& key, registry::Store& store) {
  if (store.source_of(key.service, key.id) != registry::Source::heartbeat) return false;
  ReplayGuard guard;
  if (const auto handle = tracker_.handle(key)) {
    guard = board_.guard(handle->slot);
  } else if (shared_ != nullptr) {
    if (const auto record = shared_->record(key.service, key.id)) {
      guard = ReplayGuard::from_bytes(record->replay);
    }
  }
  if (shared_ != nullptr) share_deletion(key, guard, store);
  held_.erase(key);
  deregister_instance(key, store);
  remember_deleted(key, guard);
  state_changed_.store(true, std::memory_order_relaxed);
  return true;
}

std::pair<bool, std::size_t> HeartbeatReceiver::preserving() const {
  const std::size_t tracked_held = tracker_.totals().overdue;
  return {tracker_.preserving() || !held_.empty(), tracked_held + held_.size()};
}

std::optional<std::pair<std::uint32_t, std::int64_t>> HeartbeatReceiver::shared_lease(
    const InstanceKey& key) const {
  if (shared_ == nullptr || tracker_.contains(key)) return std::nullopt;
  const auto record = shared_->record(key.service, key.id);
  if (!record || record->lease_seconds == 0) return std::nullopt;
  return std::pair{record->lease_seconds, record->lease_end_unix_ms};
}

}  // namespace signpost::health
