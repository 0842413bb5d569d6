// Maps what the server said to the exit codes scripts rely on.
#include "registry/cli/cli_error.hpp"

namespace signpost::registry::cli {

ExitCode exit_code_for_http_status(unsigned status) noexcept {
  if (status >= 200 && status < 300) return ExitCode::ok;
  if (status == 401 || status == 403) return ExitCode::not_authorized;
  if (status == 404) return ExitCode::not_found;
  return ExitCode::server_error;
}

}  // namespace signpost::registry::cli
