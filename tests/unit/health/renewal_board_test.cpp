// The renewal board: what workers may take without a lock, and what the registry thread sees.
#include "health/renewal_board.hpp"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <thread>
#include <vector>

namespace signpost::health {
namespace {

std::array<std::uint8_t, 32> mac(std::uint32_t n) {
  std::array<std::uint8_t, 32> out{};
  out.fill(0x33);
  out[0] = static_cast<std::uint8_t>(n >> 24 | 1);
  out[1] = static_cast<std::uint8_t>(n >> 16);
  out[2] = static_cast<std::uint8_t>(n >> 8);
  out[3] = static_cast<std::uint8_t>(n);
  return out;
}

const TsigKey kKey = make_tsig_key("k", "hmac-sha256", "c2VjcmV0IGtleSBmb3IgdGhlIGJvYXJkIHRlc3Q=", {});

Renewal renewal_for(std::uint32_t slot) {
  return Renewal{.lease = {slot, 0}, .tsig_key = &kKey, .length = 100, .zone_end = 29,
                 .requested = 30, .granted = 30};
}

constexpr std::uint64_t kHash = 0x1234'5678'9abc'def0;

class RenewalBoardTest : public ::testing::Test {
 protected:
  RenewalBoardTest() {
    board_.remember(kHash, renewal_for(7));
    board_.set_open(7, true);
    board_.publish();
  }
  std::optional<Renewal> renew(std::uint64_t time, std::uint32_t n, std::uint64_t hash = kHash) {
    return board_.renew(hash, 100, &kKey, time, mac(n));
  }
  RenewalBoard board_{1000};
};

TEST_F(RenewalBoardTest, TakesARepeatAndMarksTheSlot) {
  const auto taken = renew(100, 1);
  ASSERT_TRUE(taken.has_value());
  EXPECT_EQ(taken->granted, 30u);
  EXPECT_TRUE(board_.take_renewed(7));
  EXPECT_FALSE(board_.take_renewed(7));  // taken once
  // The guard saw it: the registry thread refuses the same bytes.
  EXPECT_FALSE(board_.guard_accepts(7, 100, mac(1)));
}

TEST_F(RenewalBoardTest, DeclinesReplaysOtherLengthsAndOtherKeys) {
  ASSERT_TRUE(renew(100, 1));
  EXPECT_FALSE(renew(100, 1));  // the same MAC in the same second
  EXPECT_FALSE(renew(99, 2));   // signed earlier
  EXPECT_FALSE(board_.renew(kHash, 101, &kKey, 101, mac(3)));
  EXPECT_FALSE(board_.renew(kHash, 100, nullptr, 101, mac(3)));
  EXPECT_FALSE(renew(101, 3, kHash + 1));  // not remembered
  EXPECT_TRUE(renew(101, 3));
}

TEST_F(RenewalBoardTest, AClosedSlotTakesNothingAndReportsTheRenewalItTookBefore) {
  ASSERT_TRUE(renew(100, 1));
  EXPECT_TRUE(board_.set_open(7, false));  // the renewal just taken, for the caller to apply
  EXPECT_FALSE(renew(101, 2));
  EXPECT_FALSE(board_.take_renewed(7));
  EXPECT_FALSE(board_.set_open(7, true));
  EXPECT_TRUE(renew(102, 3));
}

TEST_F(RenewalBoardTest, AForgottenRenewalStopsAtOnceAndANewOneWaitsForPublish) {
  board_.forget(kHash);
  EXPECT_FALSE(renew(100, 1));  // before any publish: the slot no longer takes it
  constexpr std::uint64_t kOther = 0x0ead'beef'0000'0001;
  board_.remember(kOther, renewal_for(7));
  EXPECT_EQ(board_.find(kOther)->lease.slot, 7u);  // the registry thread sees its draft
  EXPECT_FALSE(renew(100, 1, kOther));             // workers see what was published
  board_.publish();
  EXPECT_TRUE(renew(100, 1, kOther));
}

TEST_F(RenewalBoardTest, ResetEmptiesTheSlot) {
  ASSERT_TRUE(renew(100, 1));
  board_.reset(7);
  EXPECT_FALSE(renew(101, 2));
  EXPECT_TRUE(board_.guard_accepts(7, 100, mac(1)));  // a fresh guard
  EXPECT_FALSE(board_.take_renewed(7));
}

// Workers renew while the registry thread remembers, forgets and publishes: every renewal a
// worker was told it took is one the guard refuses afterwards, and none is taken twice.
TEST(RenewalBoardThreads, WorkersAndTheRegistryThreadAgree) {
  RenewalBoard board(64 * 1024);
  constexpr std::uint32_t kSlots = 5000;
  const auto hash_of = [](std::uint32_t slot) { return (std::uint64_t{slot} << 56) | (slot * 7919u + 1); };
  for (std::uint32_t slot = 0; slot < kSlots; ++slot) {
    board.remember(hash_of(slot), renewal_for(slot));
    board.set_open(slot, true);
  }
  board.publish();
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> taken{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 3; ++w) {
    workers.emplace_back([&, w] {
      for (std::uint32_t round = 0; round < 20; ++round) {
        for (std::uint32_t slot = 0; slot < kSlots; ++slot) {
          // Each worker sends every slot the same MAC per round: at most one of them wins.
          if (board.renew(hash_of(slot), 100, &kKey, 1000 + round, mac(slot))) ++taken;
        }
      }
      (void)w;
    });
  }
  std::thread registry([&] {
    for (int i = 0; !stop.load(); ++i) {
      const std::uint32_t slot = static_cast<std::uint32_t>(i) % kSlots;
      board.forget(hash_of(slot));
      board.remember(hash_of(slot), renewal_for(slot));
      board.publish();
    }
  });
  for (auto& worker : workers) worker.join();
  stop = true;
  registry.join();
  EXPECT_LE(taken.load(), std::uint64_t{20} * kSlots);
  EXPECT_GT(taken.load(), 0u);
  for (std::uint32_t slot = 0; slot < kSlots; ++slot) {
    EXPECT_FALSE(board.guard_accepts(slot, 1000, mac(slot))) << slot;
  }
}

}  // namespace
}  // namespace signpost::health
