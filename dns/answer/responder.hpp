// The answer function: one query in, one response out, from a snapshot.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "dns/answer/client_prefix.hpp"
#include "dns/answer/cookie.hpp"
#include "dns/answer/order.hpp"
#include "dns/answer/owned_counter.hpp"
#include "dns/wire/types.hpp"
#include "registry/snapshot.hpp"

namespace signpost::dns::answer {

/// How the query arrived; decides the size limit (RFC 1035 §4.2, RFC 6891 §6.2.5, RFC 7766).
enum class Transport : std::uint8_t { udp, tcp };

/// How registry answers are ordered (`dns.order`).
enum class OrderMode : std::uint8_t { weighted, round_robin };

/// Fixed settings of the answer path, taken from `[dns]` at start-up.
struct AnswerOptions {
  std::uint16_t udp_payload = 1232;  // our EDNS payload size
  OrderMode order = OrderMode::weighted;
  /// Names outside every served zone are forwarded (`[forward] servers` set): such queries
  /// with RD are left to the caller's Forwarder, and every response sets RA.
  bool forward = false;
  /// Clients whose queries may be forwarded (`forward.allow`); empty = none. A client
  /// outside every prefix gets REFUSED for names outside the served zones, with RA clear.
  std::vector<ClientPrefix> forward_allow;
  /// DNS Cookies (`dns.cookies`). When false a COOKIE option is ignored like any unknown
  /// option, as by a server without cookies (RFC 7873 §5.2.1): no COOKIE back, no FORMERR
  /// for a malformed one, no BADCOOKIE from rate limiting and no exemption from it.
  bool cookies = true;
  SipKey cookie_secret{};  // keys server cookies (RFC 9018 §4.4); the same on every thread
};

/// What response rate limiting (dns/net/rate_limit.hpp) decided for the query about to be
/// answered: answer it, drop it, or send a short answer that asks the client to come back
/// over TCP or with a server cookie ("slip").
enum class RateAction : std::uint8_t { answer, drop, slip };

/// The qtypes responses are counted by (signpost_dns_queries_total's `qtype`); any other
/// counts as `other`.
enum class CountedQtype : std::uint8_t { a, aaaa, srv, txt, ptr, soa, ns, any, other };
inline constexpr std::size_t kCountedQtypes = 9;
/// The rcodes responses are counted by (`rcode`); BADVERS is the extended rcode of
/// RFC 6891 §6.1.3. Any other counts as `other`.
enum class CountedRcode : std::uint8_t {
  noerror, formerr, servfail, nxdomain, notimp, refused, notauth, badvers, badcookie, other
};
inline constexpr std::size_t kCountedRcodes = 10;
inline constexpr std::size_t kTransports = 2;

namespace counted_detail {
// Lookup tables, so that classifying a response is two loads and no branch beyond a bounds
// check (a switch compiled to an indirect jump cost about 30 instructions per answer).
inline constexpr std::array<CountedQtype, 256> kQtypes = [] {
  std::array<CountedQtype, 256> table{};
  table.fill(CountedQtype::other);
  table[wire::rrtype::kA] = CountedQtype::a;
  table[wire::rrtype::kAaaa] = CountedQtype::aaaa;
  table[wire::rrtype::kSrv] = CountedQtype::srv;
  table[wire::rrtype::kTxt] = CountedQtype::txt;
  table[wire::rrtype::kPtr] = CountedQtype::ptr;
  table[wire::rrtype::kSoa] = CountedQtype::soa;
  table[wire::rrtype::kNs] = CountedQtype::ns;
  table[wire::rrtype::kAny] = CountedQtype::any;
  return table;
}();
inline constexpr std::array<CountedRcode, 32> kRcodes = [] {
  std::array<CountedRcode, 32> table{};
  table.fill(CountedRcode::other);
  table[wire::rcode::kNoError] = CountedRcode::noerror;
  table[wire::rcode::kFormErr] = CountedRcode::formerr;
  table[wire::rcode::kServFail] = CountedRcode::servfail;
  table[wire::rcode::kNxDomain] = CountedRcode::nxdomain;
  table[wire::rcode::kNotImp] = CountedRcode::notimp;
  table[wire::rcode::kRefused] = CountedRcode::refused;
  table[wire::rcode::kNotAuth] = CountedRcode::notauth;
  table[wire::rcode::kBadVers] = CountedRcode::badvers;
  table[kBadCookie] = CountedRcode::badcookie;  // RFC 7873 §8
  return table;
}();
}  // namespace counted_detail

/// The counted class of `qtype`. Any thread; noexcept; inline (once per response).
inline CountedQtype counted_qtype(std::uint16_t qtype) noexcept {
  return qtype < counted_detail::kQtypes.size() ? counted_detail::kQtypes[qtype]
                                                : CountedQtype::other;
}
/// The counted class of `rcode`. Any thread; noexcept; inline (once per response).
inline CountedRcode counted_rcode(std::uint16_t rcode) noexcept {
  return rcode < counted_detail::kRcodes.size() ? counted_detail::kRcodes[rcode]
                                                : CountedRcode::other;
}
/// "A", "AAAA", ..., "other"; "NOERROR", ..., "other"; "udp", "tcp": metric label values.
std::string_view qtype_label(CountedQtype qtype) noexcept;
std::string_view rcode_label(CountedRcode rcode) noexcept;
std::string_view transport_label(Transport transport) noexcept;

/// One answering thread's counters. Only that thread adds to them; any thread may read them
/// while it runs (see OwnedCounter), so a scrape sums them with no lock and no shared counter.
/// Aligned to a cache line so that no other thread's data shares one with them.
/// Every query the answer path sees is either dropped or gets one response, counted once by
/// transport, qtype and rcode: that one increment per query is the whole cost on the path.
struct alignas(64) AnswerCounters {
  OwnedCounter dropped;
  OwnedCounter truncated;
  OwnedCounter signed_queries;  // carried TSIG (RFC 8945): left to the signed path
  OwnedCounter rate_limited;    // dropped by response rate limiting
  OwnedCounter rate_slipped;    // limited, answered TC=1 or BADCOOKIE instead (also a response)
  OwnedCounter forward_refused; // outside our zones, RD set, forwarding on, client outside its allow
  std::array<OwnedCounter, kTransports * kCountedQtypes * kCountedRcodes> responses{};

  /// Counts one response. The owning thread; noexcept.
  void count_response(Transport transport, std::uint16_t qtype, std::uint16_t rcode) noexcept {
    ++responses[index(transport, counted_qtype(qtype), counted_rcode(rcode))];
  }
  /// Responses sent over `transport` to `qtype` with `rcode`. Any thread.
  std::uint64_t responses_of(Transport transport, CountedQtype qtype,
                             CountedRcode rcode) const noexcept {
    return responses[index(transport, qtype, rcode)];
  }
  /// Responses with `rcode`, over both transports and every qtype. Any thread.
  std::uint64_t with_rcode(std::uint16_t rcode) const noexcept;
  /// Queries answered or dropped (signed ones once the signed path answered them). Any thread.
  std::uint64_t queries() const noexcept;

  /// Adds `other` (read on this thread) to these counters, which must be this thread's own
  /// (a sum being made), not a running answer context's.
  AnswerCounters& operator+=(const AnswerCounters& other) noexcept;

 private:
  static constexpr std::size_t index(Transport transport, CountedQtype qtype,
                                     CountedRcode rcode) noexcept {
    return (static_cast<std::size_t>(transport) * kCountedQtypes +
            static_cast<std::size_t>(qtype)) * kCountedRcodes + static_cast<std::size_t>(rcode);
  }
};

/// What one answering thread keeps between queries: options, counters, its random generator
/// and the ordering scratch, all allocated once here. Owned and used by that thread.
class AnswerContext {
 public:
  /// `worker` is the thread's row of round-robin state; `seed` 0 picks a random seed,
  /// otherwise the generator is seeded from seed and row so orders are reproducible.
  AnswerContext(const AnswerOptions& options, std::size_t worker, std::uint64_t seed);
  AnswerContext(const AnswerContext&) = delete;
  AnswerContext& operator=(const AnswerContext&) = delete;

  AnswerOptions options;
  Random random;
  OrderScratch scratch;
  std::size_t worker;
  std::span<std::uint16_t> order;  // one answer's record order
  /// Set by answer_query when it returned 0 because the query carries a TSIG record (RFC
  /// 8945): the caller hands it to its signed path. Read it only right after that call.
  bool signed_query = false;
  /// Set by answer_query when it returned 0 because the query is to be forwarded (see
  /// AnswerOptions::forward; only for a `client` in AnswerOptions::forward_allow): the
  /// caller hands it to its Forwarder. Read it right after.
  bool forward_query = false;
  /// Set by the caller before each answer_query: who asked (its server cookie is bound to
  /// the address, RFC 9018 §4.4), the wall clock in seconds since 1970 mod 2^32 (cookie
  /// timestamps, §4.2), and what rate limiting decided (UDP only; TCP is never limited).
  ClientAddress client{};
  std::uint32_t now = 0;
  RateAction rate_action = RateAction::answer;
  // Last: the fields above, which every answer reads, keep sharing their cache lines.
  AnswerCounters counters;

 private:
  std::vector<std::uint64_t> weights_;
  std::vector<std::uint16_t> indexes_;
  std::vector<double> keys_;
  std::vector<std::uint16_t> order_;
};

/// Before a batch of queries is answered: starts loading, for each query that names a
/// registry service (`<service>.<domain>` or `_<service>._<proto>.<domain>`), what its
/// answer will read: the shard slot, the service's records, their record group and wire.
/// Each step is one pass over the batch, so that the batch's cache misses overlap instead of
/// each answer waiting for its own in turn. A hint: no answer changes. The worker's thread;
/// noexcept; no allocation.
void prefetch_answers(const registry::Snapshot& snapshot,
                      std::span<const std::span<const std::uint8_t>> queries) noexcept;

/// Answers the DNS message in `query` from `snapshot`, writing the response into `out`
/// (at least 65,535 octets for TCP; at least the EDNS payload size for UDP). Returns the
/// response length, or 0 when the message must be dropped (shorter than a header, or a
/// response) or when it carries a TSIG record: then `context.signed_query` is set and the
/// caller's signed path verifies it and calls here again with the TSIG taken off. Unless
/// AnswerOptions::cookies is off, a COOKIE option is checked and answered as in cookie.hpp
/// (RFC 7873 §5.2); a malformed one gets FORMERR. When `context.rate_action` is not `answer`
/// and the query has no valid server cookie, the response is dropped, or slipped: TC=1 with
/// the question only, or BADCOOKIE and a fresh cookie when the query had a client cookie
/// (RFC 7873 §5.2.3). The response leaves `reserve` octets of its size limit free, for a
/// record the caller appends (the signed path's TSIG, RFC 8945 §5.3); what does not fit
/// then sets TC as usual.
/// Validation follows the ladder in query.hpp; lookup follows RFC 1034 §4.3.2 for static
/// zones and DESIGN.md's names for the registry.
/// The worker that owns `context`; noexcept; never allocates, locks or logs.
std::size_t answer_query(const registry::Snapshot& snapshot, std::span<const std::uint8_t> query,
                         std::span<std::uint8_t> out, Transport transport,
                         AnswerContext& context, std::size_t reserve = 0) noexcept;

/// Writes into `out` the response to `query` that carries nothing but `rcode`: the header,
/// the question echoed, OPT when the query had EDNS, and `reserve` octets of the size limit
/// left free, as answer_query. For a caller that decided the rcode itself (a TSIG error:
/// NOTAUTH, or FORMERR, RFC 8945 §5.2). Returns the length, 0 when the message must be
/// dropped. The worker that owns `context`; noexcept; no allocation.
std::size_t answer_error(std::span<const std::uint8_t> query, std::span<std::uint8_t> out,
                         Transport transport, std::uint16_t rcode, AnswerContext& context,
                         std::size_t reserve = 0) noexcept;

}  // namespace signpost::dns::answer
