// Client address prefixes: parsed from text, printed, matched.
#include "dns/answer/client_prefix.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace signpost::dns::answer {

namespace {

constexpr unsigned kMappedBits = 96;  // ::ffff:0:0/96 holds the IPv4 addresses

// The length after '/', at most `max`; nullopt unless it is all decimal digits.
std::optional<std::uint8_t> parse_length(std::string_view text, unsigned max) {
  unsigned length = 0;
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, length);
  if (text.empty() || error != std::errc() || stop != end || length > max) return std::nullopt;
  return static_cast<std::uint8_t>(length);
}

}  // namespace

std::optional<ClientPrefix> parse_client_prefix(std::string_view text, std::string& why) {
  const std::size_t slash = text.find('/');
  const std::string host(text.substr(0, slash));
  const bool ipv6 = host.find(':') != std::string::npos;
  std::uint8_t octets[16];
  if (inet_pton(ipv6 ? AF_INET6 : AF_INET, host.c_str(), octets) != 1) {
    why = "is not a numeric IPv4 or IPv6 address, optionally with a prefix length, like "
          "\"192.0.2.0/24\" or \"2001:db8::/32\"";
    return std::nullopt;
  }
  const unsigned max = ipv6 ? 128 : 32;
  std::uint8_t length = static_cast<std::uint8_t>(max);
  if (slash != std::string_view::npos) {
    const std::optional<std::uint8_t> parsed = parse_length(text.substr(slash + 1), max);
    if (!parsed) {
      why = ipv6 ? "needs a prefix length of 0-128 after '/'"
                 : "needs a prefix length of 0-32 after '/'";
      return std::nullopt;
    }
    length = *parsed;
  }
  ClientPrefix prefix;
  if (ipv6) {
    std::memcpy(prefix.address.data(), octets, 16);
    prefix.length = length;
  } else {
    prefix.address = ipv4_client(octets);
    prefix.length = static_cast<std::uint8_t>(kMappedBits + length);
  }
  ClientAddress masked = prefix.address;
  mask_client_address(masked, prefix.length);
  if (masked != prefix.address) {
    prefix.address = masked;
    why = "has address bits set past its prefix length (the prefix would be \"" +
          client_prefix_text(prefix) + "\")";
    return std::nullopt;
  }
  return prefix;
}

std::string client_prefix_text(const ClientPrefix& prefix) {
  const bool ipv4 = is_ipv4(prefix.address) && prefix.length >= kMappedBits;
  char text[INET6_ADDRSTRLEN];
  if (ipv4) {
    inet_ntop(AF_INET, prefix.address.data() + 12, text, sizeof text);
  } else {
    inet_ntop(AF_INET6, prefix.address.data(), text, sizeof text);
  }
  const unsigned length = ipv4 ? prefix.length - kMappedBits : prefix.length;
  return std::string(text) + "/" + std::to_string(length);
}

void mask_client_address(ClientAddress& address, std::size_t keep) noexcept {
  for (std::size_t bit = 0; bit < address.size() * 8; bit += 8) {
    std::uint8_t& octet = address[bit / 8];
    if (keep <= bit) {
      octet = 0;
    } else if (keep < bit + 8) {
      octet = static_cast<std::uint8_t>(octet & (0xFF00 >> (keep - bit)));
    }
  }
}

bool prefix_contains(const ClientPrefix& prefix, const ClientAddress& client) noexcept {
  const std::size_t whole = prefix.length / 8u;
  if (std::memcmp(prefix.address.data(), client.data(), whole) != 0) return false;
  const unsigned rest = prefix.length % 8u;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xFF00 >> rest);
  return (client[whole] & mask) == prefix.address[whole];
}

bool any_prefix_contains(std::span<const ClientPrefix> prefixes,
                         const ClientAddress& client) noexcept {
  for (const ClientPrefix& prefix : prefixes) {
    if (prefix_contains(prefix, client)) return true;
  }
  return false;
}

}  // namespace signpost::dns::answer
