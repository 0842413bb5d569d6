// Flap damping: penalty decay, suppression and reuse (RFC 2439).
#include "health/flap_damper.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace signpost::health {

namespace {

using Seconds = std::chrono::duration<double>;

}  // namespace

FlapDamper::FlapDamper(FlapSettings settings) : settings_(settings) {
  if (!(settings_.penalty >= 0)) throw std::invalid_argument("flap penalty must not be negative");
  if (!(settings_.reuse > 0 && settings_.reuse < settings_.suppress)) {
    throw std::invalid_argument("flap reuse threshold must be above 0 and below the suppress "
                                "threshold");
  }
  if (!(settings_.suppress <= settings_.max_penalty)) {
    throw std::invalid_argument("flap suppress threshold must not exceed the maximum penalty");
  }
  if (settings_.half_life <= std::chrono::seconds::zero()) {
    throw std::invalid_argument("flap half-life must be positive");
  }
}

double FlapDamper::penalty(const FlapState& state, Clock::time_point now) const noexcept {
  if (state.penalty <= 0 || now <= state.updated) return state.penalty;
  // Exponential decay with the configured half-life (RFC 2439).
  const double half_lives =
      Seconds(now - state.updated).count() / Seconds(settings_.half_life).count();
  return state.penalty * std::exp2(-half_lives);
}

bool FlapDamper::on_flap(FlapState& state, Clock::time_point now) const noexcept {
  const double decayed = penalty(state, now);
  state.penalty = std::min(decayed + settings_.penalty, settings_.max_penalty);
  state.updated = std::max(now, state.updated);
  if (state.suppressed) {
    // A flap while suppressed raises the penalty further and so extends the suppression.
    state.reuse_at = reuse_time(state.penalty, state.updated);
    return false;
  }
  if (state.penalty <= settings_.suppress) return false;
  state.suppressed = true;
  state.reuse_at = reuse_time(state.penalty, state.updated);
  return true;
}

bool FlapDamper::try_reuse(FlapState& state, Clock::time_point now) const noexcept {
  if (!state.suppressed || now < state.reuse_at) return false;
  state.suppressed = false;
  return true;
}

FlapDamper::Clock::time_point FlapDamper::reuse_time(double penalty,
                                                     Clock::time_point at) const noexcept {
  if (penalty <= settings_.reuse) return at;
  // penalty * 2^(-t / half_life) = reuse  <=>  t = half_life * log2(penalty / reuse); rounded
  // up so that the penalty has decayed to the reuse threshold by then.
  const double seconds =
      Seconds(settings_.half_life).count() * std::log2(penalty / settings_.reuse);
  return at + std::chrono::ceil<Clock::duration>(Seconds(seconds));
}

}  // namespace signpost::health
