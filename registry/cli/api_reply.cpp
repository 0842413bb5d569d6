// Error messages for what the API answered.
#include "registry/cli/api_reply.hpp"

#include <boost/json.hpp>

#include "registry/cli/cli_error.hpp"

namespace signpost::registry::cli {

std::string error_text(const std::string& body) {
  boost::system::error_code error;
  const auto parsed = boost::json::parse(body, error);
  if (!error && parsed.is_object()) {
    if (const auto* text = parsed.as_object().if_contains("error"); text && text->is_string()) {
      return std::string(text->get_string());
    }
  }
  const auto end = body.find_last_not_of(" \r\n");
  return end == std::string::npos ? "no detail" : body.substr(0, std::min<std::size_t>(end + 1, 200));
}

boost::json::value parse_reply(const HttpResponse& response, const ServerUrl& server,
                               const std::string& token_file) {
  const ExitCode code = exit_code_for_http_status(response.status);
  const std::string status = std::to_string(response.status);
  if (code == ExitCode::ok) {
    boost::system::error_code error;
    auto parsed = boost::json::parse(response.body, error);
    if (error) {
      throw CliError(ExitCode::server_error, server.text + " answered " + status +
                                                 " with a body that is not JSON (" +
                                                 error.message() + ")");
    }
    return parsed;
  }
  const std::string detail = " (" + status + ": " + error_text(response.body) + ")";
  if ((response.status == 401 || response.status == 403) && !token_file.empty()) {
    throw CliError(code, "the server " + server.text + " refused the token from " + token_file +
                             detail);
  }
  if (response.status == 401 || response.status == 403) {
    throw CliError(code, "the server " + server.text + " wants a valid token" + detail +
                             ": give --token-file FILE or set SIGNPOST_TOKEN_FILE");
  }
  if (code == ExitCode::not_found) {
    throw CliError(code, error_text(response.body) + " (404 from " + server.text + ")");
  }
  throw CliError(code, "the server " + server.text + " answered an error" + detail);
}

}  // namespace signpost::registry::cli
