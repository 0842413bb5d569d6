// Who may transfer a zone and who is told of its changes: the `[[transfer]]` table's rules.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace signpost::dns::xfr {

/// An IPv4 or IPv6 prefix ("127.0.0.1/32", "10.0.0.0/8", "::1"; no length = one address).
struct AddressPrefix {
  std::array<std::uint8_t, 16> bytes{};
  std::uint8_t length = 0;  // bits
  bool ipv6 = false;

  /// True when `address` (numeric text, as dns/net reports a client) is inside. Any thread.
  bool contains(std::string_view address) const noexcept;
};

/// Parses a prefix; nullopt when it is not one (bad address, length beyond 32/128, host
/// bits set). Any thread; allocates.
std::optional<AddressPrefix> parse_prefix(std::string_view text);

/// A secondary to send NOTIFY to: "127.0.0.1:5301" or "[::1]:5301".
struct NotifyTarget {
  std::string address;  // numeric, no brackets
  std::uint16_t port = 0;
  std::string text;     // as configured, for messages
};

/// Parses "host:port" with a numeric host; nullopt otherwise. Any thread; allocates.
std::optional<NotifyTarget> parse_notify_target(std::string_view text);

/// The transfer rules of one zone. A zone without them is never transferred (REFUSED).
struct TransferPolicy {
  std::string zone;       // lower-case wire form
  std::string zone_text;  // as configured
  std::vector<AddressPrefix> allow;
  std::string key;        // lower-case wire form of the [[key]] that must sign; empty = none
  std::vector<NotifyTarget> notify;
  std::chrono::milliseconds notify_interval{1000};

  /// True when a client at `address` may transfer (the key is checked apart).
  bool allows(std::string_view address) const noexcept;
};

}  // namespace signpost::dns::xfr
