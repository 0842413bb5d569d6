// Reading the response to an UPDATE with the wire parser, the lease reader the server uses
// on requests, and TSIG response verification.
#include "health/protocol/update_response.hpp"

#include "dns/wire/message.hpp"
#include "dns/wire/types.hpp"
#include "health/protocol/update_request.hpp"

namespace signpost::health {

namespace {

namespace wire = dns::wire;

// Walks the zone section and every record, reading the OPT (RFC 6891 §6.1.1: at most one,
// in the additional section) into `out`; false when the message does not parse.
bool read_sections(std::span<const std::uint8_t> message, const wire::Header& header,
                   UpdateResponse& out) {
  std::size_t position = wire::kHeaderSize;
  for (std::uint16_t i = 0; i < header.qdcount; ++i) {
    if (wire::skip_name(message, position) != wire::NameError::ok ||
        position + 4 > message.size()) {
      return false;
    }
    position += 4;
  }
  const std::size_t answers = std::size_t{header.ancount} + header.nscount;
  const std::size_t records = answers + header.arcount;
  bool edns_seen = false;
  for (std::size_t i = 0; i < records; ++i) {
    wire::RecordView record;
    wire::NameError name_error;
    if (wire::parse_record(message, position, record, name_error) != wire::MessageError::ok) {
      return false;
    }
    if (record.type != wire::rrtype::kOpt) continue;
    wire::Edns edns;
    if (i < answers || edns_seen ||
        wire::parse_opt(message, record, edns) != wire::MessageError::ok ||
        !read_update_lease(message, edns, out.lease)) {
      return false;
    }
    edns_seen = true;
    out.rcode = static_cast<std::uint16_t>(out.rcode | (edns.extended_rcode << 4));
  }
  return position == message.size();
}

}  // namespace

UpdateResponse parse_update_response(std::span<const std::uint8_t> message,
                                     std::uint16_t request_id,
                                     std::span<const std::uint8_t> request_mac,
                                     const TsigSigner& signer, std::uint64_t now) {
  UpdateResponse out;
  wire::Header header;
  if (!wire::parse_header(message, header)) return out;
  out.rcode = header.rcode();
  if (!read_sections(message, header, out)) {
    out.rcode = 0;
    out.lease.reset();
    return out;
  }
  if (header.id != request_id || !header.has(wire::flag::kQr) ||
      header.opcode() != wire::opcode::kUpdate) {
    out.status = UpdateResponse::Status::not_this_request;
    return out;
  }
  out.status = UpdateResponse::Status::ok;
  out.tsig = signer.verify_response(message, request_mac, now);
  return out;
}

}  // namespace signpost::health
