// Self-preservation scenarios on a fake clock: partition-like mass expiry ridden out, the
// end when heartbeats return, the end after preservation_max, ordinary churn and small
// registries expiring normally.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "lease_replay.hpp"

namespace signpost::health::scenario {
namespace {

using namespace std::chrono_literals;
using Lines = std::vector<std::string>;

std::string name(const std::string& service, int index) {
  return service + "/i" + std::to_string(index);
}

// `count` agents of `service` with a 30 s lease heartbeating every 10 s between `from` and
// `until`, instance i with a phase of i * 100 ms (so 100 of them cover one interval).
void fleet(LeaseReplay& replay, const std::string& service, int first, int last, Millis from,
           Millis until) {
  for (int i = first; i < last; ++i) {
    replay.heartbeats(name(service, i), from + i * 100ms, until, 10s, 30s);
  }
}

bool starts_with(const std::string& line, const std::string& prefix) {
  return line.rfind(prefix, 0) == 0;
}

TEST(PreservationScenario, PartitionLikeMassExpiryIsRiddenOut) {
  LeaseReplay replay({});
  fleet(replay, "web", 0, 100, 0s, 100s);   // cut off at 100 s: last heartbeats 90..99.9
  fleet(replay, "web", 0, 100, 200s, 400s);  // back at 200 s
  replay.probe(109800ms, [](LeaseTracker& tracker) {  // after the tick at 109.75 s
    EXPECT_FALSE(tracker.preserving());
    EXPECT_EQ(tracker.totals().at_risk, 48u);  // runs out within 15 s: i*0.1 + 105 <= 109.75
  });
  replay.probe(150s, [](LeaseTracker& tracker) {
    EXPECT_TRUE(tracker.preserving());
    EXPECT_EQ(tracker.totals().overdue, 100u);  // every lease ran out by 129.9 s
    EXPECT_EQ(tracker.totals().live, 100u);
  });
  replay.probe(300s, [](LeaseTracker& tracker) {
    EXPECT_FALSE(tracker.preserving());
    EXPECT_EQ(tracker.totals().at_risk, 0u);
  });
  replay.run_until(400s);
  // 51 of 100 at risk at 110 s, ten seconds before the first lease runs out; at 205 s the
  // 51st returning heartbeat brings it to 49: the rest return within their grace.
  EXPECT_EQ(replay.changes().size(), 100u);  // the registrations, nothing else
  EXPECT_TRUE(replay.changes_ending(" critical").empty());
  ASSERT_EQ(replay.log().size(), 2u);
  EXPECT_TRUE(starts_with(replay.log()[0], "110.000 SELF-PRESERVATION STARTED: 51 of 100 "
                                           "instances (51%) would lose their lease within 15 s"))
      << replay.log()[0];
  EXPECT_TRUE(starts_with(replay.log()[1], "205.000 SELF-PRESERVATION ENDED after 95 s: "
                                           "heartbeats returned, 49 of 100 instances (49%) at "
                                           "risk; 49 overdue leases expire unless renewed"))
      << replay.log()[1];
}

TEST(PreservationScenario, PartialReturnExpiresTheRestAfterTheirGrace) {
  LeaseReplay replay({});
  fleet(replay, "web", 0, 100, 0s, 100s);
  fleet(replay, "web", 0, 70, 200s, 400s);  // 30 agents never come back
  replay.run_until(400s);
  Lines expected;
  for (int i = 70; i < 100; ++i) expected.push_back("220.000 " + name("web", i) + " critical");
  EXPECT_EQ(replay.changes_ending(" critical"), expected);  // end at 205 s + 15 s grace
  ASSERT_EQ(replay.log().size(), 2u);
  EXPECT_TRUE(starts_with(replay.log()[1], "205.000 SELF-PRESERVATION ENDED")) << replay.log()[1];
}

TEST(PreservationScenario, NeverStaysStuck) {
  LeaseReplay replay({.preservation_max = 120s});
  fleet(replay, "web", 0, 100, 0s, 100s);  // never back
  replay.probe(229750ms, [](LeaseTracker& tracker) { EXPECT_TRUE(tracker.preserving()); });
  replay.probe(230s, [](LeaseTracker& tracker) {
    EXPECT_TRUE(tracker.preserving());  // the tick at 230 s ends it
  });
  // Later a new fleet registers and is cut off as well: preservation starts again, because
  // the condition cleared when the first fleet expired.
  fleet(replay, "api", 0, 100, 1000s, 1100s);
  replay.run_until(1200s);

  const Lines critical = replay.changes_ending(" critical");
  ASSERT_EQ(critical.size(), 100u);
  for (const std::string& line : critical) {
    EXPECT_TRUE(starts_with(line, "230.000 web/")) << line;  // all at once, at the end
  }
  const Lines forgotten = replay.changes_ending(" forget");
  ASSERT_EQ(forgotten.size(), 100u);
  EXPECT_TRUE(starts_with(forgotten.front(), "830.000 web/")) << forgotten.front();
  ASSERT_EQ(replay.log().size(), 3u);
  EXPECT_TRUE(starts_with(replay.log()[0], "110.000 SELF-PRESERVATION STARTED")) << replay.log()[0];
  EXPECT_TRUE(starts_with(replay.log()[1],
                          "230.000 SELF-PRESERVATION ENDED after 120 s: health.preservation_max "
                          "reached with 100 of 100 instances (100%) still at risk"))
      << replay.log()[1];
  EXPECT_NE(replay.log()[1].find("expiring 100 overdue leases"), std::string::npos);
  EXPECT_TRUE(starts_with(replay.log()[2], "1110.000 SELF-PRESERVATION STARTED: 51 of 100"))
      << replay.log()[2];
}

TEST(PreservationScenario, SingleInstanceWhoseAgentIsKilledExpires) {
  LeaseReplay replay({});
  replay.heartbeats("web/a", 0s, 60s, 10s, 30s);  // killed after the heartbeat at 50 s
  replay.run_until(100s);
  EXPECT_EQ(replay.changes(), (Lines{"0.000 web/a passing", "80.000 web/a critical"}));
  EXPECT_TRUE(replay.log().empty());
}

TEST(PreservationScenario, SmallRegistryLosingEverythingExpires) {
  LeaseReplay replay({.preservation_min_instances = 10});
  fleet(replay, "web", 0, 9, 0s, 100s);  // 9 instances, all gone at once
  replay.run_until(200s);
  EXPECT_EQ(replay.changes_ending(" critical").size(), 9u);
  EXPECT_TRUE(starts_with(replay.changes_ending(" critical").front(), "120.000 web/i0"));
  EXPECT_TRUE(replay.log().empty());
}

TEST(PreservationScenario, OrdinaryChurnExpiresOnTime) {
  LeaseReplay replay({});
  Lines expected;
  for (int i = 0; i < 100; ++i) {
    const bool killed = i % 5 == 0;  // 20 % of the fleet at once: below the threshold
    replay.heartbeats(name("web", i), i * 100ms, killed ? 100s : 300s, 10s, 30s);
    if (killed) {
      // Last heartbeat at 90 s + phase, out 30 s later at the next tick (phases are 100 ms
      // steps, so at most 250 ms later).
      const Millis out = 90s + i * 100ms + 30s;
      const Millis tick = (out + 249ms) / 250ms * 250ms;
      expected.push_back(stamp(tick) + " " + name("web", i) + " critical");
    }
  }
  replay.run_until(250s);
  EXPECT_EQ(replay.changes_ending(" critical"), expected);
  EXPECT_TRUE(replay.log().empty());
}

TEST(PreservationScenario, ShortLeasesOnTimeNeverPreserveButAPartitionDoes) {
  LeaseReplay replay({});
  // 50 agents with the shortest lease, 2 s, heartbeating every 600 ms: shorter than the
  // 15 s window, yet never at risk while on time.
  for (int i = 0; i < 50; ++i) {
    replay.heartbeats(name("web", i), i * 10ms, 120s, 600ms, 2s);
  }
  for (int second = 1; second < 120; ++second) {
    replay.probe(std::chrono::seconds(second), [](LeaseTracker& tracker) {
      EXPECT_EQ(tracker.totals().at_risk, 0u);
    });
  }
  replay.run_until(119s);
  EXPECT_TRUE(replay.log().empty());
  // All cut off at 120 s: at risk 1 s after their last heartbeat, out after 2 s.
  replay.run_until(130s);
  EXPECT_TRUE(replay.changes_ending(" critical").empty());
  ASSERT_EQ(replay.log().size(), 1u);
  EXPECT_NE(replay.log()[0].find("SELF-PRESERVATION STARTED"), std::string::npos);
}

}  // namespace
}  // namespace signpost::health::scenario
