// The registry zone's synthesized apex.
#include "registry/registry_zone.hpp"

#include "dns/wire/name.hpp"
#include "dns/wire/reader.hpp"
#include "dns/wire/serial.hpp"
#include "dns/wire/types.hpp"

namespace signpost::registry {

namespace {

namespace rrtype = dns::wire::rrtype;

std::vector<std::uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()),
          reinterpret_cast<const std::uint8_t*>(s.data()) + s.size()};
}

void append_u32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  std::uint8_t b[4];
  dns::wire::store_u32(b, v);
  out.insert(out.end(), b, b + 4);
}

}  // namespace

void add_registry_apex(dns::zone::ZoneBuilder& builder, const RegistryZoneSettings& settings) {
  const std::string ns = std::string("\2ns", 3) + settings.domain;
  const std::string hostmaster = std::string("\12hostmaster", 11) + settings.domain;
  // SOA: MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM (RFC 1035 §3.3.13).
  std::vector<std::uint8_t> soa = bytes_of(ns);
  const auto rname = bytes_of(hostmaster);
  soa.insert(soa.end(), rname.begin(), rname.end());
  append_u32(soa, settings.serial);
  append_u32(soa, 3600);
  append_u32(soa, 600);
  append_u32(soa, 86400);
  append_u32(soa, settings.negative_ttl);
  builder.add(settings.domain, rrtype::kSoa, settings.ttl, soa);
  builder.add(settings.domain, rrtype::kNs, settings.ttl, bytes_of(ns));
  for (const auto& address : settings.ns_addresses) {
    const std::uint16_t type = address.size() == 4 ? rrtype::kA : rrtype::kAaaa;
    builder.add(ns, type, settings.ttl, address);
  }
}

std::shared_ptr<const dns::zone::Zone> build_registry_zone(const RegistryZoneSettings& settings) {
  dns::zone::ZoneBuilder builder(settings.domain);
  add_registry_apex(builder, settings);
  return builder.build();
}

std::uint32_t first_serial(std::uint32_t clock, std::uint32_t kept) noexcept {
  if (kept == 0) return clock;  // nothing kept: a first start, or the state was lost
  // The kept serial is ahead of the clock only after publishes faster than one a second on
  // average; a jump of 1,000 is nothing to serial arithmetic.
  const std::uint32_t past_kept = kept + kUnkeptSerials;
  return dns::wire::serial_greater(past_kept, clock) ? past_kept : clock;
}

}  // namespace signpost::registry
