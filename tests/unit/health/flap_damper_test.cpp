// Flap damping: decay, accumulation, cap, suppression and reuse on injected times.
#include "health/flap_damper.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>

namespace signpost::health {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const Clock::time_point kT0 = Clock::time_point(1000h);

TEST(FlapDamperTest, PenaltyHalvesEveryHalfLife) {
  const FlapDamper damper({});
  FlapState state;
  EXPECT_FALSE(damper.on_flap(state, kT0));
  EXPECT_DOUBLE_EQ(damper.penalty(state, kT0), 1000);
  EXPECT_NEAR(damper.penalty(state, kT0 + 60s), 500, 1e-9);
  EXPECT_NEAR(damper.penalty(state, kT0 + 120s), 250, 1e-9);
  EXPECT_NEAR(damper.penalty(state, kT0 + 30s), 1000 / std::sqrt(2.0), 1e-9);
}

TEST(FlapDamperTest, SuppressesOnlyAboveTheThreshold) {
  const FlapDamper damper({});
  FlapState state;
  // Three flaps at one instant reach exactly 3000: not above the threshold.
  EXPECT_FALSE(damper.on_flap(state, kT0));
  EXPECT_FALSE(damper.on_flap(state, kT0));
  EXPECT_FALSE(damper.on_flap(state, kT0));
  EXPECT_DOUBLE_EQ(state.penalty, 3000);
  EXPECT_FALSE(state.suppressed);
  EXPECT_TRUE(damper.on_flap(state, kT0));  // 4000
  EXPECT_TRUE(state.suppressed);
  EXPECT_FALSE(damper.on_flap(state, kT0));  // already suppressed: no new start
}

TEST(FlapDamperTest, DecayBetweenFlapsKeepsRareFailuresUnsuppressed) {
  const FlapDamper damper({});
  FlapState state;
  // One failure a minute settles at 1000 / (1 - 1/2) = 2000, below 3000, for ever.
  for (int minute = 0; minute < 100; ++minute) {
    EXPECT_FALSE(damper.on_flap(state, kT0 + std::chrono::minutes(minute)));
  }
  EXPECT_FALSE(state.suppressed);
  EXPECT_NEAR(state.penalty, 2000, 1);
}

TEST(FlapDamperTest, PenaltyIsCapped) {
  const FlapDamper damper({});
  FlapState state;
  for (int i = 0; i < 50; ++i) damper.on_flap(state, kT0);
  EXPECT_DOUBLE_EQ(state.penalty, 12000);
  // Capped at 16 times the reuse threshold: four half-lives of suppression at most.
  EXPECT_EQ(state.reuse_at, kT0 + 240s);
}

TEST(FlapDamperTest, ReuseWhenThePenaltyHasDecayedToTheReuseThreshold) {
  const FlapDamper damper({});
  FlapState state;
  for (int i = 0; i < 4; ++i) damper.on_flap(state, kT0);  // 4000
  const double expected = 60 * std::log2(4000.0 / 750.0);   // ~144.9 s
  const auto reuse = kT0 + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(expected));
  EXPECT_LE(state.reuse_at - reuse, 1us);
  EXPECT_GE(state.reuse_at, reuse);
  EXPECT_FALSE(damper.try_reuse(state, state.reuse_at - 1ms));
  EXPECT_TRUE(state.suppressed);
  EXPECT_LE(damper.penalty(state, state.reuse_at), 750.0 + 1e-6);
  EXPECT_TRUE(damper.try_reuse(state, state.reuse_at));
  EXPECT_FALSE(state.suppressed);
  EXPECT_FALSE(damper.try_reuse(state, state.reuse_at + 1s));
}

TEST(FlapDamperTest, FlapWhileSuppressedExtendsTheSuppression) {
  const FlapDamper damper({});
  FlapState state;
  for (int i = 0; i < 4; ++i) damper.on_flap(state, kT0);
  const auto first_reuse = state.reuse_at;
  damper.on_flap(state, kT0 + 60s);  // 2000 + 1000
  EXPECT_GT(state.reuse_at, first_reuse);
  EXPECT_EQ(state.reuse_at - (kT0 + 60s),
            std::chrono::ceil<Clock::duration>(
                std::chrono::duration<double>(60 * std::log2(3000.0 / 750.0))));
}

TEST(FlapDamperTest, ZeroPenaltyTurnsDampingOff) {
  const FlapDamper damper({.penalty = 0});
  FlapState state;
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(damper.on_flap(state, kT0));
  EXPECT_FALSE(state.suppressed);
}

TEST(FlapDamperTest, RejectsInconsistentSettings) {
  EXPECT_THROW(FlapDamper({.suppress = 3000, .reuse = 3000}), std::invalid_argument);
  EXPECT_THROW(FlapDamper({.reuse = 0}), std::invalid_argument);
  EXPECT_THROW(FlapDamper({.suppress = 20000}), std::invalid_argument);
  EXPECT_THROW(FlapDamper({.half_life = 0s}), std::invalid_argument);
  EXPECT_THROW(FlapDamper({.penalty = -1}), std::invalid_argument);
}

}  // namespace
}  // namespace signpost::health
