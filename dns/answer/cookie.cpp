// DNS Cookies: server cookies made and checked.
#include "dns/answer/cookie.hpp"

#include <algorithm>
#include <cstring>

namespace signpost::dns::answer {

namespace {

constexpr std::uint8_t kCookieVersion = 1;          // RFC 9018 §4.1
constexpr std::size_t kMinCookieSize = 16;          // client cookie + the shortest server cookie
constexpr std::size_t kMaxCookieSize = 40;          // client cookie + the longest (RFC 7873 §4)
constexpr std::size_t kHashOffset = 8;              // in the server cookie

constexpr std::array<std::uint8_t, 12> kMappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};

std::uint32_t load_be32(const std::uint8_t* in) noexcept {
  return std::uint32_t{in[0]} << 24 | std::uint32_t{in[1]} << 16 | std::uint32_t{in[2]} << 8 |
         in[3];
}

}  // namespace

ClientAddress ipv4_client(const std::uint8_t* octets) noexcept {
  ClientAddress client{};
  std::copy(kMappedPrefix.begin(), kMappedPrefix.end(), client.begin());
  std::memcpy(client.data() + 12, octets, 4);
  return client;
}

bool is_ipv4(const ClientAddress& client) noexcept {
  return std::equal(kMappedPrefix.begin(), kMappedPrefix.end(), client.begin());
}

void make_server_cookie(std::span<const std::uint8_t, kClientCookieSize> client_cookie,
                        const ClientAddress& client, const SipKey& secret,
                        std::uint32_t timestamp,
                        std::span<std::uint8_t, kServerCookieSize> out) noexcept {
  // Version, reserved (zero), timestamp in network order (RFC 9018 §4.1, §4.2).
  out[0] = kCookieVersion;
  out[1] = out[2] = out[3] = 0;
  out[4] = static_cast<std::uint8_t>(timestamp >> 24);
  out[5] = static_cast<std::uint8_t>(timestamp >> 16);
  out[6] = static_cast<std::uint8_t>(timestamp >> 8);
  out[7] = static_cast<std::uint8_t>(timestamp);
  // Hash = SipHash-2-4(Client Cookie | Version | Reserved | Timestamp | Client-IP), the
  // address in 4 octets for IPv4 and 16 for IPv6 (RFC 9018 §4.4).
  std::array<std::uint8_t, kClientCookieSize + 8 + 16> input;
  std::memcpy(input.data(), client_cookie.data(), kClientCookieSize);
  std::memcpy(input.data() + kClientCookieSize, out.data(), 8);
  const bool v4 = is_ipv4(client);
  const std::size_t address_size = v4 ? 4 : 16;
  std::memcpy(input.data() + 16, client.data() + (v4 ? 12 : 0), address_size);
  store_le64(siphash24(secret, {input.data(), 16 + address_size}), out.data() + kHashOffset);
}

CookieStatus check_cookie(std::span<const std::uint8_t> option, const ClientAddress& client,
                          const SipKey& secret, std::uint32_t now,
                          std::span<std::uint8_t, kReplyCookieSize> reply) noexcept {
  const std::size_t size = option.size();
  if (size != kClientCookieSize && (size < kMinCookieSize || size > kMaxCookieSize)) {
    return CookieStatus::malformed;
  }
  std::memcpy(reply.data(), option.data(), kClientCookieSize);
  const std::span<const std::uint8_t, kClientCookieSize> client_cookie(option.data(),
                                                                        kClientCookieSize);
  const std::span<std::uint8_t, kServerCookieSize> server(reply.data() + kClientCookieSize,
                                                          kServerCookieSize);
  if (size == kClientCookieSize) {
    make_server_cookie(client_cookie, client, secret, now, server);
    return CookieStatus::client_only;
  }
  // Ours are 16 octets of version 1; anything else was made by another server (§4.3).
  const std::uint8_t* sent = option.data() + kClientCookieSize;
  const std::uint32_t timestamp = size == kReplyCookieSize ? load_be32(sent + 4) : 0;
  // Serial number arithmetic (RFC 1982): the stamp may wrap in 2106.
  const auto age = static_cast<std::int32_t>(now - timestamp);
  bool valid = size == kReplyCookieSize && sent[0] == kCookieVersion && age >= -kCookieFuture &&
               age <= kCookieMaxAge;
  if (valid) {
    make_server_cookie(client_cookie, client, secret, timestamp, server);
    std::uint8_t difference = 0;
    for (std::size_t i = 0; i < kServerCookieSize; ++i) {
      difference = static_cast<std::uint8_t>(difference | (server[i] ^ sent[i]));
    }
    valid = difference == 0;
  }
  if (valid && age <= kCookieRefresh) return CookieStatus::valid;  // `server` holds the same
  make_server_cookie(client_cookie, client, secret, now, server);
  return valid ? CookieStatus::valid : CookieStatus::invalid;
}

}  // namespace signpost::dns::answer
