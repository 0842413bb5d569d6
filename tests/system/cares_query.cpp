// A small c-ares client for the system tests: asks one server one question and prints
// the response's rcode, header flags and parsed records, one per line.
//
//   cares_query SERVER PORT NAME TYPE [--tcp] [--edns]
//
// TYPE is A, AAAA, SRV, TXT, MX, SOA or PTR. Output:
//   rcode NOERROR
//   flags qr aa rd
//   A 192.0.2.10 300            (address, TTL)
//   AAAA 2001:db8::10 300
//   CNAME alias.example.test    (each alias c-ares followed, for A and AAAA)
//   SRV 10 60 80 www.example.test
//   TXT "v=demo1" "second string"
//   MX 10 mail.example.test
//   SOA ns.example.test hostmaster.example.test 2026112801 3600 600 86400 300
//   PTR web-1._web._tcp.svc.internal  (one line per record, e.g. a DNS-SD browse)
// Exit status: 0 answer, 2 NODATA, 3 NXDOMAIN, 4 REFUSED, 5 SERVFAIL, 6 another error
// rcode (FORMERR, NOTIMP), 7 no response (timeout, connection refused), 1 usage or a
// parse error.
#include <arpa/inet.h>
#include <ares.h>
#include <ares_nameser.h>
#include <netdb.h>
#include <sys/select.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

namespace {

constexpr int kExitAnswer = 0;
constexpr int kExitUsage = 1;
constexpr int kExitNodata = 2;
constexpr int kExitNxdomain = 3;
constexpr int kExitRefused = 4;
constexpr int kExitServfail = 5;
constexpr int kExitOtherRcode = 6;
constexpr int kExitNoResponse = 7;

constexpr int kMaxAddresses = 1024;
constexpr auto kOverallLimit = std::chrono::seconds(10);

struct Outcome {
  bool done = false;
  bool closing = false;  // ares_destroy cancels a pending query through the callback
  int status = ARES_SUCCESS;
  int type = 0;
  int exit_code = kExitUsage;
};

const char* rcode_text(int rcode) {
  static const char* const kNames[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
                                       "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
                                       "NXRRSET", "NOTAUTH", "NOTZONE"};
  constexpr int kCount = static_cast<int>(sizeof kNames / sizeof kNames[0]);
  if (rcode >= 0 && rcode < kCount) return kNames[rcode];
  return "RCODE?";
}

void print_header(const unsigned char* abuf, int alen) {
  if (abuf == nullptr || alen < 12) return;
  std::printf("rcode %s\n", rcode_text(abuf[3] & 0x0F));
  std::string flags;
  const auto add = [&](bool on, const char* name) {
    if (!on) return;
    if (!flags.empty()) flags += ' ';
    flags += name;
  };
  add((abuf[2] & 0x80) != 0, "qr");
  add((abuf[2] & 0x04) != 0, "aa");
  add((abuf[2] & 0x02) != 0, "tc");
  add((abuf[2] & 0x01) != 0, "rd");
  add((abuf[3] & 0x80) != 0, "ra");
  std::printf("flags %s\n", flags.c_str());
}

int print_addresses(const unsigned char* abuf, int alen, int type) {
  hostent* host = nullptr;
  int count = kMaxAddresses;
  int status;
  char text[INET6_ADDRSTRLEN];
  if (type == ns_t_a) {
    static ares_addrttl ttls[kMaxAddresses];
    status = ares_parse_a_reply(abuf, alen, &host, ttls, &count);
    if (status != ARES_SUCCESS) return status;
    for (int i = 0; i < count; ++i) {
      inet_ntop(AF_INET, &ttls[i].ipaddr, text, sizeof text);
      std::printf("A %s %d\n", text, ttls[i].ttl);
    }
  } else {
    static ares_addr6ttl ttls[kMaxAddresses];
    status = ares_parse_aaaa_reply(abuf, alen, &host, ttls, &count);
    if (status != ARES_SUCCESS) return status;
    for (int i = 0; i < count; ++i) {
      inet_ntop(AF_INET6, &ttls[i].ip6addr, text, sizeof text);
      std::printf("AAAA %s %d\n", text, ttls[i].ttl);
    }
  }
  if (host != nullptr) {
    for (char** alias = host->h_aliases; alias != nullptr && *alias != nullptr; ++alias) {
      std::printf("CNAME %s\n", *alias);
    }
    ares_free_hostent(host);
  }
  return ARES_SUCCESS;
}

int print_srv(const unsigned char* abuf, int alen) {
  ares_srv_reply* reply = nullptr;
  const int status = ares_parse_srv_reply(abuf, alen, &reply);
  if (status != ARES_SUCCESS) return status;
  for (const ares_srv_reply* r = reply; r != nullptr; r = r->next) {
    std::printf("SRV %u %u %u %s\n", r->priority, r->weight, r->port, r->host);
  }
  ares_free_data(reply);
  return ARES_SUCCESS;
}

int print_txt(const unsigned char* abuf, int alen) {
  ares_txt_ext* reply = nullptr;
  const int status = ares_parse_txt_reply_ext(abuf, alen, &reply);
  if (status != ARES_SUCCESS) return status;
  bool open = false;
  for (const ares_txt_ext* r = reply; r != nullptr; r = r->next) {
    // Each record starts with record_start set; its other strings follow.
    if (r->record_start != 0) {
      if (open) std::printf("\n");
      std::printf("TXT");
      open = true;
    }
    std::printf(" \"%.*s\"", static_cast<int>(r->length), reinterpret_cast<const char*>(r->txt));
  }
  if (open) std::printf("\n");
  ares_free_data(reply);
  return ARES_SUCCESS;
}

int print_mx(const unsigned char* abuf, int alen) {
  ares_mx_reply* reply = nullptr;
  const int status = ares_parse_mx_reply(abuf, alen, &reply);
  if (status != ARES_SUCCESS) return status;
  for (const ares_mx_reply* r = reply; r != nullptr; r = r->next) {
    std::printf("MX %u %s\n", r->priority, r->host);
  }
  ares_free_data(reply);
  return ARES_SUCCESS;
}

int print_soa(const unsigned char* abuf, int alen) {
  ares_soa_reply* soa = nullptr;
  const int status = ares_parse_soa_reply(abuf, alen, &soa);
  if (status != ARES_SUCCESS) return status;
  std::printf("SOA %s %s %u %u %u %u %u\n", soa->nsname, soa->hostmaster, soa->serial,
              soa->refresh, soa->retry, soa->expire, soa->minttl);
  ares_free_data(soa);
  return ARES_SUCCESS;
}

// PTR records of any owner, e.g. DNS-SD browse answers (RFC 6763 §4). c-ares parses them
// as a reverse lookup, so it gets a placeholder address. Every PTR target is listed among
// the aliases, in answer order, and the last one is also the host name.
int print_ptr(const unsigned char* abuf, int alen) {
  const unsigned char placeholder[4] = {};
  hostent* host = nullptr;
  const int status =
      ares_parse_ptr_reply(abuf, alen, placeholder, sizeof placeholder, AF_INET, &host);
  if (status != ARES_SUCCESS) return status;
  bool any_alias = false;
  for (char** alias = host->h_aliases; alias != nullptr && *alias != nullptr; ++alias) {
    std::printf("PTR %s\n", *alias);
    any_alias = true;
  }
  if (!any_alias) std::printf("PTR %s\n", host->h_name);
  ares_free_hostent(host);
  return ARES_SUCCESS;
}

int exit_code_for(int status) {
  switch (status) {
    case ARES_SUCCESS: return kExitAnswer;
    case ARES_ENODATA: return kExitNodata;
    case ARES_ENOTFOUND: return kExitNxdomain;
    case ARES_EREFUSED: return kExitRefused;
    case ARES_ESERVFAIL: return kExitServfail;
    case ARES_EFORMERR:
    case ARES_ENOTIMP: return kExitOtherRcode;
    case ARES_ETIMEOUT:
    case ARES_ECONNREFUSED: return kExitNoResponse;
    default: return kExitUsage;
  }
}

void on_response(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
  auto& outcome = *static_cast<Outcome*>(arg);
  if (outcome.closing) return;
  outcome.done = true;
  outcome.status = status;
  print_header(abuf, alen);
  outcome.exit_code = exit_code_for(status);
  if (status != ARES_SUCCESS) {
    std::printf("status %s\n", ares_strerror(status));
    return;
  }
  int parsed = ARES_SUCCESS;
  switch (outcome.type) {
    case ns_t_a:
    case ns_t_aaaa: parsed = print_addresses(abuf, alen, outcome.type); break;
    case ns_t_srv: parsed = print_srv(abuf, alen); break;
    case ns_t_txt: parsed = print_txt(abuf, alen); break;
    case ns_t_mx: parsed = print_mx(abuf, alen); break;
    case ns_t_soa: parsed = print_soa(abuf, alen); break;
    case ns_t_ptr: parsed = print_ptr(abuf, alen); break;
    default: break;
  }
  if (parsed != ARES_SUCCESS) {
    std::printf("parse-error %s\n", ares_strerror(parsed));
    outcome.exit_code = kExitUsage;
  }
}

int type_of(std::string_view text) {
  if (text == "A") return ns_t_a;
  if (text == "AAAA") return ns_t_aaaa;
  if (text == "SRV") return ns_t_srv;
  if (text == "TXT") return ns_t_txt;
  if (text == "MX") return ns_t_mx;
  if (text == "SOA") return ns_t_soa;
  if (text == "PTR") return ns_t_ptr;
  return 0;
}

// Drives the channel until the query completes or the overall limit passes.
void run(ares_channel channel, const Outcome& outcome) {
  const auto deadline = std::chrono::steady_clock::now() + kOverallLimit;
  while (!outcome.done && std::chrono::steady_clock::now() < deadline) {
    fd_set readers;
    fd_set writers;
    FD_ZERO(&readers);
    FD_ZERO(&writers);
    const int nfds = ares_fds(channel, &readers, &writers);
    if (nfds == 0) break;
    timeval limit{1, 0};
    timeval wait{};
    timeval* tv = ares_timeout(channel, &limit, &wait);
    select(nfds, &readers, &writers, nullptr, tv);
    ares_process(channel, &readers, &writers);
  }
}

int usage() {
  std::fprintf(stderr, "usage: cares_query SERVER PORT NAME TYPE [--tcp] [--edns]\n"
                       "  TYPE: A, AAAA, SRV, TXT, MX, SOA or PTR\n");
  return kExitUsage;
}

// A channel that asks only SERVER:PORT, with short timeouts; nullptr on failure.
ares_channel make_channel(const std::string& server, const std::string& port, int flags) {
  ares_options options{};
  options.flags = flags;
  options.timeout = 2000;  // milliseconds, with ARES_OPT_TIMEOUTMS
  options.tries = 2;
  options.ednspsz = 1232;
  ares_channel channel = nullptr;
  const int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_EDNSPSZ;
  if (ares_init_options(&channel, &options, mask) != ARES_SUCCESS) return nullptr;
  // An IPv6 server must be written in brackets when it carries a port.
  const std::string csv = server.find(':') != std::string::npos ? "[" + server + "]:" + port
                                                                 : server + ":" + port;
  if (ares_set_servers_ports_csv(channel, csv.c_str()) != ARES_SUCCESS) {
    std::fprintf(stderr, "cares_query: bad server %s\n", csv.c_str());
    ares_destroy(channel);
    return nullptr;
  }
  return channel;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) return usage();
  const int type = type_of(argv[4]);
  if (type == 0) return usage();
  // One server: report its REFUSED or SERVFAIL instead of treating it as unreachable.
  int flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOCHECKRESP;
  for (int i = 5; i < argc; ++i) {
    const std::string_view option = argv[i];
    if (option == "--tcp") {
      flags |= ARES_FLAG_USEVC;
    } else if (option == "--edns") {
      flags |= ARES_FLAG_EDNS;
    } else {
      return usage();
    }
  }

  if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS) return kExitUsage;
  ares_channel channel = make_channel(argv[1], argv[2], flags);
  if (channel == nullptr) return kExitUsage;
  Outcome outcome;
  outcome.type = type;
  ares_query(channel, argv[3], ns_c_in, type, on_response, &outcome);
  run(channel, outcome);
  if (!outcome.done) {
    std::printf("status no response within the time limit\n");
    outcome.exit_code = kExitNoResponse;
  }
  outcome.closing = true;
  ares_destroy(channel);
  ares_library_cleanup();
  std::fflush(stdout);
  return outcome.exit_code;
}
