// SipHash-2-4 against the reference vectors of the SipHash paper and against OpenSSL.
#include "dns/answer/siphash.hpp"

#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <vector>

namespace signpost::dns::answer {
namespace {

// The reference key 00 01 .. 0f and message 00 01 .. (n-1) of the paper's Appendix A.
SipKey reference_key() {
  SipKey key{};
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(i);
  return key;
}

std::vector<std::uint8_t> reference_message(std::size_t length) {
  std::vector<std::uint8_t> message(length);
  for (std::size_t i = 0; i < length; ++i) message[i] = static_cast<std::uint8_t>(i);
  return message;
}

// OpenSSL's SipHash (EVP_MAC "SIPHASH", 8-octet output), as the independent oracle.
std::array<std::uint8_t, 8> openssl_siphash(const SipKey& key,
                                            const std::vector<std::uint8_t>& message) {
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "SIPHASH", nullptr);
  EXPECT_NE(mac, nullptr);
  EVP_MAC_CTX* context = EVP_MAC_CTX_new(mac);
  unsigned int size = 8;
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_uint(OSSL_MAC_PARAM_SIZE, &size),
                               OSSL_PARAM_construct_end()};
  std::array<std::uint8_t, 8> out{};
  std::size_t written = 0;
  EXPECT_EQ(EVP_MAC_init(context, key.data(), key.size(), params), 1);
  EXPECT_EQ(EVP_MAC_update(context, message.data(), message.size()), 1);
  EXPECT_EQ(EVP_MAC_final(context, out.data(), &written, out.size()), 1);
  EXPECT_EQ(written, 8u);
  EVP_MAC_CTX_free(context);
  EVP_MAC_free(mac);
  return out;
}

TEST(SipHash, MatchesThePapersVectors) {
  const SipKey key = reference_key();
  // Appendix A of the paper: the 15-octet message, and the first entries of the
  // reference implementation's vectors.h (empty and one-octet messages).
  EXPECT_EQ(siphash24(key, reference_message(15)), 0xa129ca6149be45e5ULL);
  EXPECT_EQ(siphash24(key, reference_message(0)), 0x726fdb47dd0e0e31ULL);
  EXPECT_EQ(siphash24(key, reference_message(1)), 0x74f839c593dc67fdULL);
}

TEST(SipHash, MatchesOpenSslForEveryLengthUpTo64) {
  SipKey key = reference_key();
  for (std::size_t length = 0; length <= 64; ++length) {
    const std::vector<std::uint8_t> message = reference_message(length);
    std::array<std::uint8_t, 8> ours{};
    store_le64(siphash24(key, message), ours.data());
    EXPECT_EQ(ours, openssl_siphash(key, message)) << "length " << length;
  }
  key.fill(0xA5);  // another key, so that k0 and k1 are not the paper's
  const std::vector<std::uint8_t> message = reference_message(33);
  std::array<std::uint8_t, 8> ours{};
  store_le64(siphash24(key, message), ours.data());
  EXPECT_EQ(ours, openssl_siphash(key, message));
}

TEST(SipHash, StoresLittleEndian) {
  std::array<std::uint8_t, 8> out{};
  store_le64(0x0807060504030201ULL, out.data());
  EXPECT_EQ(out, (std::array<std::uint8_t, 8>{1, 2, 3, 4, 5, 6, 7, 8}));
}

}  // namespace
}  // namespace signpost::dns::answer
