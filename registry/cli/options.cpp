// Command-line parsing for `signpost`.
#include "registry/cli/options.hpp"

#include <charconv>
#include <cmath>
#include <set>

#include "registry/cli/cli_error.hpp"

namespace signpost::registry::cli {
namespace {

/// The commands and how many positional arguments each takes.
const std::map<std::string, std::size_t> kArity = {
    {"list", 0},       {"show", 1},   {"resolve", 1}, {"drain", 2},  {"undrain", 2},
    {"weight", 3},     {"deregister", 2}, {"status", 0}, {"watch", 0}, {"help", 0},
    {"version", 0},
};

/// Flags that take a value; the rest are switches.
const std::set<std::string> kValueFlags = {"--server", "--token-file", "--dns", "--timeout",
                                           "--seed"};

[[noreturn]] void usage_error(const std::string& message) {
  throw CliError(ExitCode::usage, message + " (see signpost --help)");
}

template <class T>
T parse_number(const std::string& flag, const std::string& text, T low, T high) {
  T value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < low || value > high) {
    usage_error(flag + " wants a whole number from " + std::to_string(low) + " to " +
                std::to_string(high) + ", not \"" + text + "\"");
  }
  return value;
}

double parse_timeout(const std::string& text) {
  try {
    std::size_t used = 0;
    const double value = std::stod(text, &used);
    if (used == text.size() && std::isfinite(value) && value > 0 && value <= 3600) return value;
  } catch (const std::exception&) {
  }
  usage_error("--timeout wants seconds above 0 and at most 3600, not \"" + text + "\"");
}

void apply_flag(Options& options, const std::string& flag, const std::string& value) {
  if (flag == "--server") options.server = value;
  else if (flag == "--token-file") options.token_file = value;
  else if (flag == "--dns") options.dns = value;
  else if (flag == "--timeout") options.timeout_seconds = parse_timeout(value);
  else if (flag == "--seed") options.seed = parse_number<std::uint64_t>(flag, value, 0, UINT64_MAX);
  else if (flag == "--json") options.json = true;
  else if (flag == "--srv") options.srv = true;
  else if (flag == "--pick") options.pick = true;
  else if (flag == "--once") options.once = true;
  else if (flag == "--help" || flag == "-h") options.command = "help";
  else if (flag == "--version") options.command = "version";
  else if (flag != "--clear") usage_error("unknown flag " + flag);
}

/// Which command each command-specific flag belongs to.
void check_flag_fits(const Options& options, const std::set<std::string>& seen) {
  const std::map<std::string, std::string> owner = {
      {"--srv", "resolve"}, {"--pick", "resolve"}, {"--seed", "resolve"},
      {"--dns", "resolve"}, {"--once", "watch"},   {"--clear", "weight"}};
  for (const auto& [flag, command] : owner) {
    if (seen.contains(flag) && options.command != command) {
      usage_error(flag + " belongs to `signpost " + command + "`");
    }
  }
}

/// `weight SERVICE ID N`, or `weight SERVICE ID --clear` / `weight SERVICE ID reset`.
void take_weight(Options& options, bool clear) {
  if (clear) {
    if (options.args.size() != 2) usage_error("weight SERVICE ID --clear takes no weight");
    return;
  }
  if (options.args.size() == 3 && (options.args[2] == "reset" || options.args[2] == "clear")) {
    options.args.pop_back();
    return;
  }
  if (options.args.size() != 3) usage_error("weight wants SERVICE ID N (or --clear)");
  options.weight = parse_number<std::uint16_t>("the weight", options.args[2], 0, 65535);
  options.args.pop_back();
}

void apply_environment(Options& options, const Environment& environment) {
  const auto take = [&](const char* name, std::string& into) {
    const auto found = environment.find(name);
    if (found != environment.end() && !found->second.empty()) into = found->second;
  };
  take("SIGNPOST_SERVER", options.server);
  take("SIGNPOST_TOKEN_FILE", options.token_file);
  take("SIGNPOST_DNS", options.dns);
}

}  // namespace

Options parse_arguments(const std::vector<std::string>& argv, const Environment& environment) {
  Options options;
  apply_environment(options, environment);
  std::vector<std::string> words;
  std::set<std::string> seen;
  bool flags_done = false;  // after "--" every word is an argument (an id like "-x")
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& word = argv[i];
    if (word == "--" && !flags_done) {
      flags_done = true;
      continue;
    }
    if (flags_done || word.size() < 2 || word[0] != '-') {
      words.push_back(word);
      continue;
    }
    const auto equals = word.find('=');
    const std::string flag = word.substr(0, equals);
    std::string value;
    if (kValueFlags.contains(flag)) {
      if (equals != std::string::npos) value = word.substr(equals + 1);
      else if (i + 1 < argv.size()) value = argv[++i];
      else usage_error(flag + " wants a value");
    } else if (equals != std::string::npos) {
      usage_error(flag + " takes no value");
    }
    seen.insert(flag);
    apply_flag(options, flag, value);
  }
  if (options.command == "help" || options.command == "version") return options;
  if (words.empty()) usage_error("no command given");
  options.command = words.front();
  options.args.assign(words.begin() + 1, words.end());
  const auto arity = kArity.find(options.command);
  if (arity == kArity.end()) usage_error("unknown command \"" + options.command + "\"");
  check_flag_fits(options, seen);
  if (options.command == "weight") {
    take_weight(options, seen.contains("--clear"));
  } else if (options.args.size() != arity->second) {
    usage_error("`signpost " + options.command + "` takes " + std::to_string(arity->second) +
                " argument" + (arity->second == 1 ? "" : "s") + ", not " +
                std::to_string(options.args.size()));
  }
  return options;
}

std::string usage_text() {
  return R"(usage: signpost [FLAGS] COMMAND [ARGS]

Commands:
  list                          services with instance counts by health
  show SERVICE                  one service's instances: addresses, weights, health, leases
  resolve NAME [--srv] [--pick] [--seed N]
                                ask the DNS server as clients do (A and AAAA, or SRV with
                                the targets' addresses); --pick prints the one target an
                                RFC 2782 client would choose (the first address for A/AAAA)
  drain SERVICE ID              take an instance out of answers (weight 0), kept until undrained
  undrain SERVICE ID            put a drained instance back
  weight SERVICE ID N           override an instance's weight (0..65535)
  weight SERVICE ID --clear     back to the registered weight (also: weight SERVICE ID reset)
  deregister SERVICE ID         remove an instance registered by heartbeat or through the API
  status                        the server: version, serial, counts, backend
  watch [--once]                print a line per registry change until interrupted

Flags:
  --server URL        the HTTP API (default http://127.0.0.1:8054; env SIGNPOST_SERVER)
  --token-file FILE   bearer token for writes: the file's first line that is not blank or
                      a # comment (env SIGNPOST_TOKEN_FILE)
  --dns ADDR:PORT     DNS server for resolve (default 127.0.0.1:8053; env SIGNPOST_DNS)
  --timeout SECONDS   give up on the server after this long (default 5)
  --json              print JSON (the server's, or for resolve the answer) for scripts
  -h, --help          this text;  --version  the CLI's version

Exit codes:
  0  ok
  1  the server answered an error not covered below
  2  usage error
  3  not found (unknown service or instance; NXDOMAIN or no answer for resolve)
  4  not authorized (no token for a write, or the server refused it: 401/403)
  5  server unreachable or timed out (HTTP API, or the DNS server for resolve)
)";
}

}  // namespace signpost::registry::cli
