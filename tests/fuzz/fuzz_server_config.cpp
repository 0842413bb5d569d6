// libFuzzer target: signpostd.toml. The input is the file's text, given to the public
// parser; a ConfigError is the expected way to refuse it, anything else is a finding.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dns/daemon/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    signpost::dns::daemon::parse_config(text, "signpostd.toml");
  } catch (const signpost::dns::daemon::ConfigError&) {
  }
  return 0;
}
