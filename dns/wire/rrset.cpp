// Appending records to pre-encoded RRsets.
#include "dns/wire/rrset.hpp"

#include "dns/wire/name.hpp"
#include "dns/wire/reader.hpp"
#include "dns/wire/types.hpp"

namespace signpost::dns::wire {

namespace {

// The name whose addresses belong in the additional section (RFC 1035 §3.3.9, §3.3.11,
// RFC 2782), as lower-case wire, or empty.
std::string additional_target(std::uint16_t type, std::span<const std::uint8_t> rdata) {
  std::size_t skip = 0;
  if (type == rrtype::kNs) {
    skip = 0;
  } else if (type == rrtype::kMx) {
    skip = 2;
  } else if (type == rrtype::kSrv) {
    skip = 6;
  } else {
    return {};
  }
  if (rdata.size() <= skip) return {};
  std::size_t position = skip;
  Name name;
  if (parse_name(rdata, position, name, true) != NameError::ok) return {};
  return std::string(name.key());
}

}  // namespace

void append_record(RRset& rrset, std::uint32_t ttl, std::span<const std::uint8_t> rdata) {
  std::uint8_t fixed[10];
  store_u16(fixed, rrset.type);
  store_u16(fixed + 2, rrclass::kIn);
  store_u32(fixed + 4, ttl);
  store_u16(fixed + 8, static_cast<std::uint16_t>(rdata.size()));
  rrset.wire.insert(rrset.wire.end(), fixed, fixed + 10);
  rrset.wire.insert(rrset.wire.end(), rdata.begin(), rdata.end());
  rrset.offsets.push_back(static_cast<std::uint32_t>(rrset.wire.size()));
  rrset.targets.push_back(additional_target(rrset.type, rdata));
}

}  // namespace signpost::dns::wire
