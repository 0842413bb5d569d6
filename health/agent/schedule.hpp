// When the agent talks to a server: the first registration, heartbeats, retries of a server
// that is down. Pure functions of a lease and a random source, so tests fix the seed.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

#include "health/agent/server_link.hpp"

namespace signpost::health::agent {

/// The random source of the agent's jitter and message ids.
using Random = std::mt19937;

/// Delay of the first registration: uniform in [0, min(cap, lease / 10)], so that agents
/// started together do not arrive together, and the instance appears within a second.
std::chrono::milliseconds first_delay(std::uint32_t lease_seconds, std::chrono::milliseconds cap,
                                      Random& random);

/// Delay until the next heartbeat: a third of the lease (so that two heartbeats may be lost
/// before it runs out), less up to 20 % jitter; at least 100 ms.
std::chrono::milliseconds heartbeat_delay(std::uint32_t lease_seconds, Random& random);

/// How long one UPDATE may take: three UDP attempts filling a third of the lease, each at
/// least 200 ms and at most 1 s.
ExchangeLimits exchange_limits(std::uint32_t lease_seconds);

/// Exponential backoff for a server that does not answer: initial, doubled on every next()
/// up to `max`. Not thread-safe; no allocation.
class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max) noexcept
      : initial_(initial), max_(max), next_(initial) {}

  /// The delay before the next attempt; the one after will be twice as long (up to max).
  std::chrono::milliseconds next() noexcept {
    const std::chrono::milliseconds out = next_;
    next_ = std::min(max_, next_ * 2);
    return out;
  }
  /// Back to the initial delay (the server answered).
  void reset() noexcept { next_ = initial_; }

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds max_;
  std::chrono::milliseconds next_;
};

}  // namespace signpost::health::agent
