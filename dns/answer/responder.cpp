// The answer function: validation ladder, then the registry or static zone lookup.
#include "dns/answer/responder.hpp"

#include <random>

#include "dns/answer/answer_state.hpp"
#include "dns/answer/cookie.hpp"
#include "dns/answer/query.hpp"
#include "dns/answer/response_writer.hpp"
#include "dns/wire/reader.hpp"
#include "dns/wire/types.hpp"

namespace signpost::dns::answer {

namespace {

namespace rrtype = wire::rrtype;
namespace rcode = wire::rcode;

// The most records one answer can hold: a 64 KiB message of 16-octet A records.
constexpr std::size_t kMaxOrdered = 65536 / 16;
constexpr std::size_t kMaxScratch = 65536;

std::size_t udp_limit(const Query& query, const AnswerOptions& options) noexcept {
  if (!query.edns_valid) return wire::kClassicUdpSize;
  // Sizes below 512 are treated as 512 (RFC 6891 §6.2.5).
  const std::size_t size = std::min<std::size_t>(query.edns.udp_size, options.udp_payload);
  return std::max(size, wire::kClassicUdpSize);
}

// What a response to `query` may take of `out`, less `reserve`; 0 when not even a header fits.
std::size_t response_room(const Query& query, std::span<std::uint8_t> out, Transport transport,
                          const AnswerOptions& options, std::size_t reserve) noexcept {
  const std::size_t limit = std::min(
      transport == Transport::tcp ? wire::kMaxMessageSize : udp_limit(query, options), out.size());
  return limit >= reserve + wire::kHeaderSize ? limit - reserve : 0;
}

std::uint16_t response_flags(const Query& query, const AnswerOptions& options) noexcept {
  // Opcode, RD and CD are copied; RA says whether recursion is available (RFC 1035 §4.1.1):
  // only when other names are forwarded.
  const std::uint16_t copied = query.header.flags & (wire::flag::kRd | wire::flag::kCd | 0x7800);
  const std::uint16_t available = options.forward ? wire::flag::kRa : 0;
  return static_cast<std::uint16_t>(wire::flag::kQr | copied | available);
}

std::uint16_t error_rcode(Verdict verdict) noexcept {
  switch (verdict) {
    case Verdict::notimp: return rcode::kNotImp;
    case Verdict::formerr: return rcode::kFormErr;
    case Verdict::badvers: return rcode::kBadVers;
    default: return rcode::kRefused;
  }
}

// The rcode of a question answered with an error. NSD and Knot, as primaries, answer
// AXFR over UDP NOTIMP (RFC 5936 §4.2 leaves it undefined), and a NOTIFY for their own zone
// REFUSED (NSD; they follow no primary for it) and for another NOTAUTH (Knot, RFC 2136 §2.2:
// not authoritative); we answer the same.
std::uint16_t error_code(const registry::Snapshot& snapshot, const Query& q, Verdict error,
                         Transport transport) noexcept {
  if (error == Verdict::notify) {
    return snapshot.find_zone(q.key) != nullptr ? rcode::kRefused : rcode::kNotAuth;
  }
  if (error == Verdict::refused && transport == Transport::udp && q.has_question &&
      q.qtype == wire::rrtype::kAxfr) {
    return rcode::kNotImp;
  }
  return error_rcode(error);
}

// Checks the COOKIE option of `q`, when it has one, and holds back room for the COOKIE the
// response carries (RFC 7873 §5.2). Runs only for queries with EDNS options.
CookieStatus answer_cookie(std::span<const std::uint8_t> packet, const Query& q,
                           ResponseWriter& writer, const AnswerContext& context) noexcept {
  std::span<const std::uint8_t> option;
  if (!wire::find_edns_option(packet, q.edns, kCookieOption, option)) return CookieStatus::absent;
  std::array<std::uint8_t, kReplyCookieSize> reply;
  const CookieStatus status =
      check_cookie(option, context.client, context.options.cookie_secret, context.now, reply);
  if (status != CookieStatus::malformed) writer.set_cookie(reply);
  return status;
}

// The response to a query that rate limiting holds back and that has no valid server cookie.
std::size_t answer_limited(const Query& q, ResponseWriter& writer, Transport transport,
                           CookieStatus cookie, AnswerContext& context) noexcept {
  AnswerCounters& counters = context.counters;
  if (context.rate_action == RateAction::drop) {
    ++counters.rate_limited;
    return 0;
  }
  ++counters.rate_slipped;
  // A client that sent a cookie gets BADCOOKIE and a server cookie, and is answered in full
  // once it comes back with it (RFC 7873 §5.2.3); any other is asked to retry over TCP.
  const bool cookie_sent = cookie == CookieStatus::client_only || cookie == CookieStatus::invalid;
  const std::uint16_t code = cookie_sent ? kBadCookie : rcode::kNoError;
  const std::uint16_t flags =
      static_cast<std::uint16_t>(response_flags(q, context.options) | (cookie_sent ? 0 : wire::flag::kTc));
  counters.count_response(transport, q.qtype, code);
  return writer.finish(flags, code, context.options.udp_payload);
}

// The node label of `<node>.node.<domain>`, or empty.
std::string_view node_label(std::string_view target, std::string_view domain) noexcept {
  if (target.empty()) return {};
  const std::size_t length = static_cast<std::uint8_t>(target[0]);
  const std::string_view rest = target.substr(length + 1);
  if (rest.size() != domain.size() + 5 || rest.substr(0, 5) != std::string_view("\4node", 5)) return {};
  if (rest.substr(5) != domain) return {};
  return target.substr(1, length);
}

}  // namespace

std::string_view qtype_label(CountedQtype qtype) noexcept {
  switch (qtype) {
    case CountedQtype::a: return "A";
    case CountedQtype::aaaa: return "AAAA";
    case CountedQtype::srv: return "SRV";
    case CountedQtype::txt: return "TXT";
    case CountedQtype::ptr: return "PTR";
    case CountedQtype::soa: return "SOA";
    case CountedQtype::ns: return "NS";
    case CountedQtype::any: return "ANY";
    case CountedQtype::other: break;
  }
  return "other";
}

std::string_view rcode_label(CountedRcode code) noexcept {
  switch (code) {
    case CountedRcode::noerror: return "NOERROR";
    case CountedRcode::formerr: return "FORMERR";
    case CountedRcode::servfail: return "SERVFAIL";
    case CountedRcode::nxdomain: return "NXDOMAIN";
    case CountedRcode::notimp: return "NOTIMP";
    case CountedRcode::refused: return "REFUSED";
    case CountedRcode::notauth: return "NOTAUTH";
    case CountedRcode::badvers: return "BADVERS";
    case CountedRcode::badcookie: return "BADCOOKIE";
    case CountedRcode::other: break;
  }
  return "other";
}

std::string_view transport_label(Transport transport) noexcept {
  return transport == Transport::tcp ? "tcp" : "udp";
}

std::uint64_t AnswerCounters::with_rcode(std::uint16_t code) const noexcept {
  const CountedRcode counted = counted_rcode(code);
  std::uint64_t sum = 0;
  for (std::size_t transport = 0; transport < kTransports; ++transport) {
    for (std::size_t qtype = 0; qtype < kCountedQtypes; ++qtype) {
      sum += responses_of(static_cast<Transport>(transport), static_cast<CountedQtype>(qtype),
                          counted);
    }
  }
  return sum;
}

std::uint64_t AnswerCounters::queries() const noexcept {
  std::uint64_t sum = dropped + rate_limited;
  for (const OwnedCounter& count : responses) sum += count;
  return sum;
}

AnswerCounters& AnswerCounters::operator+=(const AnswerCounters& other) noexcept {
  dropped += other.dropped;
  truncated += other.truncated;
  signed_queries += other.signed_queries;
  rate_limited += other.rate_limited;
  rate_slipped += other.rate_slipped;
  forward_refused += other.forward_refused;
  for (std::size_t i = 0; i < responses.size(); ++i) responses[i] += other.responses[i];
  return *this;
}

AnswerContext::AnswerContext(const AnswerOptions& opts, std::size_t worker_index, std::uint64_t seed)
    : options(opts), worker(worker_index), weights_(kMaxScratch), indexes_(kMaxScratch),
      keys_(kMaxScratch), order_(kMaxOrdered) {
  random.reseed(seed == 0 ? std::random_device{}() : seed * 0x9E3779B97F4A7C15ULL + worker_index);
  scratch = OrderScratch{weights_, indexes_, keys_};
  order = order_;
}

bool AnswerState::put(Section section, Owner& owner, const wire::RRset& rrset) noexcept {
  // An SOA (one per zone) goes out with its names compressed, at its own TTL.
  const bool fits = rrset.type == rrtype::kSoa && rrset.size() == 1
                        ? writer.put_soa(section, owner, rrset, wire::load_u32(rrset.record(0).data() + 4))
                        : writer.put_rrset(section, owner, rrset);
  if (fits) return true;
  truncated = true;  // no partial RRset in answer or authority (RFC 2181 §9)
  return false;
}

void AnswerState::negative(const zone::Zone& zone, std::uint16_t code) noexcept {
  rcode = code;
  Owner owner{zone.origin(), 0};
  if (!writer.put_soa(Section::authority, owner, zone.soa(), zone.negative_ttl())) {
    truncated = true;
  }
}

void AnswerState::add_additional(const wire::RRset& rrset) noexcept {
  for (const std::string& target : rrset.targets) {
    if (!target.empty()) add_addresses(target);
  }
}

bool AnswerState::first_additional(std::string_view name) noexcept {
  for (std::size_t i = 0; i < added_count_; ++i) {
    if (std::string_view(added_[i].data, added_[i].size) == name) return false;
  }
  if (added_count_ == kMaxAdditional) return false;
  added_[added_count_++] = Added{name.data(), name.size()};
  return true;
}

// Adds the A and AAAA of `target` when served here; a set that does not fit is left out,
// without TC (RFC 2181 §9).
void AnswerState::add_addresses(std::string_view target) noexcept {
  if (!first_additional(target)) return;
  const zone::Zone* zone = snapshot.find_zone(target);
  if (zone == nullptr) return;
  Owner owner{target, 0};
  const registry::RegistryView* view = snapshot.registry();
  if (zone == snapshot.registry_zone() && view != nullptr) {
    const std::string_view label = node_label(target, zone->origin());
    if (const registry::NodeRecords* node = label.empty() ? nullptr : view->find_node(label)) {
      writer.put_each(Section::additional, owner, node->a_count, [node](std::size_t i) { return node->a(i); });
      writer.put_each(Section::additional, owner, node->aaaa_count,
                      [node](std::size_t i) { return node->aaaa(i); });
      return;
    }
  }
  const zone::Node* node = zone->find(target);
  if (node == nullptr) return;
  for (const std::uint16_t type : {rrtype::kA, rrtype::kAaaa}) {
    if (const wire::RRset* rrset = node->find(type); rrset != nullptr) {
      writer.put_rrset(Section::additional, owner, *rrset);
    }
  }
}

std::size_t answer_query(const registry::Snapshot& snapshot, std::span<const std::uint8_t> query,
                         std::span<std::uint8_t> out, Transport transport,
                         AnswerContext& context, std::size_t reserve) noexcept {
  AnswerCounters& counters = context.counters;
  Query q;
  Verdict verdict = parse_query(query, q);
  context.signed_query = verdict == Verdict::signed_query;
  context.forward_query = false;
  if (context.signed_query) [[unlikely]] {
    ++counters.signed_queries;
    return 0;  // counted as a query when the signed path answers it
  }
  const std::size_t room = response_room(q, out, transport, context.options, reserve);
  if (verdict == Verdict::drop || out.size() < wire::kClassicUdpSize || room == 0) {
    ++counters.dropped;
    return 0;
  }
  if (verdict == Verdict::notimp) q.has_question = false;  // not parsed past the header
  ResponseWriter writer(out, room, q);
  // With cookies off the option is not even looked for: absent, as for a server without
  // them (RFC 7873 §5.2.1), so nothing below (FORMERR, BADCOOKIE, the limit's exemption) acts.
  const CookieStatus cookie = q.edns.options_length != 0 && context.options.cookies
                                  ? answer_cookie(query, q, writer, context)
                                  : CookieStatus::absent;
  if (cookie == CookieStatus::malformed) [[unlikely]] verdict = Verdict::formerr;  // §5.2.2
  if (context.rate_action != RateAction::answer && cookie != CookieStatus::valid) [[unlikely]] {
    return answer_limited(q, writer, transport, cookie, context);
  }
  std::uint16_t flags = response_flags(q, context.options);
  const zone::Zone* zone = verdict == Verdict::answer ? snapshot.find_zone(q.key) : nullptr;
  if (zone == nullptr) {
    if (verdict == Verdict::answer && context.options.forward && q.header.has(wire::flag::kRd)) {
      // Checked here only, so that answers from our zones do no extra work.
      if (any_prefix_contains(context.options.forward_allow, context.client)) {
        context.forward_query = true;  // the Forwarder answers and counts it
        return 0;
      }
      // RA says whether recursion is available (RFC 1035 §4.1.1): to this client it is not.
      // BIND (allow-recursion) and Unbound (access-control refuse) clear it too.
      flags = static_cast<std::uint16_t>(flags & ~wire::flag::kRa);
      ++counters.forward_refused;
    }
    // Otherwise names outside every served zone are refused, as NSD and Knot do.
    const Verdict error = verdict == Verdict::answer ? Verdict::refused : verdict;
    const std::uint16_t code = error_code(snapshot, q, error, transport);
    counters.count_response(transport, q.qtype, code);
    return writer.finish(flags, code, context.options.udp_payload);
  }
  AnswerState state(snapshot, q, writer, context);
  Owner owner{q.key.key(), wire::kHeaderSize};
  if (zone != snapshot.registry_zone() || !lookup_registry(state, *zone, q.key.key(), owner)) {
    lookup_zone(state, *zone, q.key.key(), owner);
  }
  std::uint16_t result_flags = flags;
  if (state.authoritative) result_flags |= wire::flag::kAa;
  if (state.truncated) {
    result_flags |= wire::flag::kTc;
    ++counters.truncated;
  }
  counters.count_response(transport, q.qtype, state.rcode);
  return writer.finish(result_flags, state.rcode, context.options.udp_payload);
}

std::size_t answer_error(std::span<const std::uint8_t> query, std::span<std::uint8_t> out,
                         Transport transport, std::uint16_t rcode, AnswerContext& context,
                         std::size_t reserve) noexcept {
  AnswerCounters& counters = context.counters;
  Query q;
  const Verdict verdict = parse_query(query, q);
  const std::size_t room = response_room(q, out, transport, context.options, reserve);
  if (verdict == Verdict::drop || out.size() < wire::kClassicUdpSize || room == 0) {
    ++counters.dropped;
    return 0;
  }
  counters.count_response(transport, q.qtype, rcode);
  if (verdict == Verdict::notimp) q.has_question = false;  // not parsed past the header
  ResponseWriter writer(out, room, q);
  return writer.finish(response_flags(q, context.options), rcode, context.options.udp_payload);
}

}  // namespace signpost::dns::answer
