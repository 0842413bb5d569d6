// signpostd's options, each declared once with its type, default, range and help.
#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <limits>
#include <optional>

#include "dns/daemon/config_schema.hpp"
#include "dns/wire/name.hpp"
#include "health/protocol/tsig.hpp"
#include "registry/log/log.hpp"

namespace signpost::dns::daemon::schema {

namespace {

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

// A list of listen addresses, each once.
std::vector<ListenAddress> parse_listen_list(const Value& value) {
  std::vector<ListenAddress> list;
  for (const std::string& text : std::get<StringList>(value)) {
    ListenAddress address = parse_listen(text);
    if (std::find(list.begin(), list.end(), address) != list.end()) {
      throw Invalid("lists '" + address.text() + "' twice");
    }
    list.push_back(std::move(address));
  }
  return list;
}

void set_listen(Target& target, const Value& value) {
  std::vector<ListenAddress> list = parse_listen_list(value);
  if (list.empty()) throw Invalid("must name at least one address");
  target.config->listen = std::move(list);
}

// The HTTP API's addresses: like server.listen, but an empty list turns the API off.
void set_http_listen(Target& target, const Value& value) {
  target.config->http_listen = parse_listen_list(value);
}

// Upstream resolvers: numeric, like server.listen, each once, never port 0.
void set_forward_servers(Target& target, const Value& value) {
  constexpr std::size_t kMaxServers = 8;
  std::vector<ListenAddress> list = parse_listen_list(value);
  for (const ListenAddress& server : list) {
    if (server.port == 0) throw Invalid("'" + server.text() + "' has port 0");
  }
  if (list.size() > kMaxServers) throw Invalid("lists more than 8 upstream resolvers");
  target.config->forward_servers = std::move(list);
}

// Client prefixes that may have names forwarded: numeric, each once, a bounded list (the
// answer path scans it for every forwarded query).
void set_forward_allow(Target& target, const Value& value) {
  constexpr std::size_t kMaxPrefixes = 64;
  const StringList& texts = std::get<StringList>(value);
  if (texts.size() > kMaxPrefixes) throw Invalid("lists more than 64 prefixes");
  std::vector<answer::ClientPrefix> list;
  for (const std::string& text : texts) {
    std::string why;
    const std::optional<answer::ClientPrefix> prefix = answer::parse_client_prefix(text, why);
    if (!prefix) throw Invalid("'" + text + "' " + why);
    if (std::find(list.begin(), list.end(), *prefix) != list.end()) {
      throw Invalid("lists '" + answer::client_prefix_text(*prefix) + "' twice");
    }
    list.push_back(*prefix);
  }
  target.config->forward_allow = std::move(list);
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

// 32 hexadecimal digits: the 128-bit SipHash key of server cookies (RFC 9018 §4.4).
void set_cookie_secret(Target& target, const Value& value) {
  const std::string& text = text_of(value);
  target.config->cookie_secret_set = !text.empty();
  if (text.empty()) return;
  const auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  auto& secret = target.config->cookie_secret;
  const bool hex = text.size() == secret.size() * 2 &&
                   std::all_of(text.begin(), text.end(), [&](char c) { return digit(c) >= 0; });
  if (!hex) {
    throw Invalid("must be 32 hexadecimal digits (a 128-bit secret, as `openssl rand -hex 16` "
                  "prints), or \"\" for a random one");
  }
  for (std::size_t i = 0; i < secret.size(); ++i) {
    secret[i] = static_cast<std::uint8_t>(digit(text[2 * i]) << 4 | digit(text[2 * i + 1]));
  }
}

void set_backend(Target& target, const Value& value) {
  const std::string& text = text_of(value);
  if (text != "memory" && text != "etcd") {
    throw Invalid("must be \"memory\" or \"etcd\", not \"" + text + "\"");
  }
  target.config->backend = text;
}

// host:port, the host a name or an address ([...] for IPv6).
void set_etcd_endpoints(Target& target, const Value& value) {
  std::vector<std::string> list;
  for (const std::string& text : std::get<StringList>(value)) {
    const std::size_t colon = text.rfind(':');
    const bool bracketed = !text.empty() && text.front() == '[';
    const bool host_ok = colon != std::string::npos && colon != 0 &&
                         (bracketed ? text[colon - 1] == ']'
                                    : text.find(':') == colon);
    if (!host_ok || !parse_port(text.substr(colon + 1)) || text.substr(colon + 1) == "0") {
      throw Invalid("'" + text + "' is not host:port (\"127.0.0.1:2379\", \"[::1]:2379\")");
    }
    if (std::find(list.begin(), list.end(), text) != list.end()) {
      throw Invalid("lists '" + text + "' twice");
    }
    list.push_back(text);
  }
  if (list.empty()) throw Invalid("must name at least one endpoint");
  target.config->etcd_endpoints = std::move(list);
}

void set_etcd_prefix(Target& target, const Value& value) {
  const std::string& text = text_of(value);
  if (text.empty() || text.front() != '/') {
    throw Invalid("must start with '/', as \"/signpost/\" does");
  }
  target.config->etcd_prefix = text;
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

// Checked here rather than when the key is built, so that the error names the secret's line.
void set_secret(Target& target, const Value& value) {
  try {
    health::decode_tsig_secret(target.key->name, text_of(value));
  } catch (const health::KeyError& e) {
    throw Invalid(e.what());
  }
  target.key->secret = text_of(value);
}

void set_log(Target& target, const Value& value) {
  const std::optional<LogFormat> format = parse_log_format(text_of(value));
  if (!format) throw Invalid("must be \"text\" or \"json\", not \"" + text_of(value) + "\"");
  target.config->log_format = *format;
}

constexpr std::int64_t kMaxTtl = 86400;

}  // namespace

const std::vector<Option>& options() {
  static const std::vector<Option> table{
      // [server]
      {.section = "server", .key = "listen", .kind = Kind::string_list,
       .fallback = StringList{"127.0.0.1:8053"},
       .help = "Addresses DNS is served on, each over UDP and TCP: `\"192.0.2.1:53\"` or "
               "`\"[2001:db8::1]:53\"`. Port 0 picks a free port, logged at start-up.",
       .set = set_listen},
      {.section = "server", .key = "threads", .fallback = std::int64_t{0}, .min = 0, .max = 1024,
       .help = "DNS workers, each with its own sockets and threads (one per UDP socket, one for TCP); 0 = one per CPU core.",
       .set = [](Target& t, const Value& v) { t.config->threads = as<std::uint32_t>(v); }},
      {.section = "server", .key = "tcp_idle_timeout", .fallback = std::int64_t{10}, .min = 1,
       .max = 3600,
       .help = "Seconds a TCP client has to send each message whole, counted from the "
               "connection's start or its previous message; octets that trickle in do not "
               "extend it, while each write of an answer the client reads does (a slow "
               "secondary gets the whole zone). When they are up, the connection is closed "
               "(RFC 7766 §6.2.3).",
       .set = [](Target& t, const Value& v) { t.config->tcp_idle_timeout = as<std::uint32_t>(v); }},
      {.section = "server", .key = "tcp_max_clients", .fallback = std::int64_t{1000}, .min = 1,
       .max = 1000000,
       .help = "Open TCP connections allowed in total; further ones are closed at once.",
       .set = [](Target& t, const Value& v) { t.config->tcp_max_clients = as<std::uint32_t>(v); }},
      {.section = "server", .key = "tcp_max_per_client", .fallback = std::int64_t{64},
       .min = 1, .max = 1000000,
       .help = "Open TCP connections allowed from any one client (an IPv4 address, an IPv6 "
               "/64), so that one client cannot take all of `server.tcp_max_clients`; further "
               "ones from it are closed at once.",
       .set = [](Target& t, const Value& v) {
         t.config->tcp_max_per_client = as<std::uint32_t>(v);
       }},
      {.section = "server", .key = "udp_receive_buffer", .fallback = std::int64_t{4 << 20}, .min = 0,
       .max = 1 << 30,
       .help = "Receive buffer of each UDP socket in octets, for bursts; 0 = the system default "
               "(net.core.rmem_default). Above net.core.rmem_max it needs CAP_NET_ADMIN.",
       .set = [](Target& t, const Value& v) {
         t.config->udp_receive_buffer = as<std::size_t>(v);
       }},
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
      {.section = "dns", .key = "cookies", .kind = Kind::boolean, .fallback = true,
       .help = "Answer DNS Cookies (RFC 7873, RFC 9018). false = COOKIE options are ignored as "
               "by a server without them: none comes back, a malformed one is no FORMERR, rate "
               "limiting never sends BADCOOKIE nor spares a valid server cookie.",
       .set = [](Target& t, const Value& v) { t.config->cookies = std::get<bool>(v); }},
      {.section = "dns", .key = "cookie_secret", .kind = Kind::string, .fallback = std::string(),
       .shown_default = "random",
       .help = "Secret of DNS server cookies (RFC 7873, RFC 9018), 32 hex digits; \"\" = a "
               "random one at each start. Give servers behind one anycast address the same.",
       .set = set_cookie_secret},
      // [rrl]
      {.section = "rrl", .key = "responses_per_second", .fallback = std::int64_t{0}, .min = 0,
       .max = 1000000,
       .help = "UDP responses per second to one client prefix before rate limiting; 0 = off. "
               "TCP and queries with a valid server cookie (`dns.cookies`) are never limited.",
       .set = [](Target& t, const Value& v) {
         t.config->rrl.responses_per_second = as<std::uint32_t>(v);
       }},
      {.section = "rrl", .key = "slip", .fallback = std::int64_t{2}, .min = 0, .max = 100,
       .help = "Every Nth limited response is sent truncated (TC=1; BADCOOKIE to a client that "
               "sent a cookie, with `dns.cookies`) so that real clients retry over TCP; 0 = drop all, 1 = none "
               "dropped.",
       .set = [](Target& t, const Value& v) { t.config->rrl.slip = as<std::uint32_t>(v); }},
      {.section = "rrl", .key = "ipv4_prefix", .fallback = std::int64_t{24}, .min = 8, .max = 32,
       .help = "IPv4 clients are counted together per prefix of this length.",
       .set = [](Target& t, const Value& v) { t.config->rrl.ipv4_prefix = as<std::uint8_t>(v); }},
      {.section = "rrl", .key = "ipv6_prefix", .fallback = std::int64_t{56}, .min = 16,
       .max = 128, .help = "IPv6 clients are counted together per prefix of this length.",
       .set = [](Target& t, const Value& v) { t.config->rrl.ipv6_prefix = as<std::uint8_t>(v); }},
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
      {.section = "health", .key = "min_lease", .fallback = std::int64_t{2}, .min = 1,
       .max = 86400, .help = "Shortest heartbeat lease granted, in seconds.",
       .set = [](Target& t, const Value& v) { t.config->min_lease = as<std::uint32_t>(v); }},
      {.section = "health", .key = "max_lease", .fallback = std::int64_t{3600}, .min = 1,
       .max = 604800, .help = "Longest heartbeat lease granted, in seconds.",
       .set = [](Target& t, const Value& v) { t.config->max_lease = as<std::uint32_t>(v); }},
      {.section = "health", .key = "max_instances", .fallback = std::int64_t{1000000}, .min = 1,
       .max = 100000000,
       .help = "Instances registered by UPDATE at once, over all keys; past it UPDATEs that "
               "add one are REFUSED.",
       .set = [](Target& t, const Value& v) { t.config->max_instances = as<std::uint32_t>(v); }},
      {.section = "health", .key = "deregister_after", .fallback = std::int64_t{600}, .min = 1,
       .max = 604800,
       .help = "Seconds after which an expired or critical instance is forgotten.",
       .set = [](Target& t, const Value& v) { t.config->deregister_after = as<std::uint32_t>(v); }},
      {.section = "health", .key = "flap_half_life", .fallback = std::int64_t{60}, .min = 1,
       .max = 86400,
       .help = "Half-life in seconds of the flap penalty; an instance that keeps flapping "
               "between healthy and critical stays out of answers until it is stable.",
       .set = [](Target& t, const Value& v) { t.config->flap_half_life = as<std::uint32_t>(v); }},
      {.section = "health", .key = "preservation_threshold", .kind = Kind::real,
       .fallback = 0.5, .real_min = 0, .real_max = 1,
       .help = "Self-preservation: when more than this fraction of the heartbeat instances "
               "are about to expire (lease running out within `preservation_window` with a "
               "renewal missed), the server assumes a partition on its side and stops "
               "expiring; 0 = off.",
       .set = [](Target& t, const Value& v) {
         t.config->preservation_threshold = std::get<double>(v);
       }},
      {.section = "health", .key = "preservation_window", .fallback = std::int64_t{15},
       .min = 1, .max = 3600, .help = "How far ahead self-preservation looks for expiring leases.",
       .set = [](Target& t, const Value& v) {
         t.config->preservation_window = as<std::uint32_t>(v);
       }},
      {.section = "health", .key = "preservation_max", .fallback = std::int64_t{300}, .min = 1,
       .max = 86400, .help = "Longest self-preservation, in seconds; expiry then resumes.",
       .set = [](Target& t, const Value& v) { t.config->preservation_max = as<std::uint32_t>(v); }},
      {.section = "health", .key = "preservation_min_instances", .fallback = std::int64_t{10},
       .min = 1, .max = 1000000,
       .help = "Below this many heartbeat instances, self-preservation never starts.",
       .set = [](Target& t, const Value& v) {
         t.config->preservation_min_instances = as<std::uint32_t>(v);
       }},
      // [registry]
      {.section = "registry", .key = "backend", .kind = Kind::string,
       .fallback = std::string("memory"), .allowed = "\"memory\", \"etcd\"",
       .help = "Where the live registry is kept: in this server's memory (and its state_file), "
               "or in etcd, shared by every server of the cluster.",
       .set = set_backend},
      {.section = "registry", .key = "state_file", .kind = Kind::string,
       .fallback = std::string("signpostd.state"),
       .help = "Memory backend: the file the registry's heartbeat instances are kept in across "
               "restarts, relative to the working directory; \"\" = none.",
       .set = [](Target& t, const Value& v) { t.config->state_file = text_of(v); }},
      {.section = "registry", .key = "etcd_endpoints", .kind = Kind::string_list,
       .fallback = StringList{"127.0.0.1:2379"},
       .help = "etcd backend: the cluster's client URLs, as `\"host:port\"`.",
       .set = set_etcd_endpoints},
      {.section = "registry", .key = "etcd_prefix", .kind = Kind::string,
       .fallback = std::string("/signpost/"),
       .help = "etcd backend: every key this cluster writes lives under it.",
       .set = set_etcd_prefix},
      {.section = "registry", .key = "etcd_dial_timeout", .fallback = std::int64_t{2}, .min = 1,
       .max = 60, .help = "etcd backend: seconds to wait for a connection to an endpoint.",
       .set = [](Target& t, const Value& v) { t.config->etcd_dial_timeout = as<std::uint32_t>(v); }},
      // [http]
      {.section = "http", .key = "listen", .kind = Kind::string_list, .fallback = StringList{},
       .help = "Addresses of the HTTP API, the status page and /metrics, as `\"127.0.0.1:8054\"`; "
               "[] = off.",
       .set = set_http_listen},
      {.section = "http", .key = "token_file", .kind = Kind::string, .fallback = std::string(),
       .help = "File holding the bearer token (one per line) that every write through the API "
               "needs; \"\" = writes refused.",
       .set = [](Target& t, const Value& v) { t.config->http_token_file = text_of(v); }},
      // [forward]
      {.section = "forward", .key = "servers", .kind = Kind::string_list, .fallback = StringList{},
       .help = "Upstream resolvers, as `\"192.0.2.1:53\"` or `\"[2001:db8::1]:53\"`, tried in "
               "order, that queries with RD for names outside every served zone are forwarded "
               "to (answers carry RA); [] = off: such queries get REFUSED.",
       .set = set_forward_servers},
      {.section = "forward", .key = "timeout_ms", .fallback = std::int64_t{2000}, .min = 100,
       .max = 30000,
       .help = "Milliseconds a forwarded query may take over all upstream resolvers before the "
               "client gets SERVFAIL.",
       .set = [](Target& t, const Value& v) { t.config->forward_timeout_ms = as<std::uint32_t>(v); }},
      {.section = "forward", .key = "allow", .kind = Kind::string_list,
       .fallback = StringList{"127.0.0.0/8", "::1/128"},
       .help = "Client prefixes, as `\"192.0.2.0/24\"` or `\"2001:db8::/32\"` (a bare address is "
               "one client), whose queries may be forwarded; at most 64. Any other client gets "
               "REFUSED, with RA clear, for names outside every served zone. `\"::/0\"` "
               "allows every client, IPv4 ones too.",
       .set = set_forward_allow},
      // [log]
      {.section = "log", .key = "format", .kind = Kind::string, .fallback = std::string("text"),
       .allowed = "\"text\", \"json\"",
       .help = "How stderr lines are written: `2026-05-01T10:00:00.123Z info: message` text, "
               "or one JSON object per line (`time`, `level`, `msg`; audit lines add `event` "
               "and their fields) for log collectors.",
       .set = set_log},
      // [[key]]
      {.section = "key", .key = "name", .kind = Kind::string, .required = true,
       .help = "Key name, as the TSIG record carries it (`nsupdate -y hmac-sha256:NAME:SECRET`).",
       .set = [](Target& t, const Value& v) { t.key->name = text_of(v); }},
      {.section = "key", .key = "algorithm", .kind = Kind::string,
       .fallback = std::string("hmac-sha256"), .allowed = "\"hmac-sha256\", \"hmac-sha512\"",
       .help = "HMAC algorithm (RFC 8945 §6).",
       .set = [](Target& t, const Value& v) { t.key->algorithm = text_of(v); }},
      {.section = "key", .key = "secret", .kind = Kind::string, .required = true,
       .help = "The shared secret, base64, at least 16 octets.", .set = set_secret},
      {.section = "key", .key = "allow", .kind = Kind::string_list, .fallback = StringList{},
       .help = "Services the key may register: names, `prefix*` or `*`; empty = all.",
       .set = [](Target& t, const Value& v) { t.key->allow = std::get<StringList>(v); }},
      {.section = "key", .key = "max_instances", .fallback = std::int64_t{10000}, .min = 1,
       .max = 100000000,
       .help = "Instances registered with this key at once; past it UPDATEs that add one are "
               "REFUSED.",
       .set = [](Target& t, const Value& v) { t.key->max_instances = as<std::uint32_t>(v); }},
      // [[transfer]] (dns/xfr, docs/transfer.md)
      {.section = "transfer", .key = "zone", .kind = Kind::string, .required = true,
       .help = "The zone transferred: the registry zone (`dns.domain`) or a static zone.",
       .set = set_transfer_zone},
      {.section = "transfer", .key = "allow", .kind = Kind::string_list, .fallback = StringList{},
       .help = "Addresses or prefixes (`10.0.0.0/8`) that may transfer it (AXFR, IXFR); "
               "empty = none.",
       .set = set_transfer_allow},
      {.section = "transfer", .key = "key", .kind = Kind::string, .fallback = std::string(),
       .help = "A `[[key]]` that must sign every transfer (TSIG); \"\" = none required.",
       .set = set_transfer_key},
      {.section = "transfer", .key = "notify", .kind = Kind::string_list, .fallback = StringList{},
       .help = "Secondaries (`host:port`) sent NOTIFY on every new serial.",
       .set = set_transfer_notify},
      {.section = "transfer", .key = "notify_interval", .kind = Kind::seconds, .fallback = 1.0,
       .real_min = 0, .real_max = 3600,
       .help = "At most one NOTIFY per zone per this many seconds; changes between wait.",
       .set = set_transfer_notify_interval},
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

const config::Schema& config_schema() {
  static const config::Schema schema(
      {{.name = "server"}, {.name = "dns"}, {.name = "rrl"}, {.name = "health"},
       {.name = "registry"}, {.name = "http"}, {.name = "forward"}, {.name = "log"},
       {.name = "key", .array = true},
       {.name = "transfer", .array = true},
       {.name = "service", .array = true}, {.name = "service.instance", .array = true}},
      options(), /*reload_column=*/true);
  return schema;
}

}  // namespace signpost::dns::daemon::schema
