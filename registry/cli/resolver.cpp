// resolve through c-ares. c-ares parses the answer section as applications get it; the
// additional section, which c-ares does not hand out, is read with the server's own wire
// reader (dns/wire) to show the SRV targets' addresses.
#include "registry/cli/resolver.hpp"

#include <arpa/inet.h>
#include <ares.h>
#include <ares_nameser.h>
#include <sys/select.h>

#include <algorithm>
#include <charconv>
#include <span>

#include "dns/wire/message.hpp"
#include "dns/wire/types.hpp"
#include "registry/cli/cli_error.hpp"

namespace signpost::registry::cli {
namespace {

constexpr int kMaxAddresses = 4096;

/// One query's outcome, filled in by c-ares's callback.
struct Reply {
  bool done = false;
  int status = ARES_SUCCESS;
  std::vector<unsigned char> wire;
};

void on_reply(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
  auto& reply = *static_cast<Reply*>(arg);
  reply.done = true;
  reply.status = status;
  if (abuf != nullptr && alen > 0) reply.wire.assign(abuf, abuf + alen);
}

/// A c-ares channel that asks only one server, destroyed with its scope.
class Channel {
 public:
  Channel(const DnsServer& server, std::chrono::milliseconds timeout) {
    ares_library_init(ARES_LIB_INIT_ALL);
    ares_options options{};
    // One server: report its REFUSED or SERVFAIL instead of moving on; EDNS as stub
    // resolvers send it, and c-ares retries over TCP when an answer comes back truncated.
    options.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOCHECKRESP | ARES_FLAG_EDNS;
    options.tries = 2;
    options.timeout = static_cast<int>(std::max<std::int64_t>(timeout.count() / 2, 1));
    options.ednspsz = 1232;
    const int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_EDNSPSZ;
    if (ares_init_options(&channel_, &options, mask) != ARES_SUCCESS) {
      throw CliError(ExitCode::server_error, "cannot start the c-ares resolver");
    }
    const std::string csv = server.text();
    if (ares_set_servers_ports_csv(channel_, csv.c_str()) != ARES_SUCCESS) {
      ares_destroy(channel_);
      throw CliError(ExitCode::usage, "--dns: c-ares does not take the server " + csv);
    }
  }
  ~Channel() {
    ares_destroy(channel_);
    ares_library_cleanup();
  }
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  void query(const std::string& name, int type, Reply& reply) {
    ares_query(channel_, name.c_str(), ns_c_in, type, on_reply, &reply);
  }

  /// Drives the channel until every reply is in or `limit` has passed.
  void wait(const std::vector<Reply*>& replies, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    const auto pending = [&] {
      for (const Reply* reply : replies) {
        if (!reply->done) return true;
      }
      return false;
    };
    while (pending() && std::chrono::steady_clock::now() < deadline) {
      fd_set readers;
      fd_set writers;
      FD_ZERO(&readers);
      FD_ZERO(&writers);
      const int nfds = ares_fds(channel_, &readers, &writers);
      if (nfds == 0) break;
      timeval most{0, 100000};
      timeval wait{};
      select(nfds, &readers, &writers, nullptr, ares_timeout(channel_, &most, &wait));
      ares_process(channel_, &readers, &writers);
    }
  }

 private:
  ares_channel channel_ = nullptr;
};

std::string rcode_text(const std::vector<unsigned char>& wire) {
  static const char* const kNames[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
                                       "NOTIMP",  "REFUSED"};
  if (wire.size() < 12) return "none";
  const unsigned rcode = wire[3] & 0x0Fu;
  return rcode < 6 ? kNames[rcode] : "RCODE" + std::to_string(rcode);
}

/// The rcode text for a reply, or a CliError for a server that did not answer usefully.
std::string check(const Reply& reply, const DnsServer& server, const std::string& name,
                  std::chrono::milliseconds timeout) {
  const std::string where = "the DNS server " + server.text();
  switch (reply.done ? reply.status : ARES_ETIMEOUT) {
    case ARES_SUCCESS:
    case ARES_ENODATA: return "NOERROR";
    case ARES_ENOTFOUND: return "NXDOMAIN";
    case ARES_ETIMEOUT:
    case ARES_ECONNREFUSED:
      throw CliError(ExitCode::unreachable,
                     "cannot reach " + where + ": no answer within " + duration_text(timeout) +
                         " (is signpostd listening there? see --dns, SIGNPOST_DNS)");
    case ARES_EREFUSED:
      throw CliError(ExitCode::server_error,
                     where + " refused " + name + " (REFUSED: is the name in its zone?)");
    default:
      throw CliError(ExitCode::server_error, where + " answered " + name + " with " +
                                                 rcode_text(reply.wire) + " (" +
                                                 ares_strerror(reply.status) + ")");
  }
}

std::vector<AddressAnswer> parse_addresses(const Reply& reply, int type) {
  std::vector<AddressAnswer> out;
  if (reply.status != ARES_SUCCESS) return out;
  const auto* abuf = reply.wire.data();
  const auto alen = static_cast<int>(reply.wire.size());
  int count = kMaxAddresses;
  char text[INET6_ADDRSTRLEN];
  if (type == ns_t_a) {
    std::vector<ares_addrttl> ttls(kMaxAddresses);
    if (ares_parse_a_reply(abuf, alen, nullptr, ttls.data(), &count) != ARES_SUCCESS) return out;
    for (int i = 0; i < count; ++i) {
      inet_ntop(AF_INET, &ttls[i].ipaddr, text, sizeof text);
      out.push_back({"A", text, static_cast<std::uint32_t>(ttls[i].ttl)});
    }
  } else {
    std::vector<ares_addr6ttl> ttls(kMaxAddresses);
    if (ares_parse_aaaa_reply(abuf, alen, nullptr, ttls.data(), &count) != ARES_SUCCESS) return out;
    for (int i = 0; i < count; ++i) {
      inet_ntop(AF_INET6, &ttls[i].ip6addr, text, sizeof text);
      out.push_back({"AAAA", text, static_cast<std::uint32_t>(ttls[i].ttl)});
    }
  }
  return out;
}

/// A name in lower case without its final dot, as c-ares prints SRV targets.
std::string plain_name(std::string name) {
  if (!name.empty() && name.back() == '.') name.pop_back();
  for (char& c : name) c = static_cast<char>(dns::wire::fold_octet(static_cast<std::uint8_t>(c)));
  return name;
}

/// The A and AAAA records of the additional section, each with its owner (plain_name).
std::vector<std::pair<std::string, AddressAnswer>> additional_addresses(
    const std::vector<unsigned char>& wire) {
  namespace w = dns::wire;
  std::vector<std::pair<std::string, AddressAnswer>> out;
  const std::span<const std::uint8_t> message(wire.data(), wire.size());
  w::Header header;
  if (!w::parse_header(message, header)) return out;
  std::size_t position = 12;
  w::NameError name_error{};
  for (unsigned i = 0; i < header.qdcount; ++i) {
    w::Name qname;
    std::uint16_t qtype = 0;
    std::uint16_t qclass = 0;
    if (w::parse_question(message, position, qname, qtype, qclass, name_error) !=
        w::MessageError::ok) {
      return out;
    }
  }
  const unsigned before = header.ancount + header.nscount;
  for (unsigned i = 0; i < before + header.arcount; ++i) {
    w::RecordView record;
    if (w::parse_record(message, position, record, name_error) != w::MessageError::ok) break;
    const bool a = record.type == w::rrtype::kA && record.rdlength == 4;
    const bool aaaa = record.type == w::rrtype::kAaaa && record.rdlength == 16;
    if (i < before || !(a || aaaa)) continue;
    std::size_t owner_at = record.owner_offset;
    w::Name owner;
    if (w::parse_name(message, owner_at, owner, true) != w::NameError::ok) continue;
    char text[INET6_ADDRSTRLEN];
    inet_ntop(a ? AF_INET : AF_INET6, wire.data() + record.rdata_offset, text, sizeof text);
    out.push_back({plain_name(w::name_to_text(std::string(owner.key()))),
                   {a ? "A" : "AAAA", text, record.ttl}});
  }
  return out;
}

std::vector<SrvAnswer> parse_srv(const Reply& reply) {
  std::vector<SrvAnswer> out;
  if (reply.status != ARES_SUCCESS) return out;
  ares_srv_reply* srv = nullptr;
  if (ares_parse_srv_reply(reply.wire.data(), static_cast<int>(reply.wire.size()), &srv) !=
      ARES_SUCCESS) {
    throw CliError(ExitCode::server_error, "c-ares cannot parse the SRV answer");
  }
  const auto glue = additional_addresses(reply.wire);
  for (const ares_srv_reply* r = srv; r != nullptr; r = r->next) {
    SrvAnswer answer{{r->priority, r->weight, r->port, r->host}, {}};
    for (const auto& [owner, address] : glue) {
      if (owner == plain_name(r->host)) answer.addresses.push_back(address);
    }
    out.push_back(std::move(answer));
  }
  ares_free_data(srv);
  return out;
}

}  // namespace

std::string DnsServer::text() const {
  const bool v6 = address.find(':') != std::string::npos;
  return (v6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

DnsServer parse_dns_server(const std::string& text) {
  DnsServer server;
  std::string port_text;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string::npos) throw CliError(ExitCode::usage, "--dns: no ] in " + text);
    server.address = text.substr(1, close - 1);
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':') throw CliError(ExitCode::usage, "--dns: bad " + text);
      port_text = text.substr(close + 2);
    }
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    server.address = text.substr(0, text.find(':'));
    port_text = text.substr(text.find(':') + 1);
  } else {
    server.address = text;  // an IPv4 address, or an IPv6 one without a port
  }
  unsigned char probe[16];
  const int family = server.address.find(':') != std::string::npos ? AF_INET6 : AF_INET;
  if (inet_pton(family, server.address.c_str(), probe) != 1) {
    throw CliError(ExitCode::usage, "--dns wants ADDRESS:PORT (an IP address), not \"" + text + "\"");
  }
  if (!port_text.empty()) {
    const auto [end, error] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), server.port);
    if (error != std::errc() || end != port_text.data() + port_text.size() || server.port == 0) {
      throw CliError(ExitCode::usage, "--dns: bad port in " + text);
    }
  }
  return server;
}

Resolution resolve(const DnsServer& server, const std::string& name, bool srv,
                   std::chrono::milliseconds timeout) {
  Channel channel(server, timeout);
  Resolution out;
  out.name = name;
  out.srv = srv;
  if (srv) {
    Reply reply;
    channel.query(name, ns_t_srv, reply);
    channel.wait({&reply}, timeout);
    out.rcode = check(reply, server, name, timeout);
    out.records = parse_srv(reply);
    return out;
  }
  Reply a;
  Reply aaaa;
  channel.query(name, ns_t_a, a);
  channel.query(name, ns_t_aaaa, aaaa);
  channel.wait({&a, &aaaa}, timeout);
  out.rcode = check(a, server, name, timeout);
  check(aaaa, server, name, timeout);
  out.addresses = parse_addresses(a, ns_t_a);
  for (auto& address : parse_addresses(aaaa, ns_t_aaaa)) out.addresses.push_back(address);
  return out;
}

}  // namespace signpost::registry::cli
