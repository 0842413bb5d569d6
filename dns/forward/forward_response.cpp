// The response to a forwarded query, from the upstream's answer or without one.
#include "dns/forward/forward_response.hpp"

#include <algorithm>
#include <cstring>

#include "dns/answer/query.hpp"
#include "dns/answer/response_writer.hpp"
#include "dns/wire/message.hpp"
#include "dns/wire/types.hpp"

namespace signpost::dns::forward {

namespace {

namespace flag = wire::flag;

std::size_t limit_of(const answer::Query& query, answer::Transport transport,
                     std::uint16_t udp_payload) noexcept {
  if (transport == answer::Transport::tcp) return wire::kMaxMessageSize;
  if (!query.edns_valid) return wire::kClassicUdpSize;
  // Sizes below 512 are treated as 512 (RFC 6891 §6.2.5).
  const std::size_t size = std::min<std::size_t>(query.edns.udp_size, udp_payload);
  return std::max(size, wire::kClassicUdpSize);
}

// True when `answer` is a response (QR, opcode QUERY) whose one question is `query`'s, the
// name compared without regard to case (RFC 4343 §3) and written out in full at offset 12,
// so that the client's question fits exactly in its place.
bool answers_question(std::span<const std::uint8_t> answer, const wire::Header& header,
                      const answer::Query& query) noexcept {
  if (!header.has(flag::kQr) || header.opcode() != wire::opcode::kQuery || header.qdcount != 1) {
    return false;
  }
  std::size_t position = wire::kHeaderSize;
  wire::Name name;
  std::uint16_t qtype = 0;
  std::uint16_t qclass = 0;
  wire::NameError name_error = wire::NameError::ok;
  if (wire::parse_question(answer, position, name, qtype, qclass, name_error) !=
      wire::MessageError::ok) {
    return false;
  }
  if (qtype != query.qtype || qclass != query.qclass || name.length != query.key.length ||
      position != wire::kHeaderSize + name.length + 4u) {
    return false;
  }
  wire::fold_name({name.bytes.data(), name.length});
  return name.key() == query.key.key();
}

}  // namespace

std::size_t response_limit(std::span<const std::uint8_t> query, answer::Transport transport,
                           std::uint16_t udp_payload) noexcept {
  answer::Query parsed;
  if (answer::parse_query(query, parsed) != answer::Verdict::answer) return 0;
  return limit_of(parsed, transport, udp_payload);
}

std::size_t restore_response(std::span<const std::uint8_t> query,
                             std::span<const std::uint8_t> answer, answer::Transport transport,
                             std::uint16_t udp_payload, std::span<std::uint8_t> out) noexcept {
  answer::Query asked;
  // Only queries that passed the ladder are forwarded.
  if (answer::parse_query(query, asked) != answer::Verdict::answer) return 0;
  wire::Header header;
  if (!wire::parse_header(answer, header) || !answers_question(answer, header, asked)) return 0;
  const std::size_t limit = std::min(limit_of(asked, transport, udp_payload), out.size());
  if (answer.size() > limit) {
    if (transport == answer::Transport::tcp) return 0;  // more than a message can hold
    // Header and question with TC: the client asks again over TCP (RFC 7766 §5).
    answer::ResponseWriter writer(out, limit, asked);
    const auto flags = static_cast<std::uint16_t>((header.flags & 0xFFF0) | flag::kTc | flag::kRa);
    return writer.finish(flags, header.rcode(), udp_payload);
  }
  std::memcpy(out.data(), answer.data(), answer.size());
  header.id = asked.header.id;
  header.flags |= flag::kRa;
  wire::encode_header(out.data(), header);
  // The question exactly as the client asked it, letter case included (RFC 1035 §7.3).
  const std::span<const std::uint8_t> name = asked.qname.wire();
  std::memcpy(out.data() + wire::kHeaderSize, name.data(), name.size());
  return answer.size();
}

std::size_t failure_response(std::span<const std::uint8_t> query, std::uint16_t rcode,
                             std::uint16_t udp_payload, std::span<std::uint8_t> out) noexcept {
  answer::Query asked;
  const answer::Verdict verdict = answer::parse_query(query, asked);
  if (verdict == answer::Verdict::drop || !asked.has_question ||
      out.size() < wire::kClassicUdpSize) {
    return 0;
  }
  // Header, question and OPT always fit in 512 octets (a name is at most 255).
  answer::ResponseWriter writer(out, wire::kClassicUdpSize, asked);
  const std::uint16_t copied = asked.header.flags & (flag::kRd | flag::kCd | 0x7800);
  const auto flags = static_cast<std::uint16_t>(flag::kQr | flag::kRa | copied);
  return writer.finish(flags, rcode, udp_payload);
}

}  // namespace signpost::dns::forward
