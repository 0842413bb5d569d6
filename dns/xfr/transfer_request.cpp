// Zone transfer requests: the bounds-checked parse of AXFR and IXFR queries.
#include "dns/xfr/transfer_request.hpp"

#include "dns/wire/message.hpp"
#include "dns/wire/reader.hpp"
#include "dns/wire/types.hpp"

namespace signpost::dns::xfr {

namespace {

namespace rrtype = wire::rrtype;

bool question_of(std::span<const std::uint8_t> message, wire::Header& header, std::size_t& position,
                 wire::Name& qname, std::uint16_t& qtype, std::uint16_t& qclass) noexcept {
  if (!wire::parse_header(message, header)) return false;
  if (header.has(wire::flag::kQr) || header.opcode() != wire::opcode::kQuery) return false;
  if (header.qdcount != 1) return false;
  position = wire::kHeaderSize;
  wire::NameError name_error = wire::NameError::ok;
  return wire::parse_question(message, position, qname, qtype, qclass, name_error) ==
         wire::MessageError::ok;
}

// Reads the records after the question: an IXFR's SOA in authority (RFC 1995 §3), OPT and
// TSIG in additional; TSIG only last (RFC 8945 §5.1).
bool parse_sections(std::span<const std::uint8_t> message, std::size_t position,
                    const wire::Header& header, TransferRequest& out) noexcept {
  const std::size_t total =
      std::size_t{header.ancount} + header.nscount + header.arcount;
  for (std::size_t i = 0; i < total; ++i) {
    wire::RecordView record;
    wire::NameError name_error = wire::NameError::ok;
    if (wire::parse_record(message, position, record, name_error) != wire::MessageError::ok) {
      return false;
    }
    const bool authority = i >= header.ancount && i < std::size_t{header.ancount} + header.nscount;
    if (record.type == rrtype::kTsig) {
      if (i + 1 != total || i < std::size_t{header.ancount} + header.nscount) return false;
      out.has_tsig = true;
    } else if (authority && record.type == rrtype::kSoa && !out.has_client_serial) {
      // SERIAL follows MNAME and RNAME in the RDATA (RFC 1035 §3.3.13).
      std::size_t at = record.rdata_offset;
      const std::size_t end = record.rdata_offset + record.rdlength;
      if (wire::skip_name(message, at) != wire::NameError::ok ||
          wire::skip_name(message, at) != wire::NameError::ok || at + 20 != end) {
        return false;
      }
      out.client_serial = wire::load_u32(message.data() + at);
      out.has_client_serial = true;
    }
  }
  return position == message.size();
}

}  // namespace

RequestStatus parse_transfer_request(std::span<const std::uint8_t> message,
                                     TransferRequest& out) noexcept {
  wire::Header header;
  std::size_t position = 0;
  if (!wire::parse_header(message, header) || header.has(wire::flag::kQr) ||
      header.opcode() != wire::opcode::kQuery) {
    return RequestStatus::not_transfer;
  }
  out = TransferRequest{};
  out.id = header.id;
  out.flags = header.flags;
  if (!question_of(message, header, position, out.qname, out.qtype, out.qclass)) {
    return RequestStatus::formerr;
  }
  if (out.qtype != rrtype::kAxfr && out.qtype != rrtype::kIxfr) return RequestStatus::not_transfer;
  if (out.qclass != wire::rrclass::kIn) return RequestStatus::formerr;
  if (!parse_sections(message, position, header, out)) return RequestStatus::formerr;
  if (out.qtype == rrtype::kIxfr && !out.has_client_serial) return RequestStatus::formerr;
  try {
    out.zone.assign(reinterpret_cast<const char*>(out.qname.bytes.data()), out.qname.length);
  } catch (...) {
    return RequestStatus::formerr;
  }
  wire::fold_name({reinterpret_cast<std::uint8_t*>(out.zone.data()), out.zone.size()});
  return RequestStatus::ok;
}

}  // namespace signpost::dns::xfr
