// signpost-agent: parses the command line, then checks the configuration or runs the agent.
#include <iostream>
#include <string>
#include <string_view>

#include "health/agent/agent_config.hpp"
#include "health/agent/agent_process.hpp"

namespace {

using namespace signpost::health::agent;

constexpr std::string_view kUsage = R"(usage: signpost-agent --config FILE
       signpost-agent --check-config FILE

Registers this host's services with signpostd by DNS UPDATE, runs their health checks
and sends heartbeats to every configured server, or to one at a time (send_to).

  --config FILE        run with this configuration (TOML)
  --check-config FILE  check the configuration, print a summary and exit
  --help-config        print the reference of every configuration option (Markdown)
  --version            print the version
  --help               print this help

Signals: SIGTERM and SIGINT deregister every service, then stop; SIGHUP reloads FILE.
)";

struct Flags {
  std::string config;
  std::string check;
  std::string_view action;  // "help", "version", "help-config", or empty to run
};

bool parse_flags(int argc, char** argv, Flags& flags) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--config" || arg == "--check-config") {
      if (i + 1 >= argc) {
        std::cerr << "signpost-agent: " << arg << " needs a file name\n";
        return false;
      }
      (arg == "--config" ? flags.config : flags.check) = argv[++i];
    } else if (arg == "--help" || arg == "-h" || arg == "--version" || arg == "--help-config") {
      flags.action = arg.substr(arg.find_first_not_of('-'));
    } else {
      std::cerr << "signpost-agent: unknown argument '" << arg << "' (see signpost-agent --help)\n";
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  if (!parse_flags(argc, argv, flags)) return 2;
  if (flags.action == "help" || flags.action == "h") {
    std::cout << kUsage;
    return 0;
  }
  if (flags.action == "version") {
    std::cout << "signpost-agent " SIGNPOST_VERSION "\n";
    return 0;
  }
  if (flags.action == "help-config") {
    std::cout << config_reference();
    return 0;
  }
  if (!flags.check.empty()) {
    try {
      std::cout << describe(load_agent_config(flags.check, read_host_facts())) << "\n";
      return 0;
    } catch (const std::exception& e) {
      std::cerr << "signpost-agent: " << e.what() << "\n";
      return 1;
    }
  }
  if (flags.config.empty()) {
    std::cerr << "signpost-agent: --config FILE is required (see signpost-agent --help)\n";
    return 2;
  }
  return run_agent(flags.config);
}
