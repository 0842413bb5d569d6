// Parsing DNS UPDATE messages (RFC 2136 §2, §3.1) with the own wire code.
#include "health/protocol/update_request.hpp"

#include "dns/wire/message.hpp"
#include "dns/wire/name.hpp"
#include "dns/wire/reader.hpp"
#include "dns/wire/types.hpp"

namespace signpost::health {

namespace {

namespace wire = dns::wire;

bool read_name(std::span<const std::uint8_t> message, std::size_t position, std::string& out) {
  wire::Name name;
  if (wire::parse_name(message, position, name, true) != wire::NameError::ok) return false;
  out.assign(name.key());
  return true;
}

// Copies a record, expanding the name inside PTR and SRV rdata (RFC 2136 §1.4 allows
// compression there; RFC 2782 senders usually do not use it).
bool read_record(std::span<const std::uint8_t> message, const wire::RecordView& view,
                 UpdateRecord& out) {
  if (!read_name(message, view.owner_offset, out.owner)) return false;
  out.type = view.type;
  out.rrclass = view.rrclass;
  out.ttl = view.ttl;
  const std::uint8_t* rdata = message.data() + view.rdata_offset;
  std::size_t name_at = view.rdata_offset;
  if (view.type == wire::rrtype::kSrv && view.rdlength != 0) {
    if (view.rdlength < 7) return false;
    out.rdata.assign(rdata, rdata + 6);
    name_at += 6;
  } else if (view.type != wire::rrtype::kPtr || view.rdlength == 0) {
    out.rdata.assign(rdata, rdata + view.rdlength);
    return true;
  }
  std::size_t position = name_at;
  if (wire::skip_name(message, position) != wire::NameError::ok ||
      position != view.rdata_offset + view.rdlength || !read_name(message, name_at, out.target)) {
    return false;
  }
  out.rdata.insert(out.rdata.end(), out.target.begin(), out.target.end());
  return true;
}

bool read_section(std::span<const std::uint8_t> message, std::size_t& position,
                  std::size_t count, std::uint16_t zone_class,
                  std::vector<UpdateRecord>& out) {
  for (std::size_t i = 0; i < count; ++i) {
    wire::RecordView view;
    wire::NameError name_error;
    if (wire::parse_record(message, position, view, name_error) != wire::MessageError::ok) {
      return false;
    }
    if (view.rrclass != zone_class && view.rrclass != wire::rrclass::kAny &&
        view.rrclass != wire::rrclass::kNone) {
      return false;
    }
    UpdateRecord record;
    if (!read_record(message, view, record)) return false;
    out.push_back(std::move(record));
  }
  return true;
}

// The additional section up to `end`: at most one OPT, which may carry the lease.
bool read_additional(std::span<const std::uint8_t> message, std::size_t& position,
                     std::size_t end, UpdateRequest& out) {
  while (position < end) {
    wire::RecordView view;
    wire::NameError name_error;
    if (wire::parse_record(message, position, view, name_error) != wire::MessageError::ok) {
      return false;
    }
    if (view.type != wire::rrtype::kOpt) continue;
    wire::Edns edns;
    if (out.edns || wire::parse_opt(message, view, edns) != wire::MessageError::ok) return false;
    out.edns = true;
    if (!read_update_lease(message, edns, out.lease)) return false;
  }
  return position == end;
}

}  // namespace

bool read_update_lease(std::span<const std::uint8_t> message, const wire::Edns& edns,
                       std::optional<std::uint32_t>& lease) noexcept {
  std::span<const std::uint8_t> value;
  if (!wire::find_edns_option(message, edns, kUpdateLeaseOption, value)) return true;
  // LEASE, optionally followed by KEY-LEASE (RFC 9664 §4).
  if (value.size() != 4 && value.size() != 8) return false;
  lease = wire::load_u32(value.data());
  return true;
}

std::uint16_t parse_update(std::span<const std::uint8_t> message, std::size_t end,
                           UpdateRequest& out) {
  wire::Header header;
  if (!wire::parse_header(message, header) || end > message.size()) return wire::rcode::kFormErr;
  out.id = header.id;
  if (header.qdcount != 1) return wire::rcode::kFormErr;
  std::size_t position = 12;
  wire::Name zone;
  std::uint16_t zone_type = 0;
  std::uint16_t zone_class = 0;
  wire::NameError name_error;
  if (wire::parse_question(message, position, zone, zone_type, zone_class, name_error) !=
          wire::MessageError::ok ||
      zone_type != wire::rrtype::kSoa) {
    return wire::rcode::kFormErr;
  }
  wire::fold_name({zone.bytes.data(), zone.length});
  out.zone.assign(zone.key());
  out.zone_section_end = position;
  if (!read_section(message, position, header.ancount, zone_class, out.prerequisites) ||
      !read_section(message, position, header.nscount, zone_class, out.updates) ||
      position > end || !read_additional(message, position, end, out)) {
    return wire::rcode::kFormErr;
  }
  return wire::rcode::kNoError;
}

}  // namespace signpost::health
