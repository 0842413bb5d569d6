// DNS Cookies (RFC 7873) with interoperable server cookies (RFC 9018): what a query's
// COOKIE option says, and the COOKIE its response carries.
//
// Design. A server cookie is stateless: version 1, three reserved octets, a 32-bit timestamp
// and SipHash-2-4 over client cookie | version | reserved | timestamp | client IP, keyed by
// the server secret (RFC 9018 §4). Checking one is a hash of at most 32 octets; nothing is
// kept per client, so a flood of cookies costs no memory. Servers that share the secret
// (`dns.cookie_secret`, an anycast set) accept each other's cookies, whatever software they
// run. A query with a wrong server cookie is answered as one with a client cookie only
// (RFC 7873 §5.2.4, its third choice, which Knot and BIND make too): a client that moved or
// a server whose secret changed gets its answer and a fresh cookie in one round trip.
// BADCOOKIE is kept for the case RFC 7873 §5.2.3 gives it: a client the server is limiting
// (rate limiting, see dns/net/rate_limit.hpp) that has no valid server cookie yet.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "dns/answer/siphash.hpp"

namespace signpost::dns::answer {

/// A client's IP address: IPv6, or IPv4 in its IPv4-mapped form (::ffff:a.b.c.d,
/// RFC 4291 §2.5.5.2), so that both families fit one key.
using ClientAddress = std::array<std::uint8_t, 16>;

/// The client address of an IPv4 address given as 4 octets.
ClientAddress ipv4_client(const std::uint8_t* octets) noexcept;

/// True when `client` is an IPv4 address (IPv4-mapped).
bool is_ipv4(const ClientAddress& client) noexcept;

inline constexpr std::uint16_t kCookieOption = 10;       // EDNS option code (RFC 7873 §8)
inline constexpr std::size_t kClientCookieSize = 8;      // RFC 7873 §4
inline constexpr std::size_t kServerCookieSize = 16;     // RFC 9018 §4
inline constexpr std::size_t kReplyCookieSize = kClientCookieSize + kServerCookieSize;
inline constexpr std::uint16_t kBadCookie = 23;          // extended rcode (RFC 7873 §8)

/// Ages of a server cookie, in seconds (RFC 9018 §4.3): accepted from kCookieFuture in the
/// future to kCookieMaxAge in the past; replaced by a fresh one past kCookieRefresh.
inline constexpr std::int32_t kCookieFuture = 300;
inline constexpr std::int32_t kCookieMaxAge = 3600;
inline constexpr std::int32_t kCookieRefresh = 1800;

/// What a query's COOKIE option says (RFC 7873 §5.2).
enum class CookieStatus : std::uint8_t {
  absent,       // no COOKIE option (or no EDNS): answered as ever (§5.2.1)
  malformed,    // length neither 8 nor 16 to 40: FORMERR, no COOKIE back (§5.2.2)
  client_only,  // a client cookie alone (§5.2.3)
  invalid,      // a server cookie that is not ours, or too old or new: as client_only (§5.2.4)
  valid,        // a server cookie we made for this client, recently (§5.2.5)
};

/// Writes into `out` the server cookie for `client_cookie` sent from `client`, stamped
/// `timestamp` (seconds since 1970, mod 2^32; RFC 9018 §4.2, §4.4). Any thread; noexcept;
/// no allocation.
void make_server_cookie(std::span<const std::uint8_t, kClientCookieSize> client_cookie,
                        const ClientAddress& client, const SipKey& secret,
                        std::uint32_t timestamp,
                        std::span<std::uint8_t, kServerCookieSize> out) noexcept;

/// Checks the data of the COOKIE option `option` of a query from `client` at `now` (seconds
/// since 1970, mod 2^32) and, unless it is malformed, writes into `reply` the COOKIE data the
/// response carries: the client cookie, then the server cookie the client sent when it is
/// valid and at most kCookieRefresh old, else a fresh one (RFC 9018 §4.3). The hash is
/// compared in constant time. Any thread; noexcept; no allocation.
CookieStatus check_cookie(std::span<const std::uint8_t> option, const ClientAddress& client,
                          const SipKey& secret, std::uint32_t now,
                          std::span<std::uint8_t, kReplyCookieSize> reply) noexcept;

}  // namespace signpost::dns::answer
