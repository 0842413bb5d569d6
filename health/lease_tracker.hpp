// Leases and liveness of heartbeat instances: expiry, flap damping, self-preservation.
//
// Every heartbeat renews an instance's lease (RFC 9664) and reports its health. The tracker
// turns that into the health the registry publishes, the effective health:
//   - the reported health (passing, warning, critical), except
//   - critical once the lease has run out (expired), and
//   - critical while flap damping suppresses the instance (FlapDamper): each transition from
//     healthy to critical (reported, or by expiry) adds a penalty; above the suppress threshold
//     the instance stays out of answers until the penalty has decayed to the reuse threshold.
// An instance that has been critical (reported or expired) for `deregister_after` is
// forgotten. Self-preservation (Preservation) keeps leases from expiring while more than
// `preservation_threshold` of the live instances are at risk: an instance is at risk once its
// lease runs out within min(preservation_window, lease / 2), i.e. it runs out soon and has
// missed the heartbeat due every third of its lease. Because of the lease / 2, instances that
// heartbeat on time are never at risk, however short their leases. When preservation ends
// because heartbeats returned, an instance still overdue gets that same margin to renew
// before it expires; when it ends after preservation_max, overdue leases expire at once.
//
// Cost: renew is O(1) on average (a hash lookup) and pushes onto the event heap only when an
// instance's next deadline moves earlier; tick pops only the deadlines that are due. Each
// instance has at most one live event in the heap: a renewal that pushes its deadlines later
// leaves the event in place, and the event, when it fires early, re-schedules itself.
#pragma once

#include <chrono>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "health/flap_damper.hpp"
#include "health/preservation.hpp"
#include "registry/model.hpp"

namespace signpost::health {

/// The lease clock: steady, so wall-clock steps never expire anything. Tests pass any points.
using Clock = std::chrono::steady_clock;

/// Names one instance: its service and its id within the service.
struct InstanceKey {
  std::string service;
  std::string id;
  auto operator<=>(const InstanceKey&) const = default;
};

/// Hash of an InstanceKey for unordered containers. Any thread; no allocation. Deliberately
/// not noexcept: libstdc++ then caches the hash in each node, so that walking a bucket does
/// not hash every key in it again.
struct InstanceKeyHash {
  std::size_t operator()(const InstanceKey& key) const;
};

/// Lease settings (config `health.*`); the defaults are the config's defaults.
struct LeaseSettings {
  std::chrono::seconds min_lease{2};   // granted leases are clamped to [min_lease, max_lease]
  std::chrono::seconds max_lease{3600};
  std::chrono::seconds deregister_after{600};  // critical or expired this long: forgotten
  // Flap damping (RFC 2439 style); see FlapSettings. A penalty of 0 turns it off.
  double flap_penalty = 1000;
  double flap_suppress = 3000;
  double flap_reuse = 750;
  double flap_max_penalty = 12000;
  std::chrono::seconds flap_half_life{60};
  // Self-preservation; see PreservationSettings. A threshold of 0 turns it off.
  double preservation_threshold = 0.5;
  std::chrono::seconds preservation_window{15};
  std::chrono::seconds preservation_max{300};
  std::size_t preservation_min_instances = 10;

  /// The flap damping part.
  FlapSettings flap() const noexcept;
  /// The self-preservation part.
  PreservationSettings preservation() const noexcept;
};

/// What the registry must do for one instance.
struct Change {
  InstanceKey key;
  /// health: publish `health` as the instance's health; forget: remove the instance;
  /// ttl: publish `ttl` as the highest TTL of the instance's records.
  enum class Kind : std::uint8_t { health, forget, ttl } kind = Kind::health;
  registry::Health health = registry::Health::critical;  // for Kind::health
  std::uint32_t ttl = 0;                                // for Kind::ttl, seconds
  /// The instance's slot in the tracker (see LeaseTracker::Handle); for a forgotten one,
  /// the slot it had, which is free until the next new instance.
  std::uint32_t slot = 0;

  /// Equal in what the registry must do; the slot is bookkeeping.
  bool operator==(const Change& other) const noexcept {
    return key == other.key && kind == other.kind && health == other.health && ttl == other.ttl;
  }
};

/// One instance as the tracker sees it, for inspection (status, API, tests).
struct LeaseState {
  registry::Health reported = registry::Health::passing;   // by the last heartbeat
  registry::Health effective = registry::Health::passing;  // as published
  Clock::duration lease{};      // last granted
  Clock::duration remaining{};  // until the lease runs out; zero once it has
  bool expired = false;         // the lease ran out and was expired
  bool overdue = false;         // the lease ran out but self-preservation keeps it
  bool at_risk = false;         // counts towards self-preservation
  bool suppressed = false;      // held out of answers by flap damping
  double penalty = 0;           // flap penalty, decayed to the time asked
};

/// Totals over all tracked instances, for metrics, status and tests.
struct LeaseTotals {
  std::size_t instances = 0;   // tracked
  std::size_t live = 0;        // lease not expired (including overdue)
  std::size_t at_risk = 0;
  std::size_t overdue = 0;
  std::size_t suppressed = 0;
  std::size_t scheduled = 0;   // events in the heap, stale ones included
  bool preserving = false;
};

/// Tracks the leases, health and damping of heartbeat instances and says what the registry
/// must change. Pure logic on passed-in time: no threads, no I/O, no clock of its own. Not
/// thread-safe: the heartbeat receiver uses it under its lock. Times passed in must not go back.
class LeaseTracker {
 public:
  using Log = std::function<void(const std::string&)>;

  /// Throws std::invalid_argument for inconsistent settings (min_lease of 0 or above
  /// max_lease, see also FlapDamper and Preservation). `log` gets the rare, important events
  /// (self-preservation, damping); it may be empty.
  LeaseTracker(LeaseSettings settings, Log log);

  /// Registration or renewal with the health the instance reports, at `now`. Returns the
  /// granted lease, `requested` clamped to [min_lease, max_lease]. Queues a health Change
  /// when the effective health changes, including the first one of a new instance. O(1) on
  /// average; allocates only for a new instance or a Change.
  std::chrono::seconds renew(const InstanceKey& key, std::chrono::seconds requested,
                             registry::Health reported, Clock::time_point now);

  /// A reference to one tracked instance that renews it without a lookup by key. It goes
  /// stale when the instance is removed or forgotten, even if its slot is reused.
  struct Handle {
    std::uint32_t slot = 0;
    std::uint32_t generation = 0;
  };
  /// The instance's handle, or nullopt when it is not tracked.
  std::optional<Handle> handle(const InstanceKey& key) const;
  /// Whether the handle still names the instance it was taken for. O(1).
  bool current(Handle handle) const noexcept;
  /// The instance a current handle names, or nullptr for a stale one. O(1).
  const InstanceKey* key_of(Handle handle) const noexcept {
    return current(handle) ? slots_[handle.slot].key : nullptr;
  }
  /// One more than the highest slot in use so far: callers that keep data per instance
  /// index it by Handle::slot, below this bound.
  std::size_t slot_count() const noexcept { return slots_.size(); }
  /// As renew, through a handle; nullopt (and nothing done) when the handle is stale. O(1).
  std::optional<std::chrono::seconds> renew(Handle handle, std::chrono::seconds requested,
                                            registry::Health reported, Clock::time_point now);

  /// Takes back an instance kept across a restart: tracked as if renewed at `now` with
  /// `lease`, except that the lease runs out at `expires_at` (in the past: at the next tick)
  /// and flap damping goes on from `flap`. A restored critical report is not a new flap.
  /// Queues the instance's health Change, and a lowered TTL cap when little of the lease is
  /// left. Allocates for a new instance.
  void restore(const InstanceKey& key, Clock::duration lease, registry::Health reported,
               Clock::time_point expires_at, const FlapState& flap, Clock::time_point now);

  /// Explicit deregistration: forgets the instance, queues nothing (the caller removes it).
  /// Unknown keys are ignored.
  void remove(const InstanceKey& key);

  /// Advances time to `now`: expires leases that ran out (unless self-preservation keeps
  /// them), ends suppression that decayed, forgets instances critical for too long, starts
  /// and ends self-preservation. Handles only what is due (O(k log n) for k due events).
  /// A lease produces its Change on the first tick at or after its expiry time.
  void tick(Clock::time_point now);

  /// Takes the queued changes, oldest first.
  std::vector<Change> take_changes();
  /// Whether changes are queued.
  bool has_changes() const noexcept { return !changes_.empty(); }

  /// The granted lease for a requested one.
  std::chrono::seconds clamp_lease(std::chrono::seconds requested) const noexcept;

  /// The highest TTL the instance's records may carry now, in seconds: a third of the lease
  /// while heartbeats arrive, so that no cache keeps an answer past a lease being renewed;
  /// lowered step by step as a lease that is not renewed runs down (Change::Kind::ttl), so
  /// that it stays below what is left of the lease (to within a second); 0 for unknown ones.
  std::uint32_t ttl_cap(const InstanceKey& key) const;
  /// The instance's lease as last granted, when it runs out, and its flap damping state, or
  /// nullopt for an unknown one (what restore takes back).
  struct Saved {
    Clock::duration lease{};
    Clock::time_point expires_at{};
    registry::Health reported = registry::Health::passing;
    FlapState flap;
  };
  std::optional<Saved> saved(Handle handle) const noexcept;
  /// Calls `visit(key, handle)` for every tracked instance, in no particular order.
  template <typename Visit>
  void for_each(Visit&& visit) const {
    for (const auto& [key, slot] : index_) visit(key, Handle{slot, slots_[slot].generation});
  }
  /// Whether the instance is tracked.
  bool contains(const InstanceKey& key) const;
  /// The effective health last queued for the instance; critical for unknown ones.
  registry::Health effective_health(const InstanceKey& key) const;
  /// The instance's state as of `now` (no earlier than the last tick), or nullopt.
  std::optional<LeaseState> state(const InstanceKey& key, Clock::time_point now) const;
  /// Whether self-preservation is keeping leases from expiring.
  bool preserving() const noexcept { return preservation_.active(); }
  /// Counts over all instances.
  LeaseTotals totals() const noexcept;
  /// Number of tracked instances.
  std::size_t size() const noexcept { return index_.size(); }
  /// The earliest time a tick may have something to do (conservative: may be early), or
  /// nullopt when nothing is scheduled.
  std::optional<Clock::time_point> next_event() const noexcept;

  /// The settings in force.
  const LeaseSettings& settings() const noexcept { return settings_; }
  /// The flap damping rules in force.
  const FlapDamper& damper() const noexcept { return damper_; }

 private:
  struct Entry {
    const InstanceKey* key = nullptr;  // the index's key; nullptr: free slot
    std::uint32_t generation = 0;      // bumped when the slot is freed
    registry::Health reported = registry::Health::passing;
    registry::Health effective = registry::Health::passing;
    bool published = false;  // effective has been queued at least once
    bool expired = true;     // a new entry counts as coming back from expiry
    bool overdue = false;
    bool at_risk = false;
    bool critical = true;  // reported critical or expired: what flaps and what is forgotten
    Clock::duration lease{};
    Clock::time_point expires_at{};
    Clock::time_point risk_at{};
    Clock::time_point critical_since{};
    std::uint32_t ttl_cap = 0;  // seconds; see ttl_cap()
    FlapState flap;
    std::uint64_t event_seq = 0;  // the entry's live event in the heap; 0: none
    Clock::time_point event_at{};
  };
  struct Event {
    Clock::time_point at;
    std::uint64_t seq;  // pushes in order: ties at one time keep their order
    std::uint32_t slot;
    std::uint32_t generation;
  };
  struct Slot {
    std::uint32_t index;
    std::uint32_t generation;
  };

  std::chrono::seconds renew_slot(std::uint32_t slot, std::chrono::seconds requested,
                                  registry::Health reported, Clock::time_point now);
  std::uint32_t allocate(const InstanceKey& key, Clock::time_point now);
  std::uint32_t slot_of(const Entry& entry) const noexcept {
    return static_cast<std::uint32_t>(&entry - slots_.data());
  }
  void release(std::uint32_t slot);
  void extend(Entry& entry, Clock::duration lease, Clock::time_point now);
  void update_critical(Entry& entry, Clock::time_point at);
  void restore_ttl_cap(Entry& entry);
  void lower_ttl_cap(Entry& entry, Clock::time_point at);
  static std::optional<Clock::time_point> ttl_step_at(const Entry& entry) noexcept;
  void publish(Entry& entry);
  void advance(std::uint32_t slot, Clock::time_point at);
  void run_out(std::uint32_t slot, Clock::time_point at);
  void expire(Entry& entry, Clock::time_point at);
  void forget(std::uint32_t slot);
  void review_preservation(Clock::time_point at);
  void release_overdue(Clock::time_point at, bool grace);
  std::optional<Clock::time_point> next_due(const Entry& entry) const noexcept;
  void schedule(std::uint32_t slot);
  void push(Event event);
  bool is_live(const Event& event) const noexcept;
  void compact();
  void log(const std::string& line) const;
  LeaseCounts counts() const noexcept;

  LeaseSettings settings_;
  Log log_;
  FlapDamper damper_;
  Preservation preservation_;
  std::unordered_map<InstanceKey, std::uint32_t, InstanceKeyHash> index_;
  std::vector<Entry> slots_;
  std::vector<std::uint32_t> free_slots_;
  std::vector<Event> heap_;  // min-heap on (at, seq)
  std::uint64_t next_seq_ = 1;
  std::vector<Slot> overdue_slots_;  // kept by self-preservation, in the order they ran out
  std::vector<Change> changes_;
  std::size_t live_ = 0;
  std::size_t at_risk_ = 0;
  std::size_t overdue_ = 0;
  std::size_t suppressed_ = 0;
};

}  // namespace signpost::health
