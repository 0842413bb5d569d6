// EDNS Client Subnet (RFC 7871).
#include "dns/answer/client_subnet.hpp"

#include <algorithm>
#include <cstring>

#include "dns/answer/order.hpp"
#include "dns/wire/reader.hpp"

namespace signpost::dns::answer {

namespace {

// Checks one ECS option's data (RFC 7871 §6) and fills `out`.
bool parse_option(std::span<const std::uint8_t> data, ClientSubnet& out) noexcept {
  if (data.size() < 4) return false;
  const auto family = static_cast<std::uint16_t>((data[0] << 8) | data[1]);
  const std::uint8_t source = data[2];
  const std::uint8_t scope = data[3];
  std::size_t bits = 0;
  if (family == kFamilyIpv4) {
    bits = 32;
  } else if (family == kFamilyIpv6) {
    bits = 128;
  } else {
    return false;
  }
  if (source > bits || scope != 0) return false;
  const std::span<const std::uint8_t> address = data.subspan(4);
  if (address.size() != (source + 7u) / 8u) return false;
  // Bits past the source prefix in the last octet must be zero (RFC 7871 §6: the address
  // is truncated, padded with 0 bits).
  if (source % 8 != 0 && (address.back() & (0xFFu >> (source % 8))) != 0) return false;
  out.present = true;
  out.family = family;
  out.source_prefix = source;
  out.address.fill(0);
  std::copy(address.begin(), address.end(), out.address.begin());
  return true;
}

}  // namespace

bool parse_client_subnet(std::span<const std::uint8_t> message, const wire::Edns& edns,
                         ClientSubnet& out) noexcept {
  out.present = false;
  if (!edns.present) return true;
  // The options were checked to be well formed when the OPT record was parsed.
  wire::Reader reader(message.first(edns.options_offset + edns.options_length), edns.options_offset);
  while (reader.remaining() >= 4) {
    std::uint16_t code = 0;
    std::uint16_t length = 0;
    std::span<const std::uint8_t> data;
    if (!reader.read_u16(code) || !reader.read_u16(length) || !reader.read_bytes(length, data)) {
      return false;
    }
    if (code != kClientSubnetOption) continue;
    // One ECS per query: two could disagree, and no answer could honour both.
    if (out.present || !parse_option(data, out)) {
      out.present = false;
      return false;
    }
  }
  return true;
}

std::uint8_t client_subnet_scope(const ClientSubnet& subnet) noexcept {
  const std::uint8_t cap = subnet.family == kFamilyIpv4 ? kMaxScopeIpv4 : kMaxScopeIpv6;
  return std::min(subnet.source_prefix, cap);
}

std::uint64_t client_prefix_key(const ClientSubnet& subnet, std::uint8_t scope) noexcept {
  std::array<std::uint8_t, 16> masked{};
  const std::size_t whole = scope / 8u;
  std::copy_n(subnet.address.begin(), whole, masked.begin());
  if (scope % 8 != 0) masked[whole] = static_cast<std::uint8_t>(subnet.address[whole] & (0xFF00u >> (scope % 8)));
  std::uint64_t high = 0;
  std::uint64_t low = 0;
  std::memcpy(&high, masked.data(), 8);
  std::memcpy(&low, masked.data() + 8, 8);
  // Family and scope are part of the key: 10.0.0.0/8 and 10.0.0.0/16 are different prefixes.
  const std::uint64_t shape = (std::uint64_t{subnet.family} << 8) | scope;
  return mix64(mix64(mix64(shape + 0x9E3779B97F4A7C15ULL) ^ high) ^ low);
}

bool encode_client_subnet(wire::Writer& writer, const ClientSubnet& subnet,
                          std::uint8_t scope) noexcept {
  const std::size_t length = subnet.address_length();
  return writer.put_u16(kClientSubnetOption) && writer.put_u16(static_cast<std::uint16_t>(4 + length)) &&
         writer.put_u16(subnet.family) && writer.put_u8(subnet.source_prefix) && writer.put_u8(scope) &&
         writer.put_bytes({subnet.address.data(), length});
}

}  // namespace signpost::dns::answer
