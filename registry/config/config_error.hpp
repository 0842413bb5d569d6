// The error every configuration problem becomes, in every Signpost program.
#pragma once

#include <stdexcept>

namespace signpost::config {

/// A configuration that cannot be used. The message names the file, the line and the key:
/// "signpostd.toml:7: key 'dns.ttl': must be between 0 and 86400, not -1". Thrown on the
/// control thread at start-up and reload, caught in `main` (or by the reload, which keeps
/// the running configuration).
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace signpost::config
