// The API's bearer tokens.
#include "registry/api/bearer_tokens.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <fstream>
#include <stdexcept>

namespace signpost::registry::api {

namespace {

std::array<std::uint8_t, 32> sha256(std::string_view text) {
  std::array<std::uint8_t, 32> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest.data());
  return digest;
}

std::string_view trim(std::string_view text) {
  constexpr std::string_view kSpace = " \t\r\n";
  const std::size_t first = text.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(kSpace) - first + 1);
}

}  // namespace

std::vector<std::string> read_token_file(const std::string& path) {
  std::ifstream file(path);
  if (!file) throw std::runtime_error("token file " + path + ": cannot be read");
  std::vector<std::string> tokens;
  std::string line;
  while (std::getline(file, line)) {
    const std::string_view token = trim(line);
    if (token.empty() || token.front() == '#') continue;
    tokens.emplace_back(token);
  }
  if (file.bad()) throw std::runtime_error("token file " + path + ": cannot be read");
  if (tokens.empty()) throw std::runtime_error("token file " + path + ": holds no token");
  return tokens;
}

std::string token_id(std::string_view token) {
  static constexpr char kHex[] = "0123456789abcdef";
  const std::array<std::uint8_t, 32> digest = sha256(token);
  std::string id = "token:";
  for (std::size_t i = 0; i < 4; ++i) {
    id.push_back(kHex[digest[i] >> 4]);
    id.push_back(kHex[digest[i] & 0x0F]);
  }
  return id;
}

BearerTokens::BearerTokens(const std::vector<std::string>& tokens) {
  tokens_.reserve(tokens.size());
  for (const std::string& token : tokens) tokens_.push_back({sha256(token), token_id(token)});
}

std::optional<std::string> BearerTokens::find(std::string_view presented) const {
  const std::array<std::uint8_t, 32> digest = sha256(presented);
  const Token* match = nullptr;
  // Every token is compared, even after a match, so the time does not say which matched.
  for (const Token& token : tokens_) {
    if (CRYPTO_memcmp(token.digest.data(), digest.data(), digest.size()) == 0) match = &token;
  }
  if (match == nullptr) return std::nullopt;
  return match->id;
}

}  // namespace signpost::registry::api
