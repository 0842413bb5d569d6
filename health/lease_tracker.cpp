// Leases and liveness: renewals, the event heap, expiry, damping and forgetting.
#include "health/lease_tracker.hpp"

#include <algorithm>
#include <stdexcept>

namespace signpost::health {

namespace {

using registry::Health;

// An earlier event is "greater" so that the std heap functions keep the earliest on top.
struct Later {
  template <typename Event>
  bool operator()(const Event& a, const Event& b) const noexcept {
    return a.at != b.at ? a.at > b.at : a.seq > b.seq;
  }
};

std::string name_of(const InstanceKey& key) {
  return "instance " + key.id + " of " + key.service;
}

// How far ahead of the remaining lease a TTL cap is lowered: more than a tick and a publish,
// so that no answer served before the lowering reaches the caches with a TTL above what is
// left of the lease.
constexpr Clock::duration kTtlMargin = std::chrono::seconds(1);

std::string whole_seconds(Clock::duration duration) {
  return std::to_string(std::chrono::ceil<std::chrono::seconds>(duration).count()) + " s";
}

}  // namespace

std::size_t InstanceKeyHash::operator()(const InstanceKey& key) const {
  const std::size_t service = std::hash<std::string>{}(key.service);
  const std::size_t id = std::hash<std::string>{}(key.id);
  return service ^ (id + 0x9e3779b97f4a7c15ULL + (service << 6) + (service >> 2));
}

FlapSettings LeaseSettings::flap() const noexcept {
  return {.penalty = flap_penalty, .suppress = flap_suppress, .reuse = flap_reuse,
          .max_penalty = flap_max_penalty, .half_life = flap_half_life};
}

PreservationSettings LeaseSettings::preservation() const noexcept {
  return {.threshold = preservation_threshold, .window = preservation_window,
          .max = preservation_max, .min_instances = preservation_min_instances};
}

LeaseTracker::LeaseTracker(LeaseSettings settings, Log log)
    : settings_(settings),
      log_(log),
      damper_(settings.flap()),
      preservation_(settings.preservation(), std::move(log)) {
  if (settings_.min_lease <= std::chrono::seconds::zero()) {
    throw std::invalid_argument("min_lease must be positive");
  }
  if (settings_.max_lease < settings_.min_lease) {
    throw std::invalid_argument("max_lease must not be below min_lease");
  }
  if (settings_.deregister_after < std::chrono::seconds::zero()) {
    throw std::invalid_argument("deregister_after must not be negative");
  }
}

std::chrono::seconds LeaseTracker::clamp_lease(std::chrono::seconds requested) const noexcept {
  return std::clamp(requested, settings_.min_lease, settings_.max_lease);
}

std::chrono::seconds LeaseTracker::renew(const InstanceKey& key, std::chrono::seconds requested,
                                         Health reported, Clock::time_point now) {
  auto [found, inserted] = index_.try_emplace(key, 0);
  if (inserted) found->second = allocate(found->first, now);
  return renew_slot(found->second, requested, reported, now);
}

std::optional<LeaseTracker::Handle> LeaseTracker::handle(const InstanceKey& key) const {
  const auto found = index_.find(key);
  if (found == index_.end()) return std::nullopt;
  return Handle{found->second, slots_[found->second].generation};
}

bool LeaseTracker::current(Handle handle) const noexcept {
  return handle.slot < slots_.size() && slots_[handle.slot].key != nullptr &&
         slots_[handle.slot].generation == handle.generation;
}

std::optional<std::chrono::seconds> LeaseTracker::renew(Handle handle, std::chrono::seconds requested,
                                                        Health reported, Clock::time_point now) {
  if (!current(handle)) return std::nullopt;
  return renew_slot(handle.slot, requested, reported, now);
}

std::chrono::seconds LeaseTracker::renew_slot(std::uint32_t slot, std::chrono::seconds requested,
                                              Health reported, Clock::time_point now) {
  const std::chrono::seconds granted = clamp_lease(requested);
  Entry& entry = slots_[slot];
  extend(entry, granted, now);
  restore_ttl_cap(entry);
  entry.reported = reported;
  update_critical(entry, now);
  publish(entry);
  schedule(slot);
  return granted;
}

void LeaseTracker::restore(const InstanceKey& key, Clock::duration lease, Health reported,
                           Clock::time_point expires_at, const FlapState& flap,
                           Clock::time_point now) {
  auto [found, inserted] = index_.try_emplace(key, 0);
  if (inserted) found->second = allocate(found->first, now);
  const std::uint32_t slot = found->second;
  Entry& entry = slots_[slot];
  extend(entry, lease, now);
  entry.expires_at = expires_at;
  entry.risk_at = expires_at - std::min<Clock::duration>(settings_.preservation_window, lease / 2);
  restore_ttl_cap(entry);
  if (entry.flap.suppressed) --suppressed_;
  entry.flap = flap;
  if (entry.flap.suppressed) ++suppressed_;
  entry.reported = reported;
  // Critical before the restart: it flapped then, if at all, not now.
  entry.critical = reported == Health::critical;
  entry.critical_since = now;
  lower_ttl_cap(entry, now);
  // A lease that ran out while the server was down is out of the first answer already.
  if (expires_at <= now) {
    advance(slot, now);
  } else {
    publish(entry);
  }
  schedule(slot);
}

std::optional<LeaseTracker::Saved> LeaseTracker::saved(Handle handle) const noexcept {
  if (!current(handle)) return std::nullopt;
  const Entry& entry = slots_[handle.slot];
  return Saved{.lease = entry.lease, .expires_at = entry.expires_at, .reported = entry.reported,
               .flap = entry.flap};
}

void LeaseTracker::remove(const InstanceKey& key) {
  const auto found = index_.find(key);
  if (found != index_.end()) release(found->second);
}

void LeaseTracker::tick(Clock::time_point now) {
  while (!heap_.empty() && heap_.front().at <= now) {
    std::pop_heap(heap_.begin(), heap_.end(), Later{});
    const Event event = heap_.back();
    heap_.pop_back();
    if (!is_live(event)) continue;
    slots_[event.slot].event_seq = 0;
    // Events are handled at their own time, in time order, so that a tick after a long gap
    // decides exactly as ticks on time would have.
    advance(event.slot, event.at);
  }
  review_preservation(now);
}

std::vector<Change> LeaseTracker::take_changes() {
  std::vector<Change> out;
  out.swap(changes_);
  return out;
}

bool LeaseTracker::contains(const InstanceKey& key) const { return index_.contains(key); }

Health LeaseTracker::effective_health(const InstanceKey& key) const {
  const auto found = index_.find(key);
  return found == index_.end() ? Health::critical : slots_[found->second].effective;
}

std::optional<LeaseState> LeaseTracker::state(const InstanceKey& key,
                                              Clock::time_point now) const {
  const auto found = index_.find(key);
  if (found == index_.end()) return std::nullopt;
  const Entry& entry = slots_[found->second];
  LeaseState out;
  out.reported = entry.reported;
  out.effective = entry.effective;
  out.lease = entry.lease;
  out.remaining = std::max(entry.expires_at - now, Clock::duration::zero());
  out.expired = entry.expired;
  out.overdue = entry.overdue;
  out.at_risk = entry.at_risk;
  out.suppressed = entry.flap.suppressed;
  out.penalty = damper_.penalty(entry.flap, now);
  return out;
}

LeaseTotals LeaseTracker::totals() const noexcept {
  return {.instances = index_.size(), .live = live_, .at_risk = at_risk_, .overdue = overdue_,
          .suppressed = suppressed_, .scheduled = heap_.size(),
          .preserving = preservation_.active()};
}

std::optional<Clock::time_point> LeaseTracker::next_event() const noexcept {
  if (heap_.empty()) return std::nullopt;
  return heap_.front().at;
}

// A new entry starts as if its lease had just been expired: critical since now and not live.
// The renewal that created it then brings it back, which counts it live, clears the critical
// state without a flap, and publishes its first health.
std::uint32_t LeaseTracker::allocate(const InstanceKey& key, Clock::time_point now) {
  std::uint32_t slot = 0;
  if (free_slots_.empty()) {
    slot = static_cast<std::uint32_t>(slots_.size());
    slots_.emplace_back();
  } else {
    slot = free_slots_.back();
    free_slots_.pop_back();
  }
  Entry& entry = slots_[slot];
  entry.key = &key;
  entry.critical_since = now;
  return slot;
}

void LeaseTracker::release(std::uint32_t slot) {
  Entry& entry = slots_[slot];
  if (!entry.expired) --live_;
  if (entry.at_risk) --at_risk_;
  if (entry.overdue) --overdue_;
  if (entry.flap.suppressed) --suppressed_;
  const auto found = index_.find(*entry.key);
  const std::uint32_t generation = entry.generation + 1;  // its events in the heap go stale
  entry = Entry{};
  entry.generation = generation;
  free_slots_.push_back(slot);
  index_.erase(found);
}

void LeaseTracker::extend(Entry& entry, Clock::duration lease, Clock::time_point now) {
  entry.lease = lease;
  entry.expires_at = now + lease;
  // At risk once the lease runs out within the window and half the lease has passed without
  // a heartbeat (one is due every third): on-time instances never count, even short-lived.
  entry.risk_at = entry.expires_at - std::min<Clock::duration>(
                                         settings_.preservation_window, lease / 2);
  if (entry.expired) {
    entry.expired = false;
    ++live_;
  }
  if (entry.overdue) {
    entry.overdue = false;  // its slot in overdue_slots_ is skipped when released
    --overdue_;
  }
  if (entry.at_risk) {
    entry.at_risk = false;  // risk_at lies at least half a lease ahead now
    --at_risk_;
  }
}

std::uint32_t LeaseTracker::ttl_cap(const InstanceKey& key) const {
  const auto found = index_.find(key);
  return found == index_.end() ? 0 : slots_[found->second].ttl_cap;
}

// A renewal gives the cap back its full size: a third of the lease. A cap that had been
// lowered is published again; the first one goes out with the registration itself.
void LeaseTracker::restore_ttl_cap(Entry& entry) {
  const auto full = static_cast<std::uint32_t>(
      std::max<Clock::rep>(1, std::chrono::duration_cast<std::chrono::seconds>(entry.lease).count() / 3));
  if (entry.ttl_cap == full) return;
  if (entry.ttl_cap != 0) {
    changes_.push_back({.key = *entry.key, .kind = Change::Kind::ttl, .ttl = full, .slot = slot_of(entry)});
  }
  entry.ttl_cap = full;
}

// When what is left of the lease comes within the margin of the cap, the cap drops to half of
// what will be left then: a lease that is not renewed gets a few lowerings (15 s: 5, 2, 1),
// not one a second, and the cap stays below the remaining lease until it is 1 s.
void LeaseTracker::lower_ttl_cap(Entry& entry, Clock::time_point at) {
  const auto step = ttl_step_at(entry);
  if (!step || *step > at) return;
  const auto left = std::chrono::duration_cast<std::chrono::seconds>(entry.expires_at - at - kTtlMargin);
  const auto lowered = static_cast<std::uint32_t>(std::max<Clock::rep>(1, left.count() / 2));
  if (lowered >= entry.ttl_cap) return;
  entry.ttl_cap = lowered;
  changes_.push_back({.key = *entry.key, .kind = Change::Kind::ttl, .ttl = lowered, .slot = slot_of(entry)});
}

std::optional<Clock::time_point> LeaseTracker::ttl_step_at(const Entry& entry) noexcept {
  if (entry.expired || entry.overdue || entry.ttl_cap <= 1) return std::nullopt;
  return entry.expires_at - std::chrono::seconds(entry.ttl_cap) - kTtlMargin;
}

void LeaseTracker::update_critical(Entry& entry, Clock::time_point at) {
  const bool critical = entry.expired || entry.reported == Health::critical;
  if (critical == entry.critical) return;
  entry.critical = critical;
  if (!critical) return;
  entry.critical_since = at;
  // Healthy to critical is a flap (RFC 2439's withdrawal).
  if (damper_.on_flap(entry.flap, at)) {
    ++suppressed_;
    log(name_of(*entry.key) + " is flapping (penalty " +
        std::to_string(static_cast<long>(entry.flap.penalty)) +
        "): held out of answers for " + whole_seconds(entry.flap.reuse_at - at));
  }
}

void LeaseTracker::publish(Entry& entry) {
  const Health effective =
      entry.critical || entry.flap.suppressed ? Health::critical : entry.reported;
  if (entry.published && effective == entry.effective) return;
  entry.published = true;
  entry.effective = effective;
  changes_.push_back({.key = *entry.key, .kind = Change::Kind::health, .health = effective, .slot = slot_of(entry)});
}

void LeaseTracker::advance(std::uint32_t slot, Clock::time_point at) {
  Entry& entry = slots_[slot];
  if (!entry.expired && !entry.overdue) {
    if (!entry.at_risk && entry.risk_at <= at) {
      entry.at_risk = true;
      ++at_risk_;
    }
    lower_ttl_cap(entry, at);
    if (entry.expires_at <= at) run_out(slot, at);
  }
  if (damper_.try_reuse(entry.flap, at)) {
    --suppressed_;
    log(name_of(*entry.key) + " is stable again: flap damping ends");
  }
  if (entry.critical && at - entry.critical_since >= settings_.deregister_after) {
    forget(slot);
    return;
  }
  publish(entry);
  schedule(slot);
}

void LeaseTracker::run_out(std::uint32_t slot, Clock::time_point at) {
  // Decide with this lease counted at risk: it may be the one that starts preservation.
  review_preservation(at);
  Entry& entry = slots_[slot];
  if (!preservation_.active()) {
    expire(entry, at);
    return;
  }
  entry.overdue = true;
  ++overdue_;
  overdue_slots_.push_back({slot, entry.generation});
}

void LeaseTracker::expire(Entry& entry, Clock::time_point at) {
  entry.expired = true;
  --live_;
  if (entry.at_risk) {
    entry.at_risk = false;
    --at_risk_;
  }
  update_critical(entry, at);
}

void LeaseTracker::forget(std::uint32_t slot) {
  changes_.push_back({.key = *slots_[slot].key, .kind = Change::Kind::forget,
                      .health = Health::critical, .slot = slot});
  release(slot);
}

void LeaseTracker::review_preservation(Clock::time_point at) {
  if (preservation_.update(counts(), at) == Preservation::Transition::ended) {
    release_overdue(at, !preservation_.blocked());
  }
}

// Self-preservation ended. After preservation_max, what is still overdue expires now, in the
// order it ran out. When heartbeats returned, they return over one heartbeat interval, so an
// overdue instance gets the same margin as at-risk counting, min(window, lease / 2), to renew
// before it expires; it stays at risk meanwhile.
void LeaseTracker::release_overdue(Clock::time_point at, bool grace) {
  std::vector<Slot> overdue;
  overdue.swap(overdue_slots_);
  for (const Slot& held : overdue) {
    Entry& entry = slots_[held.index];
    if (entry.key == nullptr || entry.generation != held.generation || !entry.overdue) continue;
    entry.overdue = false;
    --overdue_;
    if (grace) {
      entry.expires_at =
          at + std::min<Clock::duration>(settings_.preservation_window, entry.lease / 2);
    } else {
      expire(entry, at);
      publish(entry);
    }
    schedule(held.index);
  }
}

std::optional<Clock::time_point> LeaseTracker::next_due(const Entry& entry) const noexcept {
  std::optional<Clock::time_point> due;
  const auto consider = [&due](Clock::time_point at) {
    if (!due || at < *due) due = at;
  };
  if (!entry.expired && !entry.overdue) consider(entry.at_risk ? entry.expires_at : entry.risk_at);
  if (const auto step = ttl_step_at(entry)) consider(*step);
  if (entry.flap.suppressed) consider(entry.flap.reuse_at);
  if (entry.critical) consider(entry.critical_since + settings_.deregister_after);
  return due;
}

void LeaseTracker::schedule(std::uint32_t slot) {
  Entry& entry = slots_[slot];
  const std::optional<Clock::time_point> due = next_due(entry);
  // An event already queued no later than the next deadline covers it: when it fires, the
  // entry re-schedules itself. This keeps renewals free of heap operations.
  if (!due || (entry.event_seq != 0 && entry.event_at <= *due)) return;
  const std::uint64_t seq = next_seq_++;
  entry.event_seq = seq;
  entry.event_at = *due;
  push({*due, seq, slot, entry.generation});
}

void LeaseTracker::push(Event event) {
  heap_.push_back(event);
  std::push_heap(heap_.begin(), heap_.end(), Later{});
  // Stale events (removed instances, deadlines moved earlier) leave when they come due;
  // should they pile up faster than that, drop them all at once (amortized O(1) per push).
  if (heap_.size() > 2 * index_.size() + 1024) compact();
}

bool LeaseTracker::is_live(const Event& event) const noexcept {
  const Entry& entry = slots_[event.slot];
  return entry.key != nullptr && entry.generation == event.generation &&
         entry.event_seq == event.seq;
}

void LeaseTracker::compact() {
  std::erase_if(heap_, [this](const Event& event) { return !is_live(event); });
  std::make_heap(heap_.begin(), heap_.end(), Later{});
}

void LeaseTracker::log(const std::string& line) const {
  if (log_) log_(line);
}

LeaseCounts LeaseTracker::counts() const noexcept {
  return {.live = live_, .at_risk = at_risk_, .overdue = overdue_};
}

}  // namespace signpost::health
