// The token file, token ids and the token check.
#include "registry/api/bearer_tokens.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace signpost::registry::api {
namespace {

class TokenFileTest : public ::testing::Test {
 protected:
  void TearDown() override { std::filesystem::remove(path_); }
  std::string write(const std::string& text) {
    std::ofstream(path_) << text;
    return path_.string();
  }
  std::filesystem::path path_ =
      std::filesystem::temp_directory_path() / ("signpost-tokens-" + std::to_string(::getpid()));
};

TEST_F(TokenFileTest, OneTokenALineWithoutCommentsOrBlanks) {
  const std::string path = write("# operators\n\n  first-token \r\nsecond\n#third\n");
  EXPECT_EQ(read_token_file(path), (std::vector<std::string>{"first-token", "second"}));
}

TEST_F(TokenFileTest, AFileWithoutTokensOrMissingIsAnErrorNamingIt) {
  const std::string path = write("# nothing yet\n\n");
  try {
    read_token_file(path);
    FAIL() << "no error for a file without tokens";
  } catch (const std::runtime_error& error) {
    EXPECT_EQ(std::string(error.what()), "token file " + path + ": holds no token");
  }
  try {
    read_token_file(path + ".missing");
    FAIL() << "no error for a missing file";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find(path + ".missing"), std::string::npos);
  }
}

TEST(TokenId, IsTheStartOfTheSha256) {
  EXPECT_EQ(token_id("secret"), "token:2bb80d53");  // sha256("secret") = 2bb80d53...
  EXPECT_NE(token_id("secret2"), token_id("secret"));
}

TEST(BearerTokens, FindsOnlyAnExactToken) {
  const BearerTokens tokens({"alpha", "beta"});
  EXPECT_TRUE(tokens.enabled());
  EXPECT_EQ(tokens.find("beta"), token_id("beta"));
  EXPECT_EQ(tokens.find("alpha"), token_id("alpha"));
  for (const char* wrong : {"", "alph", "alphaa", "Alpha", "beta "}) {
    EXPECT_EQ(tokens.find(wrong), std::nullopt) << wrong;
  }
  EXPECT_FALSE(BearerTokens().enabled());
  EXPECT_EQ(BearerTokens().find(""), std::nullopt);
}

}  // namespace
}  // namespace signpost::registry::api
