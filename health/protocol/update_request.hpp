// DNS UPDATE messages (RFC 2136) as the heartbeat receiver sees them: parsed sections and the
// Update Lease option (RFC 9664).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "dns/wire/message.hpp"

namespace signpost::health {

/// One record of an UPDATE's prerequisite or update section (RFC 2136 §2.4, §2.5).
struct UpdateRecord {
  std::string owner;  // lower-case uncompressed wire form
  std::uint16_t type = 0;
  std::uint16_t rrclass = 0;
  std::uint32_t ttl = 0;
  std::vector<std::uint8_t> rdata;  // as sent, except that the names of PTR and SRV rdata are
                                    // written uncompressed and in lower case
  std::string target;               // PTR and SRV: the name in the rdata, lower-case wire
};

/// An UPDATE request's content.
struct UpdateRequest {
  std::uint16_t id = 0;
  std::string zone;  // the zone section's name, lower-case wire
  std::size_t zone_section_end = 0;  // the header and zone section are [0, zone_section_end)
  std::vector<UpdateRecord> prerequisites;
  std::vector<UpdateRecord> updates;
  bool edns = false;
  std::optional<std::uint32_t> lease;  // RFC 9664 LEASE, seconds
};

/// Parses the UPDATE in `message` up to `end` (where its TSIG starts, or its size).
/// Returns rcode NOERROR, or FORMERR for a malformed message, a zone section that is not one
/// SOA question, or a record of another class than the zone's, ANY or NONE (RFC 2136 §3.1).
/// Heartbeat thread; allocates.
std::uint16_t parse_update(std::span<const std::uint8_t> message, std::size_t end,
                           UpdateRequest& out);

/// The Update Lease EDNS option code (RFC 9664 §4).
inline constexpr std::uint16_t kUpdateLeaseOption = 2;

/// Reads the Update Lease option of the OPT record `edns` in `message` into `lease`: LEASE,
/// from the 4-octet form or the 8-octet one that adds KEY-LEASE (RFC 9664 §4); `lease` is
/// left alone when there is no such option. False when the option has another length.
/// The server's requests and the agent's responses alike. Any thread; no allocation.
bool read_update_lease(std::span<const std::uint8_t> message, const dns::wire::Edns& edns,
                       std::optional<std::uint32_t>& lease) noexcept;

}  // namespace signpost::health
