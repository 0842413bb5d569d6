// The registry's data model: services and their instances.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace signpost::registry {

/// Raised for a registration that cannot be served: bad names, ranges, conflicts.
class RegistryError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// Transport protocol of a service, the `_<proto>` label of its SRV name (RFC 2782).
enum class Protocol : std::uint8_t { tcp, udp };

/// Health of an instance. Warning keeps a fraction of the weight; critical is never
/// handed out (except in panic mode).
enum class Health : std::uint8_t { passing, warning, critical };

/// Where an instance came from: the server config (static), the control API, or a
/// heartbeat.
enum class Source : std::uint8_t { config, api, heartbeat };

/// A service: a name clients resolve, and defaults for its answers.
struct Service {
  std::string name;  // one DNS label, lower case
  Protocol protocol = Protocol::tcp;
  std::vector<std::string> tags;
  std::optional<std::uint32_t> ttl;           // overrides dns.ttl
  std::optional<std::uint32_t> answer_limit;  // overrides dns.answer_limit (0 = all)

  bool operator==(const Service&) const = default;
};

using Ipv4 = std::array<std::uint8_t, 4>;
using Ipv6 = std::array<std::uint8_t, 16>;

/// One instance of a service on a node.
struct Instance {
  std::string id;       // one DNS label, unique within its service
  std::string service;  // the Service's name
  std::string node;     // one DNS label: <node>.node.<domain>
  std::vector<Ipv4> ipv4;
  std::vector<Ipv6> ipv6;
  std::uint16_t port = 0;
  std::uint16_t priority = 0;
  std::uint16_t weight = 1;  // 0 = drained: never handed out
  std::vector<std::string> tags;
  std::vector<std::pair<std::string, std::string>> meta;
  Health health = Health::passing;
  Source source = Source::config;
  /// Highest TTL for records of this instance; 0 = none. Heartbeat instances get a third of
  /// their lease, so that no cached answer outlives a lease that is being renewed.
  std::uint32_t max_ttl = 0;

  bool operator==(const Instance&) const = default;
};

/// What an operator set for an instance through the API, kept apart from what its agent or
/// the config registers so that heartbeats never undo it: drained (weight 0 in every answer)
/// and a weight that replaces the registered one.
struct InstanceOverride {
  bool drained = false;
  std::optional<std::uint16_t> weight;

  bool empty() const noexcept { return !drained && !weight; }
  /// The weight answers use for an instance registered with `registered`.
  std::uint16_t apply(std::uint16_t registered) const noexcept {
    return drained ? 0 : weight.value_or(registered);
  }
  bool operator==(const InstanceOverride&) const = default;
};

/// An instance without its service and id (the keys it is kept under), packed for the
/// tables that hold every registered instance: addresses, tags and metadata are one byte
/// string (inline in the std::string for the usual single address).
struct PackedInstance {
  std::string node;
  std::string extra;  // addresses, tags and metadata; see pack() in model.cpp
  std::uint32_t max_ttl = 0;
  std::uint16_t port = 0;
  std::uint16_t priority = 0;
  std::uint16_t weight = 1;
  Health health = Health::passing;
  Source source = Source::config;

  bool operator==(const PackedInstance&) const = default;

  static PackedInstance pack(const Instance& instance);
  Instance unpack(std::string service, std::string id) const;
};

/// Lower-cases and checks a name used as one DNS label: 1-63 octets of letters, digits
/// and hyphens, not starting or ending with a hyphen. `what` names it in the error
/// ("service name", "tag", ...). Throws RegistryError.
std::string normalize_label(std::string_view what, std::string_view label);

/// Checks and normalizes a service in place. Throws RegistryError.
void validate(Service& service);

/// Checks and normalizes an instance in place (needs at least one address and a port).
/// Throws RegistryError.
void validate(Instance& instance);

/// Text forms, for logs, the TXT records and errors.
std::string_view to_string(Protocol protocol) noexcept;
std::string_view to_string(Health health) noexcept;
std::optional<Protocol> parse_protocol(std::string_view text) noexcept;
std::optional<Health> parse_health(std::string_view text) noexcept;

/// Parses dotted-quad IPv4 or RFC 4291 IPv6 text. Returns false when it is neither.
bool parse_address(std::string_view text, Instance& into);

}  // namespace signpost::registry
