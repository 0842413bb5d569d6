// signpost-agent's configuration: agent.toml read by the config engine against the agent's
// option table, the defaults that come from the host, the key file, and the summary.
#include "health/agent/agent_config.hpp"

#include <cctype>
#include <fstream>
#include <map>
#include <sstream>

#include "health/agent/agent_schema.hpp"
#include "health/protocol/tsig.hpp"
#include "registry/config/document.hpp"

namespace signpost::health::agent {

using namespace schema;

namespace {

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

// Reads one document into an AgentConfig: [agent], its key and host defaults, then every
// [[service]] with its checks.
class Reader {
 public:
  Reader(const config::Document& document, const HostFacts& host)
      : document_(document), host_(host) {
    config_.source = document.source();
  }

  AgentConfig read();

 private:
  void read_key(const config::Table& agent, const KeyDraft& draft);
  void apply_host_defaults(const config::Table& agent);
  void read_services();
  void read_checks(const config::Table& table, ServiceConfig& service);

  const config::Document& document_;
  const HostFacts& host_;
  AgentConfig config_;
};

AgentConfig Reader::read() {
  const config::Table agent = document_.table("agent");
  KeyDraft key;
  agent.read(Target{&config_, &key, nullptr, nullptr});
  read_key(agent, key);
  apply_host_defaults(agent);
  document_.table("log").read(Target{&config_, nullptr, nullptr, nullptr});
  read_services();
  return std::move(config_);
}

void Reader::read_key(const config::Table& agent, const KeyDraft& draft) {
  if (draft.secret.empty() && draft.file.empty()) {
    agent.fail(agent.line_of("key_name"), "give 'agent.key_secret' or 'agent.key_file'");
  }
  if (!draft.secret.empty() && !draft.file.empty()) {
    agent.fail(agent.line_of("key_file"), "give 'agent.key_secret' or 'agent.key_file', not both");
  }
  if (!draft.secret.empty()) {
    config_.key.secret = trim(draft.secret);
    return;
  }
  const std::string& source = document_.source();
  std::string path = draft.file;
  const std::size_t slash = source.rfind('/');
  if (path.front() != '/' && slash != std::string::npos) path = source.substr(0, slash + 1) + path;
  std::ifstream in(path, std::ios::binary);
  if (!in.is_open()) {
    agent.fail(agent.line_of("key_file"), "key 'agent.key_file': cannot read '" + path + "'");
  }
  std::ostringstream text;
  text << in.rdbuf();
  const std::string secret = secret_in(text.str());
  if (!is_secret(secret)) {
    agent.fail(agent.line_of("key_file"),
               "key 'agent.key_file': '" + path + "' holds no base64 secret");
  }
  std::string_view name = config_.key.name;
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);  // as written
  try {
    decode_tsig_secret(name, secret);
  } catch (const KeyError& e) {
    agent.fail(agent.line_of("key_file"), "key 'agent.key_file': '" + path + "': " + e.what());
  }
  config_.key.secret = secret;
}

void Reader::apply_host_defaults(const config::Table& agent) {
  if (config_.node.empty()) {
    std::string first = host_.host_name.substr(0, host_.host_name.find('.'));
    try {
      Target target{&config_, nullptr, nullptr, nullptr};
      config_schema().find("agent", "node")->set(target, Value{first});
    } catch (const Invalid& e) {
      agent.fail(agent.line_of("node"),
                 "key 'agent.node': the host name does not work as the default (" +
                     std::string(e.what()) + "); set it");
    }
  }
  if (config_.addresses.empty()) {
    if (host_.addresses.empty()) {
      agent.fail(agent.line_of("addresses"),
                 "key 'agent.addresses': the host has no address but loopback; set it");
    }
    config_.addresses = host_.addresses;
  }
}

void Reader::read_services() {
  std::map<std::string, std::size_t> names;  // instance name -> line
  for (const config::Table& table : document_.entries("service")) {
    ServiceConfig service;
    table.read(Target{&config_, nullptr, &service, nullptr});
    if (service.id.empty()) {
      try {
        Target target{&config_, nullptr, &service, nullptr};
        config_schema().find("service", "id")->set(target, Value{service.name + "-" + config_.node});
      } catch (const Invalid& e) {
        table.fail(table.line(), "key 'service.id': the default does not work (" +
                                     std::string(e.what()) + "); set it");
      }
    }
    const std::string name = service.id + "._" + service.name + (service.udp ? "._udp" : "._tcp");
    const auto [first, fresh] = names.emplace(name, table.line());
    if (!fresh) {
      table.fail(table.line(), "key 'service.id': instance '" + service.id + "' of service '" +
                                   service.name + "' is declared twice (first at line " +
                                   std::to_string(first->second) + "); give each its own id");
    }
    read_checks(table, service);
    config_.services.push_back(std::move(service));
  }
}

void Reader::read_checks(const config::Table& service_table, ServiceConfig& service) {
  for (const config::Table& table : service_table.entries("service.check")) {
    CheckConfig check;
    table.read(Target{&config_, nullptr, &service, &check});
    try {
      if (check.type == CheckType::http) {
        parse_http_url(check.target);
      } else if (check.type == CheckType::tcp) {
        parse_host_port(check.target);
      } else if (trim(check.target).empty()) {
        throw std::invalid_argument("the command is empty");
      }
    } catch (const std::invalid_argument& e) {
      table.fail(table.line_of("target"), "key 'service.check.target': " + std::string(e.what()));
    }
    service.checks.push_back(std::move(check));
  }
}

}  // namespace

std::string ServerAddress::text() const {
  return (ipv6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

AgentConfig parse_agent_config(std::string_view text, const std::string& source,
                               const HostFacts& host) {
  const config::Document document(config_schema(), text, source);
  return Reader(document, host).read();
}

AgentConfig load_agent_config(const std::string& path, const HostFacts& host) {
  const config::Document document = config::Document::load(config_schema(), path);
  return Reader(document, host).read();
}

std::string config_reference() { return config_schema().reference(); }

std::string describe(const AgentConfig& config) {
  std::size_t checks = 0;
  for (const ServiceConfig& service : config.services) checks += service.checks.size();
  std::string addresses;
  for (const std::string& address : config.addresses) {
    addresses += (addresses.empty() ? "" : " ") + address;
  }
  return config.source + ": OK (node " + config.node + " [" + addresses + "], " +
         plural(config.servers.size(), "server") +
         (config.send_to == SendTo::one ? " one at a time, " : ", ") +
         plural(config.services.size(), "service") + ", " + plural(checks, "check") + ")";
}

}  // namespace signpost::health::agent
