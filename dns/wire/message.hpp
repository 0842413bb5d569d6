// DNS message structure: header, question, resource records and the EDNS OPT record.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "dns/wire/name.hpp"
#include "dns/wire/reader.hpp"
#include "dns/wire/types.hpp"

namespace signpost::dns::wire {

/// The fixed 12-octet header (RFC 1035 §4.1.1).
struct Header {
  std::uint16_t id = 0;
  std::uint16_t flags = 0;
  std::uint16_t qdcount = 0;
  std::uint16_t ancount = 0;
  std::uint16_t nscount = 0;
  std::uint16_t arcount = 0;

  std::uint8_t opcode() const noexcept { return static_cast<std::uint8_t>((flags >> 11) & 0x0F); }
  std::uint8_t rcode() const noexcept { return static_cast<std::uint8_t>(flags & 0x0F); }
  bool has(std::uint16_t bit) const noexcept { return (flags & bit) != 0; }
};

/// Reads the header; false when the message is shorter than 12 octets. No allocation.
bool parse_header(std::span<const std::uint8_t> message, Header& out) noexcept;

/// Writes the header into the first 12 octets of `out` (which must hold them).
void encode_header(std::uint8_t* out, const Header& header) noexcept;

/// Why a message's structure was rejected.
enum class MessageError : std::uint8_t {
  ok,
  bad_name,        // a name failed parse_name (see NameError)
  truncated,       // a fixed field or rdata runs past the end
  trailing_data,   // octets left after the last counted record
  bad_opt,         // OPT not at the root, not in additional, repeated, or options malformed
};

/// A resource record as found in a message; offsets index the message.
struct RecordView {
  std::size_t owner_offset = 0;
  std::uint16_t type = 0;
  std::uint16_t rrclass = 0;
  std::uint32_t ttl = 0;
  std::size_t rdata_offset = 0;
  std::uint16_t rdlength = 0;
};

/// Reads a question entry (name, type, class) at `position` and advances past it. The
/// name keeps the letter case it was sent in.
MessageError parse_question(std::span<const std::uint8_t> message, std::size_t& position,
                            Name& qname, std::uint16_t& qtype, std::uint16_t& qclass,
                            NameError& name_error) noexcept;

/// Reads one resource record at `position` and advances past it; the owner is validated
/// but not expanded.
MessageError parse_record(std::span<const std::uint8_t> message, std::size_t& position,
                          RecordView& out, NameError& name_error) noexcept;

/// What the OPT pseudo-record said (RFC 6891 §6.1.2, §6.1.3).
struct Edns {
  bool present = false;
  std::uint16_t udp_size = 0;     // requestor's payload size, as sent
  std::uint8_t extended_rcode = 0;
  std::uint8_t version = 0;
  bool dnssec_ok = false;
  std::size_t options_offset = 0;  // options in the message, already validated
  std::uint16_t options_length = 0;
};

/// Interprets an OPT record found in the additional section: its owner must be the root
/// and its options well formed (RFC 6891 §6.1.2). No allocation.
MessageError parse_opt(std::span<const std::uint8_t> message, const RecordView& record,
                       Edns& out) noexcept;

/// Looks up an EDNS option by code; on success `value` views its data. No allocation.
bool find_edns_option(std::span<const std::uint8_t> message, const Edns& edns,
                      std::uint16_t code, std::span<const std::uint8_t>& value) noexcept;

}  // namespace signpost::dns::wire
