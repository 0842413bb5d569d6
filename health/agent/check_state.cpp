// A check's status from its results and thresholds.
#include "health/agent/check_state.hpp"

namespace signpost::health::agent {

CheckState::CheckState(std::uint32_t success_before_passing, std::uint32_t failures_before_critical,
                       registry::Health initial) noexcept
    : success_before_passing_(success_before_passing == 0 ? 1 : success_before_passing),
      failures_before_critical_(failures_before_critical == 0 ? 1 : failures_before_critical),
      status_(initial) {}

bool CheckState::record(registry::Health result) noexcept {
  const registry::Health before = status_;
  switch (result) {
    case registry::Health::passing:
      failures_ = 0;
      if (successes_ < success_before_passing_) ++successes_;
      if (successes_ >= success_before_passing_) status_ = registry::Health::passing;
      break;
    case registry::Health::warning:
      successes_ = 0;
      failures_ = 0;
      status_ = registry::Health::warning;
      break;
    case registry::Health::critical:
      successes_ = 0;
      if (failures_ < failures_before_critical_) ++failures_;
      if (failures_ >= failures_before_critical_) status_ = registry::Health::critical;
      break;
  }
  return status_ != before;
}

registry::Health worst(registry::Health a, registry::Health b) noexcept {
  return static_cast<int>(a) >= static_cast<int>(b) ? a : b;
}

}  // namespace signpost::health::agent
