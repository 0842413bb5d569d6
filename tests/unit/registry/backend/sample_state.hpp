// Registry states for the state file's tests and fuzz seeds: every field set, and large ones.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "registry/backend/state_file.hpp"

namespace signpost::registry::backend::testing {

/// Instance `number` of service `service`: addresses, tags, metadata and every dynamic
/// field differ with the number; odd numbers add an IPv6 address, every third is IPv6
/// only, every fifth drained, every seventh carries a weight override (0 on the 14th).
inline DynamicInstance sample_instance(std::uint32_t number, const std::string& service = "web") {
  DynamicInstance out;
  Instance& instance = out.instance;
  instance.id = service + "-" + std::to_string(number);
  instance.service = service;
  instance.node = "node-" + std::to_string(number % 50);
  if (number % 3 != 0) {
    instance.ipv4.push_back(
        {10, static_cast<std::uint8_t>(number >> 16), static_cast<std::uint8_t>(number >> 8),
         static_cast<std::uint8_t>(number)});
  }
  if (number % 2 == 1 || number % 3 == 0) {
    Ipv6 v6{0xfd, 0x00};
    v6[12] = static_cast<std::uint8_t>(number >> 24);
    v6[13] = static_cast<std::uint8_t>(number >> 16);
    v6[14] = static_cast<std::uint8_t>(number >> 8);
    v6[15] = static_cast<std::uint8_t>(number);
    instance.ipv6.push_back(v6);
  }
  instance.port = static_cast<std::uint16_t>(8000 + number % 1000);
  instance.priority = static_cast<std::uint16_t>(number % 3);
  instance.weight = static_cast<std::uint16_t>(1 + number % 10);
  instance.tags = {"blue", "v" + std::to_string(number % 4)};  // sorted, as validate leaves them
  instance.meta = {{"version", std::to_string(number % 9)}, {"zone", "eu-west-1a"}};
  instance.health = static_cast<Health>(number % 3);
  instance.source = Source::heartbeat;
  instance.max_ttl = 10;
  out.protocol = number % 4 == 0 ? Protocol::udp : Protocol::tcp;
  out.lease_seconds = 30;
  out.lease_end_unix_ms = 1780272000000 + number;
  out.flap_penalty = number % 6 == 0 ? 0.0 : 1000.5 + number;
  out.flap_updated_unix_ms = 1780271990000 - number;
  out.suppressed = number % 8 == 0;
  out.key_name = number % 2 == 0 ? "agent-key." : "other-key.";
  for (std::size_t i = 0; i < out.replay.size(); ++i) {
    out.replay[i] = static_cast<std::uint8_t>(number * 31 + i);
  }
  out.drained = number % 5 == 0;
  if (number % 7 == 0) out.weight_override = static_cast<std::uint16_t>(number % 14 == 0 ? 0 : 3);
  return out;
}

/// A state with `instances` instances of "web" and `deleted` guards of deleted "db"
/// instances.
inline RegistryState sample_state(std::uint32_t instances, std::uint32_t deleted = 0) {
  RegistryState state;
  state.serial = 2026120601;
  state.saved_unix_ms = 1780272000123;
  state.instances.reserve(instances);
  for (std::uint32_t i = 1; i <= instances; ++i) state.instances.push_back(sample_instance(i));
  for (std::uint32_t i = 1; i <= deleted; ++i) {
    DeletedGuard guard{"db", "db-" + std::to_string(i), {}, 1780272060000 + i};
    guard.replay.fill(static_cast<std::uint8_t>(0xA0 + i));
    state.deleted.push_back(std::move(guard));
  }
  return state;
}

}  // namespace signpost::registry::backend::testing
