// What an UPDATE to the registry zone means for the registry: instances to register (or
// renew) and instances to deregister.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "health/lease_tracker.hpp"
#include "health/protocol/update_request.hpp"
#include "registry/model.hpp"

namespace signpost::health {

/// One instance as an UPDATE registers it.
struct Registration {
  registry::Instance instance;  // source heartbeat, health as reported in its TXT
  registry::Protocol protocol = registry::Protocol::tcp;
};

/// The registry's reading of an UPDATE's update section.
struct UpdatePlan {
  std::uint16_t rcode = 0;  // NOERROR, or why nothing may change (REFUSED, FORMERR, NOTZONE)
  std::string reason;       // for the log when rcode is not NOERROR
  std::vector<Registration> registrations;
  std::vector<InstanceKey> removals;
  std::uint32_t min_ttl = 0;  // smallest TTL of the added records (the lease without option)
};

/// What the plan may look up among the instances registered so far (under the receiver's lock).
struct RegisteredInstances {
  /// The instance registered under `key`, or nullopt.
  std::function<std::optional<registry::Instance>(const InstanceKey&)> find;
  /// Any instance on `node` (to borrow the node's addresses), or nullopt.
  std::function<std::optional<registry::Instance>(std::string_view node)> on_node;
};

/// What a name of the registry zone is, by its shape (see plan_update).
enum class NameKind : std::uint8_t { instance, service_type, node, other };

/// A registry zone name taken apart.
struct NameParts {
  NameKind kind = NameKind::other;
  std::string id;       // instance
  std::string service;  // instance, service_type
  registry::Protocol protocol = registry::Protocol::tcp;
  std::string node;     // node
};

/// Takes apart `owner` (lower-case wire, at or below `domain`): an instance name
/// <id>._<service>._<proto>, a service type _<service>._<proto>, a node <node>.node, or
/// other. Any thread; allocates.
NameParts classify_name(std::string_view owner, std::string_view domain);

/// Reads the update section of `request` for the registry zone `domain` (lower-case wire).
/// The records one instance is made of (README, "Registering with DNS UPDATE"):
///   <id>._<service>._<proto>.<domain>  SRV <priority> <weight> <port> <node>.node.<domain>
///   <id>._<service>._<proto>.<domain>  TXT "health=..." "tags=a,b" "key=value" ...
///   <node>.node.<domain>               A / AAAA
///   _<service>._<proto>.<domain>       PTR <id>._<service>._<proto>.<domain>
/// Deleting the instance name (or its SRV, or the PTR to it) deregisters the instance; a
/// delete followed by adds in one message replaces it (RFC 2136 §3.4.2 order). Records the
/// registry cannot hold are REFUSED, with the reason. Heartbeat thread; allocates.
UpdatePlan plan_update(const UpdateRequest& request, std::string_view domain,
                       const RegisteredInstances& registered);

/// The TXT rdata of an instance: health, tags, metadata (RFC 6763 §6 key=value strings).
std::vector<std::uint8_t> encode_instance_txt(const registry::Instance& instance);

}  // namespace signpost::health
