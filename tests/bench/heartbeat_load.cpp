// A heartbeat load generator for the benchmark: signed DNS UPDATE renewals and changes at
// fixed rates, sent over UDP to signpostd's DNS port.
//
// It registers `--instances` instances (services h0000.., ten instances i0..i9 each, every
// instance on a node of its own, hn00000..) with DNS UPDATE (RFC 2136) signed with TSIG
// (RFC 8945) and an Update Lease (RFC 9664), a window of them outstanding, and stops with a
// clear message when one is refused. Then, for `--duration` seconds, it renews them in turn
// at `--rate` per second and, at `--changes` per second, sends one with its weight toggled
// between 1 and 2: a change, which makes the server publish a snapshot. Every message is
// encoded and signed before the timed phase (TSIG's fudge is 300 s, RFC 8945 §5.2.3); the
// ID is rewritten per send, which TSIG allows (the MAC covers the original ID, §4.3.1).
//
// It prints "renewing" when the timed phase starts, then one line of counts:
//   heartbeats: sent N renewals N changes N answered N noerror N refused N notauth N
//   other_rcode N lost N seconds S latency_avg_us U rate_achieved R/s
// An UPDATE unanswered one second after it was sent, or one second after the end, is lost.
//
// `--renew-from N` starts the renewals at instance N, so that generators run side by side
// (one per server of a cluster) renew disjoint runs of the same instances.
//
// With `--tcp-agents N` the timed phase sends over N persistent TCP connections instead
// (RFC 7766), as N agents would that each keep one open: each agent has an equal run of
// consecutive instances, so the renewals due in one tick (1 ms) are mostly one agent's,
// and each tick writes all of an agent's due UPDATEs at once, length-prefixed (RFC 1035
// §4.2.2). Registration stays on UDP. The latency is then taken when the answer is read,
// so it is known to within the tick.
//
// The timed phase sleeps on the clock until the next send is due, never on its socket, and
// reads the answers that arrived meanwhile with their kernel arrival times (SO_TIMESTAMPNS),
// which give the latency. On loopback the sender of a datagram pays for waking a receiver
// that sleeps on it: a generator waiting in poll() would bill the server a cross-core
// wake-up per answer, which an agent on another host never costs it.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tests/bench/bench_socket.hpp"
#include "dns/wire/types.hpp"
#include "health/protocol/tsig.hpp"
#include "health/protocol/update_builder.hpp"

namespace {

using signpost::health::TsigSigner;
using signpost::health::UpdateBuilder;
using signpost::health::UpdateBuildError;
using signpost::health::UpdateSection;
using Clock = std::chrono::steady_clock;
using Bytes = std::vector<std::uint8_t>;

constexpr std::size_t kMaxBatch = 64;
constexpr std::size_t kMaxTcpAgents = 1000;  // signpostd's server.tcp_max_clients default
constexpr std::size_t kResponseMax = 1024;
constexpr std::size_t kIds = 65536;
constexpr std::int64_t kLostAfterNs = 1'000'000'000;
constexpr std::int64_t kTickNs = 1'000'000;  // longest sleep between two looks at the clock
constexpr std::int64_t kExpiryEveryNs = 100'000'000;
constexpr int kRegisterAttempts = 3;
constexpr double kMaxDuration = 240;  // signatures made before the run stay within 300 s
constexpr std::size_t kInstancesPerService = 10;
constexpr std::size_t kChangeStride = 7919;  // spreads consecutive changes over the services
constexpr std::uint32_t kNodeAddressBase = 0x0A800000;  // 10.128.0.0 + instance index
constexpr std::uint16_t kInstancePort = 8080;
constexpr std::uint16_t kUdpPayload = 1232;

enum class Mode { register_and_renew, register_only, renew_only };

struct Options {
  std::string server = "127.0.0.1";
  std::uint16_t port = 53;
  std::string key_name;
  std::string secret;
  std::string algorithm = "hmac-sha256";
  std::size_t instances = 30000;
  double rate = 10000;        // renewals per second
  double change_rate = 100;   // changes per second
  double duration = 5;
  std::uint32_t lease = 3600;
  std::size_t change_offset = 0;  // changes sent by earlier runs to the same server
  std::size_t window = 64;        // registrations outstanding
  std::size_t tcp_agents = 0;     // timed phase over this many TCP connections; 0: UDP
  std::size_t renew_from = 0;     // the timed phase renews in turn from this instance on
  Mode mode = Mode::register_and_renew;
};

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

std::int64_t wall_ns() {
  timespec t{};
  ::clock_gettime(CLOCK_REALTIME, &t);
  return static_cast<std::int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

bool parse_value(std::string_view flag, const char* value, Options& o) {
  if (flag == "--server") o.server = value;
  else if (flag == "--port") o.port = static_cast<std::uint16_t>(std::atoi(value));
  else if (flag == "--key-name") o.key_name = value;
  else if (flag == "--secret") o.secret = value;
  else if (flag == "--algorithm") o.algorithm = value;
  else if (flag == "--instances") o.instances = std::strtoul(value, nullptr, 10);
  else if (flag == "--rate") o.rate = std::atof(value);
  else if (flag == "--changes") o.change_rate = std::atof(value);
  else if (flag == "--duration") o.duration = std::atof(value);
  else if (flag == "--lease") o.lease = static_cast<std::uint32_t>(std::strtoul(value, nullptr, 10));
  else if (flag == "--change-offset") o.change_offset = std::strtoul(value, nullptr, 10);
  else if (flag == "--window") o.window = std::strtoul(value, nullptr, 10);
  else if (flag == "--tcp-agents") o.tcp_agents = std::strtoul(value, nullptr, 10);
  else if (flag == "--renew-from") o.renew_from = std::strtoul(value, nullptr, 10);
  else return false;
  return true;
}

bool parse_options(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--register-only" || arg == "--renew-only") {
      o.mode = arg == "--register-only" ? Mode::register_only : Mode::renew_only;
    } else if (i + 1 >= argc || !parse_value(arg, argv[++i], o)) {
      return false;
    }
  }
  return o.port != 0 && !o.key_name.empty() && !o.secret.empty() && o.instances >= 1 &&
         o.instances <= 1'000'000 && o.rate > 0 && o.change_rate >= 0 && o.duration > 0 &&
         o.duration <= kMaxDuration && o.lease >= 1 && o.window >= 1 && o.window <= kMaxBatch &&
         o.tcp_agents <= kMaxTcpAgents && o.tcp_agents <= o.instances &&
         o.renew_from < o.instances;
}

struct InstanceNames {
  std::string id;       // i0..i9
  std::string service;  // _h0000
  std::string node;     // hn00000
};

InstanceNames names_of(std::size_t index) {
  std::array<char, 32> service{};
  std::array<char, 32> node{};
  std::snprintf(service.data(), service.size(), "_h%04zu", index / kInstancesPerService);
  std::snprintf(node.data(), node.size(), "hn%05zu", index);
  return {"i" + std::to_string(index % kInstancesPerService), service.data(), node.data()};
}

/// The UPDATE an agent sends for instance `index` (RFC 2136 §2), signed now: zone
/// svc.internal SOA, then SRV and TXT "health=passing" at <id>._<service>._tcp, A at
/// <node>.node, and the lease; built with the protocol library's UPDATE builder, as the
/// agent's are.
Bytes signed_heartbeat(const TsigSigner& signer, std::size_t index, unsigned weight,
                       std::uint32_t lease) {
  namespace wire = signpost::dns::wire;
  const InstanceNames n = names_of(index);
  const std::string owner = n.id + "." + n.service + "._tcp.svc.internal.";
  const std::string node = n.node + ".node.svc.internal.";
  UpdateBuilder update(0, "svc.internal.");
  Bytes rdata;
  signpost::health::encode_srv_rdata(0, static_cast<std::uint16_t>(weight), kInstancePort, node,
                                     rdata);
  update.add(UpdateSection::update, owner, wire::rrtype::kSrv, wire::rrclass::kIn, lease, rdata);
  rdata.clear();
  const std::string health[] = {"health=passing"};
  signpost::health::encode_txt_rdata(health, rdata);
  update.add(UpdateSection::update, owner, wire::rrtype::kTxt, wire::rrclass::kIn, lease, rdata);
  const std::uint32_t address = kNodeAddressBase + static_cast<std::uint32_t>(index);
  rdata = {static_cast<std::uint8_t>(address >> 24), static_cast<std::uint8_t>(address >> 16),
           static_cast<std::uint8_t>(address >> 8), static_cast<std::uint8_t>(address)};
  update.add(UpdateSection::update, node, wire::rrtype::kA, wire::rrclass::kIn, lease, rdata);
  update.set_lease(lease, kUdpPayload);
  signpost::health::SignedRequest request;
  const auto error = update.finish(signer, signer.keys().front(),
                                   static_cast<std::uint64_t>(std::time(nullptr)), request);
  if (error != UpdateBuildError::ok) {
    std::fprintf(stderr, "heartbeat_load: cannot build the UPDATE of %s: %s\n", owner.c_str(),
                 std::string(signpost::health::to_string(error)).c_str());
    std::exit(2);
  }
  return std::move(request.wire);
}

std::size_t change_target(std::size_t change, std::size_t instances) {
  return change * kChangeStride % instances;
}

unsigned toggled(unsigned weight) { return weight == 1 ? 2 : 1; }

/// A pre-signed change: instance `index` with its weight toggled.
struct Change {
  std::size_t index;
  Bytes message;
};

/// The messages of one run: a renewal per instance with the weight it has on the server
/// (after the `change_offset` changes of earlier runs), and the changes of this run.
struct Plan {
  std::vector<Bytes> renewals;
  std::vector<Change> changes;
};

Plan make_plan(const Options& o, const TsigSigner& signer) {
  std::vector<unsigned> weights(o.instances, 1);
  for (std::size_t k = 0; k < o.change_offset; ++k) {
    unsigned& weight = weights[change_target(k, o.instances)];
    weight = toggled(weight);
  }
  Plan plan;
  plan.renewals.reserve(o.instances);
  for (std::size_t i = 0; i < o.instances; ++i) {
    plan.renewals.push_back(signed_heartbeat(signer, i, weights[i], o.lease));
  }
  const auto planned = static_cast<std::size_t>(o.change_rate * o.duration) + 1;
  for (std::size_t k = o.change_offset; k < o.change_offset + planned; ++k) {
    const std::size_t index = change_target(k, o.instances);
    weights[index] = toggled(weights[index]);
    plan.changes.push_back({index, signed_heartbeat(signer, index, weights[index], o.lease)});
  }
  return plan;
}


const char* rcode_name(int rcode) {
  static constexpr std::array<const char*, 11> kNames = {
      "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
      "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE"};
  return rcode >= 0 && rcode < static_cast<int>(kNames.size()) ? kNames[rcode] : "other";
}

/// What came back, by rcode, and what did not.
struct Counts {
  std::uint64_t sent = 0, answered = 0, lost = 0;
  std::array<std::uint64_t, 16> rcodes{};
  double latency_sum_us = 0;
};

// When the kernel received `message` (SO_TIMESTAMPNS), or `otherwise`.
std::int64_t arrival(const msghdr& message, std::int64_t otherwise) {
  for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr;
       c = CMSG_NXTHDR(const_cast<msghdr*>(&message), c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
      timespec t{};
      std::memcpy(&t, CMSG_DATA(c), sizeof t);
      return static_cast<std::int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
    }
  }
  return otherwise;
}

/// An UPDATE in flight, by the ID it was sent with.
struct Slot {
  std::int64_t sent_at = 0;    // steady clock; 0: free
  std::int64_t sent_wall = 0;  // the realtime clock, as the kernel's receive timestamps
  std::uint32_t index = 0;     // the instance
};

/// The run: one connected socket, the UPDATEs in flight by ID, the counts. One thread.
class HeartbeatLoad {
 public:
  HeartbeatLoad(const Options& o, int fd) : o_(o), fd_(fd), slots_(kIds) {}
  ~HeartbeatLoad();
  HeartbeatLoad(const HeartbeatLoad&) = delete;
  HeartbeatLoad& operator=(const HeartbeatLoad&) = delete;

  /// Opens o.tcp_agents TCP connections for the timed phase; false (after saying why)
  /// when one cannot be opened.
  bool connect_agents();

  /// Registers every instance; false (after saying why) when one is refused or unanswered.
  bool register_all(const std::vector<Bytes>& messages);
  /// The timed phase: renewals and changes at their rates for o.duration seconds, then up
  /// to a second for the last answers.
  void renew(Plan plan);
  void report() const;

 private:
  std::vector<std::uint32_t> exchange(const std::vector<Bytes>& messages,
                                      std::vector<std::uint32_t> indexes);
  std::size_t send(std::span<const Bytes* const> messages,
                   std::span<const std::uint32_t> indexes, std::int64_t now);
  std::size_t send_due(Plan& plan, std::vector<const Bytes*>& current, std::int64_t now);
  std::size_t receive();
  std::size_t send_tcp(std::span<const Bytes* const> messages,
                       std::span<const std::uint32_t> indexes, std::int64_t now);
  std::size_t receive_tcp(std::int64_t now);
  void count_answer(std::span<const std::uint8_t> answer, std::int64_t latency_ns);
  std::vector<std::uint32_t> release_older_than(std::int64_t limit);
  void wait(std::int64_t ns) const;
  void sleep_until_due(std::int64_t now, std::int64_t stop) const;

  const Options& o_;
  int fd_;
  std::vector<Slot> slots_;
  std::uint16_t next_id_ = 0;
  std::uint64_t in_flight_ = 0;
  Counts counts_;
  int refused_rcode_ = 0;            // the first rcode other than NOERROR
  std::uint32_t refused_index_ = 0;  // and its instance
  std::size_t next_renewal_ = 0;
  std::uint64_t renewals_sent_ = 0, changes_sent_ = 0;
  std::uint64_t changes_planned_ = 0;
  std::int64_t start_ = 0, end_ = 0;
  std::array<std::array<std::uint8_t, kResponseMax>, kMaxBatch> in_{};
  std::array<std::array<char, CMSG_SPACE(sizeof(timespec))>, kMaxBatch> control_{};
  // One connection per simulated agent (--tcp-agents): framed UPDATEs not yet written,
  // and octets read but not yet a whole answer.
  struct Agent {
    int fd = -1;
    Bytes out;
    Bytes in;
  };
  std::vector<Agent> agents_;
};

HeartbeatLoad::~HeartbeatLoad() {
  for (const Agent& agent : agents_) ::close(agent.fd);
}

bool HeartbeatLoad::connect_agents() {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(o_.port);
  ::inet_pton(AF_INET, o_.server.c_str(), &addr.sin_addr);
  for (std::size_t i = 0; i < o_.tcp_agents; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      if (fd >= 0) ::close(fd);
      std::fprintf(stderr, "heartbeat_load: TCP connection %zu to %s:%u failed: %s\n", i + 1,
                   o_.server.c_str(), o_.port, std::strerror(errno));
      return false;
    }
    const int on = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    agents_.push_back(Agent{fd, {}, {}});
  }
  return true;
}

std::size_t HeartbeatLoad::send(std::span<const Bytes* const> messages,
                                std::span<const std::uint32_t> indexes, std::int64_t now) {
  // Two pieces per message: its own ID, then the pre-signed message after its ID.
  std::array<std::array<std::uint8_t, 2>, kMaxBatch> ids{};
  std::array<std::uint16_t, kMaxBatch> id_of{};
  std::array<std::array<iovec, 2>, kMaxBatch> iov{};
  std::array<mmsghdr, kMaxBatch> msgs{};
  if (!agents_.empty()) return send_tcp(messages, indexes, now);
  const std::size_t count = std::min(messages.size(), kMaxBatch);
  if (count == 0) return 0;
  for (std::size_t i = 0; i < count; ++i) {
    while (slots_[next_id_].sent_at != 0) ++next_id_;  // far fewer than kIds in flight
    id_of[i] = next_id_++;
    ids[i] = {static_cast<std::uint8_t>(id_of[i] >> 8), static_cast<std::uint8_t>(id_of[i])};
    const Bytes& m = *messages[i];
    iov[i][0] = {ids[i].data(), 2};
    iov[i][1] = {const_cast<std::uint8_t*>(m.data()) + 2, m.size() - 2};  // only read
    msgs[i].msg_hdr.msg_iov = iov[i].data();
    msgs[i].msg_hdr.msg_iovlen = 2;
  }
  const std::int64_t wall = wall_ns();
  const int n = ::sendmmsg(fd_, msgs.data(), static_cast<unsigned int>(count), 0);
  const std::size_t sent = n > 0 ? static_cast<std::size_t>(n) : 0;
  for (std::size_t i = 0; i < sent; ++i) slots_[id_of[i]] = {now, wall, indexes[i]};
  in_flight_ += sent;
  counts_.sent += sent;
  return sent;
}

std::size_t HeartbeatLoad::receive() {
  if (!agents_.empty()) return receive_tcp(now_ns());
  std::array<iovec, kMaxBatch> iov{};
  std::array<mmsghdr, kMaxBatch> msgs{};
  for (std::size_t i = 0; i < kMaxBatch; ++i) {
    iov[i] = {in_[i].data(), kResponseMax};
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_control = control_[i].data();
    msgs[i].msg_hdr.msg_controllen = control_[i].size();
  }
  const int got = ::recvmmsg(fd_, msgs.data(), kMaxBatch, MSG_DONTWAIT, nullptr);
  if (got <= 0) return 0;  // nothing yet, or ICMP unreachable (then the UPDATEs are lost)
  const std::int64_t wall = wall_ns();
  for (std::size_t i = 0; i < static_cast<std::size_t>(got); ++i) {
    const auto& a = in_[i];
    if (msgs[i].msg_len < 12) continue;
    const Slot& slot = slots_[static_cast<std::uint16_t>(a[0] << 8 | a[1])];
    count_answer({a.data(), msgs[i].msg_len}, arrival(msgs[i].msg_hdr, wall) - slot.sent_wall);
  }
  return static_cast<std::size_t>(got);
}

// Counts the answer to the UPDATE in flight with its ID (a late one, already counted lost,
// is ignored).
void HeartbeatLoad::count_answer(std::span<const std::uint8_t> answer, std::int64_t latency_ns) {
  Slot& slot = slots_[static_cast<std::uint16_t>(answer[0] << 8 | answer[1])];
  if (slot.sent_at == 0) return;
  const int rcode = answer[3] & 0x0F;
  ++counts_.answered;
  ++counts_.rcodes[static_cast<std::size_t>(rcode)];
  counts_.latency_sum_us += static_cast<double>(latency_ns) / 1e3;
  if (rcode != 0 && refused_rcode_ == 0) {
    refused_rcode_ = rcode;
    refused_index_ = slot.index;
  }
  slot.sent_at = 0;
  --in_flight_;
}

// Appends each message, framed, to its agent's output, then writes what each agent has.
std::size_t HeartbeatLoad::send_tcp(std::span<const Bytes* const> messages,
                                    std::span<const std::uint32_t> indexes, std::int64_t now) {
  constexpr std::size_t kMaxUnwritten = 1 << 20;  // per agent: the server is not reading
  std::size_t sent = 0;
  for (; sent < messages.size(); ++sent) {
    Agent& agent = agents_[std::size_t{indexes[sent]} * agents_.size() / o_.instances];
    const Bytes& m = *messages[sent];
    if (agent.out.size() + 2 + m.size() > kMaxUnwritten) break;
    while (slots_[next_id_].sent_at != 0) ++next_id_;
    const std::uint16_t id = next_id_++;
    const std::uint8_t head[4] = {static_cast<std::uint8_t>(m.size() >> 8),
                                  static_cast<std::uint8_t>(m.size()),
                                  static_cast<std::uint8_t>(id >> 8), static_cast<std::uint8_t>(id)};
    agent.out.insert(agent.out.end(), head, head + 4);
    agent.out.insert(agent.out.end(), m.begin() + 2, m.end());
    slots_[id] = {now, 0, indexes[sent]};
  }
  in_flight_ += sent;
  counts_.sent += sent;
  for (Agent& agent : agents_) {
    if (agent.out.empty()) continue;
    const ssize_t n = ::send(agent.fd, agent.out.data(), agent.out.size(), MSG_NOSIGNAL);
    if (n > 0) agent.out.erase(agent.out.begin(), agent.out.begin() + n);
  }
  return sent;
}

// Reads every agent that has something (poll without waiting: no wait queue is joined) and
// counts the whole answers.
std::size_t HeartbeatLoad::receive_tcp(std::int64_t now) {
  std::vector<pollfd> polled;
  polled.reserve(agents_.size());
  for (const Agent& agent : agents_) polled.push_back({agent.fd, POLLIN, 0});
  if (::poll(polled.data(), polled.size(), 0) <= 0) return 0;
  std::size_t answers = 0;
  std::array<std::uint8_t, 65536> buffer;
  for (std::size_t a = 0; a < agents_.size(); ++a) {
    if ((polled[a].revents & POLLIN) == 0) continue;
    Agent& agent = agents_[a];
    for (ssize_t n; (n = ::recv(agent.fd, buffer.data(), buffer.size(), MSG_DONTWAIT)) > 0;) {
      agent.in.insert(agent.in.end(), buffer.begin(), buffer.begin() + n);
    }
    std::size_t at = 0;
    while (agent.in.size() - at >= 2) {
      const std::size_t length = static_cast<std::size_t>(agent.in[at]) << 8 | agent.in[at + 1];
      if (agent.in.size() - at < 2 + length) break;
      if (length >= 12) {
        const std::span<const std::uint8_t> answer(agent.in.data() + at + 2, length);
        count_answer(answer, now - slots_[static_cast<std::uint16_t>(answer[0] << 8 | answer[1])].sent_at);
        ++answers;
      }
      at += 2 + length;
    }
    agent.in.erase(agent.in.begin(), agent.in.begin() + static_cast<std::ptrdiff_t>(at));
  }
  return answers;
}

// Frees the slots of UPDATEs sent before `limit`; returns their instances.
std::vector<std::uint32_t> HeartbeatLoad::release_older_than(std::int64_t limit) {
  std::vector<std::uint32_t> released;
  for (Slot& slot : slots_) {
    if (slot.sent_at != 0 && slot.sent_at < limit) {
      released.push_back(slot.index);
      slot.sent_at = 0;
      --in_flight_;
    }
  }
  return released;
}

void HeartbeatLoad::wait(std::int64_t ns) const {
  if (!agents_.empty()) {
    const timespec pause{0, static_cast<long>(std::clamp<std::int64_t>(ns, 0, kTickNs))};
    ::nanosleep(&pause, nullptr);
    return;
  }
  pollfd p{fd_, POLLIN, 0};
  const timespec timeout{0, static_cast<long>(std::clamp<std::int64_t>(ns, 0, kTickNs))};
  ::ppoll(&p, 1, &timeout, nullptr);
}

// Sleeps until the next renewal or change is due (at most a tick, not past `stop`),
// on the clock alone: see the design note at the top.
void HeartbeatLoad::sleep_until_due(std::int64_t now, std::int64_t stop) const {
  const auto due_at = [&](double rate, std::uint64_t sent, std::uint64_t planned) {
    return rate > 0 && sent < planned
               ? start_ + static_cast<std::int64_t>(static_cast<double>(sent + 1) / rate * 1e9)
               : stop;
  };
  const std::int64_t until =
      std::min({due_at(o_.rate, renewals_sent_, UINT64_MAX),
                due_at(o_.change_rate, changes_sent_, changes_planned_), now + kTickNs, stop});
  if (until <= now) return;
  if (!agents_.empty()) return wait(std::min(now + kTickNs, stop) - now);  // a tick's batch
  const timespec t{static_cast<time_t>(until / 1'000'000'000), static_cast<long>(until % 1'000'000'000)};
  ::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, nullptr);
}

// Sends the registrations of `indexes` and waits up to a second for their answers; returns
// those still unanswered.
std::vector<std::uint32_t> HeartbeatLoad::exchange(const std::vector<Bytes>& messages,
                                                   std::vector<std::uint32_t> indexes) {
  std::vector<const Bytes*> batch;
  for (const std::uint32_t index : indexes) batch.push_back(&messages[index]);
  const std::int64_t started = now_ns();
  std::size_t sent = 0;
  while (refused_rcode_ == 0 && (sent < batch.size() || in_flight_ != 0)) {
    const std::int64_t now = now_ns();
    if (now - started > kLostAfterNs) break;
    if (sent < batch.size()) {
      sent += send(std::span(batch).subspan(sent), std::span(indexes).subspan(sent), now);
    }
    if (receive() == 0) wait(kTickNs);
  }
  std::vector<std::uint32_t> unanswered = release_older_than(now_ns() + 1);
  for (std::size_t i = sent; i < indexes.size(); ++i) unanswered.push_back(indexes[i]);
  return unanswered;
}

bool HeartbeatLoad::register_all(const std::vector<Bytes>& messages) {
  for (std::size_t first = 0; first < messages.size(); first += o_.window) {
    std::vector<std::uint32_t> pending;
    for (std::size_t i = first; i < std::min(first + o_.window, messages.size()); ++i) {
      pending.push_back(static_cast<std::uint32_t>(i));
    }
    for (int attempt = 1; !pending.empty() && refused_rcode_ == 0; ++attempt) {
      if (attempt > kRegisterAttempts) {
        const InstanceNames n = names_of(pending.front());
        std::fprintf(stderr, "heartbeat_load: no answer to the registration of %s.%s after "
                     "%d attempts of 1 s: is signpostd listening on %s:%u?\n", n.id.c_str(),
                     n.service.c_str(), kRegisterAttempts, o_.server.c_str(), o_.port);
        return false;
      }
      pending = exchange(messages, std::move(pending));
    }
    if (refused_rcode_ != 0) {
      const InstanceNames n = names_of(refused_index_);
      std::fprintf(stderr, "heartbeat_load: the registration of %s.%s got %s (rcode %d): a "
                   "signpostd [[key]] named '%s' with this secret and algorithm %s is needed, "
                   "and clocks within 300 s\n", n.id.c_str(), n.service.c_str(),
                   rcode_name(refused_rcode_), refused_rcode_, o_.key_name.c_str(),
                   o_.algorithm.c_str());
      return false;
    }
  }
  return true;
}

// Sends what is due at `now`: changes at o.change_rate, renewals at o.rate; a sent change
// becomes its instance's renewal. Returns the messages sent.
std::size_t HeartbeatLoad::send_due(Plan& plan, std::vector<const Bytes*>& current,
                                    std::int64_t now) {
  const double seconds = static_cast<double>(now - start_) / 1e9;
  const auto due = [](double target, std::uint64_t done) {
    return std::min<std::uint64_t>(target > static_cast<double>(done)
                                       ? static_cast<std::uint64_t>(target) - done : 0,
                                   kMaxBatch);
  };
  std::array<const Bytes*, kMaxBatch> batch{};
  std::array<std::uint32_t, kMaxBatch> indexes{};
  std::size_t count = std::min<std::uint64_t>(due(o_.change_rate * seconds, changes_sent_),
                                              plan.changes.size() - changes_sent_);
  for (std::size_t i = 0; i < count; ++i) {
    const Change& change = plan.changes[changes_sent_ + i];
    batch[i] = &change.message;
    indexes[i] = static_cast<std::uint32_t>(change.index);
  }
  const std::size_t changes = send(std::span(batch).first(count), indexes, now);
  for (std::size_t i = 0; i < changes; ++i) current[indexes[i]] = batch[i];
  changes_sent_ += changes;
  count = due(o_.rate * seconds, renewals_sent_);
  for (std::size_t i = 0; i < count; ++i) {
    indexes[i] = static_cast<std::uint32_t>((next_renewal_ + i) % current.size());
    batch[i] = current[indexes[i]];
  }
  const std::size_t renewals = send(std::span(batch).first(count), indexes, now);
  next_renewal_ = (next_renewal_ + renewals) % current.size();
  renewals_sent_ += renewals;
  return changes + renewals;
}

void HeartbeatLoad::renew(Plan plan) {
  std::vector<const Bytes*> current;
  for (const Bytes& renewal : plan.renewals) current.push_back(&renewal);
  changes_planned_ = plan.changes.size();
  counts_ = {};
  next_renewal_ = o_.renew_from;
  std::printf("renewing\n");
  std::fflush(stdout);
  start_ = now_ns();
  const std::int64_t stop = start_ + static_cast<std::int64_t>(o_.duration * 1e9);
  std::int64_t next_expiry = start_ + kExpiryEveryNs;
  for (std::int64_t now = start_; now < stop; now = now_ns()) {
    const std::size_t sent = send_due(plan, current, now);
    const std::size_t got = receive();
    if (now >= next_expiry) {
      counts_.lost += release_older_than(now - kLostAfterNs).size();
      next_expiry = now + kExpiryEveryNs;
    }
    if (sent == 0 && got == 0) sleep_until_due(now, stop);
  }
  end_ = now_ns();
  for (std::int64_t now = end_; in_flight_ != 0 && now < end_ + kLostAfterNs; now = now_ns()) {
    if (receive() == 0) wait(end_ + kLostAfterNs - now);
  }
  counts_.lost += release_older_than(now_ns() + 1).size();
}

void HeartbeatLoad::report() const {
  const auto& r = counts_.rcodes;
  const std::uint64_t other = counts_.answered - r[0] - r[5] - r[9];
  const double seconds = static_cast<double>(end_ - start_) / 1e9;
  std::printf("heartbeats: sent %llu renewals %llu changes %llu answered %llu noerror %llu "
              "refused %llu notauth %llu other_rcode %llu lost %llu seconds %.3f "
              "latency_avg_us %.0f rate_achieved %.0f/s\n",
              static_cast<unsigned long long>(counts_.sent),
              static_cast<unsigned long long>(renewals_sent_),
              static_cast<unsigned long long>(changes_sent_),
              static_cast<unsigned long long>(counts_.answered),
              static_cast<unsigned long long>(r[0]), static_cast<unsigned long long>(r[5]),
              static_cast<unsigned long long>(r[9]), static_cast<unsigned long long>(other),
              static_cast<unsigned long long>(counts_.lost), seconds,
              counts_.answered ? counts_.latency_sum_us / static_cast<double>(counts_.answered)
                               : 0.0,
              static_cast<double>(renewals_sent_) / seconds);
}

int run(const Options& o) {
  const TsigSigner signer(
      {signpost::health::make_tsig_key(o.key_name, o.algorithm, o.secret, {})});
  Plan plan = make_plan(o, signer);
  const int fd = signpost::bench::connected_udp_socket(o.server, o.port);
  if (fd < 0) {
    std::fprintf(stderr, "heartbeat_load: cannot reach %s:%u\n", o.server.c_str(), o.port);
    return 1;
  }
  const int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);  // answers' arrival times
  HeartbeatLoad load(o, fd);
  int status = 0;
  if (o.mode != Mode::renew_only) {
    const std::int64_t started = now_ns();
    status = load.register_all(plan.renewals) ? 0 : 1;
    const double seconds = static_cast<double>(now_ns() - started) / 1e9;
    if (status == 0) {
      std::printf("registered: instances %zu seconds %.3f\n", o.instances, seconds);
    }
  }
  if (status == 0 && o.mode != Mode::register_only && o.tcp_agents != 0 && !load.connect_agents()) {
    status = 1;
  }
  if (status == 0 && o.mode != Mode::register_only) {
    load.renew(std::move(plan));
    load.report();
  }
  ::close(fd);
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse_options(argc, argv, o)) {
    std::fprintf(stderr,
                 "usage: %s --port P --key-name NAME --secret BASE64 [--algorithm hmac-sha256]\n"
                 "       [--server 127.0.0.1] [--instances 30000] [--rate 10000]\n"
                 "       [--changes 100] [--duration S<=240] [--lease 3600]\n"
                 "       [--change-offset N] [--window N<=64] [--tcp-agents N<=1000]\n"
                 "       [--renew-from N] [--register-only | --renew-only]\n",
                 argv[0]);
    return 2;
  }
  try {
    return run(o);
  } catch (const signpost::health::KeyError& e) {
    std::fprintf(stderr, "heartbeat_load: bad key: %s\n", e.what());
    return 2;
  }
}
