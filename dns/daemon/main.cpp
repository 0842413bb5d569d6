// signpostd: parses the command line, loads the configuration and runs the server.
#include <iostream>
#include <string>
#include <string_view>

#include "dns/daemon/app.hpp"
#include "dns/daemon/config.hpp"
#include "registry/log/log.hpp"

namespace {

using namespace signpost::dns::daemon;

constexpr std::string_view kUsage = R"(usage: signpostd [--config FILE]
       signpostd --check-config FILE

Authoritative DNS server for service discovery.

  --config FILE        run with this configuration (TOML); without it, signpostd runs on
                       its built-in configuration: DNS on 127.0.0.1:8053, zone
                       svc.internal. and the zone files in ./zones
  --check-config FILE  check the configuration and the zones it names, then exit
  --help-config        print the reference of every configuration option (Markdown)
  --version            print the version
  --help               print this help

Signals: SIGTERM and SIGINT stop the server; SIGHUP reloads zones_dir and [[service]].
)";

struct Flags {
  std::string config;
  std::string check;
  std::string_view action;  // "help", "version", "help-config", or empty to run
};

// Returns false (after saying why) when the command line cannot be understood.
bool parse_flags(int argc, char** argv, Flags& flags) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const bool takes_file = arg == "--config" || arg == "--check-config";
    if (takes_file && i + 1 >= argc) {
      std::cerr << "signpostd: " << arg << " needs a file name\n";
      return false;
    }
    if (arg == "--config") {
      flags.config = argv[++i];
    } else if (arg == "--check-config") {
      flags.check = argv[++i];
    } else if (arg == "--help" || arg == "-h" || arg == "--version" || arg == "--help-config") {
      flags.action = arg.substr(arg.find_first_not_of('-'));
    } else {
      std::cerr << "signpostd: unknown argument '" << arg << "' (see signpostd --help)\n";
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
    std::cout << "signpostd " SIGNPOST_VERSION "\n";
    return 0;
  }
  if (flags.action == "help-config") {
    std::cout << config_reference();
    return 0;
  }
  if (!flags.check.empty()) {
    try {
      std::cout << check_config(load_config_file(flags.check)) << "\n";
      return 0;
    } catch (const std::exception& e) {
      std::cerr << "signpostd: " << e.what() << "\n";
      return 1;
    }
  }
  try {
    Config config = flags.config.empty() ? default_config() : load_config_file(flags.config);
    signpost::set_log_format(config.log_format);  // before the server's threads start
    App app(std::move(config), flags.config);
    return app.run();
  } catch (const std::exception& e) {
    signpost::log_line(signpost::LogLevel::error, e.what());
    return 1;
  }
}
