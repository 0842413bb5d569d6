// A replay of timed heartbeats and removals against the lease tracker on a fake clock,
// ticking every 250 ms as the heartbeat thread does, recording every change and log line.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "health/lease_tracker.hpp"

namespace signpost::health::scenario {

/// A time in a replay: milliseconds since its start.
using Millis = std::chrono::milliseconds;

/// "12.250" for 12250 ms: how replays print times.
inline std::string stamp(Millis at) {
  char text[32];
  std::snprintf(text, sizeof text, "%lld.%03lld", static_cast<long long>(at.count() / 1000),
                static_cast<long long>(at.count() % 1000));
  return text;
}

/// "web/a" -> {web, a}.
inline InstanceKey parse_key(const std::string& name) {
  const auto slash = name.find('/');
  return {name.substr(0, slash), name.substr(slash + 1)};
}

/// Feeds queued events to a LeaseTracker in time order, with a tick every `tick` (the first
/// at 0; an event and a tick at the same time: the event first), and records what comes out
/// as "<time> <service>/<id> <health|forget>" and "<time> <log line>".
class LeaseReplay {
 public:
  explicit LeaseReplay(LeaseSettings settings, Millis tick = Millis(250))
      : tick_(tick),
        tracker_(settings,
                 [this](const std::string& line) { log_.push_back(stamp(now_) + " " + line); }) {}
  LeaseReplay(const LeaseReplay&) = delete;
  LeaseReplay& operator=(const LeaseReplay&) = delete;

  /// A heartbeat of `name` at `at`.
  void renew(Millis at, const std::string& name, std::chrono::seconds lease,
             registry::Health health = registry::Health::passing) {
    const InstanceKey key = parse_key(name);
    queue(at, [this, key, lease, health] { tracker_.renew(key, lease, health, time(now_)); });
  }

  /// Heartbeats of `name` every `every` from `from` while before `until`.
  void heartbeats(const std::string& name, Millis from, Millis until, Millis every,
                  std::chrono::seconds lease,
                  registry::Health health = registry::Health::passing) {
    for (Millis at = from; at < until; at += every) renew(at, name, lease, health);
  }

  /// An explicit deregistration of `name` at `at`.
  void remove(Millis at, const std::string& name) {
    const InstanceKey key = parse_key(name);
    queue(at, [this, key] { tracker_.remove(key); });
  }

  /// Runs `check` at `at` (after the events of that time queued before it, before the tick).
  void probe(Millis at, std::function<void(LeaseTracker&)> check) {
    queue(at, [this, check = std::move(check)] { check(tracker_); });
  }

  /// Replays everything up to and including `until`.
  void run_until(Millis until) {
    for (;;) {
      const Millis next_tick = last_tick_ + tick_;
      if (!events_.empty() && events_.begin()->first <= std::min(next_tick, until)) {
        const auto event = events_.begin();
        now_ = event->first;
        event->second();
        events_.erase(event);
      } else if (next_tick <= until) {
        now_ = last_tick_ = next_tick;
        tracker_.tick(time(now_));
      } else {
        return;
      }
      for (const Change& change : tracker_.take_changes()) {
        const std::string head = stamp(now_) + " " + change.key.service + "/" + change.key.id + " ";
        if (change.kind == Change::Kind::ttl) {
          ttl_changes_.push_back(head + "ttl " + std::to_string(change.ttl));
        } else {
          changes_.push_back(head + (change.kind == Change::Kind::forget
                                         ? std::string("forget")
                                         : std::string(registry::to_string(change.health))));
        }
      }
    }
  }

  /// Every health and forget change so far, in order.
  const std::vector<std::string>& changes() const { return changes_; }
  /// Every TTL cap change so far, in order ("6.000 web/a ttl 2").
  const std::vector<std::string>& ttl_changes() const { return ttl_changes_; }
  /// Every log line so far, in order.
  const std::vector<std::string>& log() const { return log_; }
  /// The changes whose text ends with `suffix` (" critical", " forget", ...).
  std::vector<std::string> changes_ending(const std::string& suffix) const {
    std::vector<std::string> out;
    for (const std::string& line : changes_) {
      if (line.size() >= suffix.size() &&
          line.compare(line.size() - suffix.size(), suffix.size(), suffix) == 0) {
        out.push_back(line);
      }
    }
    return out;
  }

  LeaseTracker& tracker() { return tracker_; }
  /// The tracker's time for a replay time.
  static Clock::time_point time(Millis at) {
    return Clock::time_point(std::chrono::hours(1000)) + at;
  }

 private:
  void queue(Millis at, std::function<void()> apply) { events_.emplace(at, std::move(apply)); }

  Millis tick_;
  Millis last_tick_ = -tick_;
  Millis now_{0};
  std::multimap<Millis, std::function<void()>> events_;  // equal times keep queue order
  std::vector<std::string> changes_;
  std::vector<std::string> ttl_changes_;
  std::vector<std::string> log_;
  LeaseTracker tracker_;
};

}  // namespace signpost::health::scenario
