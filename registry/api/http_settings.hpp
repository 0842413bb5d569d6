// The HTTP API server's settings: where it listens, who may write, and its limits.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace signpost::registry::api {

/// What HttpServer is given; signpostd fills it from its [http] config table.
struct HttpSettings {
  /// Addresses to listen on: ("127.0.0.1", 8054), ("::1", 0); port 0 takes a free port.
  std::vector<std::pair<std::string, std::uint16_t>> listen;
  /// The bearer tokens a write may present (read_token_file); empty: writes are refused.
  std::vector<std::string> tokens;
  /// Connections open at once; more are closed as soon as they are accepted.
  std::size_t max_connections = 512;
  /// A request's line and headers; more: 431 and the connection is closed.
  std::size_t max_header_bytes = 8192;
  /// A request's body; more: 413 and the connection is closed.
  std::size_t max_body_bytes = 65536;
  /// A request must arrive whole, and its answer be taken, within this; an idle keep-alive
  /// connection is closed after it too.
  std::chrono::milliseconds request_timeout{10000};
  /// The longest a watch waits (GET /v1/watch?wait=S is cut to it).
  std::chrono::seconds max_wait{600};
  /// Watches waiting at once; more are answered 503.
  std::size_t max_watchers = 256;
};

}  // namespace signpost::registry::api
