// The answer function with DNS Cookies (RFC 7873 §5.2) and with rate limiting's decisions:
// the COOKIE option to the octet, FORMERR, the size budget, drop, slip and BADCOOKIE.
#include <gtest/gtest.h>
#include <ldns/ldns.h>

#include <vector>

#include "dns/answer/cookie.hpp"
#include "dns/answer/responder.hpp"
#include "dns/wire/reader.hpp"
#include "dns/wire/types.hpp"
#include "dns/wire/writer.hpp"
#include "registry/snapshot.hpp"
#include "tests/unit/support/test_zone.hpp"

namespace signpost::dns::answer {
namespace {

namespace rrtype = wire::rrtype;
using testing::make_query;
using testing::QueryOptions;

constexpr std::uint32_t kNow = 1700000000;
constexpr std::size_t kOptFixed = 11;  // root, type, class, TTL, RDLENGTH
constexpr std::size_t kCookieTail = 4 + kReplyCookieSize;

// `query` (which has EDNS) with an EDNS option `code` carrying `data` added to its OPT.
std::vector<std::uint8_t> with_option(std::vector<std::uint8_t> query, std::uint16_t code,
                                      const std::vector<std::uint8_t>& data) {
  const std::size_t rdlength_at = query.size() - 2;
  const std::size_t old_length = wire::load_u16(query.data() + rdlength_at);
  query.push_back(static_cast<std::uint8_t>(code >> 8));
  query.push_back(static_cast<std::uint8_t>(code));
  query.push_back(static_cast<std::uint8_t>(data.size() >> 8));
  query.push_back(static_cast<std::uint8_t>(data.size()));
  query.insert(query.end(), data.begin(), data.end());
  wire::store_u16(query.data() + rdlength_at,
                  static_cast<std::uint16_t>(old_length + 4 + data.size()));
  return query;
}

std::vector<std::uint8_t> cookie_query(const std::vector<std::uint8_t>& cookie,
                                       std::string_view name = "www.example.test.",
                                       std::uint16_t udp_size = 1232) {
  QueryOptions options;
  options.edns = true;
  options.udp_size = udp_size;
  return with_option(make_query(name, rrtype::kA, options), kCookieOption, cookie);
}

const std::vector<std::uint8_t> kClientCookie = {1, 2, 3, 4, 5, 6, 7, 8};

class ResponderCookieTest : public ::testing::Test {
 protected:
  ResponderCookieTest() : snapshot_({testing::example_zone()}, 1), out_(65535) {
    std::uint8_t v4[] = {192, 0, 2, 7};
    context_.client = ipv4_client(v4);
    context_.now = kNow;
  }

  std::vector<std::uint8_t> raw(const std::vector<std::uint8_t>& query,
                                Transport transport = Transport::udp) {
    const std::size_t n = answer_query(snapshot_, query, out_, transport, context_);
    std::vector<std::uint8_t> response(out_.begin(), out_.begin() + static_cast<std::ptrdiff_t>(n));
    if (n != 0) {  // every response is a well-formed message
      ldns_pkt* pkt = nullptr;
      EXPECT_EQ(ldns_wire2pkt(&pkt, response.data(), response.size()), LDNS_STATUS_OK);
      ldns_pkt_free(pkt);
    }
    return response;
  }

  // The COOKIE data at the end of `response` (the OPT's only option), checked in place.
  static std::vector<std::uint8_t> cookie_of(const std::vector<std::uint8_t>& response) {
    EXPECT_GE(response.size(), 12 + kOptFixed + kCookieTail);
    const std::size_t opt = response.size() - kOptFixed - kCookieTail;
    EXPECT_EQ(wire::load_u16(response.data() + opt + 1), rrtype::kOpt);
    EXPECT_EQ(wire::load_u16(response.data() + opt + 9), kCookieTail);
    EXPECT_EQ(wire::load_u16(response.data() + opt + 11), kCookieOption);
    EXPECT_EQ(wire::load_u16(response.data() + opt + 13), kReplyCookieSize);
    return {response.end() - static_cast<std::ptrdiff_t>(kReplyCookieSize), response.end()};
  }

  std::vector<std::uint8_t> fresh_cookie(std::uint32_t now) const {
    std::array<std::uint8_t, kServerCookieSize> server{};
    make_server_cookie(std::span<const std::uint8_t, 8>(kClientCookie.data(), 8), context_.client,
                       context_.options.cookie_secret, now, server);
    std::vector<std::uint8_t> out = kClientCookie;
    out.insert(out.end(), server.begin(), server.end());
    return out;
  }

  registry::Snapshot snapshot_;
  std::vector<std::uint8_t> out_;
  AnswerContext context_{AnswerOptions{}, 0, 42};
};

TEST_F(ResponderCookieTest, ClientCookieGetsTheAnswerAndAServerCookie) {
  const auto response = raw(cookie_query(kClientCookie));
  EXPECT_EQ(response[3] & 0x0F, wire::rcode::kNoError);
  EXPECT_EQ(wire::load_u16(response.data() + 6), 2);  // both A records
  EXPECT_EQ(cookie_of(response), fresh_cookie(kNow));
}

TEST_F(ResponderCookieTest, ReturnedCookieIsAcceptedAndEchoed) {
  const auto first = cookie_of(raw(cookie_query(kClientCookie)));
  context_.now = kNow + 100;
  const auto response = raw(cookie_query(first));
  EXPECT_EQ(response[3] & 0x0F, wire::rcode::kNoError);
  EXPECT_EQ(wire::load_u16(response.data() + 6), 2);
  EXPECT_EQ(cookie_of(response), first);
}

TEST_F(ResponderCookieTest, InvalidServerCookieIsAnsweredWithAFreshOne) {
  std::vector<std::uint8_t> bad = kClientCookie;
  bad.insert(bad.end(), 16, 0x5A);
  const auto response = raw(cookie_query(bad));
  EXPECT_EQ(response[3] & 0x0F, wire::rcode::kNoError);
  EXPECT_EQ(wire::load_u16(response.data() + 6), 2);
  EXPECT_EQ(cookie_of(response), fresh_cookie(kNow));
}

TEST_F(ResponderCookieTest, MalformedCookieIsFormErrWithoutCookie) {
  for (std::size_t length : {0u, 5u, 12u, 41u}) {
    const auto response = raw(cookie_query(std::vector<std::uint8_t>(length, 9)));
    ASSERT_GE(response.size(), 12u) << length;
    EXPECT_EQ(response[3] & 0x0F, wire::rcode::kFormErr) << length;
    EXPECT_EQ(wire::load_u16(response.data() + 6), 0) << length;
    // OPT comes back with no option at all.
    EXPECT_EQ(wire::load_u16(response.data() + response.size() - 2), 0) << length;
  }
  EXPECT_EQ(context_.counters.with_rcode(wire::rcode::kFormErr), 4u);
}

TEST_F(ResponderCookieTest, OtherOptionsAloneGetNoCookie) {
  QueryOptions options;
  options.edns = true;
  const auto query = with_option(make_query("www.example.test.", rrtype::kA, options), 65001, {1});
  const auto response = raw(query);
  EXPECT_EQ(response[3] & 0x0F, wire::rcode::kNoError);
  EXPECT_EQ(wire::load_u16(response.data() + response.size() - 2), 0);  // empty OPT
}

TEST_F(ResponderCookieTest, CookieCountsInTheSizeBudget) {
  // 100 A records do not fit 512 octets: TC, and the cookie still goes back, in the limit.
  const auto response = raw(cookie_query(kClientCookie, "big.example.test.", 512));
  EXPECT_LE(response.size(), 512u);
  EXPECT_NE(wire::load_u16(response.data() + 2) & wire::flag::kTc, 0);
  EXPECT_EQ(cookie_of(response), fresh_cookie(kNow));
  // Over TCP it all fits, cookie included.
  const auto tcp = raw(cookie_query(kClientCookie, "big.example.test.", 512), Transport::tcp);
  EXPECT_EQ(wire::load_u16(tcp.data() + 6), 100);
  EXPECT_EQ(cookie_of(tcp), fresh_cookie(kNow));
}

TEST_F(ResponderCookieTest, RateLimitedDropIsCountedAndSilent) {
  context_.rate_action = RateAction::drop;
  EXPECT_EQ(raw(make_query("www.example.test.", rrtype::kA)).size(), 0u);
  EXPECT_EQ(raw(cookie_query(kClientCookie)).size(), 0u);
  EXPECT_EQ(context_.counters.rate_limited, 2u);
  EXPECT_EQ(context_.counters.queries(), 2u);
}

TEST_F(ResponderCookieTest, SlipWithoutCookieIsTruncatedQuestionOnly) {
  context_.rate_action = RateAction::slip;
  const auto response = raw(make_query("www.example.test.", rrtype::kA));
  ASSERT_EQ(response.size(), 12u + 18 + 4);
  EXPECT_NE(wire::load_u16(response.data() + 2) & wire::flag::kTc, 0);
  EXPECT_EQ(response[3] & 0x0F, wire::rcode::kNoError);
  EXPECT_EQ(wire::load_u16(response.data() + 6), 0);
  EXPECT_EQ(context_.counters.rate_slipped, 1u);
}

TEST_F(ResponderCookieTest, SlipWithClientCookieIsBadCookie) {
  context_.rate_action = RateAction::slip;
  const auto response = raw(cookie_query(kClientCookie));
  // BADCOOKIE = 23: 7 in the header, 1 in the OPT's extended rcode (RFC 6891 §6.1.3).
  EXPECT_EQ(response[3] & 0x0F, kBadCookie & 0x0F);
  const std::size_t opt = response.size() - kOptFixed - kCookieTail;
  EXPECT_EQ(response[opt + 5], kBadCookie >> 4);
  EXPECT_EQ(wire::load_u16(response.data() + 2) & wire::flag::kTc, 0);
  EXPECT_EQ(wire::load_u16(response.data() + 6), 0);
  EXPECT_EQ(cookie_of(response), fresh_cookie(kNow));
  // Counted under its own rcode label on /metrics, not as "other".
  EXPECT_EQ(context_.counters.with_rcode(kBadCookie), 1u);
  EXPECT_EQ(rcode_label(counted_rcode(kBadCookie)), "BADCOOKIE");
}

TEST_F(ResponderCookieTest, ValidServerCookieIsNeverLimited) {
  const auto cookie = cookie_of(raw(cookie_query(kClientCookie)));
  for (RateAction action : {RateAction::drop, RateAction::slip}) {
    context_.rate_action = action;
    const auto response = raw(cookie_query(cookie));
    EXPECT_EQ(wire::load_u16(response.data() + 6), 2);
    EXPECT_EQ(response[3] & 0x0F, wire::rcode::kNoError);
  }
  EXPECT_EQ(context_.counters.rate_limited, 0u);
  EXPECT_EQ(context_.counters.rate_slipped, 0u);
}

// With `dns.cookies = false` the server acts as one that does not implement cookies
// (RFC 7873 §5.2.1): the COOKIE option is ignored like any unknown option.
class ResponderCookiesOffTest : public ResponderCookieTest {
 protected:
  ResponderCookiesOffTest() { context_.options.cookies = false; }

  // A full answer of both A records, its OPT with no option at all.
  static void expect_plain_answer(const std::vector<std::uint8_t>& response) {
    ASSERT_GE(response.size(), 12u + kOptFixed);
    EXPECT_EQ(response[3] & 0x0F, wire::rcode::kNoError);
    EXPECT_EQ(wire::load_u16(response.data() + 2) & wire::flag::kTc, 0);
    EXPECT_EQ(wire::load_u16(response.data() + 6), 2);
    const std::size_t opt = response.size() - kOptFixed;
    EXPECT_EQ(wire::load_u16(response.data() + opt + 1), rrtype::kOpt);
    EXPECT_EQ(wire::load_u16(response.data() + opt + 9), 0);  // RDLENGTH: no COOKIE
  }
};

TEST_F(ResponderCookiesOffTest, CookiesAreIgnored) {
  expect_plain_answer(raw(cookie_query(kClientCookie)));
  expect_plain_answer(raw(cookie_query(fresh_cookie(kNow))));  // a server cookie we would make
  std::vector<std::uint8_t> bad = kClientCookie;
  bad.insert(bad.end(), 16, 0x5A);
  expect_plain_answer(raw(cookie_query(bad)));
  // The same answers, byte for byte, as to a query without the option.
  QueryOptions options;
  options.edns = true;
  EXPECT_EQ(raw(cookie_query(kClientCookie)),
            raw(make_query("www.example.test.", rrtype::kA, options)));
}

TEST_F(ResponderCookiesOffTest, MalformedCookieIsNoFormErr) {
  for (std::size_t length : {0u, 5u, 12u, 41u}) {
    SCOPED_TRACE(length);
    expect_plain_answer(raw(cookie_query(std::vector<std::uint8_t>(length, 9))));
  }
  EXPECT_EQ(context_.counters.with_rcode(wire::rcode::kFormErr), 0u);
}

TEST_F(ResponderCookiesOffTest, SlipIsTruncatedNeverBadCookie) {
  context_.rate_action = RateAction::slip;
  for (const auto& cookie : {kClientCookie, fresh_cookie(kNow)}) {
    const auto response = raw(cookie_query(cookie));
    ASSERT_EQ(response.size(), 12u + 18 + 4 + kOptFixed);  // the question and an empty OPT
    EXPECT_NE(wire::load_u16(response.data() + 2) & wire::flag::kTc, 0);
    EXPECT_EQ(response[3] & 0x0F, wire::rcode::kNoError);
    EXPECT_EQ(response[response.size() - kOptFixed + 5], 0);  // no extended rcode
    EXPECT_EQ(wire::load_u16(response.data() + 6), 0);
  }
  EXPECT_EQ(context_.counters.with_rcode(kBadCookie), 0u);
  EXPECT_EQ(context_.counters.rate_slipped, 2u);
}

TEST_F(ResponderCookiesOffTest, ValidServerCookieIsLimitedLikeAnyQuery) {
  // A cookie this server made while cookies were on proves nothing once they are off.
  context_.options.cookies = true;
  const auto cookie = cookie_of(raw(cookie_query(kClientCookie)));
  context_.options.cookies = false;
  context_.rate_action = RateAction::drop;
  EXPECT_EQ(raw(cookie_query(cookie)).size(), 0u);
  EXPECT_EQ(context_.counters.rate_limited, 1u);
}

}  // namespace
}  // namespace signpost::dns::answer
