// The `signpost` command line: flags, environment and the command with its arguments.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace signpost::registry::cli {

/// Everything the command line and the environment asked for, validated.
struct Options {
  std::string command;            // list, show, resolve, drain, ..., or "help"/"version"
  std::vector<std::string> args;  // the command's positional arguments, count checked
  std::string server = "http://127.0.0.1:8054";  // --server, SIGNPOST_SERVER
  std::string token_file;                        // --token-file, SIGNPOST_TOKEN_FILE
  std::string dns = "127.0.0.1:8053";            // --dns, SIGNPOST_DNS (resolve)
  double timeout_seconds = 5;                    // --timeout
  bool json = false;                             // --json
  bool srv = false;                              // resolve --srv
  bool pick = false;                             // resolve --pick
  std::optional<std::uint64_t> seed;             // resolve --seed N
  bool once = false;                             // watch --once
  std::optional<std::uint16_t> weight;           // weight N; nullopt with --clear/reset
};

/// The environment variables that stand in for flags: SIGNPOST_SERVER, SIGNPOST_TOKEN_FILE,
/// SIGNPOST_DNS (name -> value; absent or empty means unset).
using Environment = std::map<std::string, std::string>;

/// Parses argv (without the program name). Flags may come before or after the command,
/// as `--flag value` or `--flag=value`; a flag beats its environment variable. Throws
/// CliError(ExitCode::usage) naming the problem. Pure; any thread.
Options parse_arguments(const std::vector<std::string>& argv, const Environment& environment);

/// The text of `signpost --help`: commands, flags, environment and exit codes. Pure.
std::string usage_text();

}  // namespace signpost::registry::cli
