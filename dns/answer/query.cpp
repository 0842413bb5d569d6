// The validation ladder.
#include "dns/answer/query.hpp"

namespace signpost::dns::answer {

namespace {

namespace rrtype = wire::rrtype;

// Walks answer, authority and additional records; notes the OPT and TSIG records.
Verdict parse_records(std::span<const std::uint8_t> packet, std::size_t position, Query& out) noexcept {
  const wire::Header& h = out.header;
  const std::size_t total = std::size_t{h.ancount} + h.nscount + h.arcount;
  const std::size_t additional_start = std::size_t{h.ancount} + h.nscount;
  bool tsig = false;
  for (std::size_t i = 0; i < total; ++i) {
    wire::RecordView record;
    wire::NameError name_error = wire::NameError::ok;
    if (wire::parse_record(packet, position, record, name_error) != wire::MessageError::ok) {
      return Verdict::formerr;
    }
    if (record.type == rrtype::kTsig) {
      // Only as the last record, in the additional section (RFC 8945 §5.1).
      if (i + 1 != total || i < additional_start) return Verdict::formerr;
      tsig = true;
      continue;
    }
    if (record.type != rrtype::kOpt) continue;
    // One OPT, in the additional section, owned by the root (RFC 6891 §6.1.1).
    if (i < additional_start || out.edns_valid) return Verdict::formerr;
    if (wire::parse_opt(packet, record, out.edns) != wire::MessageError::ok) return Verdict::formerr;
    out.edns_valid = true;
  }
  if (position != packet.size()) return Verdict::formerr;
  return tsig ? Verdict::signed_query : Verdict::answer;
}

Verdict check_question(const Query& q) noexcept {
  if (q.edns_valid && q.edns.version > 0) return Verdict::badvers;
  switch (q.qtype) {
    case rrtype::kOpt:
    case rrtype::kTsig:
    case rrtype::kTkey:
      return Verdict::formerr;
    case rrtype::kMaila:
    case rrtype::kMailb:
      return Verdict::notimp;
    case rrtype::kAxfr:
    case rrtype::kIxfr:
      return Verdict::refused;
    default:
      break;
  }
  if (q.qclass != wire::rrclass::kIn) return Verdict::refused;
  return Verdict::answer;
}

}  // namespace

Verdict parse_query(std::span<const std::uint8_t> packet, Query& out) noexcept {
  out.has_question = false;
  out.edns_valid = false;
  out.edns = wire::Edns{};
  out.client_subnet.present = false;
  if (!wire::parse_header(packet, out.header)) return Verdict::drop;
  if (out.header.has(wire::flag::kQr)) return Verdict::drop;
  const std::uint16_t opcode = out.header.opcode();
  if (opcode != wire::opcode::kQuery && opcode != wire::opcode::kNotify) return Verdict::notimp;
  if (out.header.qdcount != 1) return Verdict::formerr;
  std::size_t position = wire::kHeaderSize;
  wire::NameError name_error = wire::NameError::ok;
  if (wire::parse_question(packet, position, out.qname, out.qtype, out.qclass, name_error) !=
      wire::MessageError::ok) {
    return Verdict::formerr;
  }
  out.has_question = true;
  out.key.assign(out.qname);
  wire::fold_name({out.key.bytes.data(), out.key.length});
  const Verdict records = parse_records(packet, position, out);
  // A NOTIFY is answered with an error: we follow no primary, and a secondary refuses one
  // from a host that is not its primary (RFC 1996 §3.10). A signed one goes to the signed
  // path first, so that the error goes back signed, or with the TSIG error when the key or
  // MAC does not verify (RFC 8945 §5.2, §5.3); that path runs this ladder again without it.
  if (opcode == wire::opcode::kNotify) {
    return records == Verdict::formerr || records == Verdict::signed_query ? records
                                                                            : Verdict::notify;
  }
  if (records != Verdict::answer) return records;
  const Verdict question = check_question(out);
  if (question != Verdict::answer) return question;
  return parse_client_subnet(packet, out.edns, out.client_subnet) ? Verdict::answer : Verdict::formerr;
}

}  // namespace signpost::dns::answer
