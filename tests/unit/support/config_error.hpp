// signpostd's config in unit tests: what error a config text raises.
#pragma once

#include <string>
#include <string_view>

#include "dns/daemon/config.hpp"

namespace signpost::testing {

/// The message of the ConfigError that parsing `text` as "test.toml" raises, or "" when it
/// parses. Any thread; allocates.
inline std::string config_error_of(std::string_view text) {
  try {
    dns::daemon::parse_config(text, "test.toml");
  } catch (const dns::daemon::ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace signpost::testing
