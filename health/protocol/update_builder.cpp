// Building DNS UPDATE requests (RFC 2136 §2) with the wire writer, signed with TSIG.
#include "health/protocol/update_builder.hpp"

#include <arpa/inet.h>

#include <array>

#include "dns/wire/message.hpp"
#include "dns/wire/name.hpp"
#include "health/protocol/update_request.hpp"

namespace signpost::health {

namespace {

namespace wire = dns::wire;

// The OPT record with the Update Lease: root owner, type, payload size, TTL (extended
// rcode, version, flags: all 0), RDLENGTH, then option code, length and LEASE (RFC 6891
// §6.1.2, RFC 9664 §4).
constexpr std::size_t kLeaseOptSize = 1 + 2 + 2 + 4 + 2 + 4 + 4;

void append_u16(std::vector<std::uint8_t>& out, std::uint16_t value) {
  out.push_back(static_cast<std::uint8_t>(value >> 8));
  out.push_back(static_cast<std::uint8_t>(value));
}

}  // namespace

std::string_view to_string(UpdateBuildError error) noexcept {
  switch (error) {
    case UpdateBuildError::ok: return "no error";
    case UpdateBuildError::bad_name: return "not a domain name";
    case UpdateBuildError::bad_address: return "not a numeric IPv4 or IPv6 address";
    case UpdateBuildError::bad_string: return "a TXT string longer than 255 octets";
    case UpdateBuildError::section_order: return "a prerequisite after an update record";
    case UpdateBuildError::too_large: return "the UPDATE would be longer than 65535 octets";
    case UpdateBuildError::bad_key: return "the key is not the signer's";
    case UpdateBuildError::finished: return "the UPDATE was finished already";
  }
  return "unknown error";
}

UpdateBuilder::UpdateBuilder(std::uint16_t id, std::string_view zone, std::uint16_t zone_class)
    : buffer_(std::make_unique_for_overwrite<std::uint8_t[]>(wire::kMaxMessageSize)),
      writer_({buffer_.get(), wire::kMaxMessageSize}, wire::kMaxMessageSize) {
  // Header: opcode UPDATE, ZOCOUNT 1; the other counts are written by finish() (RFC 2136 §2.2).
  wire::Header header;
  header.id = id;
  header.flags = static_cast<std::uint16_t>(wire::opcode::kUpdate << 11);
  header.qdcount = 1;
  std::array<std::uint8_t, wire::kHeaderSize> fixed;
  wire::encode_header(fixed.data(), header);
  writer_.put_bytes(fixed);
  if (put_name(zone)) {
    writer_.put_u16(wire::rrtype::kSoa);
    writer_.put_u16(zone_class);
  }
}

bool UpdateBuilder::fail(UpdateBuildError error, std::string_view text) {
  if (error_ == UpdateBuildError::ok) {
    error_ = error;
    error_text_.assign(text);
  }
  return false;
}

bool UpdateBuilder::put_name(std::string_view text) {
  std::string name;
  if (text.empty() || !wire::name_from_text(text, name)) {
    return fail(UpdateBuildError::bad_name, text);
  }
  if (!writer_.put_bytes({reinterpret_cast<const std::uint8_t*>(name.data()), name.size()})) {
    return fail(UpdateBuildError::too_large, text);
  }
  return true;
}

bool UpdateBuilder::add(UpdateSection section, std::string_view owner, std::uint16_t type,
                        std::uint16_t rrclass, std::uint32_t ttl,
                        std::span<const std::uint8_t> rdata) {
  if (error_ != UpdateBuildError::ok) return false;
  if (section == UpdateSection::prerequisite && counts_[1] != 0) {
    return fail(UpdateBuildError::section_order, owner);
  }
  std::uint16_t& count = counts_[static_cast<std::size_t>(section)];
  const std::size_t mark = writer_.size();
  if (!put_name(owner)) return false;
  // A record count is 16 bits too; the 65,535-octet limit reaches it first for any record
  // with an owner, so the count check is only a guard.
  if (rdata.size() > 0xFFFF || count == 0xFFFF || !writer_.put_u16(type) ||
      !writer_.put_u16(rrclass) || !writer_.put_u32(ttl) ||
      !writer_.put_u16(static_cast<std::uint16_t>(rdata.size())) || !writer_.put_bytes(rdata)) {
    writer_.rewind(mark);
    return fail(UpdateBuildError::too_large, owner);
  }
  ++count;
  return true;
}

void UpdateBuilder::set_lease(std::uint32_t lease, std::uint16_t udp_payload) noexcept {
  has_lease_ = true;
  lease_ = lease;
  udp_payload_ = udp_payload;
}

UpdateBuildError UpdateBuilder::finish(const TsigSigner& signer, const TsigKey& key,
                                       std::uint64_t now, SignedRequest& out) {
  if (error_ != UpdateBuildError::ok) return error_;
  if (signer.find(key.name_wire) != &key) {
    fail(UpdateBuildError::bad_key, key.name);
    return error_;
  }
  writer_.patch_u16(6, counts_[0]);  // PRCOUNT
  writer_.patch_u16(8, counts_[1]);  // UPCOUNT
  if (has_lease_) {
    if (writer_.room() < kLeaseOptSize) {
      fail(UpdateBuildError::too_large, "OPT");
      return error_;
    }
    writer_.put_u8(0);
    writer_.put_u16(wire::rrtype::kOpt);
    writer_.put_u16(udp_payload_);
    writer_.put_u32(0);
    writer_.put_u16(8);
    writer_.put_u16(kUpdateLeaseOption);
    writer_.put_u16(4);
    writer_.put_u32(lease_);
    writer_.patch_u16(10, 1);  // ADCOUNT: the OPT; TSIG raises it
  }
  // Room for the TSIG record too: key name and algorithm (at most 255 octets each), fixed
  // fields and the longest MAC (RFC 8945 §4.2), so that signing does not copy again.
  std::vector<std::uint8_t> message;
  message.reserve(writer_.size() + 2 * wire::kMaxNameLength + 26 + 64);
  message.assign(buffer_.get(), buffer_.get() + writer_.size());
  std::vector<std::uint8_t> mac = signer.sign_request(message, key, now);
  if (message.size() > wire::kMaxMessageSize) {
    fail(UpdateBuildError::too_large, "TSIG");
    return error_;
  }
  out.wire = std::move(message);
  out.mac = std::move(mac);
  error_ = UpdateBuildError::finished;
  return UpdateBuildError::ok;
}

UpdateBuildError encode_name_rdata(std::string_view name, std::vector<std::uint8_t>& out) {
  std::string wire_name;
  if (name.empty() || !wire::name_from_text(name, wire_name)) return UpdateBuildError::bad_name;
  out.insert(out.end(), wire_name.begin(), wire_name.end());
  return UpdateBuildError::ok;
}

UpdateBuildError encode_srv_rdata(std::uint16_t priority, std::uint16_t weight,
                                  std::uint16_t port, std::string_view target,
                                  std::vector<std::uint8_t>& out) {
  const std::size_t mark = out.size();
  append_u16(out, priority);
  append_u16(out, weight);
  append_u16(out, port);
  const UpdateBuildError error = encode_name_rdata(target, out);
  if (error != UpdateBuildError::ok) out.resize(mark);
  return error;
}

UpdateBuildError encode_txt_rdata(std::span<const std::string> strings,
                                  std::vector<std::uint8_t>& out) {
  for (const std::string& text : strings) {
    if (text.size() > 255) return UpdateBuildError::bad_string;
  }
  if (strings.empty()) out.push_back(0);
  for (const std::string& text : strings) {
    out.push_back(static_cast<std::uint8_t>(text.size()));
    out.insert(out.end(), text.begin(), text.end());
  }
  return UpdateBuildError::ok;
}

UpdateBuildError encode_address_rdata(std::string_view address, std::uint16_t& type,
                                      std::vector<std::uint8_t>& out) {
  // inet_pton takes numeric text only, never a host name: nothing is looked up.
  const std::string text(address);
  if (text.find('\0') != std::string::npos) return UpdateBuildError::bad_address;
  std::array<std::uint8_t, 16> bytes{};
  if (::inet_pton(AF_INET, text.c_str(), bytes.data()) == 1) {
    type = wire::rrtype::kA;
    out.insert(out.end(), bytes.begin(), bytes.begin() + 4);
    return UpdateBuildError::ok;
  }
  if (::inet_pton(AF_INET6, text.c_str(), bytes.data()) == 1) {
    type = wire::rrtype::kAaaa;
    out.insert(out.end(), bytes.begin(), bytes.end());
    return UpdateBuildError::ok;
  }
  return UpdateBuildError::bad_address;
}

}  // namespace signpost::health
