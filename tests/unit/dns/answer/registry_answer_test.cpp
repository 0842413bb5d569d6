// Registry names answered end to end through answer_query, parsed back with ldns.
#include <gtest/gtest.h>
#include <ldns/ldns.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "dns/answer/responder.hpp"
#include "dns/wire/types.hpp"
#include "tests/unit/support/test_registry.hpp"
#include "tests/unit/support/test_zone.hpp"

namespace signpost::dns::answer {
namespace {

namespace rrtype = wire::rrtype;
using registry::Health;
using testing::instance;
using testing::make_query;

struct PacketDeleter {
  void operator()(ldns_pkt* p) const { ldns_pkt_free(p); }
};
using Packet = std::unique_ptr<ldns_pkt, PacketDeleter>;

std::string text(const ldns_rdf* rdf) {
  char* s = ldns_rdf2str(rdf);
  std::string out(s);
  free(s);
  return out;
}

class RegistryAnswerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto& s = registry_.store;
    s.put_instance(instance("web", "web-1", "host-a", 1, 1, true));
    s.put_instance(instance("web", "web-2", "host-a", 2));
    auto tagged = instance("web", "web-3", "host-b", 3);
    tagged.tags = {"primary"};
    tagged.meta = {{"version", "1.2"}};
    s.put_instance(tagged);
    s.put_instance(instance("db", "db-1", "host-c", 9), registry::Protocol::tcp);
    publish();
  }

  void publish() { snapshot_ = registry_.publish(); }

  Packet ask(std::string_view name, std::uint16_t qtype, bool edns = false,
             Transport transport = Transport::udp) {
    testing::QueryOptions o;
    o.edns = edns;
    const auto query = make_query(name, qtype, o);
    const std::size_t n = answer_query(*snapshot_, query, out_, transport, context_);
    ldns_pkt* pkt = nullptr;
    EXPECT_EQ(ldns_wire2pkt(&pkt, out_.data(), n), LDNS_STATUS_OK);
    last_size_ = n;
    return Packet(pkt);
  }

  static std::vector<std::string> rdata_of(ldns_rr_list* list, std::size_t field = 0) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < ldns_rr_list_rr_count(list); ++i) {
      out.push_back(text(ldns_rr_rdf(ldns_rr_list_rr(list, i), field)));
    }
    return out;
  }

  testing::TestRegistry registry_;
  registry::SnapshotPtr snapshot_;
  std::vector<std::uint8_t> out_ = std::vector<std::uint8_t>(65535);
  AnswerContext context_{AnswerOptions{}, 0, 11};
  std::size_t last_size_ = 0;
};

TEST_F(RegistryAnswerTest, ServiceAddressesAreAuthoritativeAndComplete) {
  Packet p = ask("WEB.svc.internal.", rrtype::kA);
  EXPECT_TRUE(ldns_pkt_aa(p.get()));
  EXPECT_EQ(ldns_pkt_get_rcode(p.get()), LDNS_RCODE_NOERROR);
  auto addresses = rdata_of(ldns_pkt_answer(p.get()));
  std::sort(addresses.begin(), addresses.end());
  EXPECT_EQ(addresses, (std::vector<std::string>{"10.0.0.1", "10.0.0.2", "10.0.0.3"}));
  EXPECT_EQ(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(p.get()), 0)), 5u);
  Packet v6 = ask("web.svc.internal.", rrtype::kAaaa);
  EXPECT_EQ(rdata_of(ldns_pkt_answer(v6.get())), std::vector<std::string>{"fd00::1"});
}

TEST_F(RegistryAnswerTest, SrvTargetsNodesWithGlueWithoutDuplicates) {
  for (const char* name : {"web.svc.internal.", "_web._tcp.svc.internal."}) {
    Packet p = ask(name, rrtype::kSrv);
    ASSERT_EQ(ldns_pkt_ancount(p.get()), 3) << name;
    std::set<std::string> targets;
    for (const auto& t : rdata_of(ldns_pkt_answer(p.get()), 3)) targets.insert(t);
    EXPECT_EQ(targets, (std::set<std::string>{"host-a.node.svc.internal.", "host-b.node.svc.internal."}));
    // host-a has 10.0.0.1, 10.0.0.2 and fd00::1; host-b has 10.0.0.3: 4 records, no repeats.
    EXPECT_EQ(ldns_pkt_arcount(p.get()), 4) << name;
  }
  Packet wrong = ask("_web._udp.svc.internal.", rrtype::kSrv);
  EXPECT_EQ(ldns_pkt_get_rcode(wrong.get()), LDNS_RCODE_NXDOMAIN);
}

// The glue of an SRV target is what the target's own A/AAAA answer says, TTL included.
TEST_F(RegistryAnswerTest, SrvGlueMatchesTheTargetsNodeAnswer) {
  auto leased = instance("api", "api-1", "host-d", 21, 1, true);
  leased.max_ttl = 2;
  auto second = instance("api", "api-2", "host-d", 22);
  second.tags = {"blue"};
  registry_.store.put_instance(leased);
  registry_.store.put_instance(second);
  publish();
  const auto records_of = [](ldns_rr_list* list, ldns_rr_type type) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < ldns_rr_list_rr_count(list); ++i) {
      ldns_rr* rr = ldns_rr_list_rr(list, i);
      if (ldns_rr_get_type(rr) != type) continue;
      char* s = ldns_rr2str(rr);
      out.emplace_back(s);
      free(s);
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  Packet a = ask("host-d.node.svc.internal.", rrtype::kA);
  Packet aaaa = ask("host-d.node.svc.internal.", rrtype::kAaaa);
  const auto node_a = records_of(ldns_pkt_answer(a.get()), LDNS_RR_TYPE_A);
  const auto node_aaaa = records_of(ldns_pkt_answer(aaaa.get()), LDNS_RR_TYPE_AAAA);
  ASSERT_EQ(node_a.size(), 2u);
  ASSERT_EQ(node_aaaa.size(), 1u);
  EXPECT_NE(node_a[0].find("\t2\tIN"), std::string::npos) << node_a[0];
  // The service, its SRV name, a tag with only one of the two instances, and an instance.
  for (const char* name : {"api.svc.internal.", "_api._tcp.svc.internal.", "blue.api.svc.internal.",
                           "api-1._api._tcp.svc.internal."}) {
    Packet p = ask(name, rrtype::kSrv);
    ldns_rr_list* additional = ldns_pkt_additional(p.get());
    EXPECT_EQ(records_of(additional, LDNS_RR_TYPE_A), node_a) << name;
    EXPECT_EQ(records_of(additional, LDNS_RR_TYPE_AAAA), node_aaaa) << name;
  }
}

TEST_F(RegistryAnswerTest, NegativeAnswersCompressTheSoa) {
  Packet p = ask("nothing.svc.internal.", rrtype::kA);
  ASSERT_EQ(ldns_pkt_nscount(p.get()), 1);
  // Header, question (22 + 4), SOA: owner pointer, 10 fixed, "ns" and "hostmaster" each
  // with a pointer to the apex, 20 octets of numbers.
  EXPECT_EQ(last_size_, 12u + 26 + 2 + 10 + (3 + 2) + (11 + 2) + 20);
  ldns_rr* soa = ldns_rr_list_rr(ldns_pkt_authority(p.get()), 0);
  EXPECT_EQ(text(ldns_rr_rdf(soa, 0)), "ns.svc.internal.");
  EXPECT_EQ(text(ldns_rr_rdf(soa, 1)), "hostmaster.svc.internal.");
}

TEST_F(RegistryAnswerTest, DnsSdBrowseThenInstanceSrvAndTxt) {
  Packet types = ask("_services._dns-sd._udp.svc.internal.", rrtype::kPtr);
  auto names = rdata_of(ldns_pkt_answer(types.get()));
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"_db._tcp.svc.internal.", "_web._tcp.svc.internal."}));
  Packet browse = ask("_Web._tcp.svc.internal.", rrtype::kPtr);
  auto instances = rdata_of(ldns_pkt_answer(browse.get()));
  std::sort(instances.begin(), instances.end());
  EXPECT_EQ(instances, (std::vector<std::string>{"web-1._Web._tcp.svc.internal.", "web-2._Web._tcp.svc.internal.",
                                                 "web-3._Web._tcp.svc.internal."}));
  // Each PTR's RDATA is its instance label and a pointer to the owner: header 12, question
  // 28, then 3 x (owner pointer 2, fixed 10, "\5web-N" 6, pointer 2).
  EXPECT_EQ(last_size_, 12u + 28u + 3u * 20u);
  Packet srv = ask("web-3._web._tcp.svc.internal.", rrtype::kSrv);
  ASSERT_EQ(ldns_pkt_ancount(srv.get()), 1);
  EXPECT_EQ(text(ldns_rr_rdf(ldns_rr_list_rr(ldns_pkt_answer(srv.get()), 0), 2)), "8080");
  EXPECT_EQ(ldns_pkt_arcount(srv.get()), 1);  // host-b's A
  Packet txt = ask("web-3._web._tcp.svc.internal.", rrtype::kTxt);
  ASSERT_EQ(ldns_pkt_ancount(txt.get()), 1);
  ldns_rr* rr = ldns_rr_list_rr(ldns_pkt_answer(txt.get()), 0);
  ASSERT_EQ(ldns_rr_rd_count(rr), 2u);
  EXPECT_EQ(text(ldns_rr_rdf(rr, 0)), "\"tags=primary\"");
  EXPECT_EQ(text(ldns_rr_rdf(rr, 1)), "\"version=1.2\"");
}

TEST_F(RegistryAnswerTest, NodeNamesAndTags) {
  Packet node = ask("host-a.node.svc.internal.", rrtype::kA);
  auto a = rdata_of(ldns_pkt_answer(node.get()));
  std::sort(a.begin(), a.end());
  EXPECT_EQ(a, (std::vector<std::string>{"10.0.0.1", "10.0.0.2"}));
  Packet tag = ask("primary.web.svc.internal.", rrtype::kA);
  EXPECT_EQ(rdata_of(ldns_pkt_answer(tag.get())), std::vector<std::string>{"10.0.0.3"});
  Packet unknown_tag = ask("nope.web.svc.internal.", rrtype::kA);
  EXPECT_EQ(ldns_pkt_get_rcode(unknown_tag.get()), LDNS_RCODE_NXDOMAIN);
}

TEST_F(RegistryAnswerTest, UnknownServiceIsNxdomainAndUnhealthyIsNodataWithEde) {
  Packet unknown = ask("nothing.svc.internal.", rrtype::kA);
  EXPECT_EQ(ldns_pkt_get_rcode(unknown.get()), LDNS_RCODE_NXDOMAIN);
  EXPECT_EQ(ldns_pkt_nscount(unknown.get()), 1);
  registry_.store.set_health("db", "db-1", Health::critical);
  publish();
  const auto query = [&] {
    testing::QueryOptions o;
    o.edns = true;
    return make_query("db.svc.internal.", rrtype::kA, o);
  }();
  const std::size_t n = answer_query(*snapshot_, query, out_, Transport::udp, context_);
  const std::string response(out_.begin(), out_.begin() + static_cast<std::ptrdiff_t>(n));
  EXPECT_NE(response.find("no healthy instance of service db"), std::string::npos);
  Packet p = ask("db.svc.internal.", rrtype::kA, true);
  EXPECT_EQ(ldns_pkt_get_rcode(p.get()), LDNS_RCODE_NOERROR);
  EXPECT_EQ(ldns_pkt_ancount(p.get()), 0);
  EXPECT_EQ(ldns_pkt_nscount(p.get()), 1);
}

TEST_F(RegistryAnswerTest, DrainedAndCriticalNeverAppearWarningDoes) {
  registry_.store.put_instance(instance("web", "web-2", "host-a", 2, 0));  // drained
  registry_.store.set_health("web", "web-3", Health::critical);
  registry_.store.set_health("web", "web-1", Health::warning);
  publish();
  for (int i = 0; i < 20; ++i) {
    Packet p = ask("web.svc.internal.", rrtype::kA);
    EXPECT_EQ(rdata_of(ldns_pkt_answer(p.get())), std::vector<std::string>{"10.0.0.1"});
  }
}

// health.warning_weight scales a warning instance's weight: next to a passing instance of
// the same weight 4, with warning_weight 0.25, it weighs 1 against 4 and so comes first in
// 1 of 5 answers, A and SRV alike. Counted over many draws of the seeded generator and
// checked by chi-square, as order_test.cpp does; an ignored fraction would give 1 in 2.
TEST_F(RegistryAnswerTest, WarningInstanceComesFirstInProportionToItsReducedWeight) {
  auto settings = testing::registry_settings();
  settings.warning_weight = 0.25;
  testing::TestRegistry reduced(settings);
  reduced.store.put_instance(instance("api", "api-1", "host-w", 1, 4));
  reduced.store.put_instance(instance("api", "api-2", "host-p", 2, 4));
  reduced.store.set_health("api", "api-1", Health::warning);
  snapshot_ = reduced.publish();
  constexpr int kDraws = 20000;
  constexpr double kWarningShare = 1.0 / 5.0;  // 4 * 0.25 against 4
  const std::vector<double> expected{kDraws * kWarningShare, kDraws * (1 - kWarningShare)};
  const auto chi_square = [&](const std::vector<double>& observed) {
    double chi = 0;
    for (std::size_t i = 0; i < observed.size(); ++i) {
      chi += (observed[i] - expected[i]) * (observed[i] - expected[i]) / expected[i];
    }
    return chi;
  };
  std::vector<double> a_first(2, 0);
  std::vector<double> srv_first(2, 0);
  for (int i = 0; i < kDraws; ++i) {
    Packet a = ask("api.svc.internal.", rrtype::kA);
    ASSERT_EQ(ldns_pkt_ancount(a.get()), 2);
    a_first[rdata_of(ldns_pkt_answer(a.get()))[0] == "10.0.0.1" ? 0 : 1] += 1;
    Packet srv = ask("api.svc.internal.", rrtype::kSrv);
    ASSERT_EQ(ldns_pkt_ancount(srv.get()), 2);
    const std::string target = rdata_of(ldns_pkt_answer(srv.get()), 3)[0];
    srv_first[target == "host-w.node.svc.internal." ? 0 : 1] += 1;
  }
  // df = 1, p = 0.001
  EXPECT_LT(chi_square(a_first), 10.83) << a_first[0] << " A answers of " << kDraws;
  EXPECT_LT(chi_square(srv_first), 10.83) << srv_first[0] << " SRV answers of " << kDraws;
}

TEST_F(RegistryAnswerTest, PanicModeHandsOutEveryInstance) {
  auto settings = testing::registry_settings();
  settings.panic_threshold = 0.5;
  testing::TestRegistry panic(settings);
  for (std::uint8_t h = 1; h <= 3; ++h) {
    panic.store.put_instance(instance("api", "api-" + std::to_string(h), "n", h));
  }
  panic.store.set_health("api", "api-1", Health::critical);
  panic.store.set_health("api", "api-2", Health::critical);
  snapshot_ = panic.publish();
  Packet p = ask("api.svc.internal.", rrtype::kA);
  EXPECT_EQ(ldns_pkt_ancount(p.get()), 3);  // 1 of 3 healthy < 0.5
  panic.store.set_health("api", "api-2", Health::passing);
  snapshot_ = panic.publish();
  Packet q = ask("api.svc.internal.", rrtype::kA);
  EXPECT_EQ(ldns_pkt_ancount(q.get()), 2);
}

TEST_F(RegistryAnswerTest, AnswerLimitKeepsTheFirstRecords) {
  testing::TestRegistry limited(2);
  for (std::uint8_t h = 1; h <= 10; ++h) {
    limited.store.put_instance(instance("api", "api-" + std::to_string(h), "n" + std::to_string(h), h));
  }
  snapshot_ = limited.publish();
  std::map<std::string, int> seen;
  for (int i = 0; i < 2000; ++i) {
    Packet p = ask("api.svc.internal.", rrtype::kA);
    ASSERT_EQ(ldns_pkt_ancount(p.get()), 2);
    for (const auto& a : rdata_of(ldns_pkt_answer(p.get()))) ++seen[a];
    Packet srv = ask("api.svc.internal.", rrtype::kSrv);
    ASSERT_EQ(ldns_pkt_ancount(srv.get()), 2);
    ASSERT_EQ(ldns_pkt_arcount(srv.get()), 2);
  }
  ASSERT_EQ(seen.size(), 10u);
  for (const auto& [address, count] : seen) {
    EXPECT_GT(count, 300) << address;  // about 400 each (20% of 2000)
    EXPECT_LT(count, 500) << address;
  }
}

// A limit larger than a UDP answer holds: the answer is a chosen subset, so fewer records
// go out without TC.
TEST_F(RegistryAnswerTest, LargeServiceSendsFewerRecordsOverUdpAndAllOverTcp) {
  testing::TestRegistry large(1000);
  for (int h = 0; h < 500; ++h) {
    auto i = instance("big", "big-" + std::to_string(h), "n" + std::to_string(h), 1);
    i.ipv4.front() = {10, 1, static_cast<std::uint8_t>(h / 256), static_cast<std::uint8_t>(h % 256)};
    large.store.put_instance(i);
  }
  snapshot_ = large.publish();
  Packet udp = ask("big.svc.internal.", rrtype::kA);
  EXPECT_FALSE(ldns_pkt_tc(udp.get()));
  EXPECT_GT(ldns_pkt_ancount(udp.get()), 20);
  EXPECT_LE(last_size_, 512u);
  Packet srv = ask("big.svc.internal.", rrtype::kSrv, true);
  EXPECT_FALSE(ldns_pkt_tc(srv.get()));
  EXPECT_GT(ldns_pkt_ancount(srv.get()), 5);
  EXPECT_EQ(ldns_pkt_arcount(srv.get()), ldns_pkt_ancount(srv.get()));  // glue for each, one node each
  EXPECT_LE(last_size_, 1232u);
  Packet tcp = ask("big.svc.internal.", rrtype::kA, false, Transport::tcp);
  EXPECT_EQ(ldns_pkt_ancount(tcp.get()), 500);
}

// answer_limit 0 promises every record: when they do not fit in UDP, TC sends the client
// (a resolver, most often) to TCP rather than letting it cache a part as the whole.
TEST_F(RegistryAnswerTest, ServiceWithoutLimitSetsTcWhenItsRecordsDoNotFit) {
  testing::TestRegistry all(0);
  for (int h = 0; h < 500; ++h) {
    auto i = instance("big", "big-" + std::to_string(h), "n" + std::to_string(h), 1);
    i.ipv4.front() = {10, 1, static_cast<std::uint8_t>(h / 256), static_cast<std::uint8_t>(h % 256)};
    all.store.put_instance(i);
  }
  snapshot_ = all.publish();
  Packet udp = ask("big.svc.internal.", rrtype::kA);
  EXPECT_TRUE(ldns_pkt_tc(udp.get()));
  EXPECT_LE(last_size_, 512u);
  Packet srv = ask("_big._tcp.svc.internal.", rrtype::kSrv, true);
  EXPECT_TRUE(ldns_pkt_tc(srv.get()));
  EXPECT_LE(last_size_, 1232u);
  Packet tcp = ask("_big._tcp.svc.internal.", rrtype::kSrv, false, Transport::tcp);
  EXPECT_FALSE(ldns_pkt_tc(tcp.get()));
  EXPECT_EQ(ldns_pkt_ancount(tcp.get()), 500);
}

// When every SRV record fits but not all their glue, the records all go out with the glue
// that fits, and no TC: additional records are optional (RFC 2181 §9).
TEST_F(RegistryAnswerTest, ServiceWithoutLimitSendsEverySrvRecordWhenOnlyGlueIsShort) {
  testing::TestRegistry all(0);
  for (std::uint8_t h = 1; h <= 20; ++h) {  // about 40 octets of SRV and 44 of glue each
    all.store.put_instance(instance("mid", "mid-" + std::to_string(h), "n" + std::to_string(h), h, 1, true));
  }
  snapshot_ = all.publish();
  Packet srv = ask("_mid._tcp.svc.internal.", rrtype::kSrv, true);
  EXPECT_FALSE(ldns_pkt_tc(srv.get()));
  EXPECT_EQ(ldns_pkt_ancount(srv.get()), 20);
  EXPECT_GT(ldns_pkt_arcount(srv.get()), 0);   // some glue
  EXPECT_LT(ldns_pkt_arcount(srv.get()), 40);  // not all of it
  EXPECT_LE(last_size_, 1232u);
  Packet small = ask("_mid._tcp.svc.internal.", rrtype::kSrv);  // 512 octets hold fewer than 20
  EXPECT_TRUE(ldns_pkt_tc(small.get()));
}

// A target first named past offset 0x3FFF cannot be pointed at: its glue owner is written
// out as a name (compressed against the rest of the message).
TEST_F(RegistryAnswerTest, GlueOwnerBeyondPointerRangeIsWrittenOut) {
  testing::TestRegistry large(0);
  for (int h = 0; h < 600; ++h) {
    large.store.put_instance(instance("wide", "w-" + std::to_string(h), "busy", 1, 60000));
  }
  large.store.put_instance(instance("wide", "z-last", "quiet", 2, 1));
  snapshot_ = large.publish();
  bool far = false;
  for (int round = 0; round < 5 && !far; ++round) {
    Packet p = ask("_wide._tcp.svc.internal.", rrtype::kSrv, false, Transport::tcp);
    ASSERT_EQ(ldns_pkt_ancount(p.get()), 601);
    ASSERT_EQ(ldns_pkt_arcount(p.get()), 2);
    std::set<std::string> glue;
    for (std::size_t i = 0; i < 2; ++i) {
      ldns_rr* rr = ldns_rr_list_rr(ldns_pkt_additional(p.get()), i);
      glue.insert(text(ldns_rr_owner(rr)) + " " + text(ldns_rr_rdf(rr, 0)));
    }
    EXPECT_EQ(glue, (std::set<std::string>{"busy.node.svc.internal. 10.0.0.1",
                                           "quiet.node.svc.internal. 10.0.0.2"}));
    const std::string last = text(ldns_rr_rdf(ldns_rr_list_rr(ldns_pkt_answer(p.get()), 600), 3));
    far = last == "quiet.node.svc.internal.";  // quiet's record (weight 1) came last
  }
  EXPECT_TRUE(far);
}

TEST_F(RegistryAnswerTest, SrvPrioritiesComeInOrder) {
  testing::TestRegistry prio(0);
  for (std::uint8_t h = 1; h <= 6; ++h) {
    auto i = instance("mq", "mq-" + std::to_string(h), "n", h);
    i.priority = h <= 3 ? 10 : 20;
    prio.store.put_instance(i);
  }
  snapshot_ = prio.publish();
  for (int round = 0; round < 50; ++round) {
    Packet p = ask("_mq._tcp.svc.internal.", rrtype::kSrv);
    const auto priorities = rdata_of(ldns_pkt_answer(p.get()), 0);
    ASSERT_EQ(priorities.size(), 6u);
    EXPECT_TRUE(std::is_sorted(priorities.begin(), priorities.end()));
  }
}

TEST_F(RegistryAnswerTest, RoundRobinModeFollowsSmoothWeights) {
  testing::TestRegistry rr(1);
  rr.store.put_instance(instance("x", "a", "n", 1, 5));
  rr.store.put_instance(instance("x", "b", "n", 2, 1));
  rr.store.put_instance(instance("x", "c", "n", 3, 1));
  snapshot_ = rr.publish();
  AnswerOptions options;
  options.order = OrderMode::round_robin;
  AnswerContext round_robin(options, 0, 1);
  std::string firsts;
  for (int i = 0; i < 7; ++i) {
    const auto query = make_query("x.svc.internal.", rrtype::kA);
    const std::size_t n = answer_query(*snapshot_, query, out_, Transport::udp, round_robin);
    firsts += static_cast<char>('a' + out_[n - 1] - 1);  // last octet of the one address
  }
  EXPECT_EQ(firsts, "aabacaa");
}

TEST_F(RegistryAnswerTest, StaticNamesInTheRegistryZoneStillAnswer) {
  Packet soa = ask("svc.internal.", rrtype::kSoa);
  EXPECT_EQ(ldns_pkt_ancount(soa.get()), 1);
  Packet ns = ask("ns.svc.internal.", rrtype::kA);
  EXPECT_EQ(rdata_of(ldns_pkt_answer(ns.get())), std::vector<std::string>{"127.0.0.1"});
  Packet ent = ask("_tcp.svc.internal.", rrtype::kA);
  EXPECT_EQ(ldns_pkt_get_rcode(ent.get()), LDNS_RCODE_NOERROR);
  EXPECT_EQ(ldns_pkt_ancount(ent.get()), 0);
}

}  // namespace
}  // namespace signpost::dns::answer
