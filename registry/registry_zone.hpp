// The registry zone's fixed records: the SOA and NS synthesized for `dns.domain`.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dns/zone/zone.hpp"

namespace signpost::registry {

/// What the synthesized apex of the registry zone needs to know.
struct RegistryZoneSettings {
  std::string domain;            // wire form, lower case
  std::uint32_t ttl = 5;         // TTL of SOA and NS
  std::uint32_t negative_ttl = 5;  // SOA MINIMUM (RFC 2308 §4)
  std::uint32_t serial = 1;
  /// Address records for ns.<domain>: each 4 (A) or 16 (AAAA) octets.
  std::vector<std::vector<std::uint8_t>> ns_addresses;
};

/// Adds the apex SOA, the NS `ns.<domain>` and its addresses to `builder`.
/// Control plane; allocates; throws ZoneError.
void add_registry_apex(dns::zone::ZoneBuilder& builder, const RegistryZoneSettings& settings);

/// Builds the (still empty) registry zone: apex records only.
std::shared_ptr<const dns::zone::Zone> build_registry_zone(const RegistryZoneSettings& settings);

}  // namespace signpost::registry
