// The bearer token the CLI sends with writes, read from a token file.
#pragma once

#include <string>

namespace signpost::registry::cli {

/// The token in `path`: its first line that is not blank and does not start with '#',
/// without surrounding blanks (the server's token file format, so the same file serves
/// both). Throws CliError(ExitCode::not_authorized) when `path` is empty (no token given),
/// cannot be read, or holds no token. Any thread.
std::string read_token(const std::string& path);

}  // namespace signpost::registry::cli
