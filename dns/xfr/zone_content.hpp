// A zone's records as a transfer sends them: every RR of one version, in a stable order.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dns/zone/zone.hpp"
#include "registry/snapshot.hpp"

namespace signpost::dns::xfr {

/// One version of a zone. Each record is a whole uncompressed RR: lower-case owner, type,
/// class, TTL, RDLENGTH, RDATA, as it goes on the wire. `records` holds every RR but the
/// apex SOA, sorted and without duplicates, so that two versions diff by a merge.
struct ZoneContent {
  std::string zone;  // origin, lower-case wire form
  std::uint32_t serial = 0;
  std::string soa;   // the apex SOA record
  std::vector<std::string> records;

  /// Octets of all records, for the journal's bound.
  std::size_t octets() const noexcept;
};

/// Collects `zone` from `snapshot`: its own records and, when it is the registry zone,
/// every registry name that answers (DESIGN.md "DNS names"): services and tags (A, AAAA,
/// SRV), `_<service>._<proto>` (SRV, PTR), DNS-SD instances (SRV, TXT), nodes (A, AAAA) and
/// the DNS-SD service type list. Every record of an RRset is included, whatever
/// answer_limit keeps in an answer. Control plane (the transfer thread); allocates.
ZoneContent collect_zone(const registry::Snapshot& snapshot, const zone::Zone& zone);

/// The SOA serial in an SOA record made by collect_zone.
std::uint32_t soa_serial(const std::string& soa_record) noexcept;

}  // namespace signpost::dns::xfr
