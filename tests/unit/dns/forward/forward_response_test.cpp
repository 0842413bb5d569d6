// The response to a forwarded query: the client's ID and question case put back, TC when the
// upstream's answer is more than the client takes over UDP, SERVFAIL when there is no answer;
// every response is also parsed by ldns to prove it is well formed.
#include "dns/forward/forward_response.hpp"

#include <gtest/gtest.h>
#include <ldns/ldns.h>

#include <string>
#include <vector>

#include "dns/wire/types.hpp"
#include "tests/unit/support/test_zone.hpp"

namespace signpost::dns::forward {
namespace {

namespace rrtype = wire::rrtype;
using answer::Transport;
using testing::make_query;
using testing::QueryOptions;

// An upstream's answer to `query`, re-asked as `asked_name` under ID `id`: the question as
// given, then `count` A records owned by a pointer to it, with `rcode`.
std::vector<std::uint8_t> upstream_answer(std::string_view asked_name, std::uint16_t id,
                                          std::size_t count, std::uint8_t rcode = 0) {
  std::vector<std::uint8_t> out = make_query(asked_name, rrtype::kA, QueryOptions{.id = id});
  out[2] = 0x81;  // QR, RD
  out[3] = static_cast<std::uint8_t>(0x80 | rcode);  // RA
  out[6] = static_cast<std::uint8_t>(count >> 8);
  out[7] = static_cast<std::uint8_t>(count);
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint8_t record[] = {0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4,
                                   192, 0, 2, static_cast<std::uint8_t>(i)};
    out.insert(out.end(), std::begin(record), std::end(record));
  }
  return out;
}

ldns_pkt* parse(const std::vector<std::uint8_t>& wire) {
  ldns_pkt* packet = nullptr;
  EXPECT_EQ(ldns_wire2pkt(&packet, wire.data(), wire.size()), LDNS_STATUS_OK);
  return packet;
}

class ForwardResponseTest : public ::testing::Test {
 protected:
  std::vector<std::uint8_t> restore(const std::vector<std::uint8_t>& query,
                                    const std::vector<std::uint8_t>& answer,
                                    Transport transport = Transport::udp) {
    const std::size_t n = restore_response(query, answer, transport, 1232, out_);
    return {out_.begin(), out_.begin() + static_cast<std::ptrdiff_t>(n)};
  }
  std::vector<std::uint8_t> out_ = std::vector<std::uint8_t>(65535);
};

TEST_F(ForwardResponseTest, PutsBackTheClientsIdAndQuestionCase) {
  const auto query = make_query("WwW.ExAmPlE.oRg.", rrtype::kA, {.id = 0xBEEF});
  const auto response = restore(query, upstream_answer("www.example.org.", 0x0101, 2));
  ASSERT_EQ(response.size(), query.size() + 32);
  EXPECT_EQ(response[0], 0xBE);
  EXPECT_EQ(response[1], 0xEF);
  EXPECT_EQ(std::string(response.begin() + 13, response.begin() + 16), "WwW");
  EXPECT_EQ(std::string(response.begin() + 17, response.begin() + 24), "ExAmPlE");
  ldns_pkt* packet = parse(response);
  ASSERT_NE(packet, nullptr);
  EXPECT_TRUE(ldns_pkt_qr(packet));
  EXPECT_TRUE(ldns_pkt_ra(packet));
  EXPECT_FALSE(ldns_pkt_tc(packet));
  EXPECT_EQ(ldns_pkt_ancount(packet), 2);
  ldns_pkt_free(packet);
}

TEST_F(ForwardResponseTest, SetsRecursionAvailableAndKeepsTheRcode) {
  const auto query = make_query("nx.example.org.", rrtype::kA);
  auto answer = upstream_answer("NX.example.org.", 7, 0, wire::rcode::kNxDomain);
  answer[3] = wire::rcode::kNxDomain;  // an upstream that left RA clear
  const auto response = restore(query, answer);
  ASSERT_EQ(response.size(), query.size());
  EXPECT_EQ(response[3], 0x80 | wire::rcode::kNxDomain);
  EXPECT_EQ(std::string(response.begin() + 13, response.begin() + 15), "nx");
}

TEST_F(ForwardResponseTest, RefusesAnAnswerToAnotherQuestion) {
  const auto query = make_query("www.example.org.", rrtype::kA);
  EXPECT_TRUE(restore(query, upstream_answer("www.example.net.", 1, 1)).empty());
  EXPECT_TRUE(restore(query, upstream_answer("ww.example.org.", 1, 1)).empty());
  auto other_type = upstream_answer("www.example.org.", 1, 1);
  other_type[12 + 17 + 1] = rrtype::kMx;  // qtype's low octet
  EXPECT_TRUE(restore(query, other_type).empty());
}

TEST_F(ForwardResponseTest, RefusesWhatIsNotAResponse) {
  const auto query = make_query("www.example.org.", rrtype::kA);
  auto not_response = upstream_answer("www.example.org.", 1, 1);
  not_response[2] &= 0x7F;  // QR clear
  EXPECT_TRUE(restore(query, not_response).empty());
  EXPECT_TRUE(restore(query, std::vector<std::uint8_t>{0x12, 0x34, 0x81}).empty());
  auto cut = upstream_answer("www.example.org.", 1, 1);
  cut.resize(20);  // ends inside the question
  EXPECT_TRUE(restore(query, cut).empty());
  // A question name that is a pointer into the header cannot stand for the client's.
  std::vector<std::uint8_t> pointer = {0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0,
                                       0xC0, 0x04, 0, 1, 0, 1};
  EXPECT_TRUE(restore(make_query(".", rrtype::kA), pointer).empty());
}

TEST_F(ForwardResponseTest, TooBigForUdpBecomesTruncated) {
  // 40 A records: 16 octets each, over 512 in all.
  const auto query = make_query("Big.example.org.", rrtype::kA, {.id = 0x4242});
  const auto answer = upstream_answer("big.example.org.", 9, 40);
  ASSERT_GT(answer.size(), 512u);
  const auto response = restore(query, answer);
  ASSERT_EQ(response.size(), query.size());  // header and question only
  EXPECT_EQ(response[0], 0x42);
  EXPECT_EQ(response[1], 0x42);
  ldns_pkt* packet = parse(response);
  ASSERT_NE(packet, nullptr);
  EXPECT_TRUE(ldns_pkt_tc(packet));
  EXPECT_TRUE(ldns_pkt_ra(packet));
  EXPECT_EQ(ldns_pkt_ancount(packet), 0);
  EXPECT_EQ(ldns_pkt_qdcount(packet), 1);
  ldns_pkt_free(packet);
  // Over TCP the whole answer goes back.
  EXPECT_EQ(restore(query, answer, Transport::tcp).size(), answer.size());
}

TEST_F(ForwardResponseTest, UdpLimitIsTheClientsEdnsSizeCappedAtOurs) {
  const auto small = make_query("big.example.org.", rrtype::kA, {.edns = true, .udp_size = 4096});
  EXPECT_EQ(response_limit(small, Transport::udp, 1232), 1232u);
  const auto tiny = make_query("big.example.org.", rrtype::kA, {.edns = true, .udp_size = 100});
  EXPECT_EQ(response_limit(tiny, Transport::udp, 1232), 512u);
  EXPECT_EQ(response_limit(make_query("a.", rrtype::kA), Transport::udp, 1232), 512u);
  EXPECT_EQ(response_limit(small, Transport::tcp, 1232), 65535u);
  // 40 records fit the 1232 octets an EDNS client takes.
  EXPECT_EQ(restore(small, upstream_answer("big.example.org.", 9, 40)).size(),
            upstream_answer("big.example.org.", 9, 40).size());
}

TEST_F(ForwardResponseTest, FailureIsServfailWithTheQuestionEchoed) {
  const auto query = make_query("DoWn.example.org.", rrtype::kAaaa, {.id = 0x0707, .edns = true});
  const std::size_t n = failure_response(query, wire::rcode::kServFail, 1232, out_);
  ASSERT_GT(n, 12u);
  const std::vector<std::uint8_t> response(out_.begin(), out_.begin() + static_cast<long>(n));
  EXPECT_EQ(response[0], 0x07);
  EXPECT_EQ(response[1], 0x07);
  EXPECT_EQ(std::string(response.begin() + 13, response.begin() + 17), "DoWn");
  ldns_pkt* packet = parse(response);
  ASSERT_NE(packet, nullptr);
  EXPECT_EQ(ldns_pkt_get_rcode(packet), LDNS_RCODE_SERVFAIL);
  EXPECT_TRUE(ldns_pkt_ra(packet));
  EXPECT_TRUE(ldns_pkt_rd(packet));
  EXPECT_EQ(ldns_pkt_ancount(packet), 0);
  EXPECT_EQ(ldns_pkt_edns_udp_size(packet), 1232);  // OPT came back
  ldns_pkt_free(packet);
  const std::vector<std::uint8_t> short_message = {0x12};
  EXPECT_EQ(failure_response(short_message, wire::rcode::kServFail, 1232, out_), 0u);
}

}  // namespace
}  // namespace signpost::dns::forward
