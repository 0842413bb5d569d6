// Lease scenarios on a fake clock: register, renew, expire, come back, deregister-after,
// explicit deregistration, flap damping.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "lease_replay.hpp"

namespace signpost::health::scenario {
namespace {

using namespace std::chrono_literals;
using registry::Health;
using Lines = std::vector<std::string>;

TEST(LeaseScenario, RegisterRenewExpire) {
  LeaseReplay replay({});
  replay.heartbeats("web/a", 0s, 30s, 3s, 10s);  // 0, 3, ..., 27: runs out at 37
  replay.renew(100ms, "web/b", 10s);              // runs out at 10.1: out at the next tick
  replay.probe(36900ms, [](LeaseTracker& tracker) {
    const LeaseState state = *tracker.state({"web", "a"}, LeaseReplay::time(36900ms));
    EXPECT_EQ(state.remaining, 100ms);
    EXPECT_EQ(state.effective, Health::passing);
  });
  replay.run_until(60s);
  EXPECT_EQ(replay.changes(), (Lines{"0.000 web/a passing", "0.100 web/b passing",
                                     "10.250 web/b critical", "37.000 web/a critical"}));
  EXPECT_TRUE(replay.log().empty());
}

TEST(LeaseScenario, ExpiredInstanceComesBackAndChangesHealth) {
  LeaseReplay replay({});
  replay.heartbeats("web/a", 0s, 20s, 3s, 10s);  // last at 18: runs out at 28
  replay.heartbeats("web/a", 40s, 50s, 3s, 10s);
  replay.renew(51s, "web/a", 10s, Health::warning);
  replay.heartbeats("web/a", 54s, 60s, 3s, 10s);
  replay.run_until(61s);
  EXPECT_EQ(replay.changes(), (Lines{"0.000 web/a passing", "28.000 web/a critical",
                                     "40.000 web/a passing", "51.000 web/a warning",
                                     "54.000 web/a passing"}));
}

TEST(LeaseScenario, DeregisterAfter) {
  LeaseReplay replay({.deregister_after = 60s});
  replay.heartbeats("web/a", 0s, 20s, 5s, 10s);  // last at 15: runs out at 25
  // Reports critical while renewing: forgotten after 60 s, back with the next heartbeat.
  replay.heartbeats("web/b", 0s, 70s, 5s, 10s, Health::critical);
  replay.probe(84s, [](LeaseTracker& tracker) {
    EXPECT_TRUE(tracker.contains({"web", "a"}));
    EXPECT_TRUE(tracker.state({"web", "a"}, LeaseReplay::time(84s))->expired);
  });
  replay.run_until(200s);
  EXPECT_EQ(replay.changes(),
            (Lines{"0.000 web/a passing", "0.000 web/b critical", "25.000 web/a critical",
                   "60.000 web/b forget", "65.000 web/b critical", "85.000 web/a forget",
                   "125.000 web/b forget"}));
  EXPECT_EQ(replay.tracker().size(), 0u);
}

TEST(LeaseScenario, ExplicitDeregistration) {
  LeaseReplay replay({});
  replay.heartbeats("web/a", 0s, 20s, 5s, 10s);
  replay.heartbeats("web/b", 0s, 20s, 5s, 10s);
  replay.remove(17s, "web/a");
  replay.probe(17s, [](LeaseTracker& tracker) {
    EXPECT_FALSE(tracker.contains({"web", "a"}));
    EXPECT_EQ(tracker.totals().live, 1u);
  });
  replay.run_until(1000s);
  EXPECT_EQ(replay.changes(), (Lines{"0.000 web/a passing", "0.000 web/b passing",
                                     "25.000 web/b critical", "625.000 web/b forget"}));
}

// The flap penalty after flaps at `times` (seconds), as of the last one (RFC 2439 decay).
double penalty_after(const std::vector<double>& times) {
  double penalty = 0;
  double last = times.front();
  for (double at : times) {
    penalty = penalty * std::exp2(-(at - last) / 60.0) + 1000;
    last = at;
  }
  return penalty;
}

TEST(LeaseScenario, FlapDampingHoldsAFlappingInstanceOutUntilStable) {
  LeaseReplay replay({});
  // web/a alternates every 5 s between passing and critical for a minute, then stays
  // passing. web/b fails once every two minutes: never damped.
  for (int second = 0; second < 400; second += 5) {
    const bool critical = second < 60 && (second / 5) % 2 == 1;
    replay.renew(std::chrono::seconds(second), "web/a", 30s,
                 critical ? Health::critical : Health::passing);
    const bool b_critical = second % 120 == 60;
    replay.renew(std::chrono::seconds(second), "web/b", 30s,
                 b_critical ? Health::critical : Health::passing);
  }
  replay.probe(100s, [](LeaseTracker& tracker) {
    const LeaseState state = *tracker.state({"web", "a"}, LeaseReplay::time(100s));
    EXPECT_TRUE(state.suppressed);
    EXPECT_EQ(state.reported, Health::passing);
    EXPECT_EQ(state.effective, Health::critical);
  });
  replay.run_until(400s);

  // Flaps at 5, 15, 25, 35 (suppressed: above 3000), 45, 55 (suppression extended).
  const double penalty = penalty_after({5, 15, 25, 35, 45, 55});
  const double reuse = 55 + 60 * std::log2(penalty / 750);
  const auto reuse_tick = std::chrono::milliseconds(static_cast<long>(std::ceil(reuse * 4)) * 250);
  ASSERT_GT(penalty_after({5, 15, 25, 35}), 3000);
  ASSERT_LT(penalty_after({5, 15, 25}), 3000);
  const Lines a_changes = {"0.000 web/a passing",   "5.000 web/a critical",
                           "10.000 web/a passing",  "15.000 web/a critical",
                           "20.000 web/a passing",  "25.000 web/a critical",
                           "30.000 web/a passing",  "35.000 web/a critical",
                           stamp(reuse_tick) + " web/a passing"};
  Lines seen_a;
  for (const std::string& line : replay.changes()) {
    if (line.find(" web/a ") != std::string::npos) seen_a.push_back(line);
  }
  EXPECT_EQ(seen_a, a_changes);
  // web/b: every failure and recovery published (3 failures in 400 s).
  EXPECT_EQ(replay.changes().size() - seen_a.size(), 1u + 2 * 3);
  ASSERT_EQ(replay.log().size(), 2u);
  EXPECT_EQ(replay.log()[0].rfind("35.000 instance a of web is flapping", 0), 0u)
      << replay.log()[0];
  EXPECT_EQ(replay.log()[1].rfind(stamp(reuse_tick) + " instance a of web is stable again", 0),
            0u)
      << replay.log()[1];
}

}  // namespace
}  // namespace signpost::health::scenario
