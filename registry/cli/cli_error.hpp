// The CLI's exit codes, and the one exception that carries a message and an exit code from
// anywhere in a command up to main.
#pragma once

#include <chrono>
#include <stdexcept>
#include <string>

namespace signpost::registry::cli {

/// What `signpost` exits with; scripts branch on these (documented in --help, docs/cli.md).
enum class ExitCode : int {
  ok = 0,
  server_error = 1,  // the server answered an error not covered below
  usage = 2,         // bad command line
  not_found = 3,     // 404, NXDOMAIN, no answer
  not_authorized = 4,  // 401/403, or no token for a write
  unreachable = 5,   // connection refused, timed out, DNS server silent
};

/// A failure a command reports to the operator: `what()` is the message printed after
/// "signpost: ", `code()` the exit code. Thrown from any thread of the CLI (it has one).
class CliError : public std::runtime_error {
 public:
  CliError(ExitCode code, const std::string& message)
      : std::runtime_error(message), code_(code) {}

  ExitCode code() const noexcept { return code_; }

 private:
  ExitCode code_;
};

/// A timeout for messages: "5 s", "0.7 s". Pure.
std::string duration_text(std::chrono::milliseconds duration);

/// The exit code for an HTTP status the server answered with (2xx: ok; 401/403: not
/// authorized; 404: not found; 503 and other errors: server error). Pure.
ExitCode exit_code_for_http_status(unsigned status) noexcept;

}  // namespace signpost::registry::cli
