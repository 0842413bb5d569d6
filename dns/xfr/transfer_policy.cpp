// Transfer rules: address prefixes and NOTIFY targets.
#include "dns/xfr/transfer_policy.hpp"

#include <arpa/inet.h>

#include <charconv>

namespace signpost::dns::xfr {

namespace {

// Parses a numeric address into 4 or 16 octets; false when it is neither.
bool parse_address(std::string_view text, std::array<std::uint8_t, 16>& bytes, bool& ipv6) {
  const std::string copy(text);
  ipv6 = copy.find(':') != std::string::npos;
  return inet_pton(ipv6 ? AF_INET6 : AF_INET, copy.c_str(), bytes.data()) == 1;
}

bool parse_number(std::string_view text, unsigned& out, unsigned max) {
  if (text.empty() || text.size() > 5) return false;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return error == std::errc() && end == text.data() + text.size() && out <= max;
}

}  // namespace

std::optional<AddressPrefix> parse_prefix(std::string_view text) {
  AddressPrefix prefix;
  const std::size_t slash = text.find('/');
  if (!parse_address(text.substr(0, slash), prefix.bytes, prefix.ipv6)) return std::nullopt;
  const unsigned bits = prefix.ipv6 ? 128 : 32;
  unsigned length = bits;
  if (slash != std::string_view::npos && !parse_number(text.substr(slash + 1), length, bits)) {
    return std::nullopt;
  }
  prefix.length = static_cast<std::uint8_t>(length);
  // Host bits set ("10.0.0.1/8") are most likely a typo for a narrower rule: refuse them.
  for (unsigned bit = length; bit < bits; ++bit) {
    if ((prefix.bytes[bit / 8] >> (7 - bit % 8)) & 1) return std::nullopt;
  }
  return prefix;
}

bool AddressPrefix::contains(std::string_view address) const noexcept {
  std::array<std::uint8_t, 16> octets{};
  bool is_ipv6 = false;
  try {
    if (!parse_address(address, octets, is_ipv6)) return false;
  } catch (...) {
    return false;
  }
  if (is_ipv6 != ipv6) return false;
  for (unsigned bit = 0; bit < length; ++bit) {
    const unsigned mask = 1u << (7 - bit % 8);
    if ((octets[bit / 8] & mask) != (bytes[bit / 8] & mask)) return false;
  }
  return true;
}

std::optional<NotifyTarget> parse_notify_target(std::string_view text) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  std::string_view host = text.substr(0, colon);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return std::nullopt;
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return std::nullopt;  // an IPv6 address needs brackets before its port
  }
  std::array<std::uint8_t, 16> bytes{};
  bool ipv6 = false;
  unsigned port = 0;
  if (!parse_address(host, bytes, ipv6) || !parse_number(text.substr(colon + 1), port, 65535) ||
      port == 0) {
    return std::nullopt;
  }
  return NotifyTarget{std::string(host), static_cast<std::uint16_t>(port), std::string(text)};
}

bool TransferPolicy::allows(std::string_view address) const noexcept {
  for (const AddressPrefix& prefix : allow) {
    if (prefix.contains(address)) return true;
  }
  return false;
}

}  // namespace signpost::dns::xfr
