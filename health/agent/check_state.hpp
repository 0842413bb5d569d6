// A check's health over time: the thresholds that turn single results into a status.
#pragma once

#include <cstdint>

#include "registry/model.hpp"

namespace signpost::health::agent {

/// The status of one check, moved by its results:
///   - `success_before_passing` passing results in a row make it passing;
///   - `failures_before_critical` critical results in a row make it critical;
///   - a warning result makes it warning at once (the service answers, degraded).
/// A check starts critical: an instance is not handed out before its checks pass.
/// Pure; no clock (the runner feeds results as they come).
class CheckState {
 public:
  CheckState(std::uint32_t success_before_passing, std::uint32_t failures_before_critical,
             registry::Health initial = registry::Health::critical) noexcept;

  /// Takes one result; returns true when the status changed.
  bool record(registry::Health result) noexcept;

  /// The check's status after the results so far.
  registry::Health status() const noexcept { return status_; }

 private:
  std::uint32_t success_before_passing_;
  std::uint32_t failures_before_critical_;
  std::uint32_t successes_ = 0;  // passing results in a row
  std::uint32_t failures_ = 0;   // critical results in a row
  registry::Health status_;
};

/// The health of an instance: the worst status of its checks, passing when it has none.
registry::Health worst(registry::Health a, registry::Health b) noexcept;

}  // namespace signpost::health::agent
