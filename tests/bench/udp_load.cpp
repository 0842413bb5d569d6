// A batched UDP load generator for the benchmark: sendmmsg/recvmmsg, a window or a fixed rate.
//
// It reads dnsperf's query file format ("name type" per line), keeps either a window of
// queries outstanding (saturation) or sends at a fixed rate (latency), matches answers by
// ID on one connected socket (or several, `--sockets`, each batch on the next: a server whose
// workers share the port with SO_REUSEPORT spreads its clients by source port), and prints
// key=value lines: sent, answered, lost, qps, and latency percentiles in microseconds. Queries
// unanswered after one second count as lost; those still in flight when the run ends are
// reported apart.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "tests/bench/bench_socket.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using Bytes = std::vector<std::uint8_t>;

constexpr std::size_t kMaxBatch = 256;
constexpr std::size_t kMaxSockets = 64;
constexpr std::size_t kAnswerMax = 4096;
constexpr std::int64_t kLostAfterNs = 1'000'000'000;
constexpr std::size_t kHistogramUs = 100'000;  // 1 µs buckets up to 100 ms, then one more

struct Options {
  std::string server = "127.0.0.1";
  std::uint16_t port = 53;
  std::string queries;
  double duration = 5;
  std::size_t outstanding = 200;
  double rate = 0;  // queries per second; 0 = keep `outstanding` in flight
  std::size_t batch = 32;
  std::size_t sockets = 1;
  bool edns = false;
};

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

std::uint16_t qtype_code(std::string_view type) {
  static constexpr std::pair<std::string_view, std::uint16_t> kTypes[] = {
      {"A", 1}, {"NS", 2}, {"SOA", 6}, {"PTR", 12}, {"TXT", 16}, {"AAAA", 28}, {"SRV", 33}};
  for (const auto& [name, code] : kTypes) {
    if (name == type) return code;
  }
  return 0;
}

/// A query in wire form with ID 0 and RD clear; an OPT record (RFC 6891) with `edns`.
/// Returns an empty vector for a line it cannot encode.
Bytes encode_query(const std::string& name, std::uint16_t qtype, bool edns) {
  Bytes q = {0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, static_cast<std::uint8_t>(edns ? 1 : 0)};
  std::string_view rest = name;
  while (!rest.empty() && rest != ".") {
    const std::size_t dot = rest.find('.');
    const std::string_view label = rest.substr(0, dot);
    if (label.empty() || label.size() > 63) return {};
    q.push_back(static_cast<std::uint8_t>(label.size()));
    q.insert(q.end(), label.begin(), label.end());
    rest = dot == std::string_view::npos ? std::string_view() : rest.substr(dot + 1);
  }
  q.push_back(0);
  q.insert(q.end(), {static_cast<std::uint8_t>(qtype >> 8), static_cast<std::uint8_t>(qtype),
                     0, 1});
  if (edns) q.insert(q.end(), {0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 0});  // payload 1232
  return q;
}

std::vector<Bytes> read_queries(const Options& o) {
  std::vector<Bytes> queries;
  std::ifstream in(o.queries);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string name, type;
    if (!(fields >> name >> type)) continue;
    const std::uint16_t code = qtype_code(type);
    Bytes q = code ? encode_query(name, code, o.edns) : Bytes{};
    if (q.empty()) {
      std::fprintf(stderr, "udp_load: cannot encode '%s'\n", line.c_str());
      continue;
    }
    queries.push_back(std::move(q));
  }
  return queries;
}

bool parse_options(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--edns") {
      o.edns = true;
      continue;
    }
    if (i + 1 >= argc) return false;
    const char* value = argv[++i];
    if (arg == "--server") o.server = value;
    else if (arg == "--port") o.port = static_cast<std::uint16_t>(std::atoi(value));
    else if (arg == "--queries") o.queries = value;
    else if (arg == "--duration") o.duration = std::atof(value);
    else if (arg == "--outstanding") o.outstanding = std::strtoul(value, nullptr, 10);
    else if (arg == "--rate") o.rate = std::atof(value);
    else if (arg == "--batch") o.batch = std::strtoul(value, nullptr, 10);
    else if (arg == "--sockets") o.sockets = std::strtoul(value, nullptr, 10);
    else return false;
  }
  return !o.queries.empty() && o.duration > 0 && o.batch >= 1 && o.batch <= kMaxBatch &&
         o.outstanding >= 1 && o.outstanding <= 30000 && o.sockets >= 1 &&
         o.sockets <= kMaxSockets;
}


/// `o.sockets` sockets connected to the server, each with a source port of its own; empty on
/// failure.
std::vector<int> connect_sockets(const Options& o) {
  std::vector<int> fds;
  for (std::size_t i = 0; i < o.sockets; ++i) {
    const int fd = signpost::bench::connected_udp_socket(o.server, o.port);
    if (fd < 0) {
      for (const int open : fds) ::close(open);
      return {};
    }
    fds.push_back(fd);
  }
  return fds;
}

/// The run's state: queries in flight by ID, counters and the latency histogram.
class Load {
 public:
  Load(const Options& o, std::vector<Bytes> queries, std::vector<int> fds)
      : o_(o), queries_(std::move(queries)), fds_(std::move(fds)), sent_at_(65536, 0),
        histogram_(kHistogramUs + 1, 0) {
    for (const int fd : fds_) polls_.push_back({fd, POLLIN, 0});
  }

  void run();
  void report() const;

 private:
  std::size_t due(std::int64_t now) const;
  void send_batch(std::size_t count, std::int64_t now);
  std::size_t receive_batch(int fd);
  std::size_t receive();
  void wait_readable(const timespec& timeout);
  void expire(std::int64_t now);
  double percentile(double p) const;

  const Options& o_;
  std::vector<Bytes> queries_;
  std::vector<int> fds_;
  std::vector<pollfd> polls_;
  std::size_t next_socket_ = 0;
  std::vector<std::int64_t> sent_at_;  // by ID; 0 = free
  std::vector<std::uint64_t> histogram_;
  std::array<std::array<std::uint8_t, kAnswerMax>, kMaxBatch> out_{}, in_{};
  std::size_t next_query_ = 0;
  std::uint16_t next_id_ = 0;
  std::int64_t start_ = 0, end_ = 0;
  std::uint64_t sent_ = 0, answered_ = 0, lost_ = 0, in_flight_ = 0;
  std::uint64_t noerror_ = 0, nxdomain_ = 0, other_rcode_ = 0;
  double latency_sum_us_ = 0;
};

std::size_t Load::due(std::int64_t now) const {
  std::uint64_t want = 0;
  if (o_.rate > 0) {
    const double target = o_.rate * static_cast<double>(now - start_) / 1e9;
    want = target > static_cast<double>(sent_) ? static_cast<std::uint64_t>(target) - sent_ : 0;
  } else {
    want = o_.outstanding > in_flight_ ? o_.outstanding - in_flight_ : 0;
  }
  want = std::min<std::uint64_t>(want, 65536 / 2 - in_flight_);
  return static_cast<std::size_t>(std::min<std::uint64_t>(want, o_.batch));
}

void Load::send_batch(std::size_t count, std::int64_t now) {
  std::array<iovec, kMaxBatch> iov{};
  std::array<mmsghdr, kMaxBatch> msgs{};
  std::array<std::uint16_t, kMaxBatch> ids{};
  for (std::size_t i = 0; i < count; ++i) {
    while (sent_at_[next_id_] != 0) ++next_id_;  // at most half the IDs are in flight
    ids[i] = next_id_++;
    const Bytes& q = queries_[next_query_];
    next_query_ = (next_query_ + 1) % queries_.size();
    std::memcpy(out_[i].data(), q.data(), q.size());
    out_[i][0] = static_cast<std::uint8_t>(ids[i] >> 8);
    out_[i][1] = static_cast<std::uint8_t>(ids[i]);
    iov[i] = {out_[i].data(), q.size()};
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  const int fd = fds_[next_socket_];
  next_socket_ = (next_socket_ + 1) % fds_.size();
  const int n = ::sendmmsg(fd, msgs.data(), static_cast<unsigned int>(count), 0);
  for (int i = 0; i < n; ++i) sent_at_[ids[static_cast<std::size_t>(i)]] = now;
  if (n > 0) {
    sent_ += static_cast<std::uint64_t>(n);
    in_flight_ += static_cast<std::uint64_t>(n);
  }
}

std::size_t Load::receive_batch(int fd) {
  std::array<iovec, kMaxBatch> iov{};
  std::array<mmsghdr, kMaxBatch> msgs{};
  for (std::size_t i = 0; i < kMaxBatch; ++i) {
    iov[i] = {in_[i].data(), kAnswerMax};
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  const int got = ::recvmmsg(fd, msgs.data(), kMaxBatch, MSG_DONTWAIT, nullptr);
  if (got <= 0) return 0;
  const std::int64_t now = now_ns();
  for (int i = 0; i < got; ++i) {
    const auto& a = in_[static_cast<std::size_t>(i)];
    if (msgs[static_cast<std::size_t>(i)].msg_len < 12) continue;
    const std::uint16_t id = static_cast<std::uint16_t>(a[0] << 8 | a[1]);
    if (sent_at_[id] == 0) continue;  // late answer to a query already counted lost
    const std::int64_t us = (now - sent_at_[id]) / 1000;
    sent_at_[id] = 0;
    --in_flight_;
    ++answered_;
    latency_sum_us_ += static_cast<double>(us);
    ++histogram_[std::min<std::size_t>(static_cast<std::size_t>(us), kHistogramUs)];
    const int rcode = a[3] & 0x0F;
    ++(rcode == 0 ? noerror_ : rcode == 3 ? nxdomain_ : other_rcode_);
  }
  return static_cast<std::size_t>(got);
}

// One socket: a recvmmsg straight away. Several: one ppoll says which have answers, so that
// an idle socket costs no system call.
std::size_t Load::receive() {
  if (fds_.size() == 1) return receive_batch(fds_.front());
  const timespec now{0, 0};
  if (::ppoll(polls_.data(), polls_.size(), &now, nullptr) <= 0) return 0;
  std::size_t got = 0;
  for (const pollfd& p : polls_) {
    if (p.revents != 0) got += receive_batch(p.fd);
  }
  return got;
}

void Load::wait_readable(const timespec& timeout) {
  ::ppoll(polls_.data(), polls_.size(), &timeout, nullptr);
}

void Load::expire(std::int64_t now) {
  for (auto& at : sent_at_) {
    if (at != 0 && now - at > kLostAfterNs) {
      at = 0;
      --in_flight_;
      ++lost_;
    }
  }
}

void Load::run() {
  start_ = now_ns();
  const std::int64_t stop = start_ + static_cast<std::int64_t>(o_.duration * 1e9);
  std::int64_t next_expiry = start_ + kLostAfterNs / 10;
  for (std::int64_t now = start_; now < stop; now = now_ns()) {
    const std::size_t count = due(now);
    if (count > 0) send_batch(count, now);
    const std::size_t got = receive();
    if (now >= next_expiry) {
      expire(now);
      next_expiry = now + kLostAfterNs / 10;
    }
    if (count == 0 && got == 0) {
      // Nothing to do: wait for an answer, or until the next query is due at a fixed rate.
      wait_readable({0, o_.rate > 0 ? static_cast<long>(1e9 / o_.rate) : 1'000'000});
    }
  }
  end_ = now_ns();
}

double Load::percentile(double p) const {
  const double wanted = p * static_cast<double>(answered_);
  double seen = 0;
  for (std::size_t us = 0; us < histogram_.size(); ++us) {
    seen += static_cast<double>(histogram_[us]);
    if (seen >= wanted && histogram_[us] != 0) return static_cast<double>(us);
  }
  return static_cast<double>(kHistogramUs);
}

void Load::report() const {
  const double seconds = static_cast<double>(end_ - start_) / 1e9;
  std::printf("sent=%llu\nanswered=%llu\nlost=%llu\nin_flight_at_end=%llu\nseconds=%.3f\n"
              "qps=%.0f\n",
              static_cast<unsigned long long>(sent_),
              static_cast<unsigned long long>(answered_),
              static_cast<unsigned long long>(lost_),
              static_cast<unsigned long long>(in_flight_), seconds,
              static_cast<double>(answered_) / seconds);
  std::printf("noerror=%llu\nnxdomain=%llu\nother_rcode=%llu\n",
              static_cast<unsigned long long>(noerror_),
              static_cast<unsigned long long>(nxdomain_),
              static_cast<unsigned long long>(other_rcode_));
  const double avg = answered_ ? latency_sum_us_ / static_cast<double>(answered_) : 0;
  std::printf("latency_avg_us=%.1f\nlatency_p50_us=%.0f\nlatency_p99_us=%.0f\n"
              "latency_p999_us=%.0f\n",
              avg, percentile(0.50), percentile(0.99), percentile(0.999));
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse_options(argc, argv, o)) {
    std::fprintf(stderr,
                 "usage: %s --queries FILE [--server 127.0.0.1] [--port 53] [--duration S]\n"
                 "       [--outstanding N | --rate QPS] [--batch N<=256] [--sockets N<=64]\n"
                 "       [--edns]\n",
                 argv[0]);
    return 2;
  }
  std::vector<Bytes> queries = read_queries(o);
  std::vector<int> fds = queries.empty() ? std::vector<int>{} : connect_sockets(o);
  if (fds.empty()) {
    std::fprintf(stderr, "udp_load: no queries in %s, or cannot reach %s:%u\n",
                 o.queries.c_str(), o.server.c_str(), o.port);
    return 1;
  }
  static Load load(o, std::move(queries), fds);
  load.run();
  load.report();
  for (const int fd : fds) ::close(fd);
  return 0;
}
