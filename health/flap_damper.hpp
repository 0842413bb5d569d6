// Flap damping of instance health (RFC 2439 style): a decaying penalty per instance.
#pragma once

#include <chrono>

namespace signpost::health {

/// The damping parameters (RFC 2439's names in brackets). A flap is a transition from
/// healthy (passing or warning) to critical.
struct FlapSettings {
  double penalty = 1000;               // added per flap [penalty]
  double suppress = 3000;              // suppressed when the penalty rises above this [cut-off]
  double reuse = 750;                  // suppression ends once it decays to this [reuse]
  double max_penalty = 12000;          // the penalty never exceeds this [ceiling]
  std::chrono::seconds half_life{60};  // the penalty halves in this time [half-life]
};

/// One instance's damping state: the penalty as of `updated`, and whether it is suppressed.
struct FlapState {
  double penalty = 0;
  std::chrono::steady_clock::time_point updated{};
  std::chrono::steady_clock::time_point reuse_at{};  // when suppression ends (if suppressed)
  bool suppressed = false;
};

/// The damping rules over FlapState values. Pure: no clock of its own, no allocation; any
/// thread may use a const FlapDamper.
class FlapDamper {
 public:
  using Clock = std::chrono::steady_clock;

  /// Throws std::invalid_argument unless 0 < reuse < suppress <= max_penalty, penalty >= 0
  /// and half_life > 0.
  explicit FlapDamper(FlapSettings settings);

  /// The penalty of `state` decayed to `now` (exponential decay, RFC 2439).
  double penalty(const FlapState& state, Clock::time_point now) const noexcept;

  /// Records one flap at `now`: decays, adds the penalty, caps it; suppresses when it rises
  /// above the suppress threshold and pushes `reuse_at` out while suppressed. Returns true
  /// when suppression starts with this flap.
  bool on_flap(FlapState& state, Clock::time_point now) const noexcept;

  /// Ends suppression when `now` has reached `reuse_at`. Returns true when it just ended.
  bool try_reuse(FlapState& state, Clock::time_point now) const noexcept;

  /// When a penalty of `penalty` at `at` will have decayed to the reuse threshold.
  Clock::time_point reuse_time(double penalty, Clock::time_point at) const noexcept;

  /// The settings in force.
  const FlapSettings& settings() const noexcept { return settings_; }

 private:

  FlapSettings settings_;
};

}  // namespace signpost::health
