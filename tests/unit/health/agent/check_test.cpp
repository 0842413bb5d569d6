// The http, tcp and exec checks against real loopback listeners and the real /bin/sh.
#include "health/agent/check.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <cstdio>
#include <fstream>
#include <optional>

#include "fake_server.hpp"

namespace signpost::health::agent {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using registry::Health;
using testing::run_until;

/// An HTTP server on 127.0.0.1 that answers every request with `response` (or nothing when it
/// is empty) and keeps the last request head.
class HttpServer {
 public:
  HttpServer(asio::io_context& io, std::string response)
      : acceptor_(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
        response_(std::move(response)) {
    do_accept();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::string last_request;
  int connections = 0;

 private:
  void do_accept() {
    acceptor_.async_accept([this](const boost::system::error_code& error, tcp::socket socket) {
      if (error) return;
      ++connections;
      auto peer = std::make_shared<tcp::socket>(std::move(socket));
      auto buffer = std::make_shared<asio::streambuf>();
      asio::async_read_until(
          *peer, *buffer, "\r\n\r\n",
          [this, peer, buffer](const boost::system::error_code& failure, std::size_t size) {
            if (failure) return;
            last_request.assign(
                asio::buffers_begin(buffer->data()),
                asio::buffers_begin(buffer->data()) + static_cast<std::ptrdiff_t>(size));
            held_.push_back(peer);  // a silent server keeps the connection
            if (response_.empty()) return;
            asio::async_write(
                *peer, asio::buffer(response_),
                [peer](const boost::system::error_code&, std::size_t) { peer->close(); });
          });
      do_accept();
    });
  }

  tcp::acceptor acceptor_;
  std::string response_;
  std::vector<std::shared_ptr<tcp::socket>> held_;
};

// A loopback port with nothing listening: bound, then closed.
std::uint16_t closed_port(asio::io_context& io) {
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const std::uint16_t port = acceptor.local_endpoint().port();
  acceptor.close();
  return port;
}

CheckConfig check_of(CheckType type, std::string target,
                     std::chrono::milliseconds timeout = std::chrono::milliseconds(2000)) {
  CheckConfig check;
  check.type = type;
  check.target = std::move(target);
  check.timeout = timeout;
  return check;
}

// Runs one check to its end (bounded) and returns its result.
std::optional<CheckResult> run_check(asio::io_context& io, const CheckConfig& check) {
  std::optional<CheckResult> result;
  auto run = start_check(io, check, [&](CheckResult r) { result = std::move(r); });
  run_until(io, [&] { return result.has_value(); });
  return result;
}

std::string http_response(int status) {
  return "HTTP/1.1 " + std::to_string(status) + " Whatever\r\nContent-Length: 0\r\n\r\n";
}

TEST(HttpCheck, StatusDecidesHealth) {
  const std::pair<int, Health> cases[] = {{200, Health::passing},  {204, Health::passing},
                                          {299, Health::passing},  {429, Health::warning},
                                          {301, Health::critical}, {404, Health::critical},
                                          {500, Health::critical}, {503, Health::critical}};
  for (const auto& [status, health] : cases) {
    asio::io_context io;
    HttpServer server(io, http_response(status));
    const auto result = run_check(
        io, check_of(CheckType::http, "http://127.0.0.1:" + std::to_string(server.port()) + "/hc"));
    ASSERT_TRUE(result) << status;
    EXPECT_EQ(result->health, health) << status;
    EXPECT_EQ(result->output, "HTTP/1.1 " + std::to_string(status) + " Whatever");
  }
}

TEST(HttpCheck, SendsAnHttp11Get) {
  asio::io_context io;
  HttpServer server(io, http_response(200));
  const std::string port = std::to_string(server.port());
  ASSERT_TRUE(
      run_check(io, check_of(CheckType::http, "http://127.0.0.1:" + port + "/health?deep=1")));
  EXPECT_EQ(server.last_request.substr(0, server.last_request.find("\r\n")),
            "GET /health?deep=1 HTTP/1.1");
  EXPECT_NE(server.last_request.find("\r\nHost: 127.0.0.1:" + port + "\r\n"), std::string::npos);
  EXPECT_NE(server.last_request.find("\r\nConnection: close\r\n"), std::string::npos);
}

TEST(HttpCheck, SilentServerTimesOutCritical) {
  asio::io_context io;
  HttpServer server(io, "");
  const auto started = std::chrono::steady_clock::now();
  const auto result = run_check(
      io, check_of(CheckType::http, "http://127.0.0.1:" + std::to_string(server.port()) + "/",
                   std::chrono::milliseconds(200)));
  ASSERT_TRUE(result);
  EXPECT_EQ(result->health, Health::critical);
  EXPECT_EQ(result->output, "timed out after 0.2 s");
  EXPECT_EQ(server.connections, 1);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
}

TEST(HttpCheck, ClosedPortAndGarbageAreCritical) {
  asio::io_context io;
  auto result = run_check(
      io, check_of(CheckType::http, "http://127.0.0.1:" + std::to_string(closed_port(io)) + "/"));
  ASSERT_TRUE(result);
  EXPECT_EQ(result->health, Health::critical);
  EXPECT_NE(result->output.find("Connection refused"), std::string::npos) << result->output;

  HttpServer ssh(io, "SSH-2.0-OpenSSH_9.2\r\n");
  result =
      run_check(io, check_of(CheckType::http, "http://127.0.0.1:" + std::to_string(ssh.port())));
  ASSERT_TRUE(result);
  EXPECT_EQ(result->health, Health::critical);
  EXPECT_EQ(result->output, "not an HTTP status line: SSH-2.0-OpenSSH_9.2");
}

TEST(TcpCheck, OpenPortPassesClosedPortIsCritical) {
  asio::io_context io;
  tcp::acceptor open(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  open.listen();
  const std::string where = "127.0.0.1:" + std::to_string(open.local_endpoint().port());
  auto result = run_check(io, check_of(CheckType::tcp, where));
  ASSERT_TRUE(result);
  EXPECT_EQ(result->health, Health::passing);
  EXPECT_EQ(result->output, "connected to " + where);

  result = run_check(io, check_of(CheckType::tcp, "127.0.0.1:" + std::to_string(closed_port(io))));
  ASSERT_TRUE(result);
  EXPECT_EQ(result->health, Health::critical);
  EXPECT_NE(result->output.find("Connection refused"), std::string::npos) << result->output;
}

TEST(ExecCheck, ExitCodeDecidesHealth) {
  asio::io_context io;
  const std::tuple<const char*, Health, const char*> cases[] = {
      {"echo all good", Health::passing, "exit 0: all good"},
      {"echo degraded; exit 1", Health::warning, "exit 1: degraded"},
      {"echo broken >&2; exit 2", Health::critical, "exit 2: broken"},
      {"exit 3", Health::critical, "exit 3"},
      {"cat", Health::passing, "exit 0"},  // stdin is /dev/null: cat ends at once
      {"kill -9 $$", Health::critical, "killed by signal 9"},
  };
  for (const auto& [command, health, output] : cases) {
    const auto result = run_check(io, check_of(CheckType::exec, command));
    ASSERT_TRUE(result) << command;
    EXPECT_EQ(result->health, health) << command;
    EXPECT_EQ(result->output, output) << command;
  }
}

TEST(ExecCheck, OutputIsCappedAt4KiB) {
  asio::io_context io;
  const auto result =
      run_check(io, check_of(CheckType::exec, "head -c 100000 /dev/zero | tr '\\0' x"));
  ASSERT_TRUE(result);
  EXPECT_EQ(result->health, Health::passing);
  EXPECT_EQ(result->output, "exit 0: " + std::string(4096, 'x'));
}

// The state of process `pid` from /proc: 'Z' for a zombie, 0 when it is gone.
char process_state(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  std::getline(stat, text);
  const std::size_t close = text.rfind(')');
  return close == std::string::npos || close + 2 >= text.size() ? 0 : text[close + 2];
}

TEST(ExecCheck, TimeoutKillsTheWholeProcessGroup) {
  asio::io_context io;
  char path[] = "/tmp/signpost-exec-check-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  const auto started = std::chrono::steady_clock::now();
  // The timeout leaves the shell time to start and write the pid even on a busy machine.
  const auto result = run_check(
      io, check_of(CheckType::exec, "sleep 30 & echo $! > " + std::string(path) + "; wait",
                   std::chrono::milliseconds(800)));
  ASSERT_TRUE(result);
  EXPECT_EQ(result->health, Health::critical);
  EXPECT_EQ(result->output, "timed out after 0.8 s");
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  int sleeper = 0;
  std::ifstream(path) >> sleeper;
  std::remove(path);
  ASSERT_GT(sleeper, 0);
  // SIGKILL went to the group; the orphaned sleep is gone or a zombie within moments.
  EXPECT_TRUE(run_until(
      io,
      [&] {
        const char state = process_state(sleeper);
        return state == 0 || state == 'Z';
      },
      std::chrono::milliseconds(3000)));
}

TEST(ExecCheck, CancelStopsWithoutCallback) {
  asio::io_context io;
  bool called = false;
  auto run =
      start_check(io, check_of(CheckType::exec, "sleep 30"), [&](CheckResult) { called = true; });
  io.poll();
  run->cancel();
  run.reset();
  io.restart();
  io.poll();
  EXPECT_FALSE(called);
}

TEST(CheckMapping, HttpStatusAndExitCode) {
  EXPECT_EQ(http_status_health(200), Health::passing);
  EXPECT_EQ(http_status_health(199), Health::critical);
  EXPECT_EQ(http_status_health(300), Health::critical);
  EXPECT_EQ(http_status_health(429), Health::warning);
  EXPECT_EQ(exit_status_health(0), Health::passing);
  EXPECT_EQ(exit_status_health(1), Health::warning);
  EXPECT_EQ(exit_status_health(2), Health::critical);
  EXPECT_EQ(exit_status_health(127), Health::critical);
}

}  // namespace
}  // namespace signpost::health::agent
