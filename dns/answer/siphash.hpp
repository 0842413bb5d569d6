// SipHash-2-4: the keyed hash of DNS server cookies (RFC 9018 §4.4) and of rate-limit buckets.
#pragma once

#include <array>
#include <cstdint>
#include <span>

namespace signpost::dns::answer {

/// A SipHash key: 128 bits, as 16 octets (k0 is the first 8, read little-endian).
using SipKey = std::array<std::uint8_t, 16>;

/// SipHash-2-4 of `message` under `key` (Aumasson and Bernstein, "SipHash: a fast
/// short-input PRF", 2012): two compression rounds per 8-octet word, four finalization
/// rounds, 64-bit result. The reference implementation writes the result out little-endian;
/// store it with store_le64 to get the same octets. Any thread; noexcept; no allocation.
///
/// Written here rather than taken from OpenSSL: its EVP_MAC interface allocates a context
/// per call, and the answer path never allocates. The unit test checks this one against the
/// paper's reference vectors and against OpenSSL.
std::uint64_t siphash24(const SipKey& key, std::span<const std::uint8_t> message) noexcept;

/// Writes `value` into `out[0..8)` least significant octet first.
void store_le64(std::uint64_t value, std::uint8_t* out) noexcept;

}  // namespace signpost::dns::answer
