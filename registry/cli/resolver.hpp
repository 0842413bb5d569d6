// `signpost resolve`: asks the DNS server through c-ares, the resolver library many clients
// use, so the operator sees the answer the way applications do.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "registry/cli/srv_pick.hpp"

namespace signpost::registry::cli {

/// One address record of an answer.
struct AddressAnswer {
  std::string type;  // "A" or "AAAA"
  std::string address;
  std::uint32_t ttl = 0;
};

/// One SRV record with its target's addresses from the additional section.
struct SrvAnswer {
  SrvTarget record;
  std::vector<AddressAnswer> addresses;
};

/// What the server said to one resolve: A and AAAA together, or SRV.
struct Resolution {
  std::string name;
  bool srv = false;
  std::string rcode = "NOERROR";  // of the A query when both A and AAAA were asked
  std::vector<AddressAnswer> addresses;  // A then AAAA, in answer order
  std::vector<SrvAnswer> records;        // SRV, in answer order
  /// True when the answer held no record of the type asked (NXDOMAIN or NODATA).
  bool empty() const noexcept { return addresses.empty() && records.empty(); }
};

/// Where to ask: "ADDR:PORT", "[V6]:PORT", or an address alone (port 53).
struct DnsServer {
  std::string address;
  std::uint16_t port = 53;
  std::string text() const;  // "127.0.0.1:8053", "[::1]:8053"
};

/// Parses a --dns value; throws CliError(ExitCode::usage). Pure.
DnsServer parse_dns_server(const std::string& text);

/// Asks `server` for `name` (A and AAAA, or SRV) through c-ares over UDP (TCP after a
/// truncated answer), giving up after `timeout`. An NXDOMAIN or NODATA answer is returned
/// with its rcode and no records; no answer at all throws CliError(ExitCode::unreachable);
/// REFUSED, SERVFAIL and other errors throw CliError(ExitCode::server_error). One thread.
Resolution resolve(const DnsServer& server, const std::string& name, bool srv,
                   std::chrono::milliseconds timeout);

}  // namespace signpost::registry::cli
