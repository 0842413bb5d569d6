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

/// Serials a server may have published without having kept them (its state file or etcd is
/// written at most every 100 ms, a publish takes at least the 2 ms batch delay: some 50, more
/// when the disk or etcd is slow): a restart skips this many past the last one kept.
inline constexpr std::uint32_t kUnkeptSerials = 1000;

/// The registry zone's first serial after a start: `clock` (the Unix time), or `kept` (the
/// highest serial the state file or etcd holds, 0 for none) + kUnkeptSerials when that is
/// greater in serial arithmetic (RFC 1982 §3.2), so that serials never go backwards across a
/// restart and a secondary never takes new data for old. Any thread; no allocation.
std::uint32_t first_serial(std::uint32_t clock, std::uint32_t kept) noexcept;

}  // namespace signpost::registry
