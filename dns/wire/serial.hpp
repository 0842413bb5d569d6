// Serial number arithmetic (RFC 1982): how SOA serials compare once they may wrap.
#pragma once

#include <cstdint>

namespace signpost::dns::wire {

/// Serial arithmetic (RFC 1982 §3.2): true when `a` is greater than `b`. Two serials 2^31
/// apart compare neither way. Any thread; noexcept; no allocation.
constexpr bool serial_greater(std::uint32_t a, std::uint32_t b) noexcept {
  return a != b && static_cast<std::int32_t>(a - b) > 0;
}

}  // namespace signpost::dns::wire
