// The `signpost` commands: each reads or changes the registry through the HTTP API, or asks
// the DNS server, and prints a table or JSON.
#pragma once

#include <iosfwd>

#include "registry/cli/options.hpp"

namespace signpost::registry::cli {

/// Runs `options.command`, printing its result on `out`. Returns the exit code (0, or 3 for
/// a resolve that found nothing); failures throw CliError with their exit code. One thread.
int run_command(const Options& options, std::ostream& out);

}  // namespace signpost::registry::cli
