// The agent's timing: first registration, heartbeat interval, exchange limits.
#include "health/agent/schedule.hpp"

#include <algorithm>

namespace signpost::health::agent {

using std::chrono::milliseconds;

milliseconds first_delay(std::uint32_t lease_seconds, milliseconds cap, Random& random) {
  const std::int64_t bound = std::min<std::int64_t>(cap.count(), lease_seconds * 100LL);
  if (bound <= 0) return milliseconds(0);
  std::uniform_int_distribution<std::int64_t> pick(0, bound);
  return milliseconds(pick(random));
}

milliseconds heartbeat_delay(std::uint32_t lease_seconds, Random& random) {
  const std::int64_t third = lease_seconds * 1000LL / 3;
  std::uniform_int_distribution<std::int64_t> jitter(0, third / 5);
  return milliseconds(std::max<std::int64_t>(100, third - jitter(random)));
}

ExchangeLimits exchange_limits(std::uint32_t lease_seconds) {
  const std::int64_t attempt = std::clamp<std::int64_t>(lease_seconds * 1000LL / 9, 200, 1000);
  return ExchangeLimits{milliseconds(attempt), 3};
}

}  // namespace signpost::health::agent
