// EDNS Client Subnet (RFC 7871) through answer_query: the option echoed byte for byte, the
// scope, FORMERR for malformed options, and answers that are a function of the prefix.
#include "dns/answer/client_subnet.hpp"

#include <gtest/gtest.h>

#include <array>
#include <map>
#include <string>
#include <vector>

#include "dns/answer/cookie.hpp"
#include "dns/answer/query.hpp"
#include "dns/answer/responder.hpp"
#include "dns/wire/types.hpp"
#include "tests/unit/support/test_registry.hpp"
#include "tests/unit/support/test_zone.hpp"

namespace signpost::dns::answer {
namespace {

namespace rrtype = wire::rrtype;
using Bytes = std::vector<std::uint8_t>;

// The data of an ECS option: FAMILY, SOURCE and SCOPE PREFIX-LENGTH, ADDRESS.
Bytes ecs(std::uint16_t family, std::uint8_t source, std::uint8_t scope, Bytes address) {
  Bytes data{static_cast<std::uint8_t>(family >> 8), static_cast<std::uint8_t>(family), source, scope};
  data.insert(data.end(), address.begin(), address.end());
  return data;
}

// A query with EDNS carrying the given options (code, data) in its OPT record.
Bytes query_with(std::string_view name, std::uint16_t qtype,
                 const std::vector<std::pair<std::uint16_t, Bytes>>& options) {
  testing::QueryOptions o;
  o.edns = true;
  Bytes q = testing::make_query(name, qtype, o);
  Bytes rdata;
  for (const auto& [code, data] : options) {
    for (const std::uint16_t v : {code, static_cast<std::uint16_t>(data.size())}) {
      rdata.push_back(static_cast<std::uint8_t>(v >> 8));
      rdata.push_back(static_cast<std::uint8_t>(v));
    }
    rdata.insert(rdata.end(), data.begin(), data.end());
  }
  wire::store_u16(q.data() + q.size() - 2, static_cast<std::uint16_t>(rdata.size()));
  q.insert(q.end(), rdata.begin(), rdata.end());
  return q;
}

Bytes ecs_query(std::string_view name, std::uint16_t qtype, Bytes data) {
  return query_with(name, qtype, {{kClientSubnetOption, std::move(data)}});
}

class ClientSubnetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (std::uint8_t host = 1; host <= 4; ++host) {
      registry_.store.put_instance(
          testing::instance("web", "web-" + std::to_string(host), "node-" + std::to_string(host),
                            host, host, /*ipv6=*/true));
    }
    auto idle = testing::instance("idle", "idle-1", "node-9", 9);
    idle.health = registry::Health::critical;
    registry_.store.put_instance(idle);
    snapshot_ = registry_.publish();
  }

  Bytes answer(const Bytes& query, Transport transport = Transport::udp) {
    const std::size_t n = answer_query(*snapshot_, query, out_, transport, context_);
    return Bytes(out_.begin(), out_.begin() + static_cast<std::ptrdiff_t>(n));
  }

  static std::uint16_t rcode(const Bytes& r) { return r[3] & 0x0F; }
  static std::uint16_t count(const Bytes& r, std::size_t section) {
    return wire::load_u16(r.data() + 6 + 2 * section);
  }
  // The OPT record's RDATA: the OPT record is last, and without EDE its options are ours.
  static Bytes opt_rdata(const Bytes& r, std::size_t rdata_size) {
    EXPECT_GE(r.size(), rdata_size + 2);
    EXPECT_EQ(wire::load_u16(r.data() + r.size() - rdata_size - 2), rdata_size);
    return Bytes(r.end() - static_cast<std::ptrdiff_t>(rdata_size), r.end());
  }
  // The first answer record's address: A (4 octets) or AAAA (16) at the end of the record
  // after the question, whose owner is the pointer C0 0C.
  static Bytes first_address(const Bytes& r, std::size_t question_end) {
    const std::size_t rdlength = wire::load_u16(r.data() + question_end + 10);
    return Bytes(r.begin() + static_cast<std::ptrdiff_t>(question_end + 12),
                 r.begin() + static_cast<std::ptrdiff_t>(question_end + 12 + rdlength));
  }

  testing::TestRegistry registry_;
  registry::SnapshotPtr snapshot_;
  std::vector<std::uint8_t> out_ = std::vector<std::uint8_t>(65535);
  AnswerContext context_{AnswerOptions{}, 0, 7};
};

// Question of web.svc.internal.: 12 header + 18 name + 4.
constexpr std::size_t kWebQuestionEnd = 12 + 18 + 4;

TEST_F(ClientSubnetTest, AddressAnswerIsOneRecordAndEchoesTheOptionWithScope) {
  const Bytes r = answer(ecs_query("web.svc.internal.", rrtype::kA, ecs(1, 24, 0, {198, 51, 100})));
  ASSERT_EQ(rcode(r), 0);
  EXPECT_EQ(count(r, 0), 1);  // one address per client prefix
  // Option 8, length 7, FAMILY 1, SOURCE 24, SCOPE 24, ADDRESS 198.51.100 (RFC 7871 §7.2.1).
  EXPECT_EQ(opt_rdata(r, 11), (Bytes{0, 8, 0, 7, 0, 1, 24, 24, 198, 51, 100}));
}

TEST_F(ClientSubnetTest, TheOptionGoesOutNextToACookie) {
  // A resolver that sends both (RFC 7871 and RFC 7873) gets both back in the one OPT record:
  // the ECS echo first, then the client cookie followed by a server cookie.
  const Bytes client_cookie{1, 2, 3, 4, 5, 6, 7, 8};
  const Bytes r = answer(query_with("web.svc.internal.", rrtype::kA,
                                    {{kClientSubnetOption, ecs(1, 24, 0, {198, 51, 100})},
                                     {kCookieOption, client_cookie}}));
  ASSERT_EQ(rcode(r), 0);
  EXPECT_EQ(count(r, 0), 1);
  const Bytes rdata = opt_rdata(r, 11 + 4 + kReplyCookieSize);
  EXPECT_EQ(Bytes(rdata.begin(), rdata.begin() + 11), (Bytes{0, 8, 0, 7, 0, 1, 24, 24, 198, 51, 100}));
  EXPECT_EQ(wire::load_u16(rdata.data() + 11), kCookieOption);
  EXPECT_EQ(wire::load_u16(rdata.data() + 13), kReplyCookieSize);
  EXPECT_EQ(Bytes(rdata.begin() + 15, rdata.begin() + 23), client_cookie);
}

TEST_F(ClientSubnetTest, ScopeIsCappedAtTwentyFourAndFiftySixBits) {
  Bytes r = answer(ecs_query("web.svc.internal.", rrtype::kA, ecs(1, 32, 0, {198, 51, 100, 7})));
  EXPECT_EQ(opt_rdata(r, 12), (Bytes{0, 8, 0, 8, 0, 1, 32, 24, 198, 51, 100, 7}));
  r = answer(ecs_query("web.svc.internal.", rrtype::kAaaa,
                       ecs(2, 64, 0, {0x20, 0x01, 0x0d, 0xb8, 1, 2, 3, 4})));
  EXPECT_EQ(count(r, 0), 1);
  EXPECT_EQ(opt_rdata(r, 16), (Bytes{0, 8, 0, 12, 0, 2, 64, 56, 0x20, 0x01, 0x0d, 0xb8, 1, 2, 3, 4}));
  // A source shorter than the cap is the scope.
  r = answer(ecs_query("web.svc.internal.", rrtype::kA, ecs(1, 12, 0, {198, 48})));
  EXPECT_EQ(opt_rdata(r, 10), (Bytes{0, 8, 0, 6, 0, 1, 12, 12, 198, 48}));
}

TEST_F(ClientSubnetTest, AnswersThatDoNotDependOnTheClientHaveScopeZero) {
  const Bytes option = ecs(1, 24, 0, {198, 51, 100});
  const Bytes echoed{0, 8, 0, 7, 0, 1, 24, 0, 198, 51, 100};
  // SRV (weights travel in the records), a node, NODATA, a static zone.
  for (const auto& [name, qtype] : std::vector<std::pair<std::string, std::uint16_t>>{
           {"_web._tcp.svc.internal.", rrtype::kSrv},
           {"node-1.node.svc.internal.", rrtype::kA},
           {"web.svc.internal.", rrtype::kTxt},
           {"www.example.test.", rrtype::kA}}) {
    const Bytes r = answer(ecs_query(name, qtype, option));
    EXPECT_EQ(rcode(r), 0) << name;
    EXPECT_GE(count(r, 0) + count(r, 1), 1) << name;
    // SRV answers carry glue after the answer, before OPT; OPT is still last.
    EXPECT_EQ(opt_rdata(r, echoed.size()), echoed) << name;
  }
  const Bytes nx = answer(ecs_query("nope.svc.internal.", rrtype::kA, option));
  EXPECT_EQ(rcode(nx), wire::rcode::kNxDomain);
  EXPECT_EQ(opt_rdata(nx, echoed.size()), echoed);
  const Bytes refused = answer(ecs_query("elsewhere.invalid.", rrtype::kA, option));
  EXPECT_EQ(rcode(refused), wire::rcode::kRefused);
  EXPECT_EQ(opt_rdata(refused, echoed.size()), echoed);
}

TEST_F(ClientSubnetTest, TheOptionGoesOutNextToAnExtendedError) {
  // NODATA for a service without a healthy instance carries an EDE (RFC 8914) as well.
  const Bytes r = answer(ecs_query("idle.svc.internal.", rrtype::kA, ecs(1, 24, 0, {198, 51, 100})));
  ASSERT_EQ(rcode(r), 0);
  ASSERT_EQ(count(r, 0), 0);
  // The OPT record is last: find its RDLENGTH by walking back from the EDE text.
  const std::string text = "no healthy instance of service idle";
  const std::size_t ede_size = 4 + 2 + text.size();
  const std::size_t rdata_size = 11 + ede_size;
  const Bytes rdata = opt_rdata(r, rdata_size);
  EXPECT_EQ(Bytes(rdata.begin(), rdata.begin() + 11), (Bytes{0, 8, 0, 7, 0, 1, 24, 0, 198, 51, 100}));
  EXPECT_EQ(wire::load_u16(rdata.data() + 11), 15);  // EDE
  EXPECT_EQ(std::string(rdata.end() - static_cast<std::ptrdiff_t>(text.size()), rdata.end()), text);
}

TEST_F(ClientSubnetTest, SourcePrefixZeroGetsTheUsualAnswerAtScopeZero) {
  const Bytes r = answer(ecs_query("web.svc.internal.", rrtype::kA, ecs(1, 0, 0, {})));
  EXPECT_EQ(count(r, 0), 4);  // every instance, weighted order (RFC 7871 §7.1.2: /0)
  EXPECT_EQ(opt_rdata(r, 8), (Bytes{0, 8, 0, 4, 0, 1, 0, 0}));
}

TEST_F(ClientSubnetTest, WithoutTheOptionNothingChanges) {
  const Bytes r = answer(query_with("web.svc.internal.", rrtype::kA, {}));
  EXPECT_EQ(count(r, 0), 4);
  EXPECT_EQ(opt_rdata(r, 0), Bytes{});
}

TEST_F(ClientSubnetTest, MalformedOptionsAreFormerrWithoutEcho) {
  const std::vector<Bytes> bad{
      {0, 1, 24},                              // shorter than 4 octets
      ecs(3, 8, 0, {10}),                      // unknown family
      ecs(1, 33, 0, {1, 2, 3, 4, 5}),          // source longer than IPv4
      ecs(2, 129, 0, Bytes(17, 0)),            // source longer than IPv6
      ecs(1, 24, 8, {198, 51, 100}),           // scope set in a query
      ecs(1, 24, 0, {198, 51}),                // address shorter than the prefix
      ecs(1, 24, 0, {198, 51, 100, 0}),        // address longer than the prefix
      ecs(1, 20, 0, {198, 51, 0x6F}),          // bits set past the prefix
      ecs(1, 0, 0, {0}),                       // source 0 takes no address octet
  };
  for (const Bytes& data : bad) {
    const Bytes r = answer(ecs_query("web.svc.internal.", rrtype::kA, data));
    ASSERT_FALSE(r.empty());
    EXPECT_EQ(rcode(r), wire::rcode::kFormErr) << ::testing::PrintToString(data);
    EXPECT_EQ(count(r, 0), 0);
    EXPECT_EQ(opt_rdata(r, 0), Bytes{});  // an option we could not read is not echoed
  }
  const Bytes twice = answer(query_with("web.svc.internal.", rrtype::kA,
                                        {{kClientSubnetOption, ecs(1, 24, 0, {198, 51, 100})},
                                         {kClientSubnetOption, ecs(1, 24, 0, {198, 51, 101})}}));
  EXPECT_EQ(rcode(twice), wire::rcode::kFormErr);
}

TEST_F(ClientSubnetTest, SamePrefixSameAddressWhateverTheHostBitsAndTheGenerator) {
  const Bytes first = first_address(
      answer(ecs_query("web.svc.internal.", rrtype::kA, ecs(1, 32, 0, {198, 51, 100, 1}))),
      kWebQuestionEnd);
  for (std::uint8_t host = 2; host < 50; ++host) {
    const Bytes r = answer(ecs_query("web.svc.internal.", rrtype::kA, ecs(1, 32, 0, {198, 51, 100, host})));
    ASSERT_EQ(first_address(r, kWebQuestionEnd), first) << int{host};
  }
  // Another answering thread, seeded otherwise, says the same.
  AnswerContext other{AnswerOptions{}, 1, 99};
  const Bytes q = ecs_query("web.svc.internal.", rrtype::kA, ecs(1, 24, 0, {198, 51, 100}));
  const std::size_t n = answer_query(*snapshot_, q, out_, Transport::udp, other);
  EXPECT_EQ(first_address(Bytes(out_.begin(), out_.begin() + static_cast<std::ptrdiff_t>(n)), kWebQuestionEnd),
            first);
}

// Weights 1:2:3:4 over 4,096 /24 prefixes: the share of prefixes each address gets follows
// the weights. Deterministic (a hash, not a generator); chi-square 3 dof, p = 0.001 at 16.27.
TEST_F(ClientSubnetTest, SharesOfPrefixesFollowTheWeights) {
  for (const std::uint16_t qtype : {rrtype::kA, rrtype::kAaaa}) {
    std::map<Bytes, int> counts;
    for (int p = 0; p < 4096; ++p) {
      const auto hi = static_cast<std::uint8_t>(p >> 8);
      const auto lo = static_cast<std::uint8_t>(p);
      const Bytes data = qtype == rrtype::kA ? ecs(1, 24, 0, {10, hi, lo})
                                             : ecs(2, 48, 0, {0x20, 0x01, 0x0d, 0xb8, hi, lo});
      ++counts[first_address(answer(ecs_query("web.svc.internal.", qtype, data)), kWebQuestionEnd)];
    }
    ASSERT_EQ(counts.size(), 4u);
    double chi2 = 0;
    std::size_t weight = 1;  // addresses .1 to .4 carry weights 1 to 4, and sort that way
    for (const auto& [address, n] : counts) {
      const double expected = 4096.0 * static_cast<double>(weight++) / 10.0;
      chi2 += (n - expected) * (n - expected) / expected;
    }
    EXPECT_LT(chi2, 16.27) << "qtype " << qtype;
  }
}

TEST_F(ClientSubnetTest, TheOptionCountsInTheSizeBudget) {
  // Enough instances that the plain answer fills 512 octets: the ECS answer is one record,
  // so instead check a large static RRset: it must truncate, and OPT with ECS still fits.
  testing::QueryOptions o;
  o.edns = true;
  o.udp_size = 512;
  Bytes q = testing::make_query("big.example.test.", rrtype::kA, o);
  const Bytes data = ecs(2, 128, 0, Bytes(16, 0x20));
  wire::store_u16(q.data() + q.size() - 2, static_cast<std::uint16_t>(4 + data.size()));
  q.insert(q.end(), {0, 8, 0, static_cast<std::uint8_t>(data.size())});
  q.insert(q.end(), data.begin(), data.end());
  const Bytes r = answer(q);
  ASSERT_LE(r.size(), 512u);
  EXPECT_NE(r[2] & 0x02, 0);  // TC
  Bytes echoed{0, 8, 0, 20, 0, 2, 128, 0};
  echoed.insert(echoed.end(), 16, 0x20);
  EXPECT_EQ(opt_rdata(r, echoed.size()), echoed);
}

}  // namespace
}  // namespace signpost::dns::answer
