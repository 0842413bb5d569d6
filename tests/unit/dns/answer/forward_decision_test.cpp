// Where the answer path leaves a query to the forwarder: only with forwarding on, RD set, a
// name outside every served zone and a client in forward.allow; and RA on every response
// once forwarding is on, but for the REFUSED that a client outside forward.allow gets.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <utility>
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
  // Forwarding for the loopback prefixes, forward.allow's default.
  static AnswerOptions forwarding(std::vector<ClientPrefix> allow = {prefix("127.0.0.0/8"),
                                                                    prefix("::1/128")}) {
    AnswerOptions options;
    options.forward = true;
    options.forward_allow = std::move(allow);
    return options;
  }
  static ClientPrefix prefix(std::string_view text) {
    std::string why;
    return parse_client_prefix(text, why).value();
  }
  static ClientAddress client(const char* text) {
    std::uint8_t octets[16];
    if (inet_pton(AF_INET, text, octets) == 1) return ipv4_client(octets);
    ClientAddress address{};
    EXPECT_EQ(inet_pton(AF_INET6, text, address.data()), 1) << text;
    return address;
  }
  // The response's header flags (octets 2 and 3) to a query for a name of nobody's zone, from
  // `from`; 0 when it was left to the forwarder.
  std::uint16_t other_name_from(AnswerContext& context, const char* from) {
    context.client = client(from);
    const std::size_t n = ask(context, make_query("www.example.org.", rrtype::kA));
    if (n == 0) {
      EXPECT_TRUE(context.forward_query) << from;
      return 0;
    }
    EXPECT_FALSE(context.forward_query) << from;
    return static_cast<std::uint16_t>(out_[2] << 8 | out_[3]);
  }

  registry::Snapshot snapshot_{{testing::example_zone()}, 1};
  std::vector<std::uint8_t> out_ = std::vector<std::uint8_t>(65535);
  AnswerContext on_{forwarding(), 0, 42};
  AnswerContext off_{AnswerOptions{}, 0, 42};
  void SetUp() override { on_.client = client("127.0.0.1"); }
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
  EXPECT_EQ(on_.counters.forward_refused, 0u);  // not a client refused by forward.allow
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

TEST_F(ForwardDecisionTest, ClientsInAllowAreForwardedOfBothFamilies) {
  EXPECT_EQ(other_name_from(on_, "127.0.0.1"), 0u);
  EXPECT_EQ(other_name_from(on_, "127.255.255.254"), 0u);
  EXPECT_EQ(other_name_from(on_, "::1"), 0u);
  AnswerContext wide{forwarding({prefix("10.0.0.0/8"), prefix("2001:db8::/32")}), 0, 42};
  EXPECT_EQ(other_name_from(wide, "10.200.0.1"), 0u);
  EXPECT_EQ(other_name_from(wide, "2001:db8:ffff::1"), 0u);
  EXPECT_EQ(wide.counters.queries(), 0u);  // the forwarder counts them
}

TEST_F(ForwardDecisionTest, ClientsOutsideAllowAreRefusedWithRecursionUnavailable) {
  // QR and RD set; RA clear, REFUSED: recursion is not available to them (RFC 1035 §4.1.1).
  constexpr std::uint16_t kRefusedNoRa = 0x8100 | wire::rcode::kRefused;
  for (const char* from : {"128.0.0.1", "192.0.2.1", "::2", "2001:db8::1", "::ffff:7f00:1:0"}) {
    EXPECT_EQ(other_name_from(on_, from), kRefusedNoRa) << from;
  }
  AnswerContext one{forwarding({prefix("127.0.0.2/32")}), 0, 42};
  EXPECT_EQ(other_name_from(one, "127.0.0.1"), kRefusedNoRa);
  EXPECT_EQ(other_name_from(one, "127.0.0.2"), 0u);
  EXPECT_EQ(one.counters.with_rcode(wire::rcode::kRefused), 1u);
  EXPECT_EQ(one.counters.forward_refused, 1u);  // signpost_forward_refused_total
  AnswerContext nobody{forwarding({}), 0, 42};
  EXPECT_EQ(other_name_from(nobody, "127.0.0.1"), kRefusedNoRa);
  EXPECT_EQ(other_name_from(nobody, "::1"), kRefusedNoRa);
  EXPECT_EQ(nobody.counters.forward_refused, 2u);
}

TEST_F(ForwardDecisionTest, ClientsOutsideAllowStillGetOurZonesWithRecursionAvailable) {
  // The check is on the forward branch only: our own answers are the same for everyone.
  on_.client = client("192.0.2.1");
  ASSERT_GT(ask(on_, make_query("www.example.test.", rrtype::kA)), 12u);
  EXPECT_FALSE(on_.forward_query);
  EXPECT_EQ(out_[2], 0x85);  // QR, AA, RD
  EXPECT_EQ(out_[3], 0x80);  // RA, NOERROR
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
