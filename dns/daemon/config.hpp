// signpostd's configuration: the TOML file, validated against one table of options.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "dns/answer/responder.hpp"
#include "dns/xfr/transfer_policy.hpp"
#include "registry/config/config_error.hpp"
#include "registry/log/log.hpp"
#include "registry/model.hpp"

namespace signpost::dns::daemon {

/// A configuration that cannot be used; the message names the file, the line and the key.
using config::ConfigError;

/// One `server.listen` entry: a numeric address and a port, served over UDP and TCP.
struct ListenAddress {
  std::string address;  // numeric, without brackets: "127.0.0.1", "::1"
  std::uint16_t port = 0;  // 0 picks a free port at start-up
  bool ipv6 = false;

  /// "127.0.0.1:8053" or "[::1]:8053".
  std::string text() const;
  /// True for 0.0.0.0 and ::.
  bool unspecified() const;
  bool operator==(const ListenAddress&) const = default;
};

/// One `[[key]]`: a TSIG key (RFC 8945) that may sign UPDATEs.
struct KeyConfig {
  std::string name;
  std::string algorithm;
  std::string secret;              // base64
  std::vector<std::string> allow;  // service-name patterns; empty = all
  std::uint32_t max_instances = 0;  // registered with this key at once
};

/// The effective configuration: every option set, either from the file or by its default.
/// Built on the control thread; plain data afterwards.
struct Config {
  std::string source;  // the file it came from, or "<default config>"

  // [server]: sealed at start-up.
  std::vector<ListenAddress> listen;
  std::uint32_t threads = 0;  // 0 = one per core
  std::uint32_t tcp_idle_timeout = 0;  // seconds
  std::uint32_t tcp_max_clients = 0;
  std::uint32_t tcp_max_per_client = 0;  // from any one client address
  std::size_t udp_receive_buffer = 0;

  // [dns]: sealed, except zones_dir.
  std::string domain;       // presentation form with the final dot
  std::string domain_wire;  // lower-case wire form
  std::uint32_t ttl = 0;
  std::uint32_t negative_ttl = 0;
  std::uint32_t answer_limit = 0;
  std::uint16_t udp_payload = 0;
  std::uint64_t seed = 0;
  answer::OrderMode order = answer::OrderMode::weighted;
  std::string zones_dir;
  bool cookies = true;             // DNS Cookies (RFC 7873) answered
  answer::SipKey cookie_secret{};  // when cookie_secret_set; else a random one at start
  bool cookie_secret_set = false;

  // [rrl]: response rate limiting (net::RateLimitSettings); sealed.
  struct {
    std::uint32_t responses_per_second = 0;  // 0 = off
    std::uint32_t slip = 0;
    std::uint8_t ipv4_prefix = 0;
    std::uint8_t ipv6_prefix = 0;
  } rrl;

  // [health]: sealed.
  double warning_weight = 0;
  double panic_threshold = 0;
  std::uint32_t min_lease = 0;         // seconds; heartbeat leases are clamped to
  std::uint32_t max_lease = 0;         // [min_lease, max_lease]
  std::uint32_t max_instances = 0;     // registered by UPDATE at once
  std::uint32_t deregister_after = 0;  // seconds an expired or critical instance is kept
  std::uint32_t flap_half_life = 0;    // seconds
  double preservation_threshold = 0;
  std::uint32_t preservation_window = 0;  // seconds
  std::uint32_t preservation_max = 0;     // seconds
  std::uint32_t preservation_min_instances = 0;

  // [registry]: where the live registry is kept; sealed.
  std::string backend;                      // "memory" or "etcd"
  std::string state_file;                   // memory backend; "" = none
  std::vector<std::string> etcd_endpoints;  // etcd backend: host:port of its clients' URLs
  std::string etcd_prefix;                  // every key the cluster writes is under it
  std::uint32_t etcd_dial_timeout = 0;      // seconds

  // [http]: the API, status page and metrics; sealed.
  std::vector<ListenAddress> http_listen;  // [] = off
  std::string http_token_file;             // "" = writes refused

  // [forward]: upstream resolvers for names outside every served zone; sealed.
  std::vector<ListenAddress> forward_servers;  // in order of preference; [] = off
  std::uint32_t forward_timeout_ms = 0;
  std::vector<answer::ClientPrefix> forward_allow;  // clients that may have names forwarded

  // [log]: sealed; main() applies it before the server starts.
  LogFormat log_format = LogFormat::text;

  // [[key]]: TSIG keys for heartbeats (DNS UPDATE); sealed.
  std::vector<KeyConfig> keys;

  // [[transfer]]: zone transfer out and NOTIFY, one per zone; sealed. A zone without one
  // is never transferred.
  std::vector<xfr::TransferPolicy> transfers;

  // [[service]] and [[service.instance]]: static registrations, reloadable. Start-up and
  // reload move them into the registry, leaving these empty.
  std::vector<registry::Service> services;
  std::vector<registry::Instance> instances;

  /// Every option that only takes effect at start-up, as "table.key" -> its value as text,
  /// so that a reload can tell which of them changed.
  std::map<std::string, std::string> sealed;
};

/// Parses TOML `text`; `source` names it in errors. Unknown tables and keys, wrong types and
/// values out of range are errors; options not given take their defaults. Throws ConfigError.
/// Control thread; allocates.
Config parse_config(std::string_view text, const std::string& source);

/// Reads and parses the file at `path`. Throws ConfigError (also when it cannot be read).
Config load_config_file(const std::string& path);

/// The embedded default configuration (default_config.hpp), parsed.
Config default_config();

/// The reference of every option as a Markdown table: key, type, default, allowed values,
/// whether SIGHUP reloads it, and what it does. Printed by `signpostd --help-config`.
std::string config_reference();

}  // namespace signpost::dns::daemon
