// Base64 (RFC 4648 §4): the test vectors of §10, whitespace, padding and what is refused.
#include "dns/wire/base64.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace signpost::dns::wire {
namespace {

std::vector<std::uint8_t> bytes(std::string_view text) { return {text.begin(), text.end()}; }

Base64Error error_of(std::string_view text) {
  std::vector<std::uint8_t> out;
  return decode_base64(text, out);
}

TEST(Base64, Rfc4648TestVectors) {
  const std::pair<std::string_view, std::string_view> vectors[] = {
      {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},        {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(encode_base64(bytes(plain)), encoded);
    std::vector<std::uint8_t> out{1, 2, 3};  // replaced, not appended to
    EXPECT_EQ(decode_base64(encoded, out), Base64Error::ok) << encoded;
    EXPECT_EQ(out, bytes(plain)) << encoded;
  }
}

TEST(Base64, EveryOctetRoundTrips) {
  std::vector<std::uint8_t> all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<std::uint8_t>(i));
  std::vector<std::uint8_t> out;
  ASSERT_EQ(decode_base64(encode_base64(all), out), Base64Error::ok);
  EXPECT_EQ(out, all);
}

TEST(Base64, WhitespaceIsIgnored) {
  std::vector<std::uint8_t> out;
  EXPECT_EQ(decode_base64(" Zm9v\n\tYmFy\r\n", out), Base64Error::ok);
  EXPECT_EQ(out, bytes("foobar"));
  EXPECT_EQ(decode_base64("Zm8\n=", out), Base64Error::ok);
  EXPECT_EQ(out, bytes("fo"));
}

TEST(Base64, RefusesWhatIsNotBase64) {
  EXPECT_EQ(error_of("!!"), Base64Error::bad_character);
  EXPECT_EQ(error_of("Zm9v-mFy"), Base64Error::bad_character);
  EXPECT_EQ(error_of("Zg==Zm8="), Base64Error::data_after_padding);
  EXPECT_EQ(error_of("Zm=v"), Base64Error::data_after_padding);
  EXPECT_EQ(error_of("Zm9"), Base64Error::bad_length);  // padding missing: cut short?
  EXPECT_EQ(error_of("Z"), Base64Error::bad_length);
  EXPECT_EQ(error_of("Z==="), Base64Error::bad_length);
  EXPECT_EQ(error_of("===="), Base64Error::bad_length);
}

}  // namespace
}  // namespace signpost::dns::wire
