// A worker on real loopback sockets: UDP batches, TCP framing and pipelining, the
// connection limit, snapshot publishing and the port check.
#include "dns/net/worker.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "dns/wire/types.hpp"
#include "tests/unit/support/test_registry.hpp"
#include "tests/unit/support/test_zone.hpp"

namespace signpost::dns::net {
namespace {

using Bytes = std::vector<std::uint8_t>;

constexpr int kWaitMs = 5000;  // upper bound for an answer; tests end as soon as it comes

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { if (fd_ >= 0) ::close(fd_); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, kWaitMs) == 1;
}

std::optional<Bytes> udp_exchange(int fd, std::uint16_t port, const Bytes& query) {
  const sockaddr_in to = loopback(port);
  ::sendto(fd, query.data(), query.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to);
  if (!readable(fd)) return std::nullopt;
  Bytes answer(4096);
  const ssize_t n = ::recv(fd, answer.data(), answer.size(), 0);
  if (n <= 0) return std::nullopt;
  answer.resize(static_cast<std::size_t>(n));
  return answer;
}

int tcp_connect(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  const sockaddr_in to = loopback(port);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) return -1;
  return fd;
}

Bytes framed(const Bytes& message) {
  Bytes out{static_cast<std::uint8_t>(message.size() >> 8),
            static_cast<std::uint8_t>(message.size())};
  out.insert(out.end(), message.begin(), message.end());
  return out;
}

// Reads until `count` framed messages arrived or the peer closed; returns them.
std::vector<Bytes> read_frames(int fd, std::size_t count) {
  Bytes buffer;
  std::vector<Bytes> frames;
  while (frames.size() < count && readable(fd)) {
    std::uint8_t chunk[8192];
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) break;
    buffer.insert(buffer.end(), chunk, chunk + n);
    while (buffer.size() >= 2 && buffer.size() >= 2u + (buffer[0] << 8 | buffer[1])) {
      const std::size_t length = static_cast<std::size_t>(buffer[0] << 8 | buffer[1]);
      frames.emplace_back(buffer.begin() + 2, buffer.begin() + 2 + static_cast<long>(length));
      buffer.erase(buffer.begin(), buffer.begin() + 2 + static_cast<long>(length));
    }
  }
  return frames;
}

std::uint16_t id_of(const Bytes& message) {
  return static_cast<std::uint16_t>(message[0] << 8 | message[1]);
}
int rcode_of(const Bytes& message) { return message[3] & 0x0f; }
int ancount_of(const Bytes& message) { return message[6] << 8 | message[7]; }

// Answers every signed query YXDOMAIN, an rcode no query gets otherwise, so that a test
// sees which path answered.
class FakeSignedQueries : public answer::SignedQueryHandler {
 public:
  std::size_t handle(std::span<const std::uint8_t> query, std::span<std::uint8_t> out,
                     answer::Transport transport, const registry::Snapshot&,
                     answer::AnswerContext& context) noexcept override {
    calls.fetch_add(1);
    return answer::answer_error(query, out, transport, wire::rcode::kYxDomain, context);
  }
  std::atomic<int> calls{0};
};

// A worker serving the test registry on 127.0.0.1 and a free port.
class WorkerTest : public ::testing::Test {
 protected:
  void start(std::size_t max_clients = 100, std::size_t max_per_client = 100,
             answer::SignedQueryHandler* signed_queries = nullptr) {
    limit_.emplace(max_clients, max_per_client);
    WorkerSettings settings;
    settings.seed = 7;
    worker_.emplace(settings, registry_.publish(), *limit_,
                    [this](registry::SnapshotPtr old) {
                      if (old) reclaimed_.fetch_add(1);
                    },
                    [](const std::string&) {});
    ListenEndpoint endpoint{"127.0.0.1", 0};
    port_ = reserve_port(endpoint);
    endpoint.port = port_;
    worker_->listen(endpoint);
    worker_->set_signed_query_handler(signed_queries);
    worker_->start();
  }
  void TearDown() override {
    if (worker_) worker_->stop();
  }

  testing::TestRegistry registry_;
  std::optional<ConnectionLimit> limit_;
  std::optional<Worker> worker_;
  std::uint16_t port_ = 0;
  std::atomic<int> reclaimed_{0};
};

TEST_F(WorkerTest, AnswersOverUdp) {
  start();
  Fd fd(::socket(AF_INET, SOCK_DGRAM, 0));
  testing::QueryOptions options;
  options.id = 0xbeef;
  const auto answer =
      udp_exchange(fd.get(), port_, testing::make_query("www.example.test.", 1, options));
  ASSERT_TRUE(answer);
  EXPECT_EQ(id_of(*answer), 0xbeef);
  EXPECT_EQ(rcode_of(*answer), 0);
  EXPECT_EQ(ancount_of(*answer), 2);
}

TEST_F(WorkerTest, SignedQueriesGoToTheSignedPathOverUdpAndTcp) {
  FakeSignedQueries signed_queries;
  start(100, 100, &signed_queries);
  Fd udp(::socket(AF_INET, SOCK_DGRAM, 0));
  const Bytes query = testing::with_tsig(testing::make_query("www.example.test.", 1));
  const auto over_udp = udp_exchange(udp.get(), port_, query);
  ASSERT_TRUE(over_udp);
  EXPECT_EQ(rcode_of(*over_udp), wire::rcode::kYxDomain);
  Fd tcp(tcp_connect(port_));
  const Bytes stream = framed(query);
  ::send(tcp.get(), stream.data(), stream.size(), 0);
  const std::vector<Bytes> over_tcp = read_frames(tcp.get(), 1);
  ASSERT_EQ(over_tcp.size(), 1u);
  EXPECT_EQ(rcode_of(over_tcp[0]), wire::rcode::kYxDomain);
  EXPECT_EQ(signed_queries.calls.load(), 2);
  // Unsigned queries never go there.
  const auto plain = udp_exchange(udp.get(), port_, testing::make_query("www.example.test.", 1));
  ASSERT_TRUE(plain);
  EXPECT_EQ(rcode_of(*plain), 0);
  EXPECT_EQ(signed_queries.calls.load(), 2);
}

TEST_F(WorkerTest, SignedQueriesGetNotauthWithoutAHandler) {
  start();
  Fd fd(::socket(AF_INET, SOCK_DGRAM, 0));
  const auto answer =
      udp_exchange(fd.get(), port_, testing::with_tsig(testing::make_query("www.example.test.", 1)));
  ASSERT_TRUE(answer);
  EXPECT_EQ(rcode_of(*answer), wire::rcode::kNotAuth);
  EXPECT_EQ(ancount_of(*answer), 0);
}

TEST_F(WorkerTest, AnswersABurstOfUdpQueries) {
  start();
  Fd fd(::socket(AF_INET, SOCK_DGRAM, 0));
  const sockaddr_in to = loopback(port_);
  constexpr int kQueries = 100;  // more than one recvmmsg batch
  for (int i = 0; i < kQueries; ++i) {
    testing::QueryOptions options;
    options.id = static_cast<std::uint16_t>(i);
    const Bytes query = testing::make_query("svc.internal.", 6, options);
    ::sendto(fd.get(), query.data(), query.size(), 0, reinterpret_cast<const sockaddr*>(&to),
             sizeof to);
  }
  std::vector<bool> seen(kQueries);
  int answered = 0;
  while (answered < kQueries && readable(fd.get())) {
    std::uint8_t buffer[4096];
    if (::recv(fd.get(), buffer, sizeof buffer, 0) < 12) break;
    const std::uint16_t id = static_cast<std::uint16_t>(buffer[0] << 8 | buffer[1]);
    if (id < kQueries && !seen[id]) {
      seen[id] = true;
      ++answered;
    }
  }
  EXPECT_EQ(answered, kQueries);
}

TEST_F(WorkerTest, AnswersPipelinedTcpQueriesInOrder) {
  start();
  Fd fd(tcp_connect(port_));
  ASSERT_GE(fd.get(), 0);
  Bytes stream;
  const char* names[] = {"www.example.test.", "big.example.test.", "nothere.example.test."};
  for (std::uint16_t i = 0; i < 3; ++i) {
    testing::QueryOptions options;
    options.id = static_cast<std::uint16_t>(100 + i);
    const Bytes query = framed(testing::make_query(names[i], 1, options));
    stream.insert(stream.end(), query.begin(), query.end());
  }
  // One octet at a time: frames and even length fields arrive split.
  for (std::uint8_t octet : stream) ASSERT_EQ(::send(fd.get(), &octet, 1, 0), 1);
  const std::vector<Bytes> answers = read_frames(fd.get(), 3);
  ASSERT_EQ(answers.size(), 3u);
  EXPECT_EQ(id_of(answers[0]), 100);
  EXPECT_EQ(id_of(answers[1]), 101);
  EXPECT_EQ(ancount_of(answers[1]), 100);  // no truncation over TCP
  EXPECT_EQ(id_of(answers[2]), 102);
  EXPECT_EQ(rcode_of(answers[2]), 3);  // NXDOMAIN
}

TEST_F(WorkerTest, AnswersWhatWasSentBeforeTheClientClosedItsSide) {
  start();
  Fd fd(tcp_connect(port_));
  const Bytes query = framed(testing::make_query("www.example.test.", 1));
  ::send(fd.get(), query.data(), query.size(), 0);
  ::shutdown(fd.get(), SHUT_WR);
  EXPECT_EQ(read_frames(fd.get(), 2).size(), 1u);  // one answer, then the server closes
}

TEST_F(WorkerTest, ZeroLengthFrameClosesTheConnection) {
  start();
  Fd fd(tcp_connect(port_));
  const std::uint8_t zero[2] = {0, 0};
  ::send(fd.get(), zero, 2, 0);
  ASSERT_TRUE(readable(fd.get()));
  std::uint8_t octet;
  EXPECT_EQ(::recv(fd.get(), &octet, 1, 0), 0);
}

TEST_F(WorkerTest, ConnectionsBeyondTheLimitAreClosed) {
  start(1);
  Fd first(tcp_connect(port_));
  const Bytes query = framed(testing::make_query("www.example.test.", 1));
  ::send(first.get(), query.data(), query.size(), 0);
  ASSERT_EQ(read_frames(first.get(), 1).size(), 1u);  // accepted and served
  Fd second(tcp_connect(port_));
  ASSERT_TRUE(readable(second.get()));
  std::uint8_t octet;
  EXPECT_LE(::recv(second.get(), &octet, 1, 0), 0);  // closed at once
}

TEST_F(WorkerTest, ConnectionsBeyondTheClientsShareAreClosedAndCounted) {
  start(100, 2);
  const Bytes query = framed(testing::make_query("www.example.test.", 1));
  Fd first(tcp_connect(port_));
  Fd second(tcp_connect(port_));
  for (const Fd* fd : {&first, &second}) {
    ::send(fd->get(), query.data(), query.size(), 0);
    ASSERT_EQ(read_frames(fd->get(), 1).size(), 1u);  // accepted and served
  }
  Fd third(tcp_connect(port_));
  ASSERT_TRUE(readable(third.get()));
  std::uint8_t octet;
  EXPECT_LE(::recv(third.get(), &octet, 1, 0), 0);  // closed at once
  EXPECT_EQ(limit_->open(), 2u);
  worker_->stop();
  EXPECT_EQ(worker_->net_counters().tcp_accepted, 2u);
  EXPECT_EQ(worker_->net_counters().tcp_client_refused, 1u);
  EXPECT_EQ(worker_->net_counters().tcp_refused, 0u);
}

// Asks `name` A over TCP or UDP until the answer's rcode is `rcode` and, unless it is -1, its
// answer count `records` (at most 100 times); returns the last answer.
std::optional<Bytes> ask_until(std::uint16_t port, bool tcp, const char* name, int rcode,
                               int records = -1) {
  std::optional<Bytes> answer;
  const Bytes query = testing::make_query(name, 1);
  for (int attempt = 0; attempt < 100; ++attempt) {
    if (tcp) {
      Fd fd(tcp_connect(port));
      const Bytes frame = framed(query);
      ::send(fd.get(), frame.data(), frame.size(), 0);
      const std::vector<Bytes> answers = read_frames(fd.get(), 1);
      answer = answers.empty() ? std::nullopt : std::optional<Bytes>(answers[0]);
    } else {
      Fd fd(::socket(AF_INET, SOCK_DGRAM, 0));
      answer = udp_exchange(fd.get(), port, query);
    }
    if (answer && rcode_of(*answer) == rcode && (records < 0 || ancount_of(*answer) == records)) {
      break;
    }
  }
  return answer;
}

TEST_F(WorkerTest, PublishedSnapshotsAreServedAndTheOldOnesHandedBack) {
  start();
  const auto before = ask_until(port_, false, "api.svc.internal.", 3);
  ASSERT_TRUE(before);
  EXPECT_EQ(rcode_of(*before), 3);
  registry_.store.put_instance(testing::instance("api", "api-1", "n1", 9));
  worker_->publish(registry_.publish());
  // The UDP listener's thread swaps it in before its next batch, the TCP side when the
  // posted swap runs; both serve the service then.
  for (const bool tcp : {false, true}) {
    const auto after = ask_until(port_, tcp, "api.svc.internal.", 0);
    ASSERT_TRUE(after) << (tcp ? "TCP" : "UDP");
    EXPECT_EQ(rcode_of(*after), 0) << (tcp ? "TCP" : "UDP");
    EXPECT_EQ(ancount_of(*after), 1) << (tcp ? "TCP" : "UDP");
  }
  // Each thread hands back its reference to the snapshot it replaced.
  EXPECT_EQ(reclaimed_.load(), 2);
}

TEST_F(WorkerTest, ASnapshotReplacedBeforeItWasTakenIsNeverServed) {
  start();
  registry_.store.put_instance(testing::instance("api", "api-1", "n1", 9));
  registry::SnapshotPtr first = registry_.publish();
  std::weak_ptr<const registry::Snapshot> watch = first;
  worker_->publish(std::move(first));
  registry_.store.put_instance(testing::instance("api", "api-2", "n2", 10));
  worker_->publish(registry_.publish());
  // Each thread has a mailbox of its own; in each, the second replaced the first, which was
  // dropped there and then. The threads answer from the second.
  const auto tcp = ask_until(port_, true, "api.svc.internal.", 0, 2);
  ASSERT_TRUE(tcp);
  EXPECT_EQ(ancount_of(*tcp), 2);
  const auto udp = ask_until(port_, false, "api.svc.internal.", 0);
  ASSERT_TRUE(udp);
  EXPECT_EQ(ancount_of(*udp), 2);
  EXPECT_TRUE(watch.expired());
}

TEST_F(WorkerTest, IdleThreadsLetGoOfAReplacedSnapshotWithoutAQuery) {
  registry_.store.put_instance(testing::instance("api", "api-1", "n1", 9));
  start();
  // Nothing is asked: the UDP thread sleeps in recvmmsg, the TCP side waits for connections.
  // Each still takes the new snapshot within kIdleSnapshotCheck and hands back the old one.
  registry_.store.put_instance(testing::instance("api", "api-2", "n2", 10));
  worker_->publish(registry_.publish());
  const auto deadline = std::chrono::steady_clock::now() + 3 * kIdleSnapshotCheck;
  while (reclaimed_.load() < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(reclaimed_.load(), 2);
  // And a later query is answered from the new one.
  const auto answer = ask_until(port_, false, "api.svc.internal.", 0, 2);
  ASSERT_TRUE(answer);
  EXPECT_EQ(ancount_of(*answer), 2);
}

TEST_F(WorkerTest, CountersAddUpEveryThreadAndStopWakesASleepingListener) {
  start();
  Fd udp(::socket(AF_INET, SOCK_DGRAM, 0));
  ASSERT_TRUE(udp_exchange(udp.get(), port_, testing::make_query("www.example.test.", 1)));
  ASSERT_TRUE(udp_exchange(udp.get(), port_, testing::make_query("nothere.example.test.", 1)));
  Fd tcp(tcp_connect(port_));
  const Bytes frame = framed(testing::make_query("www.example.test.", 1));
  ::send(tcp.get(), frame.data(), frame.size(), 0);
  ASSERT_EQ(read_frames(tcp.get(), 1).size(), 1u);
  // The UDP thread is now asleep in recvmmsg; stop() must wake it, not wait for a datagram.
  const auto started = std::chrono::steady_clock::now();
  worker_->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
  EXPECT_EQ(worker_->answer_counters().queries(), 3u);
  EXPECT_EQ(worker_->answer_counters().with_rcode(wire::rcode::kNxDomain), 1u);
  EXPECT_EQ(worker_->net_counters().udp_received, 2u);
  EXPECT_EQ(worker_->net_counters().udp_sent, 2u);
  EXPECT_EQ(worker_->net_counters().tcp_accepted, 1u);
}

TEST(ReservePort, RefusesAPortAnotherServerHolds) {
  ListenEndpoint endpoint{"127.0.0.1", 0};
  endpoint.port = reserve_port(endpoint);
  Fd holder(::socket(AF_INET, SOCK_DGRAM, 0));
  const int on = 1;
  ::setsockopt(holder.get(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on);
  const sockaddr_in address = loopback(endpoint.port);
  ASSERT_EQ(::bind(holder.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address), 0);
  try {
    reserve_port(endpoint);
    FAIL() << "the port is taken";
  } catch (const NetError& e) {
    EXPECT_EQ(std::string(e.what()), "cannot listen on " + endpoint_text(endpoint) +
                                         " (UDP): Address already in use");
  }
}

TEST(ReservePort, NamesAddressesThatCannotBeBound) {
  // 192.0.2.1 (TEST-NET-1) is on no interface of the test machine.
  EXPECT_THROW(reserve_port(ListenEndpoint{"192.0.2.1", 0}), NetError);
  EXPECT_EQ(endpoint_text(ListenEndpoint{"::1", 53}), "[::1]:53");
}

}  // namespace
}  // namespace signpost::dns::net
