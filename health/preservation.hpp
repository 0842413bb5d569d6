// Self-preservation: when many leases run out at once, assume a partition and stop expiring.
//
// The lease tracker counts its live instances (lease not expired) and, among them, those at
// risk: their lease has run out or runs out within `window` and they have missed their
// heartbeat (see LeaseTracker). When more than `threshold` of the live instances are at risk
// and there are at least `min_instances` of them, the server is more likely cut off from its
// agents than all those agents dead, so it stops expiring leases: an overdue instance keeps
// its health. Preservation ends by itself when the fraction falls back to the threshold or
// below (heartbeats returned), or after `max`. After `max` the tracker expires whatever is
// still overdue at once, and preservation does not start again until the condition has
// cleared once, so it can never stay stuck; after heartbeats returned, the overdue instances
// get a short margin to renew first (see LeaseTracker). Starting and ending are logged once
// each.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>

namespace signpost::health {

/// The self-preservation parameters (config `health.preservation_*`).
struct PreservationSettings {
  double threshold = 0.5;              // fraction of live instances; 0 = never preserve
  std::chrono::seconds window{15};     // how far ahead a lease running out counts
  std::chrono::seconds max{300};       // longest preservation
  std::size_t min_instances = 10;      // below this many live instances never preserve
};

/// What the tracker counts, as of one moment.
struct LeaseCounts {
  std::size_t live = 0;     // instances whose lease has not been expired
  std::size_t at_risk = 0;  // live ones that missed their heartbeat and run out soon (or did)
  std::size_t overdue = 0;  // at-risk ones whose lease ran out while preserving
};

/// The self-preservation state machine. Heartbeat thread only; allocates only to log.
class Preservation {
 public:
  using Clock = std::chrono::steady_clock;
  using Log = std::function<void(const std::string&)>;

  /// What an update did.
  enum class Transition { none, started, ended };

  /// Throws std::invalid_argument unless 0 <= threshold <= 1 and window, max > 0.
  Preservation(PreservationSettings settings, Log log);

  /// Whether these counts call for preservation: at least min_instances live and more than
  /// threshold of them at risk (never when threshold is 0).
  bool condition(const LeaseCounts& counts) const noexcept;

  /// Re-evaluates at `now` with the current counts: starts (unless blocked), ends when the
  /// condition has cleared or `max` has passed (then blocked() is true), logs either. The
  /// caller releases the overdue leases when this returns `ended`.
  Transition update(const LeaseCounts& counts, Clock::time_point now);

  /// Whether leases are currently kept from expiring.
  bool active() const noexcept { return active_; }
  /// When the current preservation started (meaningless when not active).
  Clock::time_point since() const noexcept { return since_; }
  /// Whether an end by `max` keeps it from starting until the condition clears.
  bool blocked() const noexcept { return blocked_; }

  /// The settings in force.
  const PreservationSettings& settings() const noexcept { return settings_; }

 private:
  void start(const LeaseCounts& counts, Clock::time_point now);
  void end(const LeaseCounts& counts, Clock::time_point now, bool timed_out);
  void log(const std::string& line) const;

  PreservationSettings settings_;
  Log log_;
  bool active_ = false;
  bool blocked_ = false;
  Clock::time_point since_{};
};

}  // namespace signpost::health
