// libFuzzer target: agent.toml. The input is the file's text, given to the public parser
// with fixed host facts; a ConfigError is the expected way to refuse it, anything else is a
// finding.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "health/agent/agent_config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const signpost::health::agent::HostFacts host{"fuzz-host", {"192.0.2.7", "2001:db8::7"}};
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    signpost::health::agent::parse_agent_config(text, "/nonexistent/agent.toml", host);
  } catch (const signpost::health::agent::ConfigError&) {
  }
  return 0;
}
