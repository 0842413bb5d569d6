// Maps what the server said to the exit codes scripts rely on.
#include "registry/cli/cli_error.hpp"

namespace signpost::registry::cli {

std::string duration_text(std::chrono::milliseconds duration) {
  const auto tenths = (duration.count() + 50) / 100;
  std::string text = std::to_string(tenths / 10);
  if (tenths % 10 != 0) text += "." + std::to_string(tenths % 10);
  return text + " s";
}

ExitCode exit_code_for_http_status(unsigned status) noexcept {
  if (status >= 200 && status < 300) return ExitCode::ok;
  if (status == 401 || status == 403) return ExitCode::not_authorized;
  if (status == 404) return ExitCode::not_found;
  return ExitCode::server_error;
}

}  // namespace signpost::registry::cli
