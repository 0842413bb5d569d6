// signpost-agent's options, each declared once with its type, default, range and help.
#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <optional>

#include "dns/wire/base64.hpp"
#include "health/agent/agent_schema.hpp"
#include "health/protocol/tsig.hpp"
#include "registry/model.hpp"

namespace signpost::health::agent::schema {

namespace {

template <typename T>
T as(const Value& value) {
  return static_cast<T>(std::get<std::int64_t>(value));
}

const std::string& text_of(const Value& value) { return std::get<std::string>(value); }

std::chrono::milliseconds duration_of(const Value& value) {
  return std::chrono::milliseconds(std::llround(std::get<double>(value) * 1000.0));
}

// Checks a label the way the server's registry will, so that the error names key and line.
std::string label_of(std::string_view what, std::string_view text) {
  try {
    return registry::normalize_label(what, text);
  } catch (const registry::RegistryError& e) {
    throw Invalid(e.what());
  }
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; });
  return text;
}

// A DNS name in text: labels of letters, digits, hyphens and underscores, 253 octets at
// most. Returns it in lower case with the final dot.
std::string dns_name_of(std::string_view what, std::string text) {
  if (!text.empty() && text.back() == '.') text.pop_back();
  if (text.empty()) throw Invalid(std::string(what) + " is empty");
  if (text.size() > 253) throw Invalid(std::string(what) + " is longer than 253 characters");
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t dot = std::min(text.find('.', start), text.size());
    const std::string_view label = std::string_view(text).substr(start, dot - start);
    const bool good =
        !label.empty() && label.size() <= 63 && std::all_of(label.begin(), label.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_';
        });
    if (!good) {
      throw Invalid(std::string(what) + " '" + text +
                    "' is not a DNS name (labels of 1-63 letters, digits, '-' or '_')");
    }
    start = dot + 1;
  }
  return lower(std::move(text)) + ".";
}

// A numeric IPv4 or IPv6 address, in canonical form.
std::string address_of(const std::string& text) {
  unsigned char bytes[16];
  const int family = text.find(':') != std::string::npos ? AF_INET6 : AF_INET;
  if (inet_pton(family, text.c_str(), bytes) != 1) {
    throw Invalid("'" + text + "' is not a numeric IPv4 or IPv6 address");
  }
  char canonical[INET6_ADDRSTRLEN];
  inet_ntop(family, bytes, canonical, sizeof canonical);
  return canonical;
}

ServerAddress server_of(const std::string& text) {
  HostPort parsed;
  try {
    parsed = parse_host_port(text);
  } catch (const std::invalid_argument& e) {
    throw Invalid(e.what());
  }
  ServerAddress out;
  out.ipv6 = parsed.host.find(':') != std::string::npos;
  try {
    out.address = address_of(parsed.host);
  } catch (const Invalid&) {
    throw Invalid("'" + text + "' must be a numeric address and a port, like \"192.0.2.1:53\"");
  }
  out.port = parsed.port;
  return out;
}

// The server refuses keys shorter than kMinTsigSecret octets; so does the agent, at once.
void check_secret(std::string_view key_name, std::string_view secret) {
  if (!key_name.empty() && key_name.back() == '.') key_name.remove_suffix(1);  // as written
  try {
    decode_tsig_secret(key_name, secret);
  } catch (const KeyError& e) {
    throw Invalid(e.what());
  }
}

void set_addresses(Target& t, const Value& v) {
  const auto& list = std::get<StringList>(v);
  if (list.empty()) throw Invalid("must list at least one address");
  t.config->addresses.clear();
  for (const std::string& text : list) {
    std::string address = address_of(text);
    if (std::find(t.config->addresses.begin(), t.config->addresses.end(), address) ==
        t.config->addresses.end()) {
      t.config->addresses.push_back(std::move(address));
    }
  }
}

void set_servers(Target& t, const Value& v) {
  const auto& list = std::get<StringList>(v);
  if (list.empty()) throw Invalid("must list at least one server");
  for (const std::string& text : list) {
    ServerAddress server = server_of(text);
    if (std::find(t.config->servers.begin(), t.config->servers.end(), server) !=
        t.config->servers.end()) {
      throw Invalid("server '" + server.text() + "' is listed twice");
    }
    t.config->servers.push_back(std::move(server));
  }
}

void set_send_to(Target& t, const Value& v) {
  const std::string mode = lower(text_of(v));
  if (mode == "all") {
    t.config->send_to = SendTo::all;
  } else if (mode == "one") {
    t.config->send_to = SendTo::one;
  } else {
    throw Invalid("must be \"all\" or \"one\", not \"" + text_of(v) + "\"");
  }
}

void set_service_name(Target& t, const Value& v) {
  registry::Service service;
  service.name = text_of(v);
  try {
    registry::validate(service);  // also refuses the reserved names (node, ns)
  } catch (const registry::RegistryError& e) {
    throw Invalid(e.what());
  }
  t.service->name = service.name;
}

void set_tags(Target& t, const Value& v) {
  std::size_t octets = 5;  // "tags="
  for (const std::string& text : std::get<StringList>(v)) {
    std::string tag = label_of("tag", text);
    if (std::find(t.service->tags.begin(), t.service->tags.end(), tag) != t.service->tags.end()) {
      continue;
    }
    octets += tag.size() + (t.service->tags.empty() ? 0 : 1);
    t.service->tags.push_back(std::move(tag));
  }
  if (octets > 255) throw Invalid("the tags take more than 255 octets in the TXT record");
}

void set_meta(Target& t, const Value& v) {
  for (const auto& [key, value] : std::get<StringMap>(v)) {
    const std::string folded = lower(key);
    if (folded == "health" || folded == "tags") {
      throw Invalid("'" + key + "' is reserved (the agent sets it)");
    }
    if (key.find('=') != std::string::npos) throw Invalid("key '" + key + "' contains '='");
    if (key.size() + 1 + value.size() > 255) {
      throw Invalid("'" + key + "=" + value + "' is longer than 255 octets (a TXT string)");
    }
    t.service->meta.emplace_back(key, value);
  }
}

void set_check_type(Target& t, const Value& v) {
  const std::string& text = text_of(v);
  if (text == "http") {
    t.check->type = CheckType::http;
  } else if (text == "tcp") {
    t.check->type = CheckType::tcp;
  } else if (text == "exec") {
    t.check->type = CheckType::exec;
  } else {
    throw Invalid("must be \"http\", \"tcp\" or \"exec\", not \"" + text + "\"");
  }
}

std::vector<Option> make_options();

}  // namespace

const std::vector<Option>& options() {
  static const std::vector<Option> table = make_options();
  return table;
}

bool is_secret(std::string_view text) {
  std::vector<std::uint8_t> octets;
  return dns::wire::decode_base64(text, octets) == dns::wire::Base64Error::ok && !octets.empty();
}

const config::Schema& config_schema() {
  // Every option reloads (SIGHUP re-reads the whole file), so the reference has no column
  // saying which.
  static const config::Schema schema(
      {{.name = "agent"}, {.name = "log"}, {.name = "service", .array = true},
       {.name = "service.check", .array = true}},
      options(), /*reload_column=*/false);
  return schema;
}

namespace {

std::vector<Option> make_options() {
  return {
      // [agent]
      {.section = "agent",
       .key = "node",
       .kind = Kind::string,
       .shown_default = "the host name's first label",
       .help = "This node's name, one DNS label: `<node>.node.<domain>`.",
       .set = [](Target& t,
                 const Value& v) { t.config->node = label_of("node name", text_of(v)); }},
      {.section = "agent",
       .key = "addresses",
       .kind = Kind::string_list,
       .shown_default = "the host's addresses",
       .help = "The node's IPv4 and IPv6 addresses (A/AAAA of the node name); by default those "
               "of every interface that is up, without loopback and IPv6 link-local.",
       .set = set_addresses},
      {.section = "agent",
       .key = "servers",
       .kind = Kind::string_list,
       .required = true,
       .help = "signpostd servers, `\"192.0.2.1:53\"` or `\"[2001:db8::1]:53\"`; the agent "
               "registers with every one, or with one at a time (`send_to`).",
       .set = set_servers},
      {.section = "agent",
       .key = "send_to",
       .kind = Kind::string,
       .fallback = std::string("all"),
       .allowed = "\"all\", \"one\"",
       .help = "`all`: heartbeats go to every server (each keeps its own registry). `one`: the "
               "servers share one registry (the etcd backend): heartbeats go to one at a time, "
               "from the first listed, and move to the next when it stops answering.",
       .set = set_send_to},
      {.section = "agent",
       .key = "domain",
       .kind = Kind::string,
       .fallback = std::string("svc.internal."),
       .help = "The registry zone (the server's `dns.domain`).",
       .set = [](Target& t,
                 const Value& v) { t.config->domain = dns_name_of("domain", text_of(v)); }},
      {.section = "agent",
       .key = "key_name",
       .kind = Kind::string,
       .required = true,
       .help = "Name of the TSIG key (RFC 8945) that signs the UPDATEs; a `[[key]]` of the server.",
       .set = [](Target& t,
                 const Value& v) { t.config->key.name = dns_name_of("key name", text_of(v)); }},
      {.section = "agent",
       .key = "key_secret",
       .kind = Kind::string,
       .shown_default = "none",
       .help = "The key's secret, base64, at least 16 octets. Give this or `key_file`.",
       .set =
           [](Target& t, const Value& v) {
             if (!is_secret(text_of(v))) throw Invalid("is not base64");
             check_secret(t.config->key.name, text_of(v));
             t.key->secret = text_of(v);
           }},
      {.section = "agent",
       .key = "key_file",
       .kind = Kind::string,
       .shown_default = "none",
       .help = "A file holding the key's secret in base64 (relative to agent.toml's directory).",
       .set =
           [](Target& t, const Value& v) {
             if (text_of(v).empty()) throw Invalid("is empty");
             t.key->file = text_of(v);
           }},
      {.section = "agent",
       .key = "algorithm",
       .kind = Kind::string,
       .fallback = std::string("hmac-sha256"),
       .allowed = "\"hmac-sha256\", \"hmac-sha512\"",
       .help = "The key's HMAC algorithm (RFC 8945 §6).",
       .set =
           [](Target& t, const Value& v) {
             const std::string name = lower(text_of(v));
             if (name != "hmac-sha256" && name != "hmac-sha512") {
               throw Invalid("must be \"hmac-sha256\" or \"hmac-sha512\", not \"" + text_of(v) +
                             "\"");
             }
             t.config->key.algorithm = name;
           }},
      {.section = "agent",
       .key = "lease",
       .fallback = std::int64_t{15},
       .min = 1,
       .max = 86400,
       .help = "Lease asked for, in seconds (RFC 9664); heartbeats go every third of the lease "
               "the server grants.",
       .set = [](Target& t, const Value& v) { t.config->lease = as<std::uint32_t>(v); }},
      // [log]
      {.section = "log",
       .key = "format",
       .kind = Kind::string,
       .fallback = std::string("text"),
       .allowed = "\"text\", \"json\"",
       .help = "How stderr lines are written: `2026-05-01T10:00:00.123Z info: message` text, "
               "or one JSON object per line (`time`, `level`, `msg`) for log collectors.",
       .set =
           [](Target& t, const Value& v) {
             const std::optional<LogFormat> format = parse_log_format(text_of(v));
             if (!format) {
               throw Invalid("must be \"text\" or \"json\", not \"" + text_of(v) + "\"");
             }
             t.config->log_format = *format;
           }},
      // [[service]]
      {.section = "service",
       .key = "name",
       .kind = Kind::string,
       .required = true,
       .help = "Service name, one DNS label: `<name>.<domain>`.",
       .set = set_service_name},
      {.section = "service",
       .key = "id",
       .kind = Kind::string,
       .shown_default = "`<name>-<node>`",
       .help = "Instance id, one DNS label: `<id>._<name>._<protocol>.<domain>`.",
       .set = [](Target& t,
                 const Value& v) { t.service->id = label_of("instance id", text_of(v)); }},
      {.section = "service",
       .key = "protocol",
       .kind = Kind::string,
       .fallback = std::string("tcp"),
       .allowed = "\"tcp\", \"udp\"",
       .help = "The `_<protocol>` label of its SRV name (RFC 2782).",
       .set =
           [](Target& t, const Value& v) {
             const std::string name = lower(text_of(v));
             if (name != "tcp" && name != "udp") {
               throw Invalid("must be \"tcp\" or \"udp\", not \"" + text_of(v) + "\"");
             }
             t.service->udp = name == "udp";
           }},
      {.section = "service",
       .key = "port",
       .min = 1,
       .max = 65535,
       .required = true,
       .help = "The port it serves on (the SRV port).",
       .set = [](Target& t, const Value& v) { t.service->port = as<std::uint16_t>(v); }},
      {.section = "service",
       .key = "tags",
       .kind = Kind::string_list,
       .fallback = StringList{},
       .help = "Tags, DNS labels: clients can ask `<tag>.<name>.<domain>`.",
       .set = set_tags},
      {.section = "service",
       .key = "weight",
       .fallback = std::int64_t{1},
       .min = 0,
       .max = 65535,
       .help = "Share of the answers (the SRV weight); 0 = drained.",
       .set = [](Target& t, const Value& v) { t.service->weight = as<std::uint16_t>(v); }},
      {.section = "service",
       .key = "priority",
       .fallback = std::int64_t{0},
       .min = 0,
       .max = 65535,
       .help = "SRV priority; lower is preferred.",
       .set = [](Target& t, const Value& v) { t.service->priority = as<std::uint16_t>(v); }},
      {.section = "service",
       .key = "meta",
       .kind = Kind::string_map,
       .fallback = StringMap{},
       .help = "Metadata, `key = \"value\"`, sent as TXT `key=value` strings (RFC 6763 §6).",
       .set = set_meta},
      // [[service.check]]
      {.section = "service.check",
       .key = "type",
       .kind = Kind::string,
       .required = true,
       .allowed = "\"http\", \"tcp\", \"exec\"",
       .help = "`http`: GET, 2xx passing, 429 warning, else critical; `tcp`: connect; `exec`: "
               "exit 0 passing, 1 warning, else critical.",
       .set = set_check_type},
      {.section = "service.check",
       .key = "target",
       .kind = Kind::string,
       .required = true,
       .help = "`http://host:port/path`, `host:port`, or a command for /bin/sh -c.",
       .set = [](Target& t, const Value& v) { t.check->target = text_of(v); }},
      {.section = "service.check",
       .key = "interval",
       .kind = Kind::seconds,
       .fallback = 10.0,
       .real_min = 0.1,
       .real_max = 86400,
       .help = "Seconds between the starts of two runs.",
       .set = [](Target& t, const Value& v) { t.check->interval = duration_of(v); }},
      {.section = "service.check",
       .key = "timeout",
       .kind = Kind::seconds,
       .fallback = 2.0,
       .real_min = 0.01,
       .real_max = 3600,
       .help = "Seconds a run may take; then it is critical.",
       .set = [](Target& t, const Value& v) { t.check->timeout = duration_of(v); }},
      {.section = "service.check",
       .key = "success_before_passing",
       .fallback = std::int64_t{1},
       .min = 1,
       .max = 1000,
       .help = "Passing results in a row before the check is passing (it starts critical).",
       .set = [](Target& t,
                 const Value& v) { t.check->success_before_passing = as<std::uint32_t>(v); }},
      {.section = "service.check",
       .key = "failures_before_critical",
       .fallback = std::int64_t{1},
       .min = 1,
       .max = 1000,
       .help = "Critical results in a row before the check is critical.",
       .set = [](Target& t,
                 const Value& v) { t.check->failures_before_critical = as<std::uint32_t>(v); }},
  };
}

}  // namespace

}  // namespace signpost::health::agent::schema
