// EDNS Client Subnet (RFC 7871): the option's parser and encoder, and the client prefix
// an answer depends on.
//
// Design. A caching resolver hands every client the same cached RRset, rotated, so the
// weighted order of one answer is lost behind it: what the resolver's clients see first is
// uniform over the records. With ECS the resolver keeps one cache entry per client prefix
// (the SCOPE we return), so an answer that is a deterministic function of the prefix
// survives the cache and the rotation: the registry answers each prefix with one address,
// chosen by weighted rendezvous hashing (rendezvous.hpp), and the share of prefixes given
// each address follows the weights. The answer depends on at most the first 24 bits of an
// IPv4 and 56 of an IPv6 address (the defaults resolvers send, RFC 7871 §11.1), so the
// SCOPE is min(SOURCE PREFIX-LENGTH, 24 or 56) and resolvers need not split their cache
// finer than that. Parsing validates what RFC 7871 §6 requires of a query; what breaks it
// is FORMERR (§7.1.2). Pure functions: any thread, noexcept, no allocation.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "dns/wire/message.hpp"
#include "dns/wire/writer.hpp"

namespace signpost::dns::answer {

/// The ECS option code (RFC 7871 §6).
inline constexpr std::uint16_t kClientSubnetOption = 8;
/// FAMILY values: IANA address family numbers (RFC 7871 §6).
inline constexpr std::uint16_t kFamilyIpv4 = 1;
inline constexpr std::uint16_t kFamilyIpv6 = 2;
/// The most leading address bits an answer depends on (RFC 7871 §11.1's defaults).
inline constexpr std::uint8_t kMaxScopeIpv4 = 24;
inline constexpr std::uint8_t kMaxScopeIpv6 = 56;

/// What a query's ECS option said. `address` holds the ADDRESS octets as sent (already
/// checked to be truncated to the source prefix), the rest zero.
struct ClientSubnet {
  bool present = false;
  std::uint16_t family = 0;
  std::uint8_t source_prefix = 0;
  std::array<std::uint8_t, 16> address{};

  /// Octets of ADDRESS on the wire: ceil(source_prefix / 8) (RFC 7871 §6).
  std::size_t address_length() const noexcept { return (source_prefix + 7u) / 8u; }
  /// Octets the option takes in a message: code, length, FAMILY, two prefix lengths, ADDRESS.
  std::size_t option_size() const noexcept { return 4 + 4 + address_length(); }
};

/// Finds and checks the ECS option among `edns`'s options in `message`. Returns false when
/// it is malformed (the query gets FORMERR, RFC 7871 §7.1.2): shorter than 4 octets, a
/// FAMILY other than IPv4 or IPv6, a SOURCE PREFIX-LENGTH longer than the address, a
/// non-zero SCOPE PREFIX-LENGTH (RFC 7871 §6: it MUST be 0 in queries), an ADDRESS of
/// another length than the source prefix needs or with bits set past it, or a second ECS
/// option. Without the option `out.present` is false and the result true. Any thread;
/// noexcept; no allocation.
bool parse_client_subnet(std::span<const std::uint8_t> message, const wire::Edns& edns,
                         ClientSubnet& out) noexcept;

/// The SCOPE PREFIX-LENGTH of an answer that depends on the client's prefix:
/// min(source prefix, 24 for IPv4, 56 for IPv6). noexcept.
std::uint8_t client_subnet_scope(const ClientSubnet& subnet) noexcept;

/// A 64-bit key of the first `scope` bits of the client's address and its family: equal for
/// every client in one scope prefix, and well mixed, for rendezvous hashing. noexcept.
std::uint64_t client_prefix_key(const ClientSubnet& subnet, std::uint8_t scope) noexcept;

/// Appends the ECS option of a response: FAMILY, SOURCE PREFIX-LENGTH and ADDRESS copied
/// from the query, SCOPE PREFIX-LENGTH `scope` (RFC 7871 §7.2.1). False when it does not
/// fit. noexcept; no allocation.
bool encode_client_subnet(wire::Writer& writer, const ClientSubnet& subnet,
                          std::uint8_t scope) noexcept;

}  // namespace signpost::dns::answer
