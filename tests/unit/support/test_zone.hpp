// Builds small zones and raw queries for unit tests.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dns/zone/zone.hpp"

namespace signpost::testing {

/// Wire form of a presentation name ("www.example.test."). Throws on a bad name.
std::string wire_name(std::string_view text);

/// RDATA helpers.
std::vector<std::uint8_t> a_rdata(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d);
std::vector<std::uint8_t> name_rdata(std::string_view text, std::uint16_t prefix_u16 = 0,
                                     bool with_prefix = false);
std::vector<std::uint8_t> soa_rdata(std::string_view origin, std::uint32_t serial,
                                    std::uint32_t minimum);

/// The zone example.test. used by the answer tests: SOA (TTL 3600, MINIMUM 300), NS with
/// glue, www (2 A, 1 AAAA), CNAME chain chain1 -> alias -> www, MX with a served
/// exchange, *.wild, an empty non-terminal b (a.b exists), a delegation sub with glue,
/// and big with 100 A records.
std::shared_ptr<const dns::zone::Zone> example_zone();

/// Options for a raw query.
struct QueryOptions {
  std::uint16_t id = 0x1234;
  std::uint16_t flags = 0x0100;  // RD
  std::uint16_t qclass = 1;
  bool edns = false;
  std::uint16_t udp_size = 1232;
  std::uint8_t edns_version = 0;
};

/// A raw query for `name` (presentation form, letter case kept) and `qtype`.
std::vector<std::uint8_t> make_query(std::string_view name, std::uint16_t qtype,
                                     const QueryOptions& options = {});

/// `message` with a TSIG record (RFC 8945 §4.2) appended, key "key.", hmac-sha256, an empty
/// MAC: for the paths that notice a TSIG before anyone checks it.
std::vector<std::uint8_t> with_tsig(std::vector<std::uint8_t> message);

}  // namespace signpost::testing
