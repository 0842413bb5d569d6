// signpost-agent's configuration: agent.toml, validated against one table of options.
#pragma once

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "registry/config/config_error.hpp"
#include "registry/log/log.hpp"

namespace signpost::health::agent {

/// A configuration that cannot be used. The message names the file, the line and the key:
/// "agent.toml:4: key 'agent.lease': must be between 1 and 86400, not 0".
using config::ConfigError;

/// What a check does: an HTTP GET, a TCP connect, or a command run by /bin/sh.
enum class CheckType : std::uint8_t { http, tcp, exec };

/// "http", "tcp", "exec".
std::string_view to_string(CheckType type) noexcept;

/// Where an http check connects: parsed from "http://host[:port]/path".
struct HttpTarget {
  std::string host;  // a name or a numeric address, without brackets
  std::uint16_t port = 80;
  std::string path = "/";
  bool operator==(const HttpTarget&) const = default;
};

/// Parses an http check's URL; throws std::invalid_argument saying what is wrong.
HttpTarget parse_http_url(std::string_view url);

/// Where a tcp check connects: parsed from "host:port" or "[v6]:port".
struct HostPort {
  std::string host;  // a name or a numeric address, without brackets
  std::uint16_t port = 0;
  bool operator==(const HostPort&) const = default;
};

/// Parses "host:port" / "[2001:db8::1]:port"; throws std::invalid_argument.
HostPort parse_host_port(std::string_view text);

/// One `[[service.check]]`.
struct CheckConfig {
  CheckType type = CheckType::tcp;
  std::string target;  // the URL, host:port or command, as written
  std::chrono::milliseconds interval{10000};
  std::chrono::milliseconds timeout{2000};
  std::uint32_t success_before_passing = 1;    // passing results in a row before passing
  std::uint32_t failures_before_critical = 1;  // critical results in a row before critical
  bool operator==(const CheckConfig&) const = default;
};

/// One `[[service]]`: an instance of a service on this node.
struct ServiceConfig {
  std::string name;  // the service, one DNS label, lower case
  std::string id;    // the instance id, one DNS label, lower case; default <name>-<node>
  bool udp = false;  // protocol: the `_udp` label instead of `_tcp`
  std::uint16_t port = 0;
  std::uint16_t weight = 1;
  std::uint16_t priority = 0;
  std::vector<std::string> tags;  // DNS labels, lower case, in the order written
  std::vector<std::pair<std::string, std::string>> meta;  // TXT key=value, in file order
  std::vector<CheckConfig> checks;
  bool operator==(const ServiceConfig&) const = default;
};

/// One `agent.servers` entry: a numeric address and a port.
struct ServerAddress {
  std::string address;  // numeric, without brackets
  std::uint16_t port = 0;
  bool ipv6 = false;

  /// "127.0.0.1:8053" or "[::1]:8053".
  std::string text() const;
  bool operator==(const ServerAddress&) const = default;
};

/// Which servers the heartbeats go to: every one (each keeps its own registry, the memory
/// backend), or one at a time, failing over in `servers` order (they share one registry, the
/// etcd backend).
enum class SendTo : std::uint8_t { all, one };

/// The TSIG key (RFC 8945) that signs every UPDATE.
struct KeyConfig {
  std::string name;       // "agent-key"
  std::string algorithm;  // "hmac-sha256" or "hmac-sha512"
  std::string secret;     // base64, from key_secret or the key_file's content
  bool operator==(const KeyConfig&) const = default;
};

/// A whole agent.toml.
struct AgentConfig {
  std::string source;                  // the file name, for messages
  std::string node;                    // one DNS label, lower case
  std::vector<std::string> addresses;  // canonical numeric text
  std::vector<ServerAddress> servers;
  SendTo send_to = SendTo::all;
  std::string domain = "svc.internal.";  // lower case, with the final dot
  KeyConfig key;
  std::uint32_t lease = 15;  // seconds, asked for in the Update Lease option (RFC 9664)
  std::vector<ServiceConfig> services;
  LogFormat log_format = LogFormat::text;  // [log] format, applied by the agent's process
};

/// What the host says about itself: the defaults of `agent.node` and `agent.addresses`.
struct HostFacts {
  std::string host_name;
  std::vector<std::string> addresses;  // canonical numeric text, loopback excluded
};

/// Reads the host name (gethostname) and the addresses of the interfaces that are up
/// (getifaddrs), leaving out loopback and IPv6 link-local addresses. Any thread; allocates.
HostFacts read_host_facts();

/// Parses and checks agent.toml text; `source` names it in messages and is the base of a
/// relative key_file. Throws ConfigError naming the file, line and key. Allocates.
AgentConfig parse_agent_config(std::string_view text, const std::string& source,
                               const HostFacts& host);

/// Reads and parses a file; throws ConfigError.
AgentConfig load_agent_config(const std::string& path, const HostFacts& host);

/// The reference of every option (Markdown table), from the option table.
std::string config_reference();

/// A one-line summary for --check-config: "agent.toml: OK (node n1, 2 services, ...)".
std::string describe(const AgentConfig& config);

}  // namespace signpost::health::agent
