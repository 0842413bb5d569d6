// Base64 decoding and encoding (RFC 4648 §4).
#include "dns/wire/base64.hpp"

namespace signpost::dns::wire {

namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// The 6-bit value of an alphabet character, or -1.
int sextet(char c) noexcept {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

Base64Error decode_base64(std::string_view text, std::vector<std::uint8_t>& out) {
  out.clear();
  std::uint32_t buffer = 0;
  int bits = 0;
  std::size_t characters = 0;
  std::size_t padding = 0;
  for (const char c : text) {
    if (is_space(c)) continue;
    ++characters;
    if (c == '=') {
      ++padding;
      continue;
    }
    const int value = sextet(c);
    if (value < 0) return Base64Error::bad_character;
    if (padding != 0) return Base64Error::data_after_padding;
    buffer = buffer << 6 | static_cast<std::uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>(buffer >> bits));
    }
  }
  // Leftover bits of the last group are its padding and are not checked to be zero
  // (RFC 4648 §3.5 lets decoders accept them).
  if (characters % 4 != 0 || padding > 2) return Base64Error::bad_length;
  return Base64Error::ok;
}

std::string encode_base64(std::span<const std::uint8_t> octets) {
  std::string out;
  out.reserve((octets.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < octets.size(); i += 3) {
    const std::size_t left = octets.size() - i;
    std::uint32_t group = static_cast<std::uint32_t>(octets[i]) << 16;
    if (left > 1) group |= static_cast<std::uint32_t>(octets[i + 1]) << 8;
    if (left > 2) group |= octets[i + 2];
    out += kAlphabet[group >> 18 & 63];
    out += kAlphabet[group >> 12 & 63];
    out += left > 1 ? kAlphabet[group >> 6 & 63] : '=';
    out += left > 2 ? kAlphabet[group & 63] : '=';
  }
  return out;
}

}  // namespace signpost::dns::wire
