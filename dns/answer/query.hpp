// The validation ladder: decides, before any lookup, whether and how a query is answered.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "dns/answer/client_subnet.hpp"
#include "dns/wire/message.hpp"
#include "dns/wire/name.hpp"

namespace signpost::dns::answer {

/// What the ladder decided (after NSD's order: drop, NOTIMP, FORMERR, REFUSED).
enum class Verdict : std::uint8_t {
  answer,   // look the question up
  drop,     // shorter than a header, or QR set: no response at all
  notimp,   // an opcode we do not implement, or a meta qtype (MAILA/MAILB)
  formerr,  // malformed: see the ladder in parse_query
  refused,  // class other than IN, or a transfer we do not serve
  badvers,  // EDNS version above 0 (RFC 6891 §6.1.3)
  signed_query,  // carries TSIG (RFC 8945): verified, answered and signed off this path
  notify,   // a NOTIFY (RFC 1996) sent to us, a primary only: REFUSED, NOTAUTH outside our zones
};

/// A parsed query. `qname` keeps the client's letter case (echoed, RFC 1035 §7.3 and the
/// 0x20 practice); `key` is the lower-case copy used for lookups.
struct Query {
  wire::Header header;
  wire::Name qname;
  wire::Name key;
  std::uint16_t qtype = 0;
  std::uint16_t qclass = 0;
  bool has_question = false;  // the question parsed, so it can be echoed
  wire::Edns edns;
  bool edns_valid = false;    // an OPT record parsed, so one goes back
  ClientSubnet client_subnet;  // its ECS option (RFC 7871), echoed when present
};

/// Runs the ladder over `packet`:
///  1. shorter than a header or QR=1: drop;
///  2. opcode other than QUERY or NOTIFY: NOTIMP;
///  3. QDCOUNT != 1, a bad name (label > 63, name > 255, pointer loops or forward
///     pointers), a record running past the end, trailing octets, an OPT record outside
///     the additional section, not at the root or repeated: FORMERR;
///     a TSIG record anywhere but last in the additional section (RFC 8945 §5.1): FORMERR;
///  4. a TSIG record, last: signed_query. The question is not looked at further here: the
///     signed path verifies the TSIG, then runs this ladder again on the message without it,
///     so that the steps below are answered signed;
///  5. opcode NOTIFY (RFC 1996): notify, answered REFUSED or NOTAUTH (see responder.cpp);
///  6. EDNS version > 0: BADVERS;
///  7. class other than IN, zone transfers (until they are served): REFUSED;
///     MAILA/MAILB: NOTIMP; OPT, TSIG or TKEY as qtype: FORMERR;
///  8. a malformed EDNS Client Subnet option (RFC 7871 §7.1.2, see client_subnet.hpp): FORMERR.
/// Any thread; noexcept; no allocation.
Verdict parse_query(std::span<const std::uint8_t> packet, Query& out) noexcept;

}  // namespace signpost::dns::answer
