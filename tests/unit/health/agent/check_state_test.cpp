// A check's status from its results: thresholds in a row, warning at once, worst wins.
#include "health/agent/check_state.hpp"

#include <gtest/gtest.h>

namespace signpost::health::agent {
namespace {

using registry::Health;

TEST(CheckState, StartsCriticalAndPassesAfterEnoughSuccesses) {
  CheckState state(3, 1);
  EXPECT_EQ(state.status(), Health::critical);
  EXPECT_FALSE(state.record(Health::passing));
  EXPECT_FALSE(state.record(Health::passing));
  EXPECT_TRUE(state.record(Health::passing));
  EXPECT_EQ(state.status(), Health::passing);
  EXPECT_FALSE(state.record(Health::passing));
}

TEST(CheckState, FailureInBetweenRestartsTheCount) {
  CheckState state(2, 1);
  state.record(Health::passing);
  state.record(Health::critical);
  EXPECT_FALSE(state.record(Health::passing));
  EXPECT_TRUE(state.record(Health::passing));
}

TEST(CheckState, CriticalAfterEnoughFailuresInARow) {
  CheckState state(1, 3, Health::passing);
  EXPECT_FALSE(state.record(Health::critical));
  EXPECT_FALSE(state.record(Health::critical));
  EXPECT_FALSE(state.record(Health::passing));  // the streak is broken
  EXPECT_FALSE(state.record(Health::critical));
  EXPECT_FALSE(state.record(Health::critical));
  EXPECT_TRUE(state.record(Health::critical));
  EXPECT_EQ(state.status(), Health::critical);
}

TEST(CheckState, WarningAppliesAtOnce) {
  CheckState state(3, 3, Health::passing);
  EXPECT_TRUE(state.record(Health::warning));
  EXPECT_EQ(state.status(), Health::warning);
  EXPECT_FALSE(state.record(Health::warning));
  // From warning, passing again needs its successes in a row.
  EXPECT_FALSE(state.record(Health::passing));
  EXPECT_FALSE(state.record(Health::passing));
  EXPECT_TRUE(state.record(Health::passing));
}

TEST(CheckState, ThresholdOfOneFollowsEveryResult) {
  CheckState state(1, 1);
  EXPECT_TRUE(state.record(Health::passing));
  EXPECT_TRUE(state.record(Health::critical));
  EXPECT_TRUE(state.record(Health::warning));
  EXPECT_TRUE(state.record(Health::passing));
}

TEST(CheckState, WorstWins) {
  EXPECT_EQ(worst(Health::passing, Health::warning), Health::warning);
  EXPECT_EQ(worst(Health::critical, Health::warning), Health::critical);
  EXPECT_EQ(worst(Health::passing, Health::passing), Health::passing);
}

}  // namespace
}  // namespace signpost::health::agent
