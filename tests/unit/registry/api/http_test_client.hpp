// A blocking HTTP/1.1 client over a plain socket, for the API server's tests: it sends raw
// bytes (so that tests can send what no well-behaved client would) and reads answers with
// Beast's parser, never waiting longer than a deadline.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace signpost::testing {

using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;

/// One connection to a server on loopback. Test thread.
class HttpTestClient {
 public:
  explicit HttpTestClient(const boost::asio::ip::tcp::endpoint& server) {
    fd_ = ::socket(server.address().is_v6() ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0 || ::connect(fd_, server.data(), static_cast<socklen_t>(server.size())) != 0) {
      throw std::runtime_error("cannot connect to the test server");
    }
  }
  ~HttpTestClient() { close(); }
  HttpTestClient(const HttpTestClient&) = delete;
  HttpTestClient& operator=(const HttpTestClient&) = delete;

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  /// Sends `bytes` whole; false when the server has closed.
  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t sent = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (sent <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(sent));
    }
    return true;
  }

  /// Reads one answer; nullopt when the connection ends or `timeout` passes first.
  std::optional<HttpResponse> read(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    boost::beast::http::response_parser<boost::beast::http::string_body> parser;
    parser.eager(true);
    parser.body_limit(16 * 1024 * 1024);
    while (true) {
      if (!pending_.empty()) {
        boost::beast::error_code error;
        const std::size_t used = parser.put(boost::asio::buffer(pending_), error);
        pending_.erase(0, used);
        if (error && error != boost::beast::http::error::need_more) return std::nullopt;
        if (parser.is_done()) return parser.release();
        if (used > 0) continue;
      }
      if (!receive(deadline)) return std::nullopt;
    }
  }

  /// Sends a request and reads its answer.
  std::optional<HttpResponse> request(std::string_view method, std::string_view target,
                                      std::string_view extra_headers = "",
                                      std::string_view body = "") {
    if (!send(format(method, target, extra_headers, body))) return std::nullopt;
    return read();
  }

  /// True once the server has closed the connection (EOF or reset), within `timeout`.
  /// Bytes the server sent first are kept for read().
  bool closed_by_server(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (!receive(deadline)) return eof_;
    }
    return false;
  }

  /// "METHOD target HTTP/1.1" with Host, Content-Length when there is a body, and
  /// `extra_headers` (each ending in CRLF).
  static std::string format(std::string_view method, std::string_view target,
                            std::string_view extra_headers = "", std::string_view body = "") {
    std::string text =
        std::string(method) + " " + std::string(target) + " HTTP/1.1\r\nHost: test\r\n";
    text += extra_headers;
    if (!body.empty()) text += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    return text + "\r\n" + std::string(body);
  }

 private:
  // Waits for bytes until `deadline`; false on EOF, reset or timeout (eof_ says which).
  bool receive(std::chrono::steady_clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || fd_ < 0) return false;
    pollfd poll_fd{fd_, POLLIN, 0};
    if (::poll(&poll_fd, 1, static_cast<int>(left.count())) <= 0) return false;
    char bytes[4096];
    const ssize_t got = ::recv(fd_, bytes, sizeof bytes, 0);
    if (got <= 0) {
      eof_ = true;
      return false;
    }
    pending_.append(bytes, static_cast<std::size_t>(got));
    return true;
  }

  int fd_ = -1;
  std::string pending_;
  bool eof_ = false;
};

/// The body of an answer as JSON (null when it is not JSON).
inline boost::json::value json_body(const HttpResponse& response) {
  boost::system::error_code error;
  boost::json::value value = boost::json::parse(response.body(), error);
  return error ? boost::json::value() : value;
}

}  // namespace signpost::testing
