// `signpost watch`: follows GET /v1/watch and prints one line per registry change, saying
// what changed by comparing the registry before and after.
#pragma once

#include <iosfwd>
#include <map>
#include <string>
#include <vector>

#include "registry/cli/http_client.hpp"

namespace signpost::registry::cli {

/// What watch compares of one instance (not its lease, which changes on every heartbeat).
struct InstanceState {
  std::string health;
  bool drained = false;
  std::string weight;            // as registered
  std::string weight_override;   // "-" when none
  std::string effective_weight;
  std::string addresses;         // "10.0.0.1,fd00::1"
  std::string port;
  bool operator==(const InstanceState&) const = default;
};

/// The registry as watch sees it: service -> instance id -> state (a service without
/// instances maps to an empty map).
using RegistryState = std::map<std::string, std::map<std::string, InstanceState>>;

/// Short phrases for what changed from `before` to `after`: "+service api", "-service db",
/// "+web/c", "-web/d", "web/a drained", "web/a undrained", "web/b passing->critical",
/// "web/b weight 5->2", "web/b addresses ...", in service and id order. Pure.
std::vector<std::string> describe_changes(const RegistryState& before, const RegistryState& after);

/// Reads the registry through GET /v1/services and each GET /v1/services/{name}; `serial`
/// is set to the serial of the service list. Throws CliError. One thread.
RegistryState read_registry(const HttpClient& client, std::uint32_t& serial);

/// Prints a line per change ("serial 43  2026-12-06T18:20:01Z  web/a drained") until
/// interrupted, or after the first with `once`; with `json`, one JSON object per line.
/// Returns the exit code; throws CliError when the server goes away. One thread.
int run_watch(const HttpClient& client, bool once, bool json, std::ostream& out);

}  // namespace signpost::registry::cli
