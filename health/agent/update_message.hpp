// The agent's DNS UPDATE messages (RFC 2136): registration with an Update Lease (RFC 9664),
// deregistration, TSIG signing (RFC 8945) and the reading of the server's reply. Built, signed
// and read with health/protocol, the codec the server parses and verifies with.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "health/agent/agent_config.hpp"
#include "health/protocol/tsig.hpp"
#include "health/protocol/update_request.hpp"
#include "registry/model.hpp"

namespace signpost::health::agent {

/// A message that cannot be built: a name or address that slipped past the config checks, a
/// TXT string over 255 octets, a message over 65,535 octets, or an unusable key.
class UpdateError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Everything one UPDATE says about one instance on this node.
struct InstanceRecords {
  std::string domain;  // "svc.internal."
  std::string id;
  std::string service;
  bool udp = false;
  std::string node;
  std::vector<std::string> addresses;  // numeric text
  std::uint16_t port = 0;
  std::uint16_t priority = 0;
  std::uint16_t weight = 1;
  std::vector<std::string> tags;
  std::vector<std::pair<std::string, std::string>> meta;
  registry::Health health = registry::Health::passing;

  /// `<id>._<service>._<proto>.<domain>`, the DNS-SD instance name (RFC 6763 §4.1).
  std::string instance_name() const;
  /// `_<service>._<proto>.<domain>`, the SRV and browse name (RFC 2782, RFC 6763 §4).
  std::string service_type_name() const;
  /// `<node>.node.<domain>`, the SRV target.
  std::string node_name() const;
  /// The TXT strings: health=..., tags=a,b (when there are tags), key=value...
  std::vector<std::string> txt_strings() const;
  bool operator==(const InstanceRecords&) const = default;
};

/// The records of `service` on the node that `config` describes, with `health`.
InstanceRecords make_instance_records(const AgentConfig& config, const ServiceConfig& service,
                                      registry::Health health);

/// A signed request, and what is needed to check its reply.
struct SignedUpdate {
  std::vector<std::uint8_t> wire;
  std::uint16_t id = 0;
  std::vector<std::uint8_t> mac;  // the request's TSIG MAC, which signs into the reply
};

/// The Update Lease EDNS option code (RFC 9664 §4).
inline constexpr std::uint16_t kLeaseOption = kUpdateLeaseOption;

/// Registration and heartbeat: zone `<domain> SOA IN`; updates: delete all RRsets at the
/// instance name, add SRV, TXT, the node's A/AAAA and the PTR, each with TTL `lease`; an OPT
/// with the 4-octet Update Lease; TSIG signed with `key` at the current time and fudge
/// kTsigFudge (health/protocol/tsig.hpp). Any thread; allocates; throws UpdateError.
SignedUpdate encode_registration(const InstanceRecords& instance, std::uint32_t lease,
                                 const KeyConfig& key, std::uint16_t id);

/// Deregistration: delete all RRsets at the instance name and delete the PTR to it
/// (class NONE, RFC 2136 §2.5.4); no lease. Any thread; allocates; throws UpdateError.
SignedUpdate encode_deregistration(const InstanceRecords& instance, const KeyConfig& key,
                                   std::uint16_t id);

/// What the server answered to a SignedUpdate.
struct UpdateReply {
  bool well_formed = false;  // a DNS response to this request (id, QR, opcode)
  std::uint16_t rcode = 0;
  std::uint16_t tsig_error = 0;        // from the reply's TSIG record, when there is one
  bool signed_ok = false;              // TSIG present, MAC verified with the request's MAC and
                                       // signed within the fudge of `now` (RFC 8945 §5.3, §5.4)
  std::optional<std::uint32_t> lease;  // granted lease (RFC 9664)
  std::string problem;                 // why it was not well formed or not verified

  /// True for NOERROR with a verified signature: the registration holds.
  bool accepted() const noexcept { return well_formed && rcode == 0 && signed_ok; }
  /// "NOERROR", "REFUSED", "NOTAUTH (BADSIG)", or the problem, for logs.
  std::string describe() const;
};

/// Reads the reply to `request` and verifies its TSIG with `key` at `now` (seconds since the
/// epoch). Never throws; allocates.
UpdateReply parse_update_reply(std::span<const std::uint8_t> wire, const SignedUpdate& request,
                               const KeyConfig& key, std::uint64_t now);

/// The mnemonic of an rcode (RFC 1035, RFC 2136, RFC 8945): "NOERROR", "NOTAUTH", "BADSIG".
std::string rcode_name(std::uint16_t rcode);

}  // namespace signpost::health::agent
