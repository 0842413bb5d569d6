// The lease tracker, rule by rule, on injected times.
#include "health/lease_tracker.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

namespace signpost::health {
namespace {

using namespace std::chrono_literals;
using registry::Health;

const Clock::time_point kT0 = Clock::time_point(1000h);

Clock::time_point at(double seconds) {
  return kT0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

InstanceKey key(const std::string& id, const std::string& service = "web") {
  return {service, id};
}

// Health and forget changes as "web/a passing", "web/a forget": readable in failure
// messages. TTL cap changes are left out (see ttl_texts).
std::vector<std::string> texts(const std::vector<Change>& changes) {
  std::vector<std::string> out;
  for (const Change& change : changes) {
    if (change.kind == Change::Kind::ttl) continue;
    std::string line = change.key.service + "/" + change.key.id + " ";
    line += change.kind == Change::Kind::forget ? std::string("forget")
                                                : std::string(registry::to_string(change.health));
    out.push_back(line);
  }
  return out;
}

// TTL cap changes as "web/a ttl 2".
std::vector<std::string> ttl_texts(const std::vector<Change>& changes) {
  std::vector<std::string> out;
  for (const Change& change : changes) {
    if (change.kind != Change::Kind::ttl) continue;
    out.push_back(change.key.service + "/" + change.key.id + " ttl " + std::to_string(change.ttl));
  }
  return out;
}

using Lines = std::vector<std::string>;

class LeaseTrackerTest : public ::testing::Test {
 protected:
  LeaseTracker make(LeaseSettings settings = {}) {
    return LeaseTracker(settings, [this](const std::string& line) { log.push_back(line); });
  }
  std::vector<std::string> log;
};

TEST_F(LeaseTrackerTest, GrantsTheRequestedLeaseClampedToTheLimits) {
  LeaseTracker tracker = make({.min_lease = 2s, .max_lease = 3600s});
  EXPECT_EQ(tracker.renew(key("a"), 30s, Health::passing, at(0)), 30s);
  EXPECT_EQ(tracker.renew(key("a"), 1s, Health::passing, at(1)), 2s);
  EXPECT_EQ(tracker.renew(key("a"), 0s, Health::passing, at(2)), 2s);
  EXPECT_EQ(tracker.renew(key("a"), 7200s, Health::passing, at(3)), 3600s);
  EXPECT_EQ(tracker.state(key("a"), at(3))->remaining, 3600s);
}

TEST_F(LeaseTrackerTest, NewInstancePublishesItsHealthOnce) {
  LeaseTracker tracker = make();
  tracker.renew(key("a"), 30s, Health::passing, at(0));
  tracker.renew(key("b"), 30s, Health::warning, at(0));
  tracker.renew(key("c", "db"), 30s, Health::critical, at(0));
  EXPECT_EQ(texts(tracker.take_changes()),
            (Lines{"web/a passing", "web/b warning", "db/c critical"}));
  tracker.renew(key("a"), 30s, Health::passing, at(10));
  tracker.renew(key("b"), 30s, Health::warning, at(10));
  EXPECT_FALSE(tracker.has_changes());
  EXPECT_TRUE(tracker.take_changes().empty());
  EXPECT_EQ(tracker.effective_health(key("b")), Health::warning);
  EXPECT_EQ(tracker.effective_health(key("unknown")), Health::critical);
}

TEST_F(LeaseTrackerTest, ReportedHealthChangesArePublished) {
  LeaseTracker tracker = make();
  tracker.renew(key("a"), 30s, Health::passing, at(0));
  tracker.renew(key("a"), 30s, Health::warning, at(1));
  tracker.renew(key("a"), 30s, Health::passing, at(2));
  tracker.renew(key("a"), 30s, Health::critical, at(3));
  tracker.renew(key("a"), 30s, Health::passing, at(4));
  EXPECT_EQ(texts(tracker.take_changes()),
            (Lines{"web/a passing", "web/a warning", "web/a passing", "web/a critical",
                   "web/a passing"}));
}

TEST_F(LeaseTrackerTest, LeaseExpiresOnTheFirstTickAtOrAfterItsEnd) {
  LeaseTracker tracker = make();
  tracker.renew(key("a"), 10s, Health::passing, at(0));
  tracker.take_changes();
  tracker.tick(at(9.999));
  EXPECT_TRUE(texts(tracker.take_changes()).empty());  // TTL caps aside
  EXPECT_FALSE(tracker.state(key("a"), at(9.999))->expired);
  tracker.tick(at(10));
  EXPECT_EQ(texts(tracker.take_changes()), (Lines{"web/a critical"}));
  const LeaseState state = *tracker.state(key("a"), at(10));
  EXPECT_TRUE(state.expired);
  EXPECT_EQ(state.remaining, Clock::duration::zero());
  EXPECT_EQ(state.reported, Health::passing);
  EXPECT_EQ(state.effective, Health::critical);
  EXPECT_EQ(tracker.totals().live, 0u);
  tracker.tick(at(11));
  EXPECT_FALSE(tracker.has_changes());  // published once
}

TEST_F(LeaseTrackerTest, LateTickStillExpires) {
  LeaseTracker tracker = make();
  tracker.renew(key("a"), 10s, Health::passing, at(0));
  tracker.take_changes();
  tracker.tick(at(25));
  EXPECT_EQ(texts(tracker.take_changes()), (Lines{"web/a critical"}));
}

TEST_F(LeaseTrackerTest, RenewalsKeepTheLeaseAlive) {
  LeaseTracker tracker = make();
  for (int second = 0; second <= 60; second += 5) {
    tracker.renew(key("a"), 15s, Health::passing, at(second));
    tracker.tick(at(second + 4.75));
  }
  EXPECT_EQ(texts(tracker.take_changes()), (Lines{"web/a passing"}));
  tracker.tick(at(74.999));
  EXPECT_TRUE(texts(tracker.take_changes()).empty());  // TTL caps aside
  tracker.tick(at(75));
  EXPECT_EQ(texts(tracker.take_changes()), (Lines{"web/a critical"}));
}

TEST_F(LeaseTrackerTest, RenewalBringsAnExpiredInstanceBack) {
  LeaseTracker tracker = make();
  tracker.renew(key("a"), 10s, Health::warning, at(0));
  tracker.tick(at(10));
  tracker.renew(key("a"), 10s, Health::warning, at(12));
  EXPECT_EQ(texts(tracker.take_changes()),
            (Lines{"web/a warning", "web/a critical", "web/a warning"}));
  EXPECT_FALSE(tracker.state(key("a"), at(12))->expired);
  EXPECT_EQ(tracker.totals().live, 1u);
}

TEST_F(LeaseTrackerTest, ShorterLeaseOnRenewalExpiresEarlier) {
  LeaseTracker tracker = make();
  tracker.renew(key("a"), 60s, Health::passing, at(0));
  tracker.renew(key("a"), 5s, Health::passing, at(1));
  tracker.take_changes();
  tracker.tick(at(5.9));
  EXPECT_FALSE(tracker.has_changes());
  tracker.tick(at(6));
  EXPECT_EQ(texts(tracker.take_changes()), (Lines{"web/a critical"}));
}

TEST_F(LeaseTrackerTest, ChangesComeOutInExpiryOrder) {
  LeaseTracker tracker = make();
  tracker.renew(key("a"), 30s, Health::passing, at(0));
  tracker.renew(key("b"), 10s, Health::passing, at(0));
  tracker.renew(key("c"), 20s, Health::passing, at(0));
  tracker.renew(key("d"), 10s, Health::passing, at(0));
  tracker.take_changes();
  tracker.tick(at(60));
  EXPECT_EQ(texts(tracker.take_changes()),
            (Lines{"web/b critical", "web/d critical", "web/c critical", "web/a critical"}));
}

TEST_F(LeaseTrackerTest, RemoveQueuesNothingAndForgetsEverything) {
  LeaseTracker tracker = make();
  tracker.renew(key("a"), 10s, Health::passing, at(0));
  tracker.renew(key("b"), 10s, Health::passing, at(0));
  tracker.take_changes();
  tracker.remove(key("a"));
  tracker.remove(key("never-registered"));
  EXPECT_FALSE(tracker.has_changes());
  EXPECT_FALSE(tracker.contains(key("a")));
  EXPECT_FALSE(tracker.state(key("a"), at(1)));
  tracker.tick(at(1000));
  EXPECT_EQ(texts(tracker.take_changes()), (Lines{"web/b critical", "web/b forget"}));
  EXPECT_EQ(tracker.size(), 0u);
  const LeaseTotals totals = tracker.totals();
  EXPECT_EQ(totals.live, 0u);
  EXPECT_EQ(totals.at_risk, 0u);
  // Registering again starts afresh.
  tracker.renew(key("a"), 10s, Health::passing, at(1001));
  EXPECT_EQ(texts(tracker.take_changes()), (Lines{"web/a passing"}));
}

TEST_F(LeaseTrackerTest, HandlesRenewUntilTheInstanceGoesEvenIfItsSlotIsReused) {
  LeaseTracker tracker = make();
  EXPECT_FALSE(tracker.handle(key("a")));
  tracker.renew(key("a"), 10s, Health::passing, at(0));
  const auto a = tracker.handle(key("a"));
  ASSERT_TRUE(a);
  tracker.take_changes();
  // Through the handle, as by key: the lease moves and reported health is published.
  EXPECT_EQ(tracker.renew(*a, 20s, Health::critical, at(5)), std::optional(20s));
  EXPECT_EQ(texts(tracker.take_changes()), (Lines{"web/a critical"}));
  EXPECT_EQ(tracker.state(key("a"), at(5))->remaining, Clock::duration(20s));
  tracker.remove(key("a"));
  EXPECT_FALSE(tracker.renew(*a, 10s, Health::passing, at(6)));
  // "b" takes the freed slot; a's handle must not renew it.
  tracker.renew(key("b"), 10s, Health::passing, at(6));
  EXPECT_EQ(tracker.handle(key("b"))->slot, a->slot);
  EXPECT_FALSE(tracker.renew(*a, 30s, Health::critical, at(7)));
  EXPECT_EQ(tracker.state(key("b"), at(7))->reported, Health::passing);
  EXPECT_FALSE(tracker.contains(key("a")));
  // A forgotten instance's handle is stale too.
  const auto b = tracker.handle(key("b"));
  tracker.tick(at(10'000));
  EXPECT_FALSE(tracker.contains(key("b")));
  EXPECT_FALSE(tracker.renew(*b, 10s, Health::passing, at(10'001)));
}

TEST_F(LeaseTrackerTest, ExpiredInstanceIsForgottenAfterDeregisterAfter) {
  LeaseTracker tracker = make({.deregister_after = 60s});
  tracker.renew(key("a"), 10s, Health::passing, at(0));
  tracker.tick(at(10));
  tracker.tick(at(69.9));
  EXPECT_EQ(texts(tracker.take_changes()), (Lines{"web/a passing", "web/a critical"}));
  tracker.tick(at(70));
  EXPECT_EQ(texts(tracker.take_changes()), (Lines{"web/a forget"}));
  EXPECT_FALSE(tracker.contains(key("a")));
}

TEST_F(LeaseTrackerTest, ReportedCriticalIsForgottenAfterDeregisterAfterEvenWhileRenewing) {
  LeaseTracker tracker = make({.deregister_after = 60s});
  tracker.renew(key("a"), 10s, Health::passing, at(0));
  tracker.renew(key("a"), 10s, Health::critical, at(5));
  for (int second = 10; second < 65; second += 5) {
    tracker.tick(at(second - 0.25));
    tracker.renew(key("a"), 10s, Health::critical, at(second));
  }
  tracker.tick(at(64.9));
  EXPECT_EQ(texts(tracker.take_changes()), (Lines{"web/a passing", "web/a critical"}));
  tracker.tick(at(65));
  EXPECT_EQ(texts(tracker.take_changes()), (Lines{"web/a forget"}));
}

TEST_F(LeaseTrackerTest, RecoveryRestartsTheDeregisterClock) {
  LeaseTracker tracker = make({.deregister_after = 60s});
  tracker.renew(key("a"), 600s, Health::critical, at(0));
  tracker.renew(key("a"), 600s, Health::passing, at(30));
  tracker.renew(key("a"), 600s, Health::critical, at(40));
  tracker.tick(at(99.9));
  EXPECT_TRUE(tracker.contains(key("a")));
  tracker.tick(at(100));
  EXPECT_FALSE(tracker.contains(key("a")));
  EXPECT_EQ(texts(tracker.take_changes()),
            (Lines{"web/a critical", "web/a passing", "web/a critical", "web/a forget"}));
}

TEST_F(LeaseTrackerTest, FlappingReportsAreSuppressedUntilStable) {
  LeaseTracker tracker = make();
  // Four healthy->critical flaps one second apart: 1000, ~1989, ~2967, ~3934 > 3000.
  for (int flap = 0; flap < 4; ++flap) {
    tracker.renew(key("a"), 600s, Health::passing, at(flap));
    tracker.renew(key("a"), 600s, Health::critical, at(flap + 0.5));
  }
  tracker.take_changes();
  EXPECT_TRUE(tracker.state(key("a"), at(3.5))->suppressed);
  EXPECT_EQ(tracker.totals().suppressed, 1u);
  tracker.renew(key("a"), 600s, Health::passing, at(4));
  EXPECT_FALSE(tracker.has_changes());  // held out: stays critical
  EXPECT_EQ(tracker.effective_health(key("a")), Health::critical);
  const LeaseState state = *tracker.state(key("a"), at(4));
  EXPECT_EQ(state.reported, Health::passing);
  EXPECT_GT(state.penalty, 3000);
  // The penalty at 3.5 s decays to 750 in 60 * log2(penalty / 750) seconds.
  const double penalty = state.penalty * std::exp2(0.5 / 60.0);
  const double reuse = 3.5 + 60 * std::log2(penalty / 750);
  tracker.tick(at(reuse - 0.01));
  EXPECT_FALSE(tracker.has_changes());
  tracker.tick(at(reuse + 0.01));
  EXPECT_EQ(texts(tracker.take_changes()), (Lines{"web/a passing"}));
  EXPECT_FALSE(tracker.state(key("a"), at(reuse + 0.01))->suppressed);
  EXPECT_EQ(tracker.totals().suppressed, 0u);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_NE(log[0].find("instance a of web is flapping"), std::string::npos) << log[0];
  EXPECT_NE(log[1].find("instance a of web is stable again"), std::string::npos) << log[1];
}

TEST_F(LeaseTrackerTest, ExpiryCountsAsAFlap) {
  LeaseTracker tracker = make();
  for (int round = 0; round < 4; ++round) {
    tracker.renew(key("a"), 2s, Health::passing, at(round * 3));
    tracker.tick(at(round * 3 + 2));
  }
  EXPECT_TRUE(tracker.state(key("a"), at(11))->suppressed);
  tracker.take_changes();
  tracker.renew(key("a"), 2s, Health::passing, at(12));
  EXPECT_FALSE(tracker.has_changes());  // back, but still held out
  EXPECT_EQ(tracker.effective_health(key("a")), Health::critical);
}

TEST_F(LeaseTrackerTest, WarningIsNotAFlap) {
  LeaseTracker tracker = make();
  for (int i = 0; i < 20; ++i) {
    tracker.renew(key("a"), 600s, i % 2 == 0 ? Health::passing : Health::warning, at(i));
  }
  EXPECT_EQ(tracker.take_changes().size(), 20u);
  EXPECT_EQ(tracker.state(key("a"), at(20))->penalty, 0);
}

TEST_F(LeaseTrackerTest, MassExpiryIsHeldBySelfPreservation) {
  LeaseTracker tracker = make({.preservation_window = 15s});
  for (int i = 0; i < 20; ++i) {
    tracker.renew(key("i" + std::to_string(i)), 30s, Health::passing, at(0));
  }
  tracker.take_changes();
  tracker.tick(at(14.75));
  EXPECT_FALSE(tracker.preserving());
  tracker.tick(at(15));  // all 20 run out within 15 s and missed a heartbeat
  EXPECT_TRUE(tracker.preserving());
  EXPECT_EQ(tracker.totals().at_risk, 20u);
  tracker.tick(at(60));
  EXPECT_TRUE(texts(tracker.take_changes()).empty());  // TTL caps aside
  EXPECT_EQ(tracker.totals().overdue, 20u);
  EXPECT_TRUE(tracker.state(key("i3"), at(60))->overdue);
  EXPECT_EQ(tracker.effective_health(key("i3")), Health::passing);
  // Heartbeats return: 15 of 20 renew, preservation ends, the other five get 15 s.
  for (int i = 0; i < 15; ++i) {
    tracker.renew(key("i" + std::to_string(i)), 30s, Health::passing, at(61));
  }
  tracker.tick(at(61));
  EXPECT_FALSE(tracker.preserving());
  EXPECT_EQ(tracker.totals().overdue, 0u);
  for (int i = 0; i < 15; ++i) {
    tracker.renew(key("i" + std::to_string(i)), 30s, Health::passing, at(71));
  }
  tracker.tick(at(75.9));
  EXPECT_TRUE(texts(tracker.take_changes()).empty());  // TTL caps aside
  tracker.tick(at(76));
  EXPECT_EQ(texts(tracker.take_changes()),
            (Lines{"web/i15 critical", "web/i16 critical", "web/i17 critical", "web/i18 critical",
                   "web/i19 critical"}));
  ASSERT_EQ(log.size(), 2u);
  EXPECT_NE(log[0].find("SELF-PRESERVATION STARTED: 20 of 20 instances"), std::string::npos)
      << log[0];
  EXPECT_NE(log[1].find("heartbeats returned, 5 of 20 instances (25%) at risk; 5 overdue"),
            std::string::npos)
      << log[1];
}

TEST_F(LeaseTrackerTest, SmallRegistryAlwaysExpires) {
  LeaseTracker tracker = make({.preservation_min_instances = 10});
  for (int i = 0; i < 9; ++i) {
    tracker.renew(key("i" + std::to_string(i)), 30s, Health::passing, at(0));
  }
  tracker.take_changes();
  tracker.tick(at(30));
  EXPECT_FALSE(tracker.preserving());
  EXPECT_EQ(texts(tracker.take_changes()).size(), 9u);
  EXPECT_TRUE(log.empty());
}

TEST_F(LeaseTrackerTest, OnTimeHeartbeatsAreNeverAtRisk) {
  LeaseTracker tracker = make({.preservation_window = 15s});
  // A 3 s lease is shorter than the window; heartbeats every third of it keep it safe.
  for (int i = 0; i < 300; ++i) {
    tracker.renew(key("a"), 3s, Health::passing, at(i));
    tracker.tick(at(i + 0.75));
    EXPECT_EQ(tracker.totals().at_risk, 0u);
  }
  tracker.tick(at(300.5));  // half the lease without a heartbeat: at risk
  EXPECT_EQ(tracker.totals().at_risk, 1u);
}

TEST_F(LeaseTrackerTest, RenewalsDoNotGrowTheEventHeap) {
  LeaseTracker tracker = make();
  for (int i = 0; i < 1000; ++i) {
    tracker.renew(key("a"), 30s, Health::passing, at(i * 0.01));
  }
  EXPECT_EQ(tracker.totals().scheduled, 1u);
  EXPECT_EQ(tracker.next_event(), at(15));  // the first risk time: stale-early, never late
  tracker.tick(at(15));
  EXPECT_EQ(tracker.totals().scheduled, 1u);
  EXPECT_EQ(tracker.next_event(), at(9.99) + 15s);
  EXPECT_EQ(tracker.totals().at_risk, 0u);
}

TEST_F(LeaseTrackerTest, StaleEventsAreDropped) {
  LeaseTracker tracker = make({.preservation_threshold = 0});
  // Each round moves ten deadlines earlier (a stale event each) and churns ten instances.
  for (int round = 0; round < 5000; ++round) {
    for (int i = 0; i < 10; ++i) {
      tracker.renew(key("long" + std::to_string(i)), 3600s, Health::passing, at(round));
      tracker.renew(key("long" + std::to_string(i)), 60s, Health::passing, at(round));
      tracker.renew(key("churn" + std::to_string(i)), 60s, Health::passing, at(round));
      tracker.remove(key("churn" + std::to_string(i)));
    }
  }
  EXPECT_EQ(tracker.size(), 10u);
  EXPECT_LE(tracker.totals().scheduled, 2 * tracker.size() + 1024 + 1);
  tracker.take_changes();
  tracker.tick(at(5000 + 60));
  EXPECT_EQ(texts(tracker.take_changes()).size(), 10u);  // the ten long-lived ones, on time
}

TEST_F(LeaseTrackerTest, HundredThousandInstancesRegisterAndRenewWithoutGrowingTheHeap) {
  LeaseTracker tracker = make();
  constexpr int kInstances = 100000;
  std::vector<InstanceKey> keys;
  keys.reserve(kInstances);
  for (int i = 0; i < kInstances; ++i) {
    keys.push_back(key("instance-" + std::to_string(i), "service-" + std::to_string(i % 500)));
  }
  // Registering all, renewing all once, one tick (its speed is measured by
  // signpost_heartbeat_bench, not asserted here).
  for (int i = 0; i < kInstances; ++i) tracker.renew(keys[i], 30s, Health::passing, at(i * 1e-5));
  for (int i = 0; i < kInstances; ++i) {
    tracker.renew(keys[i], 30s, Health::passing, at(10 + i * 1e-5));
  }
  tracker.tick(at(12));
  EXPECT_EQ(tracker.take_changes().size(), static_cast<std::size_t>(kInstances));
  // Two more rounds: the first risk events come due and re-schedule, nothing changes.
  for (int round = 2; round <= 3; ++round) {
    for (int i = 0; i < kInstances; ++i) {
      tracker.renew(keys[i], 30s, Health::passing, at(round * 10 + i * 1e-5));
    }
    tracker.tick(at(round * 10 + 2));
  }
  EXPECT_FALSE(tracker.has_changes());
  const LeaseTotals totals = tracker.totals();
  EXPECT_EQ(totals.live, static_cast<std::size_t>(kInstances));
  EXPECT_EQ(totals.at_risk, 0u);
  EXPECT_LE(totals.scheduled, static_cast<std::size_t>(kInstances));
}

TEST_F(LeaseTrackerTest, RejectsInconsistentSettings) {
  EXPECT_THROW(make({.min_lease = 0s}), std::invalid_argument);
  EXPECT_THROW(make({.min_lease = 60s, .max_lease = 30s}), std::invalid_argument);
  EXPECT_THROW(make({.flap_suppress = 500}), std::invalid_argument);
  EXPECT_THROW(make({.preservation_threshold = 2}), std::invalid_argument);
}

}  // namespace
}  // namespace signpost::health

namespace signpost::health {
namespace {

// A cache may keep an answer for its TTL: the cap must never exceed what is left of the
// lease, however the lease runs down, and a renewal gives the full cap back.
TEST_F(LeaseTrackerTest, TtlCapStaysBelowTheRemainingLease) {
  LeaseTracker tracker = make();
  tracker.renew(key("a"), 15s, Health::passing, at(0));
  EXPECT_EQ(tracker.ttl_cap(key("a")), 5u);  // a third of the lease
  tracker.take_changes();
  std::vector<std::string> lowered;
  for (auto now = at(0); now < at(15); now += 250ms) {
    tracker.tick(now);
    for (const std::string& line : ttl_texts(tracker.take_changes())) lowered.push_back(line);
    const auto state = tracker.state(key("a"), now);
    ASSERT_TRUE(state);
    if (state->remaining >= 1s) {
      EXPECT_LE(std::chrono::seconds(tracker.ttl_cap(key("a"))), state->remaining)
          << "at " << (now - at(0)).count();
    }
  }
  // A few steps, not one per tick.
  EXPECT_EQ(lowered, (Lines{"web/a ttl 2", "web/a ttl 1"}));
  EXPECT_EQ(tracker.ttl_cap(key("a")), 1u);
}

TEST_F(LeaseTrackerTest, RenewalRestoresTheTtlCap) {
  LeaseTracker tracker = make();
  tracker.renew(key("a"), 15s, Health::passing, at(0));
  tracker.tick(at(12));
  EXPECT_EQ(ttl_texts(tracker.take_changes()), (Lines{"web/a ttl 2", "web/a ttl 1"}));
  tracker.renew(key("a"), 15s, Health::passing, at(13));
  EXPECT_EQ(ttl_texts(tracker.take_changes()), (Lines{"web/a ttl 5"}));
  // Renewals on time never lower it.
  for (int second = 14; second < 60; ++second) {
    tracker.tick(at(second));
    if (second % 5 == 0) tracker.renew(key("a"), 15s, Health::passing, at(second));
  }
  EXPECT_TRUE(ttl_texts(tracker.take_changes()).empty());
  EXPECT_EQ(tracker.ttl_cap(key("a")), 5u);
}

}  // namespace
}  // namespace signpost::health

namespace signpost::health {
namespace {

// A lease kept across a restart runs out when it would have, with its TTL cap below what is
// left of it, and its damping goes on.
TEST_F(LeaseTrackerTest, RestoredLeaseEndsWhenItWouldHave) {
  LeaseTracker tracker = make();
  tracker.restore(key("a"), 15s, Health::passing, at(4), FlapState{}, at(0));
  EXPECT_EQ(texts(tracker.take_changes()), Lines{"web/a passing"});
  EXPECT_LE(tracker.ttl_cap(key("a")), 2u);  // 4 s left, not a third of 15 s
  tracker.tick(at(3.9));
  EXPECT_EQ(texts(tracker.take_changes()), Lines{});
  tracker.tick(at(4));
  EXPECT_EQ(texts(tracker.take_changes()), Lines{"web/a critical"});
}

TEST_F(LeaseTrackerTest, RestoredLeaseThatRanOutWhileDownIsExpiredAtOnce) {
  LeaseTracker tracker = make();
  tracker.restore(key("a"), 15s, Health::passing, at(-1), FlapState{}, at(0));
  EXPECT_EQ(texts(tracker.take_changes()), Lines{"web/a critical"});
  EXPECT_TRUE(tracker.state(key("a"), at(0))->expired);
  // Its agent's next heartbeat brings it back.
  tracker.renew(key("a"), 15s, Health::passing, at(1));
  EXPECT_EQ(texts(tracker.take_changes()), Lines{"web/a passing"});
}

TEST_F(LeaseTrackerTest, RestoredCriticalIsNoNewFlapAndSuppressionGoesOn) {
  LeaseTracker tracker = make();
  tracker.restore(key("a"), 15s, Health::critical, at(15), FlapState{}, at(0));
  EXPECT_EQ(texts(tracker.take_changes()), Lines{"web/a critical"});
  EXPECT_EQ(tracker.state(key("a"), at(0))->penalty, 0.0);

  FlapState held;
  held.penalty = 3500;
  held.updated = at(0);
  held.reuse_at = at(100);
  held.suppressed = true;
  tracker.restore(key("b"), 15s, Health::passing, at(15), held, at(0));
  EXPECT_EQ(texts(tracker.take_changes()), Lines{"web/b critical"});
  EXPECT_EQ(tracker.totals().suppressed, 1u);
  const auto saved = tracker.saved(*tracker.handle(key("b")));
  ASSERT_TRUE(saved.has_value());
  EXPECT_TRUE(saved->flap.suppressed);
  EXPECT_EQ(saved->expires_at, at(15));
}

}  // namespace
}  // namespace signpost::health
