// Self-preservation: the start/end rules and their log lines.
#include "health/preservation.hpp"

#include <stdexcept>
#include <utility>

namespace signpost::health {

namespace {

std::string percent(std::size_t part, std::size_t whole) {
  if (whole == 0) return "0%";
  return std::to_string((part * 100 + whole / 2) / whole) + "%";
}

std::string percent(double fraction) {
  return std::to_string(static_cast<long>(fraction * 100 + 0.5)) + "%";
}

std::string seconds(std::chrono::steady_clock::duration duration) {
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(duration).count()) +
         " s";
}

std::string at_risk_text(const LeaseCounts& counts) {
  return std::to_string(counts.at_risk) + " of " + std::to_string(counts.live) + " instances (" +
         percent(counts.at_risk, counts.live) + ")";
}

}  // namespace

Preservation::Preservation(PreservationSettings settings, Log log)
    : settings_(settings), log_(std::move(log)) {
  if (!(settings_.threshold >= 0 && settings_.threshold <= 1)) {
    throw std::invalid_argument("preservation threshold must be between 0 and 1");
  }
  if (settings_.window <= std::chrono::seconds::zero() ||
      settings_.max <= std::chrono::seconds::zero()) {
    throw std::invalid_argument("preservation window and maximum must be positive");
  }
}

bool Preservation::condition(const LeaseCounts& counts) const noexcept {
  if (settings_.threshold <= 0 || counts.live == 0) return false;
  if (counts.live < settings_.min_instances) return false;
  return static_cast<double>(counts.at_risk) >
         settings_.threshold * static_cast<double>(counts.live);
}

Preservation::Transition Preservation::update(const LeaseCounts& counts, Clock::time_point now) {
  const bool wanted = condition(counts);
  if (active_) {
    if (!wanted) {
      end(counts, now, false);
      return Transition::ended;
    }
    if (now - since_ >= settings_.max) {
      end(counts, now, true);
      return Transition::ended;
    }
    return Transition::none;
  }
  if (!wanted) {
    blocked_ = false;  // the condition cleared: preservation may start again
    return Transition::none;
  }
  if (blocked_) return Transition::none;
  start(counts, now);
  return Transition::started;
}

void Preservation::start(const LeaseCounts& counts, Clock::time_point now) {
  active_ = true;
  since_ = now;
  log("SELF-PRESERVATION STARTED: " + at_risk_text(counts) + " would lose their lease within " +
      seconds(settings_.window) + ", more than the threshold of " +
      percent(settings_.threshold) +
      "; assuming a network partition on this side, leases stop expiring until heartbeats "
      "return or for at most " +
      seconds(settings_.max));
}

void Preservation::end(const LeaseCounts& counts, Clock::time_point now, bool timed_out) {
  active_ = false;
  blocked_ = timed_out;
  std::string line = "SELF-PRESERVATION ENDED after " + seconds(now - since_) + ": ";
  if (timed_out) {
    line += "health.preservation_max reached with " + at_risk_text(counts) +
            " still at risk; it will not start again before that falls to " +
            percent(settings_.threshold) + " or below";
  } else if (counts.live < settings_.min_instances) {
    line += "only " + std::to_string(counts.live) + " live instances left";
  } else {
    line += "heartbeats returned, " + at_risk_text(counts) + " at risk";
  }
  const std::string overdue = std::to_string(counts.overdue) + " overdue lease" +
                              (counts.overdue == 1 ? "" : "s");
  if (timed_out) {
    line += "; expiring " + overdue;
  } else {
    line += "; " + overdue + " expire unless renewed within " + seconds(settings_.window);
  }
  log(line);
}

void Preservation::log(const std::string& line) const {
  if (log_) log_(line);
}

}  // namespace signpost::health
