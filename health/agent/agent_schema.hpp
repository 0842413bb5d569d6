// The agent's configuration schema: the option table (agent_options.cpp) read by the config
// engine into an AgentConfig (agent_config.cpp). Internal to health/agent.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "health/agent/agent_config.hpp"
#include "registry/config/option.hpp"
#include "registry/config/schema.hpp"

namespace signpost::health::agent::schema {

using config::Invalid;
using config::Kind;
using config::Option;
using config::StringList;
using config::StringMap;
using config::Value;

/// The key given as key_secret or key_file, resolved once [agent] is read.
struct KeyDraft {
  std::string secret;
  std::string file;
};

/// What a setter writes to: the config's [agent], the [[service]] or the [[service.check]]
/// being read.
struct Target {
  AgentConfig* config = nullptr;
  KeyDraft* key = nullptr;
  ServiceConfig* service = nullptr;
  CheckConfig* check = nullptr;
};

/// True when `text` is a TSIG secret the server takes: base64 of at least one octet.
bool is_secret(std::string_view text);

/// Every option, declared once, in the order of the reference.
const std::vector<Option>& options();
/// agent.toml's sections ([agent], [log], [[service]], [[service.check]]) and options().
const config::Schema& config_schema();

}  // namespace signpost::health::agent::schema
