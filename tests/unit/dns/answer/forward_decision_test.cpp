// Where the answer path leaves a query to the forwarder: only with forwarding on, RD set and
// a name outside every served zone; and RA on every response once forwarding is on.
#include <gtest/gtest.h>

#include <vector>

#include "dns/answer/responder.hpp"
#include "dns/wire/types.hpp"
#include "registry/snapshot.hpp"
#include "tests/unit/support/test_zone.hpp"

namespace signpost::dns::answer {
namespace {

namespace rrtype = wire::rrtype;
using testing::make_query;

class ForwardDecisionTest : public ::testing::Test {
 protected:
  std::size_t ask(AnswerContext& context, const std::vector<std::uint8_t>& query) {
    return answer_query(snapshot_, query, out_, Transport::udp, context);
  }
  static AnswerOptions forwarding() {
    AnswerOptions options;
    options.forward = true;
    return options;
  }

  registry::Snapshot snapshot_{{testing::example_zone()}, 1};
  std::vector<std::uint8_t> out_ = std::vector<std::uint8_t>(65535);
  AnswerContext on_{forwarding(), 0, 42};
  AnswerContext off_{AnswerOptions{}, 0, 42};
};

TEST_F(ForwardDecisionTest, OtherNamesWithRecursionDesiredAreLeftToTheForwarder) {
  EXPECT_EQ(ask(on_, make_query("www.example.org.", rrtype::kA)), 0u);
  EXPECT_TRUE(on_.forward_query);
  EXPECT_FALSE(on_.signed_query);
  EXPECT_EQ(on_.counters.queries(), 0u);  // the forwarder counts it
  // The next query, one of ours, clears the flag.
  EXPECT_GT(ask(on_, make_query("www.example.test.", rrtype::kA)), 12u);
  EXPECT_FALSE(on_.forward_query);
}

TEST_F(ForwardDecisionTest, WithoutRecursionDesiredOtherNamesAreRefused) {
  const std::size_t n = ask(on_, make_query("www.example.org.", rrtype::kA, {.flags = 0}));
  ASSERT_GE(n, 12u);
  EXPECT_FALSE(on_.forward_query);
  EXPECT_EQ(out_[3] & 0x0F, wire::rcode::kRefused);
  EXPECT_EQ(out_[3] & 0x80, 0x80);  // RA: recursion is available, just not asked for
}

TEST_F(ForwardDecisionTest, OurZonesAreAnsweredWithRecursionAvailable) {
  ASSERT_GT(ask(on_, make_query("www.example.test.", rrtype::kA)), 12u);
  EXPECT_FALSE(on_.forward_query);
  EXPECT_EQ(out_[2], 0x85);  // QR, AA, RD
  EXPECT_EQ(out_[3], 0x80);  // RA, NOERROR
}

TEST_F(ForwardDecisionTest, ForwardingOffRefusesWithRecursionUnavailable) {
  ASSERT_GE(ask(off_, make_query("www.example.org.", rrtype::kA)), 12u);
  EXPECT_FALSE(off_.forward_query);
  EXPECT_EQ(out_[3], wire::rcode::kRefused);  // RA clear
  ASSERT_GT(ask(off_, make_query("www.example.test.", rrtype::kA)), 12u);
  EXPECT_EQ(out_[3], 0x00);
}

TEST_F(ForwardDecisionTest, WhatTheLadderRejectsIsNotForwarded) {
  // Class CH, a zone transfer, EDNS version 1: answered here as before.
  ASSERT_GE(ask(on_, make_query("www.example.org.", rrtype::kA, {.qclass = 3})), 12u);
  EXPECT_FALSE(on_.forward_query);
  EXPECT_EQ(out_[3] & 0x0F, wire::rcode::kRefused);
  ASSERT_GE(ask(on_, make_query("example.org.", rrtype::kAxfr)), 12u);
  EXPECT_FALSE(on_.forward_query);
  ASSERT_GE(ask(on_, make_query("example.org.", rrtype::kA, {.edns = true, .edns_version = 1})),
            12u);
  EXPECT_FALSE(on_.forward_query);
}

}  // namespace
}  // namespace signpost::dns::answer
