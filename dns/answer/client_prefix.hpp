// Client address prefixes ("192.0.2.0/24", "2001:db8::/32"): parsed once from the
// configuration, matched against a query's sender on the answer path.
//
// Design. A prefix is kept in the form ClientAddress has (cookie.hpp): IPv6, or IPv4 mapped
// into ::ffff:0:0/96 (RFC 4291 §2.5.5.2), so an IPv4 /n is the mapped /96+n and one
// comparison of leading bits serves both families. A consequence operators see: "::/0"
// matches every client, IPv4 ones included, while "0.0.0.0/0" matches only IPv4 clients.
// Matching is a masked compare of at most 16 octets per prefix; lists are short (the
// configuration caps them), so a linear scan beats any trie at this size.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "dns/answer/cookie.hpp"

namespace signpost::dns::answer {

/// A prefix of client addresses: the first `length` bits of `address` (0-128, counted over
/// the mapped form for IPv4); the bits past `length` are zero.
struct ClientPrefix {
  ClientAddress address{};
  std::uint8_t length = 0;

  bool operator==(const ClientPrefix&) const = default;
};

/// Parses a numeric prefix: "192.0.2.0/24", "2001:db8::/32", or a bare address, which is a
/// prefix of one address (/32, /128). On failure returns nullopt and sets `why` to a reason
/// that reads after the quoted text ("has no prefix length after '/'"). Address bits set
/// past the length are an error, not silently cleared: "192.0.2.1/24" most likely means a
/// mistyped length. Any thread; allocates only for the conversion to inet_pton's string.
std::optional<ClientPrefix> parse_client_prefix(std::string_view text, std::string& why);

/// The prefix as an operator writes it: "192.0.2.0/24", "2001:db8::/32". Allocates.
std::string client_prefix_text(const ClientPrefix& prefix);

/// Clears every bit of `address` from bit `keep` on (bit 0 is the first octet's highest).
/// Any thread; noexcept; no allocation.
void mask_client_address(ClientAddress& address, std::size_t keep) noexcept;

/// True when `client`'s first `prefix.length` bits are those of `prefix`. Any thread;
/// noexcept; no allocation.
bool prefix_contains(const ClientPrefix& prefix, const ClientAddress& client) noexcept;

/// True when one of `prefixes` contains `client`; false for an empty list. Any thread;
/// noexcept; no allocation (the answer path checks forwarding clients with it).
bool any_prefix_contains(std::span<const ClientPrefix> prefixes,
                         const ClientAddress& client) noexcept;

}  // namespace signpost::dns::answer
