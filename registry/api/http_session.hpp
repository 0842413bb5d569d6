// One HTTP/1.1 connection to the API: keep-alive, pipelined requests answered in order.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "registry/api/api_router.hpp"
#include "registry/api/http_settings.hpp"
#include "registry/api/watch_list.hpp"
#include "registry/log/log.hpp"

namespace signpost::registry::api {

class HttpSession;

/// What an HTTP server and its sessions share. Held by shared_ptr from the server, every
/// session and every reply the backend still owes, so that it outlives all of them however
/// they end. Members marked "server thread" are touched only on the server's thread.
struct HttpContext {
  HttpContext(HttpSettings settings_in, ApiBackend& backend, Log log_in,
              boost::asio::any_io_executor executor_in);

  /// Runs `handler` on the server's thread, unless the server has stopped (then it is
  /// dropped): how replies from the registry thread come back. Any thread.
  void post(std::function<void()> handler);
  /// Drops every later post. Any thread.
  void close_posts();

  const HttpSettings settings;
  const ApiRouter router;
  const Log log;
  WatchList watches;  // server thread
  // Every open session, owned here (server thread): a session waiting for the backend has
  // no operation in flight to keep it alive.
  std::unordered_map<HttpSession*, std::shared_ptr<HttpSession>> sessions;

 private:
  std::mutex mutex_;
  bool open_ = true;  // guarded by mutex_
  boost::asio::any_io_executor executor_;
};

/// One client connection. Reads a request (line and headers within max_header_bytes, body
/// within max_body_bytes, all within request_timeout), hands it to the router, writes the
/// answer when it comes, and reads the next: requests sent without waiting (pipelined) are
/// answered in order. A watch that must wait keeps the connection and watches it for the
/// client going away. Closed on a timeout, on a malformed request (after a 400, 413 or 431),
/// when the client or the request asks, and by close(). The server thread only.
class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(boost::asio::ip::tcp::socket socket, std::shared_ptr<HttpContext> context);
  HttpSession(const HttpSession&) = delete;
  HttpSession& operator=(const HttpSession&) = delete;

  /// Enters the context's session table and starts reading.
  void start();
  /// Closes the connection, ends its watch and leaves the session table. Idempotent.
  void close();

 private:
  void do_read();
  void on_read(const boost::system::error_code& error);
  void handle_request();
  // Answers `status` with `message` to a request that could not be read, then closes.
  void fail(unsigned status, std::string_view message);
  // The reply callback the router gets: it brings the answer back to this thread.
  Respond make_respond();
  void send(ApiResponse response);
  void on_write(const boost::system::error_code& error);
  void start_watch(const WatchQuery& query);
  void finish_watch(std::uint32_t serial);
  // While a watch waits: reads on, so that a client that goes away is noticed at once.
  void do_watch_read();
  void on_watch_read(const boost::system::error_code& error, std::size_t length);
  // After the last answer: closes our side, then reads until the client closes its own
  // (or the timeout), so that the answer is not lost to a reset.
  void do_linger();
  void linger_read();

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  boost::beast::http::response<boost::beast::http::string_body> response_;
  std::shared_ptr<HttpContext> context_;
  std::string client_address_;
  boost::asio::steady_timer watch_timer_;
  std::optional<std::uint64_t> watch_;       // the waiting watch's handle
  std::optional<ApiResponse> watch_answer_;  // held until the watch's read is cancelled
  bool watch_reading_ = false;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  bool closed_ = false;
};

}  // namespace signpost::registry::api
