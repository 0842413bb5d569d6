// signpost-agent's configuration: the TOML reader driven by the option table (the agent's
// only toml++ code), the defaults that come from the host, and the reference.
#include "health/agent/agent_config.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "health/agent/agent_schema.hpp"
#include "health/tsig.hpp"

namespace signpost::health::agent {

using namespace schema;

namespace {

std::string full_name(std::string_view section, std::string_view key) {
  return std::string(section) + "." + std::string(key);
}

std::string_view kind_name(Kind kind) {
  switch (kind) {
    case Kind::integer: return "integer";
    case Kind::seconds: return "number (seconds)";
    case Kind::string: return "string";
    case Kind::string_list: return "array of strings";
    default: return "table of strings";
  }
}

std::string number_text(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

std::string value_text(const Value& value) {
  if (const auto* n = std::get_if<std::int64_t>(&value)) return std::to_string(*n);
  if (const auto* r = std::get_if<double>(&value)) return number_text(*r);
  if (const auto* s = std::get_if<std::string>(&value)) return "\"" + *s + "\"";
  if (const auto* list = std::get_if<StringList>(&value)) {
    std::string out;
    for (const std::string& item : *list) out += (out.empty() ? "" : ", ") + ("\"" + item + "\"");
    return "[" + out + "]";
  }
  if (std::holds_alternative<StringMap>(value)) return "{}";
  return "";
}

// The TOML value as the option's kind; nullopt when its type is wrong.
std::optional<Value> to_value(const toml::node& node, Kind kind) {
  switch (kind) {
    case Kind::integer:
      if (const auto* n = node.as_integer()) return Value{n->get()};
      return std::nullopt;
    case Kind::seconds:
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
      // The file's order, so that the TXT strings come out as written.
      std::sort(map.begin(), map.end(), [&](const auto& a, const auto& b) {
        return table->get(a.first)->source().begin < table->get(b.first)->source().begin;
      });
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
      throw Invalid("must be between " + number_text(option.real_min) + " and " +
                    number_text(option.real_max) + " seconds, not " + number_text(*r));
    }
  }
}

// Edit distance, for "did you mean" hints on misspelt keys.
std::size_t distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j < row.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t corner = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t replace = corner + (a[i - 1] == b[j - 1] ? 0 : 1);
      corner = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, replace});
    }
  }
  return row[b.size()];
}

std::string hint(std::string_view section, std::string_view key) {
  for (const Option& option : options()) {
    if (option.section == section && distance(option.key, key) <= 2) {
      return " (did you mean '" + full_name(section, option.key) + "'?)";
    }
  }
  for (const Option& option : options()) {
    if (option.key == key && option.section != section) {
      return " (it belongs in " +
             std::string(option.section == "agent" ? "[agent]"
                                                   : "[[" + std::string(option.section) + "]]") +
             ")";
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

std::string trim(std::string_view text) {
  const auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  return std::string(text);
}

// The secret in a key file: the file's text, or the quoted `secret "..."` of a BIND key file
// (as tsig-keygen writes it).
std::string secret_in(const std::string& text) {
  const std::size_t at = text.find("secret");
  if (at != std::string::npos) {
    const std::size_t open = text.find('"', at);
    const std::size_t close = open == std::string::npos ? open : text.find('"', open + 1);
    if (close != std::string::npos) return text.substr(open + 1, close - open - 1);
  }
  return trim(text);
}

// Reads one TOML document into an AgentConfig, driven by the option table.
class Reader {
 public:
  Reader(const std::string& source, const HostFacts& host) : source_(source), host_(host) {
    config_.source = source;
  }

  AgentConfig read(const toml::table& root);

 private:
  void check_top_level(const toml::table& root) const;
  void check_keys(const toml::table& table, std::string_view section,
                  std::string_view nested) const;
  void read_table(const toml::table& table, std::string_view section, Target target,
                  std::string_view nested = {});
  void read_key(const toml::table& agent, const KeyDraft& draft);
  void apply_host_defaults(const toml::table& agent);
  void read_services(const toml::node& node);
  void read_checks(const toml::node& node, ServiceConfig& service);
  std::size_t line_in(const toml::table& table, std::string_view key) const {
    const toml::node* node = table.get(key);
    return node != nullptr ? line_of(*node) : std::max<std::size_t>(line_of(table), 1);
  }
  [[noreturn]] void fail(std::size_t line, const std::string& message) const {
    throw ConfigError(source_ + ":" + std::to_string(line) + ": " + message);
  }

  const std::string& source_;
  const HostFacts& host_;
  AgentConfig config_;
};

AgentConfig Reader::read(const toml::table& root) {
  check_top_level(root);
  const toml::table empty;
  const toml::table* found = root["agent"].as_table();
  const toml::table& agent = found != nullptr ? *found : empty;
  KeyDraft key;
  read_table(agent, "agent", Target{&config_, &key, nullptr, nullptr});
  read_key(agent, key);
  apply_host_defaults(agent);
  if (const toml::node* services = root.get("service")) read_services(*services);
  return std::move(config_);
}

void Reader::check_top_level(const toml::table& root) const {
  for (const auto& [key, node] : root) {
    const std::string name(key.str());
    if (name == "service") continue;  // read_services checks its shape
    if (name != "agent") {
      std::string why;
      if (find_option("agent", name) != nullptr) why = " (it belongs in [agent])";
      if (why.empty()) why = hint("agent", name);
      if (why.empty() && distance(name, "service") <= 2) why = " (did you mean [[service]]?)";
      if (why.empty() && distance(name, "agent") <= 2) why = " (did you mean [agent]?)";
      fail(key.source().begin.line, "unknown table or key '" + name + "'" + why);
    }
    if (!node.is_table()) {
      fail(line_of(node), "'agent' must be a table ([agent]), not " + std::string(toml_type(node)));
    }
  }
}

// Rejects keys the section does not declare; `nested` holds a sub-table read by the caller.
void Reader::check_keys(const toml::table& table, std::string_view section,
                        std::string_view nested) const {
  const toml::key* first = nullptr;
  for (const auto& [key, node] : table) {
    if ((!nested.empty() && key.str() == nested) || find_option(section, key.str()) != nullptr) {
      continue;
    }
    if (first == nullptr || key.source().begin < first->source().begin) first = &key;
  }
  if (first != nullptr) {
    fail(first->source().begin.line,
         "unknown key '" + full_name(section, first->str()) + "'" + hint(section, first->str()));
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
    const std::size_t line = line_in(table, option.key);
    Value value = option.fallback;
    if (node != nullptr) {
      std::optional<Value> given = to_value(*node, option.kind);
      if (!given) {
        const std::string_view kind = kind_name(option.kind);
        fail(line, "key '" + name + "': must be " +
                       (kind.front() == 'i' || kind.front() == 'a' ? "an " : "a ") +
                       std::string(kind) + ", not " + std::string(toml_type(*node)));
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
  }
}

void Reader::read_key(const toml::table& agent, const KeyDraft& draft) {
  if (draft.secret.empty() && draft.file.empty()) {
    fail(line_in(agent, "key_name"), "give 'agent.key_secret' or 'agent.key_file'");
  }
  if (!draft.secret.empty() && !draft.file.empty()) {
    fail(line_in(agent, "key_file"), "give 'agent.key_secret' or 'agent.key_file', not both");
  }
  if (!draft.secret.empty()) {
    config_.key.secret = trim(draft.secret);
    return;
  }
  std::string path = draft.file;
  const std::size_t slash = source_.rfind('/');
  if (path.front() != '/' && slash != std::string::npos) path = source_.substr(0, slash + 1) + path;
  std::ifstream in(path, std::ios::binary);
  if (!in.is_open()) {
    fail(line_in(agent, "key_file"), "key 'agent.key_file': cannot read '" + path + "'");
  }
  std::ostringstream text;
  text << in.rdbuf();
  const std::string secret = secret_in(text.str());
  const auto base64 = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '+' || c == '/' || c == '=';
  };
  if (secret.empty() || secret.size() % 4 != 0 ||
      !std::all_of(secret.begin(), secret.end(), base64)) {
    fail(line_in(agent, "key_file"), "key 'agent.key_file': '" + path + "' holds no base64 secret");
  }
  std::string_view name = config_.key.name;
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);  // as written
  try {
    decode_tsig_secret(name, secret);
  } catch (const KeyError& e) {
    fail(line_in(agent, "key_file"), "key 'agent.key_file': '" + path + "': " + e.what());
  }
  config_.key.secret = secret;
}

void Reader::apply_host_defaults(const toml::table& agent) {
  if (config_.node.empty()) {
    std::string first = host_.host_name.substr(0, host_.host_name.find('.'));
    try {
      Target target{&config_, nullptr, nullptr, nullptr};
      find_option("agent", "node")->set(target, Value{first});
    } catch (const Invalid& e) {
      fail(line_in(agent, "node"),
           "key 'agent.node': the host name does not work as the default (" +
               std::string(e.what()) + "); set it");
    }
  }
  if (config_.addresses.empty()) {
    if (host_.addresses.empty()) {
      fail(line_in(agent, "addresses"),
           "key 'agent.addresses': the host has no address but loopback; set it");
    }
    config_.addresses = host_.addresses;
  }
}

void Reader::read_services(const toml::node& node) {
  const toml::array* array = node.as_array();
  if (array == nullptr || !array->is_array_of_tables()) {
    fail(line_of(node), "'service' must be an array of tables: [[service]]");
  }
  std::map<std::string, std::size_t> names;  // instance name -> line
  for (const toml::node& item : *array) {
    const toml::table& table = *item.as_table();
    ServiceConfig service;
    read_table(table, "service", Target{&config_, nullptr, &service, nullptr}, "check");
    if (service.id.empty()) {
      try {
        Target target{&config_, nullptr, &service, nullptr};
        find_option("service", "id")->set(target, Value{service.name + "-" + config_.node});
      } catch (const Invalid& e) {
        fail(line_of(table),
             "key 'service.id': the default does not work (" + std::string(e.what()) + "); set it");
      }
    }
    const std::string name = service.id + "._" + service.name + (service.udp ? "._udp" : "._tcp");
    const auto [first, fresh] = names.emplace(name, line_of(table));
    if (!fresh) {
      fail(line_of(table), "key 'service.id': instance '" + service.id + "' of service '" +
                               service.name + "' is declared twice (first at line " +
                               std::to_string(first->second) + "); give each its own id");
    }
    if (const toml::node* checks = table.get("check")) read_checks(*checks, service);
    config_.services.push_back(std::move(service));
  }
}

void Reader::read_checks(const toml::node& node, ServiceConfig& service) {
  const toml::array* array = node.as_array();
  if (array == nullptr || !array->is_array_of_tables()) {
    fail(line_of(node), "'service.check' must be an array of tables: [[service.check]]");
  }
  for (const toml::node& item : *array) {
    const toml::table& table = *item.as_table();
    CheckConfig check;
    read_table(table, "service.check", Target{&config_, nullptr, &service, &check});
    try {
      if (check.type == CheckType::http) {
        parse_http_url(check.target);
      } else if (check.type == CheckType::tcp) {
        parse_host_port(check.target);
      } else if (trim(check.target).empty()) {
        throw std::invalid_argument("the command is empty");
      }
    } catch (const std::invalid_argument& e) {
      fail(line_in(table, "target"), "key 'service.check.target': " + std::string(e.what()));
    }
    service.checks.push_back(std::move(check));
  }
}

std::string allowed_text(const Option& option) {
  if (!option.allowed.empty()) return std::string(option.allowed);
  if (option.kind == Kind::integer) {
    return std::to_string(option.min) + ".." + std::to_string(option.max);
  }
  if (option.kind == Kind::seconds) {
    return number_text(option.real_min) + ".." + number_text(option.real_max);
  }
  return "";
}

std::string plural(std::size_t count, std::string_view noun) {
  return std::to_string(count) + " " + std::string(noun) + (count == 1 ? "" : "s");
}

}  // namespace

std::string ServerAddress::text() const {
  return (ipv6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

AgentConfig parse_agent_config(std::string_view text, const std::string& source,
                               const HostFacts& host) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    throw ConfigError(source + ":" + std::to_string(e.source().begin.line) + ": " +
                      std::string(e.description()));
  }
  return Reader(source, host).read(root);
}

AgentConfig load_agent_config(const std::string& path, const HostFacts& host) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path + ": cannot be read");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw ConfigError(path + ": cannot be read");
  return parse_agent_config(text.str(), path, host);
}

std::string config_reference() {
  std::string out =
      "| key | type | default | allowed | description |\n"
      "| --- | --- | --- | --- | --- |\n";
  for (const Option& option : options()) {
    std::string shown = option.required ? "required" : std::string(option.shown_default);
    if (shown.empty()) shown = "`" + value_text(option.fallback) + "`";
    const std::string allowed = allowed_text(option);
    out += "| `" + full_name(option.section, option.key) + "` | " +
           std::string(kind_name(option.kind)) + " | " + shown + " | " +
           (allowed.empty() ? "" : "`" + allowed + "`") + " | " + std::string(option.help) + " |\n";
  }
  return out;
}

std::string describe(const AgentConfig& config) {
  std::size_t checks = 0;
  for (const ServiceConfig& service : config.services) checks += service.checks.size();
  std::string addresses;
  for (const std::string& address : config.addresses) {
    addresses += (addresses.empty() ? "" : " ") + address;
  }
  return config.source + ": OK (node " + config.node + " [" + addresses + "], " +
         plural(config.servers.size(), "server") + ", " +
         plural(config.services.size(), "service") + ", " + plural(checks, "check") + ")";
}

}  // namespace signpost::health::agent
