// Base64 (RFC 4648 §4), as DNS presentation format writes binary data: TSIG secrets in
// configuration and key files, and what tools such as tsig-keygen print.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace signpost::dns::wire {

/// Why text is not base64.
enum class Base64Error : std::uint8_t {
  ok,
  bad_character,       // not in the alphabet, '=' or whitespace
  data_after_padding,  // a character of the alphabet after '='
  bad_length,          // not a whole number of 4-character groups, or more than two '='
};

/// Decodes `text` into `out` (replacing its content), ignoring whitespace (space, tab, CR,
/// LF) as presentation format allows (RFC 4034 §2.2). The rest must be whole 4-character
/// groups, padded with '=' (RFC 4648 §3.2): a secret cut short in copying is an error
/// rather than a different key. Empty text decodes to no octets. Any thread; allocates.
Base64Error decode_base64(std::string_view text, std::vector<std::uint8_t>& out);

/// Encodes `octets` as padded base64 on one line. Any thread; allocates.
std::string encode_base64(std::span<const std::uint8_t> octets);

}  // namespace signpost::dns::wire
