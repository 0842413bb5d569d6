// The agent's option table: its types, shared by the table (agent_options.cpp) and the TOML
// reader (agent_config.cpp). Internal to health/agent.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "health/agent/agent_config.hpp"

namespace signpost::health::agent::schema {

using StringList = std::vector<std::string>;
using StringMap = std::vector<std::pair<std::string, std::string>>;
/// A value as read from TOML, before its setter checks and stores it.
using Value =
    std::variant<std::monostate, std::int64_t, double, std::string, StringList, StringMap>;

/// The TOML type an option takes.
enum class Kind : std::uint8_t { integer, seconds, string, string_list, string_map };

/// Thrown by setters with the reason alone; the reader adds the file, line and key.
class Invalid : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

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

using Setter = void (*)(Target&, const Value&);

/// One option, declared once: its type, default, range and help drive validation, the
/// defaults and the reference (`--help-config`).
struct Option {
  std::string_view section;  // "agent", "service" or "service.check"
  std::string_view key;
  Kind kind = Kind::integer;
  Value fallback{};      // the default; monostate when there is none (or it is computed)
  std::int64_t min = 0;  // integer range
  std::int64_t max = 0;
  double real_min = 0;  // seconds range
  double real_max = 0;
  bool required = false;
  std::string_view shown_default{};  // printed instead of `fallback` when set
  std::string_view allowed{};        // printed instead of the range when set
  std::string_view help{};
  Setter set = nullptr;
};

/// Every option, declared once, in the order of the reference.
const std::vector<Option>& options();
/// The option `section`.`key`, or nullptr.
const Option* find_option(std::string_view section, std::string_view key);

}  // namespace signpost::health::agent::schema
