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

#include "dns/daemon/default_config.hpp"
#include "dns/wire/name.hpp"

namespace signpost::dns::daemon {

namespace {

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
};

using Setter = void (*)(Target&, const Value&);

// One option, declared once: its type, default, range and help drive validation, the
// defaults and the reference (`--help-config`).
struct Option {
  std::string_view section;  // "server", "dns", "health", "service", "service.instance"
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

template <typename T>
T as(const Value& value) {
  return static_cast<T>(std::get<std::int64_t>(value));
}

const std::string& text_of(const Value& value) { return std::get<std::string>(value); }

// Checks a label the way the registry will, so that the error can name the key and line.
std::string label_of(std::string_view what, const Value& value) {
  try {
    return registry::normalize_label(what, text_of(value));
  } catch (const registry::RegistryError& e) {
    throw Invalid(e.what());
  }
}

StringList labels_of(std::string_view what, const Value& value) {
  StringList out;
  for (const std::string& label : std::get<StringList>(value)) {
    out.push_back(label_of(what, Value{label}));
  }
  return out;
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
  unsigned port = 0;
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, port);
  if (text.empty() || error != std::errc() || stop != end || port > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(port);
}

// "192.0.2.1:53" or "[2001:db8::1]:53", numeric only: a name would need a resolver.
ListenAddress parse_listen(const std::string& text) {
  const auto bad = [&](std::string_view why) -> Invalid {
    return Invalid("'" + text + "' " + std::string(why));
  };
  ListenAddress out;
  std::string host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string::npos || text.compare(close, 2, "]:") != 0) {
      throw bad("must look like \"[2001:db8::1]:53\"");
    }
    host = text.substr(1, close - 1);
    port_text = std::string_view(text).substr(close + 2);
    out.ipv6 = true;
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string::npos) throw bad("needs a port, like \"127.0.0.1:53\"");
    host = text.substr(0, colon);
    port_text = std::string_view(text).substr(colon + 1);
    if (host.find(':') != std::string::npos) {
      throw bad("looks like an IPv6 address: write it in brackets, like \"[::1]:53\"");
    }
  }
  unsigned char bytes[16];
  if (inet_pton(out.ipv6 ? AF_INET6 : AF_INET, host.c_str(), bytes) != 1) {
    throw bad(out.ipv6 ? "does not hold a numeric IPv6 address"
                       : "is not a numeric IPv4 address and port, like \"127.0.0.1:53\"");
  }
  char canonical[INET6_ADDRSTRLEN];
  inet_ntop(out.ipv6 ? AF_INET6 : AF_INET, bytes, canonical, sizeof canonical);
  out.address = canonical;
  const std::optional<std::uint16_t> port = parse_port(port_text);
  if (!port) throw bad("has no valid port (0-65535)");
  out.port = *port;
  return out;
}

void set_listen(Target& target, const Value& value) {
  std::vector<ListenAddress> list;
  for (const std::string& text : std::get<StringList>(value)) {
    ListenAddress address = parse_listen(text);
    if (std::find(list.begin(), list.end(), address) != list.end()) {
      throw Invalid("lists '" + address.text() + "' twice");
    }
    list.push_back(std::move(address));
  }
  if (list.empty()) throw Invalid("must name at least one address");
  target.config->listen = std::move(list);
}

void set_domain(Target& target, const Value& value) {
  std::string text = text_of(value);
  if (!text.empty() && text.back() != '.') text += '.';
  std::string wire;
  if (text.size() < 2 || !wire::name_from_text(text, wire)) {
    throw Invalid("'" + text_of(value) + "' is not a domain name such as \"svc.internal.\"");
  }
  wire::fold_name({reinterpret_cast<std::uint8_t*>(wire.data()), wire.size()});
  target.config->domain = wire::name_to_text(wire);
  target.config->domain_wire = std::move(wire);
}

void set_order(Target& target, const Value& value) {
  const std::string& text = text_of(value);
  if (text == "weighted") {
    target.config->order = answer::OrderMode::weighted;
  } else if (text == "round-robin") {
    target.config->order = answer::OrderMode::round_robin;
  } else {
    throw Invalid("must be \"weighted\" or \"round-robin\", not \"" + text + "\"");
  }
}

void set_protocol(Target& target, const Value& value) {
  const auto protocol = registry::parse_protocol(text_of(value));
  if (!protocol) throw Invalid("must be \"tcp\" or \"udp\", not \"" + text_of(value) + "\"");
  target.service->service.protocol = *protocol;
}

void set_addresses(Target& target, const Value& value) {
  registry::Instance& instance = *target.instance;
  instance.ipv4.clear();
  instance.ipv6.clear();
  for (const std::string& text : std::get<StringList>(value)) {
    if (!registry::parse_address(text, instance)) {
      throw Invalid("'" + text + "' is not an IPv4 or IPv6 address");
    }
  }
  if (instance.ipv4.empty() && instance.ipv6.empty()) {
    throw Invalid("must hold at least one address");
  }
}

constexpr std::int64_t kMaxTtl = 86400;
constexpr std::int64_t kMaxInt = std::numeric_limits<std::int64_t>::max();

const std::vector<Option>& options() {
  static const std::vector<Option> table{
      // [server]
      {.section = "server", .key = "listen", .kind = Kind::string_list,
       .fallback = StringList{"127.0.0.1:8053"},
       .help = "Addresses DNS is served on, each over UDP and TCP: `\"192.0.2.1:53\"` or "
               "`\"[2001:db8::1]:53\"`. Port 0 picks a free port, logged at start-up.",
       .set = set_listen},
      {.section = "server", .key = "threads", .fallback = std::int64_t{0}, .min = 0, .max = 1024,
       .help = "DNS worker threads, each with its own sockets; 0 = one per CPU core.",
       .set = [](Target& t, const Value& v) { t.config->threads = as<std::uint32_t>(v); }},
      {.section = "server", .key = "tcp_idle_timeout", .fallback = std::int64_t{10}, .min = 1,
       .max = 3600,
       .help = "Seconds a TCP connection may stay idle before it is closed (RFC 7766 §6.2.3).",
       .set = [](Target& t, const Value& v) { t.config->tcp_idle_timeout = as<std::uint32_t>(v); }},
      {.section = "server", .key = "tcp_max_clients", .fallback = std::int64_t{1000}, .min = 1,
       .max = 1000000,
       .help = "Open TCP connections allowed in total; further ones are closed at once.",
       .set = [](Target& t, const Value& v) { t.config->tcp_max_clients = as<std::uint32_t>(v); }},
      // [dns]
      {.section = "dns", .key = "domain", .kind = Kind::string,
       .fallback = std::string("svc.internal."),
       .help = "The registry zone: services are answered as `<service>.<domain>`.",
       .set = set_domain},
      {.section = "dns", .key = "ttl", .fallback = std::int64_t{5}, .min = 0, .max = kMaxTtl,
       .help = "TTL in seconds of registry answers, and of the registry zone's SOA and NS.",
       .set = [](Target& t, const Value& v) { t.config->ttl = as<std::uint32_t>(v); }},
      {.section = "dns", .key = "negative_ttl", .fallback = std::int64_t{5}, .min = 0,
       .max = kMaxTtl,
       .help = "SOA MINIMUM of the registry zone: how long NXDOMAIN and NODATA are cached "
               "(RFC 2308).",
       .set = [](Target& t, const Value& v) { t.config->negative_ttl = as<std::uint32_t>(v); }},
      {.section = "dns", .key = "answer_limit", .fallback = std::int64_t{8}, .min = 0,
       .max = 65535,
       .help = "Most records in one A, AAAA or SRV answer of a service; 0 = all.",
       .set = [](Target& t, const Value& v) { t.config->answer_limit = as<std::uint32_t>(v); }},
      {.section = "dns", .key = "udp_payload", .fallback = std::int64_t{1232}, .min = 512,
       .max = 4096,
       .help = "EDNS UDP payload size we advertise and answer within (RFC 6891); 1232 avoids "
               "IP fragmentation.",
       .set = [](Target& t, const Value& v) { t.config->udp_payload = as<std::uint16_t>(v); }},
      {.section = "dns", .key = "seed", .fallback = std::int64_t{0}, .min = 0, .max = kMaxInt,
       .help = "Seed of the answer-order generators; 0 = random. Fix it for reproducible orders.",
       .set = [](Target& t, const Value& v) { t.config->seed = as<std::uint64_t>(v); }},
      {.section = "dns", .key = "order", .kind = Kind::string, .fallback = std::string("weighted"),
       .allowed = "\"weighted\", \"round-robin\"",
       .help = "Answer order: weighted random permutation, or smooth weighted round robin.",
       .set = set_order},
      {.section = "dns", .key = "zones_dir", .kind = Kind::string,
       .fallback = std::string("zones"), .reloadable = true,
       .help = "Directory of static zone files (`*.zone`), relative to the working directory.",
       .set = [](Target& t, const Value& v) { t.config->zones_dir = text_of(v); }},
      // [health]
      {.section = "health", .key = "warning_weight", .kind = Kind::real, .fallback = 0.25,
       .real_min = 0, .real_max = 1,
       .help = "Fraction of its weight an instance in warning state keeps.",
       .set = [](Target& t, const Value& v) { t.config->warning_weight = std::get<double>(v); }},
      {.section = "health", .key = "panic_threshold", .kind = Kind::real, .fallback = 0.0,
       .real_min = 0, .real_max = 1,
       .help = "When the healthy fraction of a service falls below this, all its instances "
               "are handed out; 0 = off.",
       .set = [](Target& t, const Value& v) { t.config->panic_threshold = std::get<double>(v); }},
      // [[service]]
      {.section = "service", .key = "name", .kind = Kind::string, .reloadable = true,
       .required = true, .help = "Service name, one DNS label: `<name>.<domain>`.",
       .set = [](Target& t, const Value& v) {
         t.service->service.name = label_of("service name", v);
       }},
      {.section = "service", .key = "protocol", .kind = Kind::string,
       .fallback = std::string("tcp"), .reloadable = true, .allowed = "\"tcp\", \"udp\"",
       .help = "The `_<proto>` label of its SRV name (RFC 2782).", .set = set_protocol},
      {.section = "service", .key = "port", .min = 1, .max = 65535, .reloadable = true,
       .shown_default = "none",
       .help = "Port of its instances (the SRV port), unless an instance sets its own.",
       .set = [](Target& t, const Value& v) { t.service->port = as<std::uint16_t>(v); }},
      {.section = "service", .key = "tags", .kind = Kind::string_list, .fallback = StringList{},
       .reloadable = true, .help = "Tags of the service.",
       .set = [](Target& t, const Value& v) { t.service->service.tags = labels_of("tag", v); }},
      {.section = "service", .key = "ttl", .min = 0, .max = kMaxTtl, .reloadable = true,
       .shown_default = "dns.ttl", .help = "TTL of this service's answers.",
       .set = [](Target& t, const Value& v) { t.service->service.ttl = as<std::uint32_t>(v); }},
      {.section = "service", .key = "answer_limit", .min = 0, .max = 65535, .reloadable = true,
       .shown_default = "dns.answer_limit", .help = "Most records in one answer; 0 = all.",
       .set = [](Target& t, const Value& v) {
         t.service->service.answer_limit = as<std::uint32_t>(v);
       }},
      // [[service.instance]]
      {.section = "service.instance", .key = "id", .kind = Kind::string, .reloadable = true,
       .required = true, .help = "Instance name, one DNS label, unique within the service.",
       .set = [](Target& t, const Value& v) { t.instance->id = label_of("instance id", v); }},
      {.section = "service.instance", .key = "node", .kind = Kind::string, .reloadable = true,
       .required = true, .help = "Node it runs on, one DNS label: `<node>.node.<domain>`.",
       .set = [](Target& t, const Value& v) { t.instance->node = label_of("node name", v); }},
      {.section = "service.instance", .key = "addresses", .kind = Kind::string_list,
       .reloadable = true, .required = true, .help = "Its IPv4 and IPv6 addresses.",
       .set = set_addresses},
      {.section = "service.instance", .key = "port", .min = 1, .max = 65535, .reloadable = true,
       .shown_default = "service.port", .help = "Its port.",
       .set = [](Target& t, const Value& v) { t.instance->port = as<std::uint16_t>(v); }},
      {.section = "service.instance", .key = "weight", .fallback = std::int64_t{1}, .min = 0,
       .max = 65535, .reloadable = true, .help = "Share of the answers; 0 = drained.",
       .set = [](Target& t, const Value& v) { t.instance->weight = as<std::uint16_t>(v); }},
      {.section = "service.instance", .key = "priority", .fallback = std::int64_t{0}, .min = 0,
       .max = 65535, .reloadable = true, .help = "SRV priority; lower is preferred.",
       .set = [](Target& t, const Value& v) { t.instance->priority = as<std::uint16_t>(v); }},
      {.section = "service.instance", .key = "tags", .kind = Kind::string_list,
       .fallback = StringList{}, .reloadable = true,
       .help = "Tags: `<tag>.<service>.<domain>` answers with the instances carrying it.",
       .set = [](Target& t, const Value& v) { t.instance->tags = labels_of("tag", v); }},
      {.section = "service.instance", .key = "meta", .kind = Kind::string_map,
       .fallback = StringMap{}, .reloadable = true,
       .help = "Metadata strings, served as key=value in its DNS-SD TXT record.",
       .set = [](Target& t, const Value& v) { t.instance->meta = std::get<StringMap>(v); }},
  };
  return table;
}

const Option* find_option(std::string_view section, std::string_view key) {
  for (const Option& option : options()) {
    if (option.section == section && option.key == key) return &option;
  }
  return nullptr;
}

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
  for (std::string_view section : {"server", "dns", "health", "service"}) {
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
  if (const toml::node* services = root.get("service")) read_services(*services);
  return std::move(config_);
}

void Reader::check_top_level(const toml::table& root) const {
  for (const auto& [key, node] : root) {
    const std::string name(key.str());
    if (name == "service") continue;  // read_services checks its shape
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
