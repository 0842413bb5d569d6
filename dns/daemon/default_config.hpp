// The configuration signpostd runs on when it is started without --config.
#pragma once

#include <string_view>

namespace signpost::dns::daemon {

/// A small demonstration setup: DNS on 127.0.0.1:8053 (UDP and TCP), the HTTP API and status
/// page on 127.0.0.1:8054, the registry zone svc.internal. with one static service and a
/// demonstration heartbeat key, and the static zones in ./zones. Options not set
/// here take their defaults (`signpostd --help-config`).
inline constexpr std::string_view kDefaultConfig = R"toml(
# signpostd's built-in configuration.

[server]
listen = ["127.0.0.1:8053"]

[dns]
domain = "svc.internal."
zones_dir = "zones"

# The HTTP API, the status page (http://127.0.0.1:8054/) and /metrics, on loopback. Writes
# (drain, weight, deregister) are refused until token_file names a file holding a token.
[http]
listen = ["127.0.0.1:8054"]

# A static service, so that web.svc.internal and _web._tcp.svc.internal answer
# something before any agent has registered.
[[service]]
name = "web"
protocol = "tcp"
port = 8080

[[service.instance]]
id = "web-1"
node = "node-1"
addresses = ["192.0.2.21", "2001:db8::21"]
weight = 3

[[service.instance]]
id = "web-2"
node = "node-2"
addresses = ["192.0.2.22"]
weight = 1

# A demonstration key for heartbeats (DNS UPDATE with TSIG), as in the README's nsupdate
# example. The server listens on loopback only; use your own secret anywhere else.
[[key]]
name = "demo-key"
algorithm = "hmac-sha256"
secret = "c2lnbnBvc3QgZGVtbyBrZXksIGxvb3BiYWNrIG9ubHk="
)toml";

/// How errors in the embedded configuration name it.
inline constexpr std::string_view kDefaultConfigSource = "<default config>";

}  // namespace signpost::dns::daemon
