// DNS message structure.
#include "dns/wire/message.hpp"

namespace signpost::dns::wire {

bool parse_header(std::span<const std::uint8_t> message, Header& out) noexcept {
  if (message.size() < kHeaderSize) return false;
  const std::uint8_t* p = message.data();
  out.id = load_u16(p);
  out.flags = load_u16(p + 2);
  out.qdcount = load_u16(p + 4);
  out.ancount = load_u16(p + 6);
  out.nscount = load_u16(p + 8);
  out.arcount = load_u16(p + 10);
  return true;
}

void encode_header(std::uint8_t* out, const Header& header) noexcept {
  store_u16(out, header.id);
  store_u16(out + 2, header.flags);
  store_u16(out + 4, header.qdcount);
  store_u16(out + 6, header.ancount);
  store_u16(out + 8, header.nscount);
  store_u16(out + 10, header.arcount);
}

MessageError parse_question(std::span<const std::uint8_t> message, std::size_t& position,
                            Name& qname, std::uint16_t& qtype, std::uint16_t& qclass,
                            NameError& name_error) noexcept {
  name_error = parse_name(message, position, qname, false);
  if (name_error != NameError::ok) return MessageError::bad_name;
  Reader reader(message, position);
  if (!reader.read_u16(qtype) || !reader.read_u16(qclass)) return MessageError::truncated;
  position = reader.position();
  return MessageError::ok;
}

MessageError parse_record(std::span<const std::uint8_t> message, std::size_t& position,
                          RecordView& out, NameError& name_error) noexcept {
  out.owner_offset = position;
  name_error = skip_name(message, position);
  if (name_error != NameError::ok) return MessageError::bad_name;
  Reader reader(message, position);
  if (!reader.read_u16(out.type) || !reader.read_u16(out.rrclass) || !reader.read_u32(out.ttl) ||
      !reader.read_u16(out.rdlength)) {
    return MessageError::truncated;
  }
  out.rdata_offset = reader.position();
  if (!reader.skip(out.rdlength)) return MessageError::truncated;
  position = reader.position();
  return MessageError::ok;
}

MessageError parse_opt(std::span<const std::uint8_t> message, const RecordView& record,
                       Edns& out) noexcept {
  // The owner of OPT must be the root: a single zero octet (RFC 6891 §6.1.2).
  if (message[record.owner_offset] != 0) return MessageError::bad_opt;
  out.present = true;
  out.udp_size = record.rrclass;
  out.extended_rcode = static_cast<std::uint8_t>(record.ttl >> 24);
  out.version = static_cast<std::uint8_t>(record.ttl >> 16);
  out.dnssec_ok = (record.ttl & 0x8000) != 0;
  out.options_offset = record.rdata_offset;
  out.options_length = record.rdlength;
  Reader reader(message.first(record.rdata_offset + record.rdlength), record.rdata_offset);
  while (reader.remaining() > 0) {
    std::uint16_t code = 0;
    std::uint16_t length = 0;
    if (!reader.read_u16(code) || !reader.read_u16(length) || !reader.skip(length)) {
      return MessageError::bad_opt;
    }
  }
  return MessageError::ok;
}

bool find_edns_option(std::span<const std::uint8_t> message, const Edns& edns,
                      std::uint16_t code, std::span<const std::uint8_t>& value) noexcept {
  if (!edns.present) return false;
  Reader reader(message.first(edns.options_offset + edns.options_length), edns.options_offset);
  while (reader.remaining() >= 4) {
    std::uint16_t option = 0;
    std::uint16_t length = 0;
    reader.read_u16(option);
    reader.read_u16(length);
    std::span<const std::uint8_t> data;
    if (!reader.read_bytes(length, data)) return false;
    if (option == code) {
      value = data;
      return true;
    }
  }
  return false;
}

}  // namespace signpost::dns::wire
