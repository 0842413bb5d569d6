// The bearer tokens that authorize the API's writes: the token file, token ids, the check.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace signpost::registry::api {

/// Reads a token file: one token per line; blank lines and lines starting with '#' are
/// skipped, and spaces around a token are trimmed. Control thread; throws std::runtime_error
/// naming the file when it cannot be read or holds no token.
std::vector<std::string> read_token_file(const std::string& path);

/// The id a token is known by in audit logs: "token:" and the first 8 hex digits of the
/// token's SHA-256, so a log never shows the token itself. Any thread; allocates.
std::string token_id(std::string_view token);

/// The tokens a write may present (RFC 6750 bearer tokens). Empty: writes are disabled.
/// Immutable after construction, so any thread may call it.
class BearerTokens {
 public:
  BearerTokens() = default;
  explicit BearerTokens(const std::vector<std::string>& tokens);

  /// False when no token is configured: every write is refused.
  bool enabled() const noexcept { return !tokens_.empty(); }

  /// The id of the configured token equal to `presented`, or nullopt. Takes the same time
  /// whichever token matches, or none: the SHA-256 of `presented` is compared with every
  /// token's digest by CRYPTO_memcmp, so neither the time nor the length of the work tells
  /// an attacker how much of a guess was right. Any thread; allocates only the id.
  std::optional<std::string> find(std::string_view presented) const;

 private:
  struct Token {
    std::array<std::uint8_t, 32> digest;
    std::string id;
  };
  std::vector<Token> tokens_;
};

}  // namespace signpost::registry::api
