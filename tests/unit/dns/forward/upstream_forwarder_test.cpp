// The forwarder against upstreams on loopback sockets: one that answers (in another letter
// case, under c-ares's ID), one that never does, a closed port; bounded in-flight queries.
#include "dns/forward/upstream_forwarder.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "dns/wire/types.hpp"
#include "tests/unit/support/test_zone.hpp"

namespace signpost::dns::forward {
namespace {

using answer::Transport;
using testing::make_query;
using namespace std::chrono_literals;

// A UDP socket on 127.0.0.1 with a port of its own, closed with the object.
class LoopbackSocket {
 public:
  LoopbackSocket() {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    socklen_t length = sizeof address;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
  }
  ~LoopbackSocket() { close(); }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd() const { return fd_; }
  std::string server() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

// An upstream that answers every query with one A record, its question upper-cased, until
// destroyed; it notes the IDs it saw.
class AnsweringUpstream {
 public:
  AnsweringUpstream() : thread_([this] { run(); }) {}
  ~AnsweringUpstream() {
    stop_ = true;
    thread_.join();
  }
  std::string server() const { return socket_.server(); }
  std::atomic<int> queries{0};
  std::atomic<int> last_id{-1};

 private:
  void run() {
    std::vector<std::uint8_t> buffer(65535);
    while (!stop_) {
      pollfd wait{socket_.fd(), POLLIN, 0};
      if (::poll(&wait, 1, 20) <= 0) continue;
      sockaddr_storage peer{};
      socklen_t peer_length = sizeof peer;
      const ssize_t n = ::recvfrom(socket_.fd(), buffer.data(), buffer.size(), 0,
                                   reinterpret_cast<sockaddr*>(&peer), &peer_length);
      if (n < 12) continue;
      ++queries;
      last_id = buffer[0] << 8 | buffer[1];
      std::vector<std::uint8_t> answer(buffer.begin(), buffer.begin() + n);
      for (std::size_t i = 12; i < answer.size() && answer[i] != 0; i += answer[i] + 1) {
        for (std::size_t j = i + 1; j <= i + answer[i]; ++j) answer[j] = static_cast<std::uint8_t>(std::toupper(answer[j]));
      }
      answer[2] = 0x81;
      answer[3] = 0x80;
      answer[7] = 1;   // ANCOUNT 1
      answer[11] = 0;  // the query's OPT is left out
      std::size_t end = 12;
      while (answer[end] != 0) end += answer[end] + 1;
      answer.resize(end + 5);
      const std::uint8_t record[] = {0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1};
      answer.insert(answer.end(), std::begin(record), std::end(record));
      ::sendto(socket_.fd(), answer.data(), answer.size(), 0, reinterpret_cast<sockaddr*>(&peer),
               peer_length);
    }
  }
  LoopbackSocket socket_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Collects one reply; waits for it with a deadline.
struct Outcome {
  std::promise<std::vector<std::uint8_t>> promise;
  std::future<std::vector<std::uint8_t>> future = promise.get_future();
  answer::UpdateReply reply() {
    return [this](std::vector<std::uint8_t> response) { promise.set_value(std::move(response)); };
  }
  std::optional<std::vector<std::uint8_t>> wait(std::chrono::milliseconds limit = 5s) {
    if (future.wait_for(limit) != std::future_status::ready) return std::nullopt;
    return future.get();
  }
};

ForwardSettings settings_for(std::vector<std::string> servers,
                             std::chrono::milliseconds timeout = 2000ms) {
  ForwardSettings settings;
  settings.servers = std::move(servers);
  settings.timeout = timeout;
  return settings;
}

TEST(UpstreamForwarderTest, PassesTheAnswerBackWithTheClientsIdAndCase) {
  AnsweringUpstream upstream;
  UpstreamForwarder forwarder(settings_for({upstream.server()}));
  forwarder.start();
  Outcome outcome;
  forwarder.forward(make_query("MiXeD.example.org.", wire::rrtype::kA, {.id = 0x5A5A}),
                    Transport::udp, outcome.reply());
  const auto response = outcome.wait();
  ASSERT_TRUE(response.has_value());
  ASSERT_GT(response->size(), 30u);
  EXPECT_EQ((*response)[0], 0x5A);
  EXPECT_EQ((*response)[1], 0x5A);
  EXPECT_EQ(std::string(response->begin() + 13, response->begin() + 18), "MiXeD");
  EXPECT_EQ((*response)[3] & 0x0F, wire::rcode::kNoError);
  EXPECT_EQ((*response)[7], 1);  // the upstream's one A record
  EXPECT_EQ(upstream.queries.load(), 1);
  EXPECT_EQ(forwarder.counters().forwarded.load(), 1u);
  EXPECT_EQ(forwarder.counters().answered.load(), 1u);
  EXPECT_EQ(forwarder.counters().failed.load(), 0u);
}

TEST(UpstreamForwarderTest, FailsOverFromAClosedPortToTheNextUpstream) {
  LoopbackSocket closed;
  const std::string closed_server = closed.server();
  closed.close();  // nothing listens there now: ICMP port unreachable
  AnsweringUpstream upstream;
  UpstreamForwarder forwarder(settings_for({closed_server, upstream.server()}));
  forwarder.start();
  Outcome outcome;
  forwarder.forward(make_query("www.example.org.", wire::rrtype::kA), Transport::udp,
                    outcome.reply());
  const auto response = outcome.wait();
  ASSERT_TRUE(response.has_value());
  ASSERT_GT(response->size(), 12u);
  EXPECT_EQ((*response)[3] & 0x0F, wire::rcode::kNoError);
  EXPECT_EQ(upstream.queries.load(), 1);
}

TEST(UpstreamForwarderTest, SilentUpstreamGivesServfailAtTheDeadline) {
  LoopbackSocket silent;  // bound, never read
  UpstreamForwarder forwarder(settings_for({silent.server()}, 300ms));
  forwarder.start();
  Outcome outcome;
  forwarder.forward(make_query("slow.example.org.", wire::rrtype::kA, {.id = 0x0102}),
                    Transport::tcp, outcome.reply());
  // Well before c-ares would give up a second round, the client has its SERVFAIL.
  const auto response = outcome.wait(3s);
  ASSERT_TRUE(response.has_value());
  ASSERT_GE(response->size(), 12u);
  EXPECT_EQ((*response)[0], 0x01);
  EXPECT_EQ((*response)[1], 0x02);
  EXPECT_EQ((*response)[3] & 0x0F, wire::rcode::kServFail);
  EXPECT_EQ(forwarder.counters().failed.load(), 1u);
}

TEST(UpstreamForwarderTest, DropsWhenEverySlotIsTaken) {
  LoopbackSocket silent;
  ForwardSettings settings = settings_for({silent.server()}, 5000ms);
  settings.max_in_flight = 1;
  UpstreamForwarder forwarder(std::move(settings));
  forwarder.start();
  Outcome first;
  Outcome second;
  forwarder.forward(make_query("one.example.org.", wire::rrtype::kA), Transport::udp,
                    first.reply());
  forwarder.forward(make_query("two.example.org.", wire::rrtype::kA), Transport::udp,
                    second.reply());
  // The second is answered with nothing at once, on this thread.
  const auto dropped = second.wait(0ms);
  ASSERT_TRUE(dropped.has_value());
  EXPECT_TRUE(dropped->empty());
  EXPECT_EQ(forwarder.counters().dropped.load(), 1u);
  // Stopping hands the first its nothing too: no reply is left uncalled.
  forwarder.stop();
  const auto stopped = first.wait(0ms);
  ASSERT_TRUE(stopped.has_value());
  EXPECT_TRUE(stopped->empty());
}

TEST(UpstreamForwarderTest, RejectsNoUpstream) {
  EXPECT_THROW(UpstreamForwarder(settings_for({})), ForwardError);
}

}  // namespace
}  // namespace signpost::dns::forward
