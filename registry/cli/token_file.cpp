// Reading the bearer token.
#include "registry/cli/token_file.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>

#include "registry/cli/cli_error.hpp"

namespace signpost::registry::cli {

std::string read_token(const std::string& path) {
  if (path.empty()) {
    throw CliError(ExitCode::not_authorized,
                   "this command changes the registry and needs a token: give --token-file "
                   "FILE or set SIGNPOST_TOKEN_FILE");
  }
  std::ifstream file(path);
  if (!file) {
    throw CliError(ExitCode::not_authorized,
                   "cannot read the token file " + path + ": " + std::strerror(errno));
  }
  std::string line;
  while (std::getline(file, line)) {
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') continue;
    const auto last = line.find_last_not_of(" \t\r");
    return line.substr(first, last - first + 1);
  }
  throw CliError(ExitCode::not_authorized, "the token file " + path + " holds no token");
}

}  // namespace signpost::registry::cli
