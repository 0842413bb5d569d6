// signpostd's configuration: signpostd.toml read by the config engine against the server's
// option table, and what the table alone cannot check (leases in order, names declared once,
// registrations and keys as the registry and TSIG will take them).
#include "dns/daemon/config.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "dns/daemon/config_schema.hpp"
#include "dns/daemon/default_config.hpp"
#include "health/protocol/tsig.hpp"
#include "registry/config/document.hpp"

namespace signpost::dns::daemon {

using namespace schema;

namespace {

// Reads one document into a Config, in the order of its errors: the tables, then the
// static registrations, then the keys.
class Reader {
 public:
  explicit Reader(const config::Document& document) : document_(document) {
    config_.source = document.source();
  }

  Config read();

 private:
  void read_table(const config::Table& table, Target target);
  void check_leases() const;
  void read_services();
  void read_instances(const config::Table& service, const ServiceDraft& draft);
  void read_keys();
  void read_transfers();

  const config::Document& document_;
  Config config_;
};

Config Reader::read() {
  for (std::string_view section : {"server", "dns", "rrl", "health", "registry", "http", "forward",
                                    "log"}) {
    read_table(document_.table(section), Target{&config_, nullptr, nullptr});
  }
  check_leases();
  read_services();
  read_keys();
  read_transfers();
  return std::move(config_);
}

// Sets every option of the table, recording the sealed ones so that a reload can tell which
// of them changed.
void Reader::read_table(const config::Table& table, Target target) {
  table.visit([&](const Option& option, const Value& value) {
    option.set(target, value);
    if (!option.reloadable) config_.sealed[option.name()] = config::value_text(value);
  });
}

void Reader::check_leases() const {
  if (config_.min_lease <= config_.max_lease) return;
  const config::Table health = document_.table("health");
  const std::size_t line =
      health.line_of(health.has("max_lease") ? "max_lease" : "min_lease");
  document_.fail(line, "key 'health.max_lease': must not be below health.min_lease (" +
                           std::to_string(config_.min_lease) + " > " +
                           std::to_string(config_.max_lease) + ")");
}

void Reader::read_services() {
  std::map<std::string, std::size_t> lines;  // service name -> line of its [[service]]
  for (const config::Table& table : document_.entries("service")) {
    ServiceDraft draft;
    read_table(table, Target{&config_, &draft, nullptr});
    const std::string& name = draft.service.name;
    const auto [first, fresh] = lines.emplace(name, table.line());
    if (!fresh) {
      table.fail(table.line(), "key 'service.name': service '" + name +
                                   "' is declared twice (first at line " +
                                   std::to_string(first->second) + ")");
    }
    try {
      registry::validate(draft.service);
    } catch (const registry::RegistryError& e) {
      table.fail(table.line(), "[[service]] '" + name + "': " + e.what());
    }
    read_instances(table, draft);
    config_.services.push_back(draft.service);
  }
}

void Reader::read_instances(const config::Table& service, const ServiceDraft& draft) {
  std::set<std::string> ids;
  for (const config::Table& table : service.entries("service.instance")) {
    registry::Instance instance;
    read_table(table, Target{&config_, nullptr, &instance});
    instance.service = draft.service.name;
    if (instance.port == 0) instance.port = draft.port;
    if (instance.port == 0) {
      table.fail(table.line(),
                 "key 'service.instance.port' is required when 'service.port' is not set");
    }
    if (!ids.insert(instance.id).second) {
      table.fail(table.line(), "key 'service.instance.id': instance '" + instance.id +
                                   "' of service '" + draft.service.name + "' is declared twice");
    }
    try {
      registry::validate(instance);
    } catch (const registry::RegistryError& e) {
      table.fail(table.line(), "[[service.instance]] '" + instance.id + "': " + e.what());
    }
    config_.instances.push_back(std::move(instance));
  }
}

void Reader::read_keys() {
  std::set<std::string> names;  // wire form, so that "K." and "k" are the same key
  for (const config::Table& table : document_.entries("key")) {
    KeyConfig key;
    read_table(table, Target{&config_, nullptr, nullptr, &key});
    try {
      const health::TsigKey checked =
          health::make_tsig_key(key.name, key.algorithm, key.secret, key.allow);
      if (!names.insert(checked.name_wire).second) {
        table.fail(table.line(), "key 'key.name': key '" + key.name + "' is declared twice");
      }
    } catch (const health::KeyError& e) {
      table.fail(table.line(), "[[key]] '" + key.name + "': " + e.what());
    }
    config_.keys.push_back(std::move(key));
  }
}

// Each zone once, and a key that is declared.
void Reader::read_transfers() {
  for (const config::Table& table : document_.entries("transfer")) {
    xfr::TransferPolicy policy;
    read_table(table, Target{&config_, nullptr, nullptr, nullptr, &policy});
    for (const xfr::TransferPolicy& other : config_.transfers) {
      if (other.zone == policy.zone) {
        table.fail(table.line(), "key 'transfer.zone': zone '" + policy.zone_text +
                                     "' has two [[transfer]] tables");
      }
    }
    const bool known = policy.key.empty() ||
                       std::any_of(config_.keys.begin(), config_.keys.end(), [&](const KeyConfig& key) {
                         return health::make_tsig_key(key.name, key.algorithm, key.secret, {})
                                    .name_wire == policy.key;
                       });
    if (!known) {
      table.fail(table.line(), "key 'transfer.key': no [[key]] named '" +
                                   wire::name_to_text(policy.key) + "'");
    }
    config_.transfers.push_back(std::move(policy));
  }
}

}  // namespace

std::string ListenAddress::text() const {
  return (ipv6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

bool ListenAddress::unspecified() const { return address == "0.0.0.0" || address == "::"; }

Config parse_config(std::string_view text, const std::string& source) {
  const config::Document document(config_schema(), text, source);
  return Reader(document).read();
}

Config load_config_file(const std::string& path) {
  const config::Document document = config::Document::load(config_schema(), path);
  return Reader(document).read();
}

Config default_config() { return parse_config(kDefaultConfig, std::string(kDefaultConfigSource)); }

std::string config_reference() { return config_schema().reference(); }

}  // namespace signpost::dns::daemon
