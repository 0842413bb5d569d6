// signpostd's configuration schema: the option table's types, shared by the table
// (config_options.cpp) and the TOML reader (config.cpp). Internal to dns/daemon.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "dns/daemon/config.hpp"

namespace signpost::dns::daemon::schema {

using StringList = std::vector<std::string>;
using StringMap = std::vector<std::pair<std::string, std::string>>;
using Value =
    std::variant<std::monostate, std::int64_t, double, std::string, StringList, StringMap>;

enum class Kind : std::uint8_t { integer, real, string, string_list, string_map };

// Thrown by setters with the reason alone; the reader adds the file, line and key.
class Invalid : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

struct ServiceDraft {
  registry::Service service;
  std::uint16_t port = 0;  // default port of its instances; 0 = not given
};

// What a setter writes to: the config, or the [[service]] / [[service.instance]] being read.
struct Target {
  Config* config = nullptr;
  ServiceDraft* service = nullptr;
  registry::Instance* instance = nullptr;
  KeyConfig* key = nullptr;
};

using Setter = void (*)(Target&, const Value&);

// One option, declared once: its type, default, range and help drive validation, the
// defaults and the reference (`--help-config`).
struct Option {
  std::string_view section;  // "server", "dns", "health", "key", "service", "service.instance"
  std::string_view key;
  Kind kind = Kind::integer;
  Value fallback{};  // the default; monostate when there is none
  std::int64_t min = 0;
  std::int64_t max = 0;
  double real_min = 0;
  double real_max = 0;
  bool reloadable = false;
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

inline constexpr std::int64_t kMaxInt = INT64_MAX;

}  // namespace signpost::dns::daemon::schema
