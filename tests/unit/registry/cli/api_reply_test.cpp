// Exit codes and messages for what the API answered, and for the connection itself.
#include "registry/cli/api_reply.hpp"

#include <gtest/gtest.h>

#include "registry/cli/cli_error.hpp"
#include "registry/cli/http_client.hpp"

namespace signpost::registry::cli {
namespace {

const ServerUrl kServer = parse_server_url("http://127.0.0.1:8054");

CliError failure(unsigned status, const std::string& body, const std::string& token_file = {}) {
  try {
    parse_reply(HttpResponse{status, body, std::nullopt}, kServer, token_file);
  } catch (const CliError& error) {
    return error;
  }
  return CliError(ExitCode::ok, "no error");
}

TEST(ExitCodes, FollowTheHttpStatus) {
  EXPECT_EQ(exit_code_for_http_status(200), ExitCode::ok);
  EXPECT_EQ(exit_code_for_http_status(204), ExitCode::ok);
  EXPECT_EQ(exit_code_for_http_status(401), ExitCode::not_authorized);
  EXPECT_EQ(exit_code_for_http_status(403), ExitCode::not_authorized);
  EXPECT_EQ(exit_code_for_http_status(404), ExitCode::not_found);
  EXPECT_EQ(exit_code_for_http_status(400), ExitCode::server_error);
  EXPECT_EQ(exit_code_for_http_status(409), ExitCode::server_error);
  EXPECT_EQ(exit_code_for_http_status(503), ExitCode::server_error);
  EXPECT_EQ(static_cast<int>(ExitCode::usage), 2);
  EXPECT_EQ(static_cast<int>(ExitCode::unreachable), 5);
}

TEST(ExitCodes, MessagesGiveTimeoutsInSeconds) {
  EXPECT_EQ(duration_text(std::chrono::milliseconds(5000)), "5 s");
  EXPECT_EQ(duration_text(std::chrono::milliseconds(700)), "0.7 s");
  EXPECT_EQ(duration_text(std::chrono::milliseconds(1250)), "1.3 s");
}

TEST(ApiReply, ParsesTheBodyOfASuccess) {
  const auto body = parse_reply(HttpResponse{200, R"({"serial":7})", 7u}, kServer);
  EXPECT_EQ(body.as_object().at("serial").as_int64(), 7);
}

TEST(ApiReply, ARefusedTokenNamesTheFileAndTheServersReason) {
  const CliError error = failure(403, R"({"error":"wrong token"})", "/etc/signpost/token");
  EXPECT_EQ(error.code(), ExitCode::not_authorized);
  EXPECT_STREQ(error.what(),
               "the server http://127.0.0.1:8054 refused the token from /etc/signpost/token "
               "(403: wrong token)");
}

TEST(ApiReply, NotFoundAndOtherErrorsCarryTheServersText) {
  const CliError missing = failure(404, R"({"error":"no service \"nope\""})");
  EXPECT_EQ(missing.code(), ExitCode::not_found);
  EXPECT_NE(std::string(missing.what()).find("no service \"nope\""), std::string::npos);
  const CliError conflict = failure(409, R"({"error":"static instance"})");
  EXPECT_EQ(conflict.code(), ExitCode::server_error);
  EXPECT_NE(std::string(conflict.what()).find("409: static instance"), std::string::npos);
  EXPECT_EQ(failure(401, "{}").code(), ExitCode::not_authorized);
  EXPECT_EQ(error_text("plain text\n"), "plain text");
}

TEST(ApiReply, ABodyThatIsNotJsonIsAServerError) {
  EXPECT_EQ(failure(200, "<html>").code(), ExitCode::server_error);
}

TEST(ServerUrl, ParsesHostPortAndPrefix) {
  const ServerUrl plain = parse_server_url("http://signpost.example:9000");
  EXPECT_EQ(plain.host, "signpost.example");
  EXPECT_EQ(plain.port, "9000");
  EXPECT_EQ(parse_server_url("http://h").port, "80");
  const ServerUrl v6 = parse_server_url("http://[::1]:8054/api/");
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(v6.port, "8054");
  EXPECT_EQ(v6.prefix, "/api");
  for (const char* bad : {"https://h", "h:80", "http://", "http://h:0", "http://h:x"}) {
    EXPECT_THROW(parse_server_url(bad), CliError) << bad;
  }
  EXPECT_EQ(encode_path_segment("web/a b"), "web%2Fa%20b");
}

}  // namespace
}  // namespace signpost::registry::cli
