// Builds a response in place.
#include "dns/answer/response_writer.hpp"

#include <algorithm>
#include <cstring>

namespace signpost::dns::answer {

namespace {

constexpr std::uint16_t kPointerLimit = 0x3FFF;  // 14-bit offsets (RFC 1035 §4.1.4)
constexpr std::uint16_t kQuestionOffset = wire::kHeaderSize;

}  // namespace

ResponseWriter::ResponseWriter(std::span<std::uint8_t> out, std::size_t limit,
                               const Query& query) noexcept
    : writer_(out, limit), query_(query) {
  // The header is written last, in finish(); its 12 octets always fit a 512-octet limit.
  writer_.rewind(wire::kHeaderSize);
  if (query.edns_valid) {
    // The echoed ECS option (RFC 7871 §7.2.1) is held back with OPT, so it always fits.
    reserved_ = kOptSize + (query.client_subnet.present ? query.client_subnet.option_size() : 0);
    writer_.reserve_tail(reserved_);
  }
  if (!query.has_question) return;
  // Echo the question exactly as asked: same letter case (RFC 1035 §7.3).
  const bool fits = writer_.put_bytes(query.qname.wire()) && writer_.put_u16(query.qtype) &&
                    writer_.put_u16(query.qclass);
  if (!fits) {
    writer_.rewind(wire::kHeaderSize);
    return;
  }
  for (std::size_t i = 0; i <= query.key.labels && name_count_ < kNameSlots; ++i) {
    const std::string_view suffix = query.key.suffix_key(i);
    remember(suffix, kQuestionOffset + (query.key.length - suffix.size()));
  }
}

void ResponseWriter::remember(std::string_view key, std::size_t offset) noexcept {
  if (name_count_ < kNameSlots && offset <= kPointerLimit) {
    names_[name_count_++] =
        NameSlot{key.data(), static_cast<std::uint16_t>(key.size()), static_cast<std::uint16_t>(offset)};
  }
}

std::uint16_t ResponseWriter::find_name(std::string_view key) const noexcept {
  for (std::size_t i = 0; i < name_count_; ++i) {
    const NameSlot& slot = names_[i];
    if (slot.size == key.size() && std::memcmp(slot.key, key.data(), key.size()) == 0) {
      return slot.offset;
    }
  }
  return 0;
}

bool ResponseWriter::put_name(std::string_view key, std::uint16_t& written_at) noexcept {
  const std::size_t start = writer_.size();
  std::size_t i = 0;
  std::uint16_t pointer = 0;
  for (;;) {
    const std::string_view suffix = key.substr(i);
    if (suffix.size() <= 1) {
      if (!writer_.put_u8(0)) return false;
      break;
    }
    pointer = find_name(suffix);
    if (pointer != 0) {
      if (!writer_.put_u16(static_cast<std::uint16_t>(0xC000 | pointer))) return false;
      break;
    }
    const std::size_t label = static_cast<std::uint8_t>(key[i]) + 1u;
    if (!writer_.put_bytes({reinterpret_cast<const std::uint8_t*>(key.data() + i), label})) {
      return false;
    }
    i += label;
  }
  if (i == 0) {
    written_at = pointer;  // the whole name was already in the message
    return true;
  }
  remember(key, start);
  written_at = static_cast<std::uint16_t>(start <= kPointerLimit ? start : 0);
  return true;
}

bool ResponseWriter::put_owner(Owner& owner) noexcept {
  if (owner.offset != 0) return writer_.put_u16(static_cast<std::uint16_t>(0xC000 | owner.offset));
  std::uint16_t at = 0;
  if (!put_name(owner.key, at)) return false;
  owner.offset = at;
  return true;
}

bool ResponseWriter::put_rrset(Section section, Owner& owner, const wire::RRset& rrset) noexcept {
  return put_each(section, owner, rrset.size(), [&rrset](std::size_t i) { return rrset.record(i); });
}

bool ResponseWriter::put_records(Section section, Owner& owner, const wire::RRset& rrset,
                                 std::span<const std::uint16_t> order) noexcept {
  return put_each(section, owner, order.size(),
                  [&rrset, order](std::size_t i) { return rrset.record(order[i]); });
}

bool ResponseWriter::put_soa(Section section, Owner& owner, const wire::RRset& rrset,
                             std::uint32_t ttl) noexcept {
  return put_all(section, owner, 1, [&](std::size_t) {
    const auto fixed = rrset.record(0).first(8);  // TYPE, CLASS, TTL
    if (!writer_.put_bytes(fixed) || !writer_.put_u16(0)) return false;
    const std::size_t rdata_at = writer_.size();
    if (!put_soa_rdata(rrset.rdata(0))) return false;
    wire::store_u32(writer_.data() + rdata_at - 6, ttl);
    writer_.patch_u16(rdata_at - 2, static_cast<std::uint16_t>(writer_.size() - rdata_at));
    last_rdata_offset_ = rdata_at;
    return true;
  });
}

// MNAME and RNAME (stored uncompressed, RFC 1035 §3.3.13) go through the name compressor,
// then the five 32-bit fields as they are. RDATA of another shape is copied unchanged.
bool ResponseWriter::put_soa_rdata(std::span<const std::uint8_t> rdata) noexcept {
  std::size_t position = 0;
  std::array<std::string_view, 2> names{};
  for (std::string_view& name : names) {
    const std::size_t start = position;
    while (position < rdata.size() && rdata[position] != 0 && rdata[position] < 64) {
      position += rdata[position] + 1u;
    }
    if (position >= rdata.size() || rdata[position] != 0) return writer_.put_bytes(rdata);
    ++position;
    name = {reinterpret_cast<const char*>(rdata.data() + start), position - start};
  }
  if (rdata.size() - position != 20) return writer_.put_bytes(rdata);
  std::uint16_t at = 0;
  return put_name(names[0], at) && put_name(names[1], at) &&
         writer_.put_bytes(rdata.subspan(position));
}

void ResponseWriter::set_extended_error(std::uint16_t code, std::string_view text,
                                        std::string_view detail) noexcept {
  if (!query_.edns_valid || has_error_) return;
  std::size_t length = 0;
  for (const std::string_view part : {text, detail}) {
    const std::size_t n = std::min(part.size(), kMaxErrorText - length);
    std::memcpy(error_text_.data() + length, part.data(), n);
    length += n;
  }
  const std::size_t option_size = 4 + 2 + length;  // code, length, INFO-CODE, text
  if (writer_.room() < option_size) return;
  writer_.reserve_tail(option_size);
  reserved_ += option_size;
  error_text_length_ = length;
  error_code_ = code;
  has_error_ = true;
}

bool ResponseWriter::set_cookie(std::span<const std::uint8_t> cookie) noexcept {
  const std::size_t option_size = 4 + cookie.size();  // code, length, data
  if (!query_.edns_valid || cookie_length_ != 0 || cookie.size() > kMaxCookie ||
      writer_.room() < option_size) {
    return false;
  }
  writer_.reserve_tail(option_size);
  reserved_ += option_size;
  std::memcpy(cookie_.data(), cookie.data(), cookie.size());
  cookie_length_ = cookie.size();
  return true;
}

std::size_t ResponseWriter::finish(std::uint16_t flags, std::uint16_t rcode,
                                   std::uint16_t udp_payload) noexcept {
  writer_.release_tail(reserved_);
  std::uint16_t arcount = counts_[2];
  if (query_.edns_valid) {
    // OPT: root owner, CLASS = our payload size, TTL = extended rcode, version 0, DO echoed
    // (RFC 6891 §6.1.3, RFC 3225 §3).
    const std::uint32_t ttl = (std::uint32_t{static_cast<std::uint8_t>(rcode >> 4)} << 24) |
                              (query_.edns.dnssec_ok ? 0x8000u : 0u);
    writer_.put_u8(0);
    writer_.put_u16(wire::rrtype::kOpt);
    writer_.put_u16(udp_payload);
    writer_.put_u32(ttl);
    const ClientSubnet& subnet = query_.client_subnet;
    const std::size_t subnet_size = subnet.present ? subnet.option_size() : 0;
    const std::size_t error_size = has_error_ ? 4 + 2 + error_text_length_ : 0;
    const std::size_t cookie_size = cookie_length_ != 0 ? 4 + cookie_length_ : 0;
    writer_.put_u16(static_cast<std::uint16_t>(subnet_size + error_size + cookie_size));
    if (subnet.present) encode_client_subnet(writer_, subnet, subnet_scope_);
    if (cookie_length_ != 0) {
      // COOKIE option, code 10 (RFC 7873 §4).
      writer_.put_u16(10);
      writer_.put_u16(static_cast<std::uint16_t>(cookie_length_));
      writer_.put_bytes({cookie_.data(), cookie_length_});
    }
    if (has_error_) {
      // EDE option, code 15 (RFC 8914 §2).
      writer_.put_u16(15);
      writer_.put_u16(static_cast<std::uint16_t>(2 + error_text_length_));
      writer_.put_u16(error_code_);
      writer_.put_bytes({reinterpret_cast<const std::uint8_t*>(error_text_.data()), error_text_length_});
    }
    ++arcount;
  }
  wire::Header header;
  header.id = query_.header.id;
  header.flags = static_cast<std::uint16_t>(flags | (rcode & 0x0F));
  header.qdcount = query_.has_question ? 1 : 0;
  header.ancount = counts_[0];
  header.nscount = counts_[1];
  header.arcount = arcount;
  wire::encode_header(writer_.data(), header);
  return writer_.size();
}

}  // namespace signpost::dns::answer
