// signpostd's configuration: the option table, and the TOML reader it drives (the server's
// only toml++ code).
#include "dns/daemon/config.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <variant>

#include <toml++/toml.h>

#include "dns/daemon/config_schema.hpp"
#include "dns/daemon/default_config.hpp"
#include "dns/wire/name.hpp"
#include "health/tsig.hpp"

namespace signpost::dns::daemon {


using namespace schema;

namespace {

std::string full_name(std::string_view section, std::string_view key) {
  return std::string(section) + "." + std::string(key);
}

std::string_view kind_name(Kind kind) {
  switch (kind) {
    case Kind::integer: return "integer";
    case Kind::real: return "number";
    case Kind::string: return "string";
    case Kind::string_list: return "array of strings";
    default: return "table of strings";
  }
}

std::string quote(const std::string& text) { return "\"" + text + "\""; }

std::string value_text(const Value& value) {
  if (const auto* n = std::get_if<std::int64_t>(&value)) return std::to_string(*n);
  if (const auto* r = std::get_if<double>(&value)) {
    std::ostringstream out;
    out << *r;
    return out.str();
  }
  if (const auto* s = std::get_if<std::string>(&value)) return quote(*s);
  if (const auto* list = std::get_if<StringList>(&value)) {
    std::string out = "[";
    for (const std::string& item : *list) out += (out.size() > 1 ? ", " : "") + quote(item);
    return out + "]";
  }
  if (const auto* map = std::get_if<StringMap>(&value)) {
    std::string out = "{";
    for (const auto& [k, v] : *map) out += (out.size() > 1 ? ", " : " ") + k + " = " + quote(v);
    return out + (map->empty() ? "}" : " }");
  }
  return "";
}

// Converts a TOML value to the option's kind; nullopt when the type is wrong.
std::optional<Value> to_value(const toml::node& node, Kind kind) {
  switch (kind) {
    case Kind::integer:
      if (const auto* n = node.as_integer()) return Value{n->get()};
      return std::nullopt;
    case Kind::real:
      if (const auto* r = node.as_floating_point()) return Value{r->get()};
      if (const auto* n = node.as_integer()) return Value{static_cast<double>(n->get())};
      return std::nullopt;
    case Kind::string:
      if (const auto* s = node.as_string()) return Value{s->get()};
      return std::nullopt;
    case Kind::string_list: {
      const auto* array = node.as_array();
      if (array == nullptr) return std::nullopt;
      StringList list;
      for (const toml::node& item : *array) {
        if (!item.is_string()) return std::nullopt;
        list.push_back(item.as_string()->get());
      }
      return Value{std::move(list)};
    }
    default: {
      const auto* table = node.as_table();
      if (table == nullptr) return std::nullopt;
      StringMap map;
      for (const auto& [key, item] : *table) {
        if (!item.is_string()) return std::nullopt;
        map.emplace_back(std::string(key.str()), item.as_string()->get());
      }
      return Value{std::move(map)};
    }
  }
}

void check_range(const Option& option, const Value& value) {
  if (const auto* n = std::get_if<std::int64_t>(&value)) {
    if (*n < option.min || *n > option.max) {
      throw Invalid("must be between " + std::to_string(option.min) + " and " +
                    std::to_string(option.max) + ", not " + std::to_string(*n));
    }
  } else if (const auto* r = std::get_if<double>(&value)) {
    if (!(*r >= option.real_min && *r <= option.real_max)) {
      throw Invalid("must be between " + value_text(option.real_min) + " and " +
                    value_text(option.real_max) + ", not " + value_text(*r));
    }
  }
}

// Levenshtein distance, for "did you mean" hints on misspelt keys.
std::size_t distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t substituted = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      diagonal = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, substituted});
    }
  }
  return row[b.size()];
}

std::string suggestion(std::string_view section, std::string_view key) {
  for (const Option& option : options()) {
    if (option.section == section && distance(option.key, key) <= 2) {
      return " (did you mean '" + full_name(section, option.key) + "'?)";
    }
  }
  return "";
}

std::size_t line_of(const toml::node& node) { return node.source().begin.line; }

std::string_view toml_type(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a number";
    case toml::node_type::boolean: return "a boolean";
    default: return "a date or time";
  }
}

// "an integer", "a string": the type an option wants, for messages.
std::string wanted_type(Kind kind) {
  const std::string_view name = kind_name(kind);
  return (name.front() == 'i' || name.front() == 'a' ? "an " : "a ") + std::string(name);
}

bool is_plain_section(std::string_view name) {
  return name == "server" || name == "dns" || name == "health";
}

// A hint for an unknown top-level name: a key written outside its table, or a misspelt table.
std::string top_level_hint(std::string_view name) {
  for (const Option& option : options()) {
    if (option.key == name && is_plain_section(option.section)) {
      return " (did you mean '" + full_name(option.section, name) + "' in [" +
             std::string(option.section) + "]?)";
    }
  }
  for (std::string_view section : {"server", "dns", "health", "key", "service"}) {
    if (distance(section, name) <= 2) return " (did you mean '" + std::string(section) + "'?)";
  }
  return "";
}

// Reads one TOML document into a Config, driven by the option table.
class Reader {
 public:
  explicit Reader(const std::string& source) : source_(source) { config_.source = source; }

  Config read(const toml::table& root);

 private:
  void check_top_level(const toml::table& root) const;
  void check_keys(const toml::table& table, std::string_view section,
                  std::string_view nested) const;
  void read_table(const toml::table& table, std::string_view section, Target target,
                  std::string_view nested = {});
  void read_services(const toml::node& node);
  void read_instances(const toml::node& node, const ServiceDraft& draft);
  void read_keys(const toml::node& node);
  [[noreturn]] void fail(std::size_t line, const std::string& message) const {
    throw ConfigError(source_ + ":" + std::to_string(line) + ": " + message);
  }

  const std::string& source_;
  Config config_;
  std::map<std::string, std::size_t> service_lines_;
};

Config Reader::read(const toml::table& root) {
  check_top_level(root);
  const toml::table empty;
  for (std::string_view section : {"server", "dns", "health"}) {
    const toml::table* table = root[section].as_table();
    read_table(table != nullptr ? *table : empty, section, Target{&config_, nullptr, nullptr});
  }
  if (config_.min_lease > config_.max_lease) {
    const toml::node* at = root.at_path("health.max_lease").node();
    if (at == nullptr) at = root.at_path("health.min_lease").node();
    fail(at != nullptr ? line_of(*at) : 1,
         "key 'health.max_lease': must not be below health.min_lease (" +
             std::to_string(config_.min_lease) + " > " + std::to_string(config_.max_lease) + ")");
  }
  if (const toml::node* services = root.get("service")) read_services(*services);
  if (const toml::node* keys = root.get("key")) read_keys(*keys);
  return std::move(config_);
}

void Reader::check_top_level(const toml::table& root) const {
  for (const auto& [key, node] : root) {
    const std::string name(key.str());
    if (name == "service" || name == "key") continue;  // read_services, read_keys check them
    if (!is_plain_section(name)) {
      fail(key.source().begin.line, "unknown table or key '" + name + "'" + top_level_hint(name));
    }
    if (!node.is_table()) {
      fail(line_of(node), "'" + name + "' must be a table ([" + name + "]), not " +
                              std::string(toml_type(node)));
    }
  }
}

// Rejects keys the table does not declare, reporting the first one in the file. `nested`
// is a key that holds a sub-section, read by the caller.
void Reader::check_keys(const toml::table& table, std::string_view section,
                        std::string_view nested) const {
  const toml::key* unknown = nullptr;
  for (const auto& [key, node] : table) {
    if (key.str() == nested || find_option(section, key.str()) != nullptr) continue;
    if (unknown == nullptr || key.source().begin.line < unknown->source().begin.line) {
      unknown = &key;
    }
  }
  if (unknown != nullptr) {
    fail(unknown->source().begin.line, "unknown key '" + full_name(section, unknown->str()) +
                                           "'" + suggestion(section, unknown->str()));
  }
}

// Sets every option of `section` from `table`, or from its default.
void Reader::read_table(const toml::table& table, std::string_view section, Target target,
                        std::string_view nested) {
  check_keys(table, section, nested);
  for (const Option& option : options()) {
    if (option.section != section) continue;
    const std::string name = full_name(section, option.key);
    const toml::node* node = table.get(option.key);
    const std::size_t line = node != nullptr ? line_of(*node) : line_of(table);
    Value value = option.fallback;
    if (node != nullptr) {
      std::optional<Value> given = to_value(*node, option.kind);
      if (!given) {
        fail(line, "key '" + name + "': must be " + wanted_type(option.kind) +
                       ", not " + std::string(toml_type(*node)));
      }
      value = std::move(*given);
    } else if (option.required) {
      fail(line, "key '" + name + "' is required");
    }
    if (std::holds_alternative<std::monostate>(value)) continue;
    try {
      check_range(option, value);
      option.set(target, value);
    } catch (const Invalid& e) {
      fail(line, "key '" + name + "': " + e.what());
    }
    if (!option.reloadable) config_.sealed[name] = value_text(value);
  }
}

void Reader::read_services(const toml::node& node) {
  const toml::array* array = node.as_array();
  if (array == nullptr || !array->is_array_of_tables()) {
    fail(line_of(node), "'service' must be an array of tables: [[service]]");
  }
  for (const toml::node& item : *array) {
    const toml::table& table = *item.as_table();
    ServiceDraft draft;
    read_table(table, "service", Target{&config_, &draft, nullptr}, "instance");
    const std::string& name = draft.service.name;
    const auto [first, fresh] = service_lines_.emplace(name, line_of(table));
    if (!fresh) {
      fail(line_of(table), "key 'service.name': service '" + name +
                               "' is declared twice (first at line " +
                               std::to_string(first->second) + ")");
    }
    try {
      registry::validate(draft.service);
    } catch (const registry::RegistryError& e) {
      fail(line_of(table), "[[service]] '" + name + "': " + e.what());
    }
    if (const toml::node* instances = table.get("instance")) read_instances(*instances, draft);
    config_.services.push_back(draft.service);
  }
}

void Reader::read_instances(const toml::node& node, const ServiceDraft& draft) {
  const toml::array* array = node.as_array();
  if (array == nullptr || !array->is_array_of_tables()) {
    fail(line_of(node), "'service.instance' must be an array of tables: [[service.instance]]");
  }
  std::set<std::string> ids;
  for (const toml::node& item : *array) {
    const toml::table& table = *item.as_table();
    registry::Instance instance;
    read_table(table, "service.instance", Target{&config_, nullptr, &instance});
    instance.service = draft.service.name;
    if (instance.port == 0) instance.port = draft.port;
    if (instance.port == 0) {
      fail(line_of(table),
           "key 'service.instance.port' is required when 'service.port' is not set");
    }
    if (!ids.insert(instance.id).second) {
      fail(line_of(table), "key 'service.instance.id': instance '" + instance.id +
                               "' of service '" + draft.service.name + "' is declared twice");
    }
    try {
      registry::validate(instance);
    } catch (const registry::RegistryError& e) {
      fail(line_of(table), "[[service.instance]] '" + instance.id + "': " + e.what());
    }
    config_.instances.push_back(std::move(instance));
  }
}

void Reader::read_keys(const toml::node& node) {
  const toml::array* array = node.as_array();
  if (array == nullptr || !array->is_array_of_tables()) {
    fail(line_of(node), "'key' must be an array of tables: [[key]]");
  }
  std::set<std::string> names;
  for (const toml::node& item : *array) {
    const toml::table& table = *item.as_table();
    KeyConfig key;
    read_table(table, "key", Target{&config_, nullptr, nullptr, &key});
    try {
      const health::TsigKey checked = health::make_tsig_key(key.name, key.algorithm, key.secret, key.allow);
      if (!names.insert(checked.name_wire).second) {
        fail(line_of(table), "key 'key.name': key '" + key.name + "' is declared twice");
      }
    } catch (const health::KeyError& e) {
      fail(line_of(table), "[[key]] '" + key.name + "': " + e.what());
    }
    config_.keys.push_back(std::move(key));
  }
}

std::string allowed_text(const Option& option) {
  if (!option.allowed.empty()) return std::string(option.allowed);
  if (option.kind == Kind::integer) {
    return std::to_string(option.min) + ".." +
           (option.max == kMaxInt ? std::string("2^63-1") : std::to_string(option.max));
  }
  if (option.kind == Kind::real) {
    return value_text(option.real_min) + ".." + value_text(option.real_max);
  }
  return "";
}

}  // namespace

std::string ListenAddress::text() const {
  return (ipv6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

bool ListenAddress::unspecified() const { return address == "0.0.0.0" || address == "::"; }

Config parse_config(std::string_view text, const std::string& source) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    throw ConfigError(source + ":" + std::to_string(e.source().begin.line) + ": " +
                      std::string(e.description()));
  }
  return Reader(source).read(root);
}

Config load_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path + ": cannot be read");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw ConfigError(path + ": cannot be read");
  return parse_config(text.str(), path);
}

Config default_config() { return parse_config(kDefaultConfig, std::string(kDefaultConfigSource)); }

std::string config_reference() {
  std::string out =
      "| key | type | default | allowed | reload | description |\n"
      "| --- | --- | --- | --- | --- | --- |\n";
  for (const Option& option : options()) {
    std::string shown = option.required ? "required" : std::string(option.shown_default);
    if (shown.empty()) shown = "`" + value_text(option.fallback) + "`";
    const std::string allowed = allowed_text(option);
    out += "| `" + full_name(option.section, option.key) + "` | " +
           std::string(kind_name(option.kind)) + " | " + shown + " | " +
           (allowed.empty() ? "" : "`" + allowed + "`") + " | " +
           (option.reloadable ? "yes" : "no") + " | " + std::string(option.help) + " |\n";
  }
  return out;
}

}  // namespace signpost::dns::daemon
