// Turns the API's answers into JSON or into the CLI's errors with their exit codes.
#pragma once

#include <boost/json/value.hpp>
#include <string>

#include "registry/cli/http_client.hpp"

namespace signpost::registry::cli {

/// The body of a 2xx answer, parsed. Any other status throws CliError with the exit code of
/// exit_code_for_http_status and a message naming the server, the status and the server's
/// {"error": ...}; a 401/403 names `token_file`, the token the server refused. A body that is
/// not JSON throws CliError(ExitCode::server_error). Pure.
boost::json::value parse_reply(const HttpResponse& response, const ServerUrl& server,
                               const std::string& token_file = {});

/// The "error" text of an error body, or the body itself when it is not that JSON. Pure.
std::string error_text(const std::string& body);

}  // namespace signpost::registry::cli
