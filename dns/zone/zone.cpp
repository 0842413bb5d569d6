// Authoritative zone data.
#include "dns/zone/zone.hpp"

#include "dns/wire/reader.hpp"

namespace signpost::dns::zone {

const RRset* Node::find(std::uint16_t type) const noexcept {
  for (const RRset& rrset : rrsets) {
    if (rrset.type == type) return &rrset;
  }
  return nullptr;
}

const Node* Zone::find(std::string_view key) const noexcept {
  const auto it = nodes_.find(key);
  return it == nodes_.end() ? nullptr : &it->second;
}

std::uint32_t Zone::serial() const noexcept {
  // SOA RDATA: MNAME, RNAME, then SERIAL REFRESH RETRY EXPIRE MINIMUM (RFC 1035 §3.3.13).
  const auto rdata = soa_->rdata(0);
  return wire::load_u32(rdata.data() + rdata.size() - 20);
}

}  // namespace signpost::dns::zone
