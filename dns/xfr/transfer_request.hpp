// Zone transfer requests (AXFR, RFC 5936; IXFR, RFC 1995): what a client asks for.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "dns/wire/name.hpp"

namespace signpost::dns::xfr {

/// A parsed AXFR or IXFR request.
struct TransferRequest {
  std::uint16_t id = 0;
  std::uint16_t flags = 0;
  wire::Name qname;            // as sent, echoed in the response
  std::string zone;            // lower-case uncompressed wire form
  std::uint16_t qtype = 0;     // AXFR (252) or IXFR (251)
  std::uint16_t qclass = 0;
  bool has_client_serial = false;  // IXFR: the SOA of the client's version (RFC 1995 §3)
  std::uint32_t client_serial = 0;
  bool has_tsig = false;       // the last additional record is a TSIG (RFC 8945 §5.1)
};

/// Why a request was not accepted for transfer.
enum class RequestStatus : std::uint8_t {
  ok,
  not_transfer,  // not a QUERY for AXFR or IXFR (QR set, other opcode or qtype)
  formerr,       // malformed: QDCOUNT != 1, bad names, records running past the end,
                 // trailing octets, class other than IN, an IXFR without its SOA
};

/// Parses an AXFR or IXFR request (RFC 5936 §2.1, RFC 1995 §3). Untrusted bytes: every
/// field is bounds-checked. Any thread; noexcept; allocates only `out.zone`.
RequestStatus parse_transfer_request(std::span<const std::uint8_t> message,
                                     TransferRequest& out) noexcept;

}  // namespace signpost::dns::xfr
