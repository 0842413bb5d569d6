// A zone's records as a transfer sends them, and the change between two versions.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "dns/zone/zone.hpp"
#include "registry/snapshot.hpp"

namespace signpost::dns::xfr {

/// One version of a zone: its SOA, and the snapshot its records are read from when a
/// transfer needs them. Holding a version costs a reference to its snapshot, not a copy of
/// the zone. A record is a whole uncompressed RR: lower-case owner, type, class, TTL,
/// RDLENGTH, RDATA, as it goes on the wire.
struct ZoneContent {
  std::string zone;  // origin, lower-case wire form
  std::uint32_t serial = 0;
  std::string soa;   // the apex SOA record
  registry::SnapshotPtr snapshot;                      // keeps the two below alive
  const zone::Zone* source = nullptr;                  // the zone in `snapshot`
  const registry::RegistryView* registry = nullptr;    // set when `source` is the registry zone
};

/// The version of `zone` (a zone of `snapshot`) in `snapshot`. Control plane; cheap: no
/// record is read but the SOA.
ZoneContent zone_version(registry::SnapshotPtr snapshot, const zone::Zone& zone);

/// Visits every RR of `version` but the apex SOA, each once: the zone's own records and,
/// when it is the registry zone, every registry name that answers (DESIGN.md "DNS names"):
/// services and tags (A, AAAA, SRV), `_<service>._<proto>` (SRV, PTR), DNS-SD instances
/// (SRV, TXT), nodes (A, AAAA) and the DNS-SD service type list. Every record of an RRset
/// is included, whatever answer_limit keeps in an answer. Control plane; allocates.
void for_each_record(const ZoneContent& version, const std::function<void(const std::string&)>& visit);

/// The change between two versions of one zone (RFC 1995 §2).
struct ZoneDiff {
  std::string from_soa;  // the SOA of the older version
  std::string to_soa;    // the SOA of the newer version
  std::vector<std::string> deleted;
  std::vector<std::string> added;

  std::uint32_t from_serial() const noexcept;
  std::size_t octets() const noexcept;
};

/// Computes the change from `older` to `newer`. Registry views built one from the other
/// share every service and node that did not change, so only the changed ones are read:
/// the cost follows the change, not the zone. A static zone that was reloaded, or a
/// registry whose build settings changed, is compared whole. Control plane; allocates.
ZoneDiff diff_zones(const ZoneContent& older, const ZoneContent& newer);

/// The SOA serial in an SOA record as zone_version keeps it.
std::uint32_t soa_serial(const std::string& soa_record) noexcept;

}  // namespace signpost::dns::xfr
