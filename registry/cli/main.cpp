// signpost: the operator's command line for signpostd (HTTP API and DNS).
#include <cstdlib>
#include <exception>
#include <iostream>

#include "registry/cli/cli_error.hpp"
#include "registry/cli/commands.hpp"
#include "registry/cli/options.hpp"

namespace cli = signpost::registry::cli;

int main(int argc, char** argv) {
  cli::Environment environment;
  for (const char* name : {"SIGNPOST_SERVER", "SIGNPOST_TOKEN_FILE", "SIGNPOST_DNS"}) {
    if (const char* value = std::getenv(name)) environment[name] = value;
  }
  try {
    const cli::Options options =
        cli::parse_arguments(std::vector<std::string>(argv + 1, argv + argc), environment);
    return cli::run_command(options, std::cout);
  } catch (const cli::CliError& error) {
    std::cout.flush();
    std::cerr << "signpost: " << error.what() << '\n';
    return static_cast<int>(error.code());
  } catch (const std::exception& error) {
    // A body without the fields the API promises: an older or different server.
    std::cerr << "signpost: unexpected answer: " << error.what() << '\n';
    return static_cast<int>(cli::ExitCode::server_error);
  }
}
