// The answer function on raw bytes: header bits, sections, counts, truncation; every
// response is also parsed by ldns to prove it is well formed.
#include "dns/answer/responder.hpp"

#include <gtest/gtest.h>
#include <ldns/ldns.h>

#include <memory>
#include <string>
#include <vector>

#include "dns/wire/types.hpp"
#include "registry/snapshot.hpp"
#include "tests/unit/support/test_zone.hpp"

namespace signpost::dns::answer {
namespace {

namespace rrtype = wire::rrtype;
using testing::make_query;
using testing::with_tsig;
using testing::QueryOptions;

struct PacketDeleter {
  void operator()(ldns_pkt* p) const { ldns_pkt_free(p); }
};
using Packet = std::unique_ptr<ldns_pkt, PacketDeleter>;

class ResponderTest : public ::testing::Test {
 protected:
  ResponderTest() : snapshot_({testing::example_zone()}, 1), out_(65535) {}

  std::vector<std::uint8_t> raw(const std::vector<std::uint8_t>& query,
                                Transport transport = Transport::udp) {
    const std::size_t n = answer_query(snapshot_, query, out_, transport, context_);
    return {out_.begin(), out_.begin() + static_cast<std::ptrdiff_t>(n)};
  }

  Packet ask(std::string_view name, std::uint16_t qtype, const QueryOptions& o = {},
             Transport transport = Transport::udp) {
    const auto response = raw(make_query(name, qtype, o), transport);
    ldns_pkt* pkt = nullptr;
    EXPECT_EQ(ldns_wire2pkt(&pkt, response.data(), response.size()), LDNS_STATUS_OK);
    return Packet(pkt);
  }

  static std::string owner(ldns_rr_list* list, std::size_t i) {
    char* s = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(list, i)));
    std::string text(s);
    free(s);
    return text;
  }

  registry::Snapshot snapshot_;
  std::vector<std::uint8_t> out_;
  AnswerContext context_{AnswerOptions{}, 0, 42};
  AnswerCounters& counters_ = context_.counters;
};

TEST_F(ResponderTest, PositiveAnswerHasHeaderBitsAndQuestionEcho) {
  const auto response = raw(make_query("WwW.ExAmple.test.", rrtype::kA));
  ASSERT_GE(response.size(), 12u);
  EXPECT_EQ(response[0], 0x12);
  EXPECT_EQ(response[1], 0x34);
  // QR, opcode 0, AA, RD copied; RA clear; rcode 0.
  EXPECT_EQ(response[2], 0x85);
  EXPECT_EQ(response[3], 0x00);
  // The question comes back in the client's letter case.
  EXPECT_EQ(std::string(response.begin() + 13, response.begin() + 16), "WwW");
  // The first answer owner is a pointer to the question.
  const std::size_t question_end = 12 + 18 + 4;
  EXPECT_EQ(response[question_end], 0xC0);
  EXPECT_EQ(response[question_end + 1], 0x0C);
  Packet p = ask("www.example.test.", rrtype::kA);
  EXPECT_EQ(ldns_pkt_ancount(p.get()), 2);
  EXPECT_EQ(ldns_pkt_nscount(p.get()), 0);
  EXPECT_FALSE(ldns_pkt_ra(p.get()));
}

TEST_F(ResponderTest, RecursionDesiredIsCopiedOnlyWhenSet) {
  QueryOptions o;
  o.flags = 0;
  Packet p = ask("www.example.test.", rrtype::kA, o);
  EXPECT_FALSE(ldns_pkt_rd(p.get()));
  EXPECT_TRUE(ldns_pkt_aa(p.get()));
}

TEST_F(ResponderTest, NxdomainCarriesSoaWithNegativeTtl) {
  Packet p = ask("nope.example.test.", rrtype::kA);
  EXPECT_EQ(ldns_pkt_get_rcode(p.get()), LDNS_RCODE_NXDOMAIN);
  EXPECT_TRUE(ldns_pkt_aa(p.get()));
  ASSERT_EQ(ldns_pkt_nscount(p.get()), 1);
  ldns_rr* soa = ldns_rr_list_rr(ldns_pkt_authority(p.get()), 0);
  EXPECT_EQ(ldns_rr_get_type(soa), LDNS_RR_TYPE_SOA);
  EXPECT_EQ(ldns_rr_ttl(soa), 300u);  // min(SOA TTL 3600, MINIMUM 300)
  EXPECT_EQ(owner(ldns_pkt_authority(p.get()), 0), "example.test.");
}

TEST_F(ResponderTest, NegativeSoaNamesAreCompressed) {
  // The owner is the apex, a suffix of the question; MNAME and RNAME end in the apex too, so
  // each is its first label and a pointer to "example.test" in the question (offset 17).
  const auto response = raw(make_query("nope.example.test.", rrtype::kA));
  const std::vector<std::uint8_t> soa = {
      0xC0, 17, 0, 6, 0, 1, 0, 0, 0x01, 0x2C, 0, 38,                        // owner, SOA, IN, 300
      2, 'n', 's', 0xC0, 17,                                                 // MNAME
      10, 'h', 'o', 's', 't', 'm', 'a', 's', 't', 'e', 'r', 0xC0, 17,        // RNAME
      0x78, 0xC4, 0x07, 0x21, 0, 0, 0x0E, 0x10, 0, 0, 0x02, 0x58,            // serial, refresh, retry
      0, 0x01, 0x51, 0x80, 0, 0, 0x01, 0x2C};                                // expire, minimum
  const std::size_t question_end = 12 + 19 + 4;
  ASSERT_EQ(response.size(), question_end + soa.size());
  EXPECT_EQ(std::vector<std::uint8_t>(response.begin() + question_end, response.end()), soa);
  Packet p = ask("NOPE.Example.TEST.", rrtype::kA);
  ldns_rr* rr = ldns_rr_list_rr(ldns_pkt_authority(p.get()), 0);
  ASSERT_EQ(ldns_rr_rd_count(rr), 7u);
  for (std::size_t field = 0; field < 2; ++field) {
    char* text = ldns_rdf2str(ldns_rr_rdf(rr, field));
    // Compressed against the question, the names take its letter case: still equal.
    EXPECT_STRCASEEQ(text, field == 0 ? "ns.example.test." : "hostmaster.example.test.");
    free(text);
  }
  EXPECT_EQ(ldns_rdf2native_int32(ldns_rr_rdf(rr, 2)), 2026112801u);
}

TEST_F(ResponderTest, SoaAnswerIsCompressedAndKeepsItsTtl) {
  const auto response = raw(make_query("example.test.", rrtype::kSoa));
  // Header, question (14 + 4), then the owner pointer, 10 fixed octets, MNAME and RNAME as a
  // label and a pointer to the question each, and the 20 octets of numbers.
  EXPECT_EQ(response.size(), 12u + 18 + 2 + 10 + 5 + 13 + 20);
  Packet p = ask("example.test.", rrtype::kSoa);
  ASSERT_EQ(ldns_pkt_ancount(p.get()), 1);
  ldns_rr* soa = ldns_rr_list_rr(ldns_pkt_answer(p.get()), 0);
  EXPECT_EQ(ldns_rr_ttl(soa), 3600u);
  char* text = ldns_rdf2str(ldns_rr_rdf(soa, 1));
  EXPECT_STREQ(text, "hostmaster.example.test.");
  free(text);
}

TEST_F(ResponderTest, NodataAndEmptyNonTerminal) {
  for (const char* name : {"www.example.test.", "b.example.test."}) {
    Packet p = ask(name, rrtype::kMx);
    EXPECT_EQ(ldns_pkt_get_rcode(p.get()), LDNS_RCODE_NOERROR) << name;
    EXPECT_EQ(ldns_pkt_ancount(p.get()), 0) << name;
    EXPECT_EQ(ldns_pkt_nscount(p.get()), 1) << name;
  }
}

TEST_F(ResponderTest, CnameChainIsFollowed) {
  Packet p = ask("chain1.example.test.", rrtype::kA);
  ASSERT_EQ(ldns_pkt_ancount(p.get()), 4);
  ldns_rr_list* answer = ldns_pkt_answer(p.get());
  EXPECT_EQ(owner(answer, 0), "chain1.example.test.");
  EXPECT_EQ(owner(answer, 1), "Alias.example.test.");  // as written in the CNAME
  EXPECT_EQ(owner(answer, 2), "www.example.test.");
  EXPECT_EQ(ldns_rr_get_type(ldns_rr_list_rr(answer, 3)), LDNS_RR_TYPE_A);
}

TEST_F(ResponderTest, CnameOutOfZoneStopsAtTheCname) {
  Packet p = ask("outside.example.test.", rrtype::kA);
  EXPECT_EQ(ldns_pkt_get_rcode(p.get()), LDNS_RCODE_NOERROR);
  EXPECT_EQ(ldns_pkt_ancount(p.get()), 1);
}

TEST_F(ResponderTest, WildcardIsSynthesizedAtTheQname) {
  Packet p = ask("Anything.Wild.example.test.", rrtype::kA);
  ASSERT_EQ(ldns_pkt_ancount(p.get()), 1);
  EXPECT_EQ(owner(ldns_pkt_answer(p.get()), 0), "Anything.Wild.example.test.");
  Packet deeper = ask("x.y.wild.example.test.", rrtype::kA);
  EXPECT_EQ(ldns_pkt_ancount(deeper.get()), 1);
  Packet nodata = ask("x.wild.example.test.", rrtype::kTxt);
  EXPECT_EQ(ldns_pkt_get_rcode(nodata.get()), LDNS_RCODE_NOERROR);
  EXPECT_EQ(ldns_pkt_ancount(nodata.get()), 0);
}

TEST_F(ResponderTest, DelegationGivesReferralWithGlue) {
  Packet p = ask("host.sub.example.test.", rrtype::kA);
  EXPECT_FALSE(ldns_pkt_aa(p.get()));
  EXPECT_EQ(ldns_pkt_get_rcode(p.get()), LDNS_RCODE_NOERROR);
  EXPECT_EQ(ldns_pkt_ancount(p.get()), 0);
  ASSERT_EQ(ldns_pkt_nscount(p.get()), 1);
  EXPECT_EQ(owner(ldns_pkt_authority(p.get()), 0), "sub.example.test.");
  ASSERT_EQ(ldns_pkt_arcount(p.get()), 1);
  EXPECT_EQ(owner(ldns_pkt_additional(p.get()), 0), "ns.sub.example.test.");
}

TEST_F(ResponderTest, MxAndNsAnswersCarryAddressesInAdditional) {
  Packet mx = ask("mx.example.test.", rrtype::kMx);
  ASSERT_EQ(ldns_pkt_arcount(mx.get()), 1);
  EXPECT_EQ(owner(ldns_pkt_additional(mx.get()), 0), "mail.example.test.");
  Packet ns = ask("example.test.", rrtype::kNs);
  EXPECT_EQ(ldns_pkt_ancount(ns.get()), 1);
  EXPECT_EQ(ldns_pkt_arcount(ns.get()), 1);
}

TEST_F(ResponderTest, AnyGetsOneRrset) {
  Packet p = ask("www.example.test.", rrtype::kAny);
  EXPECT_EQ(ldns_pkt_ancount(p.get()), 2);  // the A RRset only (RFC 8482)
}

TEST_F(ResponderTest, OutsideZonesAndOtherClassesAreRefused) {
  Packet outside = ask("www.example.org.", rrtype::kA);
  EXPECT_EQ(ldns_pkt_get_rcode(outside.get()), LDNS_RCODE_REFUSED);
  EXPECT_FALSE(ldns_pkt_aa(outside.get()));
  QueryOptions chaos;
  chaos.qclass = 3;
  Packet ch = ask("www.example.test.", rrtype::kA, chaos);
  EXPECT_EQ(ldns_pkt_get_rcode(ch.get()), LDNS_RCODE_REFUSED);
}

// As NSD and Knot answer as primaries: AXFR over UDP is NOTIMP (RFC 5936 §4.2), over TCP
// without a transfer service REFUSED; the question is echoed.
TEST_F(ResponderTest, AxfrOverUdpIsNotImplementedAndOverTcpRefused) {
  Packet udp = ask("example.test.", rrtype::kAxfr);
  EXPECT_EQ(ldns_pkt_get_rcode(udp.get()), LDNS_RCODE_NOTIMPL);
  EXPECT_EQ(ldns_pkt_qdcount(udp.get()), 1);
  EXPECT_TRUE(ldns_pkt_rd(udp.get()));
  Packet tcp = ask("example.test.", rrtype::kAxfr, {}, Transport::tcp);
  EXPECT_EQ(ldns_pkt_get_rcode(tcp.get()), LDNS_RCODE_REFUSED);
  EXPECT_EQ(counters_.with_rcode(wire::rcode::kNotImp), 1u);
}

// A NOTIFY to a primary that follows no one: REFUSED for a zone it serves (NSD), NOTAUTH
// for any other (Knot); opcode NOTIFY and the question come back.
TEST_F(ResponderTest, NotifyIsRefusedForOurZonesAndNotAuthElsewhere) {
  QueryOptions notify;
  notify.flags = static_cast<std::uint16_t>(wire::opcode::kNotify << 11 | wire::flag::kAa);
  Packet ours = ask("example.test.", rrtype::kSoa, notify);
  EXPECT_EQ(ldns_pkt_get_rcode(ours.get()), LDNS_RCODE_REFUSED);
  EXPECT_EQ(ldns_pkt_get_opcode(ours.get()), LDNS_PACKET_NOTIFY);
  EXPECT_EQ(ldns_pkt_qdcount(ours.get()), 1);
  EXPECT_EQ(ldns_pkt_ancount(ours.get()), 0);
  Packet other = ask("example.org.", rrtype::kSoa, notify);
  EXPECT_EQ(ldns_pkt_get_rcode(other.get()), LDNS_RCODE_NOTAUTH);
  auto two = make_query("example.test.", rrtype::kSoa, notify);
  two[5] = 2;
  EXPECT_EQ(raw(two)[3] & 0x0F, wire::rcode::kFormErr);
}

// A signed NOTIFY is the signed path's, as a signed query is, so that its REFUSED or NOTAUTH
// goes back signed, or with the TSIG error (RFC 8945 §5.2, §5.3); a malformed one is still
// FORMERR here.
TEST_F(ResponderTest, SignedNotifyIsLeftToTheSignedPath) {
  QueryOptions notify;
  notify.flags = static_cast<std::uint16_t>(wire::opcode::kNotify << 11 | wire::flag::kAa);
  for (const char* zone : {"example.test.", "example.org."}) {
    const auto signed_notify = with_tsig(make_query(zone, rrtype::kSoa, notify));
    EXPECT_EQ(answer_query(snapshot_, signed_notify, out_, Transport::udp, context_), 0u) << zone;
    EXPECT_TRUE(context_.signed_query) << zone;
  }
  EXPECT_EQ(counters_.signed_queries, 2u);
  EXPECT_EQ(counters_.queries(), 0u);  // counted when the signed path answers it
  auto two = with_tsig(make_query("example.test.", rrtype::kSoa, notify));
  two[5] = 2;
  EXPECT_EQ(raw(two)[3] & 0x0F, wire::rcode::kFormErr);
  EXPECT_FALSE(context_.signed_query);
}

TEST_F(ResponderTest, LadderDropsShortPacketsAndResponses) {
  EXPECT_TRUE(raw({0x12, 0x34, 0x01}).empty());
  QueryOptions response;
  response.flags = 0x8100;
  EXPECT_TRUE(raw(make_query("www.example.test.", rrtype::kA, response)).empty());
}

TEST_F(ResponderTest, LadderRcodes) {
  QueryOptions status;
  status.flags = 2 << 11;
  EXPECT_EQ(raw(make_query("www.example.test.", rrtype::kA, status))[3] & 0x0F, 4);  // NOTIMP
  auto two = make_query("www.example.test.", rrtype::kA);
  two[5] = 2;
  EXPECT_EQ(raw(two)[3] & 0x0F, 1);  // FORMERR
  auto trailing = make_query("www.example.test.", rrtype::kA);
  trailing.push_back(0);
  EXPECT_EQ(raw(trailing)[3] & 0x0F, 1);
  QueryOptions edns;
  edns.edns = true;
  auto double_opt = make_query("www.example.test.", rrtype::kA, edns);
  double_opt.insert(double_opt.end(), double_opt.end() - 11, double_opt.end());
  double_opt[11] = 2;
  EXPECT_EQ(raw(double_opt)[3] & 0x0F, 1);
  auto loop = make_query("www.example.test.", rrtype::kA);
  loop[12] = 0xC0;
  loop[13] = 12;  // points at itself
  EXPECT_EQ(raw(loop)[3] & 0x0F, 1);
}

TEST_F(ResponderTest, EdnsIsEchoedAndBadVersionGetsBadvers) {
  QueryOptions o;
  o.edns = true;
  o.udp_size = 4096;
  Packet p = ask("www.example.test.", rrtype::kA, o);
  EXPECT_EQ(ldns_pkt_edns_udp_size(p.get()), 1232);
  o.edns_version = 1;
  Packet bad = ask("www.example.test.", rrtype::kA, o);
  EXPECT_EQ(ldns_pkt_edns_extended_rcode(bad.get()), 1);  // 16 >> 4
  EXPECT_EQ(ldns_pkt_get_rcode(bad.get()), 0);
  EXPECT_EQ(ldns_pkt_ancount(bad.get()), 0);
}

TEST_F(ResponderTest, UdpTruncationCarriesNoPartialRrset) {
  Packet plain = ask("big.example.test.", rrtype::kA);
  EXPECT_TRUE(ldns_pkt_tc(plain.get()));
  EXPECT_EQ(ldns_pkt_ancount(plain.get()), 0);
  QueryOptions o;
  o.edns = true;
  o.udp_size = 4096;  // capped at our 1232
  const auto response = raw(make_query("big.example.test.", rrtype::kA, o));
  EXPECT_LE(response.size(), 1232u);
  Packet capped = ask("big.example.test.", rrtype::kA, o);
  EXPECT_TRUE(ldns_pkt_tc(capped.get()));
  EXPECT_EQ(ldns_pkt_ancount(capped.get()), 0);
  EXPECT_EQ(ldns_pkt_edns_udp_size(capped.get()), 1232);
  Packet tcp = ask("big.example.test.", rrtype::kA, {}, Transport::tcp);
  EXPECT_FALSE(ldns_pkt_tc(tcp.get()));
  EXPECT_EQ(ldns_pkt_ancount(tcp.get()), 100);
}

TEST_F(ResponderTest, CountersFollowOutcomes) {
  ask("www.example.test.", rrtype::kA);
  ask("nope.example.test.", rrtype::kA);
  ask("www.example.org.", rrtype::kA);
  EXPECT_EQ(counters_.queries(), 3u);
  EXPECT_EQ(counters_.with_rcode(wire::rcode::kNoError), 1u);
  EXPECT_EQ(counters_.with_rcode(wire::rcode::kNxDomain), 1u);
  EXPECT_EQ(counters_.with_rcode(wire::rcode::kRefused), 1u);
}

TEST_F(ResponderTest, SignedQueryIsLeftToTheSignedPath) {
  const auto signed_query = with_tsig(make_query("www.example.test.", rrtype::kA));
  EXPECT_EQ(answer_query(snapshot_, signed_query, out_, Transport::udp, context_), 0u);
  EXPECT_TRUE(context_.signed_query);
  EXPECT_EQ(counters_.signed_queries, 1u);
  EXPECT_EQ(counters_.queries(), 0u);  // counted when the signed path answers it
  // Even when the question would be refused: the refusal goes out signed.
  QueryOptions chaos;
  chaos.qclass = 3;
  EXPECT_EQ(answer_query(snapshot_, with_tsig(make_query("www.example.test.", rrtype::kA, chaos)),
                         out_, Transport::udp, context_),
            0u);
  EXPECT_TRUE(context_.signed_query);
  // The next query clears the flag.
  EXPECT_FALSE(raw(make_query("www.example.test.", rrtype::kA)).empty());
  EXPECT_FALSE(context_.signed_query);
}

TEST_F(ResponderTest, TsigAnywhereButLastIsFormerr) {
  // RFC 8945 §5.1: followed by another record (here OPT).
  QueryOptions edns;
  edns.edns = true;
  auto query = make_query("www.example.test.", rrtype::kA);
  query = with_tsig(query);
  const auto opt = make_query("www.example.test.", rrtype::kA, edns);
  query.insert(query.end(), opt.end() - 11, opt.end());
  ++query[11];
  EXPECT_EQ(raw(query)[3] & 0x0F, 1);
  EXPECT_FALSE(context_.signed_query);
  // In the answer section.
  auto answer = with_tsig(make_query("www.example.test.", rrtype::kA));
  answer[7] = 1;
  answer[11] = 0;
  EXPECT_EQ(raw(answer)[3] & 0x0F, 1);
}

TEST_F(ResponderTest, ReserveIsHeldBackFromTheSizeLimit) {
  // www: two A and one AAAA, 103 octets; with 420 octets held back, only 92 are left.
  const auto query = make_query("www.example.test.", rrtype::kA);
  const std::size_t full = answer_query(snapshot_, query, out_, Transport::udp, context_);
  Packet whole = ask("www.example.test.", rrtype::kA);
  EXPECT_FALSE(ldns_pkt_tc(whole.get()));
  const std::size_t reserve = 512 - full + 1;
  const std::size_t cut = answer_query(snapshot_, query, out_, Transport::udp, context_, reserve);
  EXPECT_LE(cut + reserve, 512u);
  EXPECT_NE(out_[2] & 0x02, 0);  // TC
  // Over TCP the limit is 65,535 octets: the same reserve changes nothing.
  EXPECT_EQ(answer_query(snapshot_, query, out_, Transport::tcp, context_, reserve), full);
  // Not even a header: dropped.
  EXPECT_EQ(answer_query(snapshot_, query, out_, Transport::udp, context_, 505), 0u);
}

TEST_F(ResponderTest, ErrorResponseEchoesTheQuestionAndEdns) {
  QueryOptions edns;
  edns.edns = true;
  const auto query = with_tsig(make_query("WWW.example.test.", rrtype::kA, edns));
  const std::size_t n = answer_error(query, out_, Transport::udp, wire::rcode::kNotAuth, context_, 100);
  ldns_pkt* parsed = nullptr;
  ASSERT_EQ(ldns_wire2pkt(&parsed, out_.data(), n), LDNS_STATUS_OK);
  Packet p(parsed);
  EXPECT_EQ(ldns_pkt_get_rcode(p.get()), LDNS_RCODE_NOTAUTH);
  EXPECT_EQ(ldns_pkt_id(p.get()), 0x1234);
  EXPECT_TRUE(ldns_pkt_qr(p.get()));
  EXPECT_FALSE(ldns_pkt_aa(p.get()));
  EXPECT_EQ(ldns_pkt_qdcount(p.get()), 1);
  EXPECT_EQ(ldns_pkt_ancount(p.get()), 0);
  EXPECT_EQ(ldns_pkt_edns_udp_size(p.get()), 1232);
  EXPECT_EQ(std::string(out_.begin() + 13, out_.begin() + 16), "WWW");
  EXPECT_EQ(counters_.with_rcode(wire::rcode::kNotAuth), 1u);
}

}  // namespace
}  // namespace signpost::dns::answer
