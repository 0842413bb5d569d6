// The HTTP API server: listeners, connections and watches on one thread of its own.
#pragma once

#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "registry/api/api_backend.hpp"
#include "registry/api/http_settings.hpp"
#include "registry/log/log.hpp"

namespace signpost::registry::api {

struct HttpContext;

/// Serves the HTTP API (docs/api.md): the JSON endpoints, /metrics and the status page, on
/// every address of `settings.listen`. All its sockets, timers and watches live on one
/// io_context run by one thread of its own; the backend's replies, which come on the
/// registry thread, are posted back to it. HTTP is not on the DNS answer path, and a few
/// hundred connections need no more than one thread.
///
/// Lifetime: construct, start(), and stop() (or destroy) before the backend goes: a reply
/// the backend calls after stop() is dropped. The control thread calls the constructor,
/// start, bound, stop and the destructor; serial_changed is for any thread.
class HttpServer {
 public:
  /// Keeps `backend` by reference; `log` gets the listening addresses and warnings (never a
  /// line per request). Control thread.
  HttpServer(HttpSettings settings, ApiBackend& backend, Log log);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Binds and listens on every address (port 0: a free one), then starts the thread.
  /// Call once. Throws std::runtime_error naming the address ("http.listen
  /// 127.0.0.1:8054: Address already in use") when one cannot be used; then nothing listens.
  void start();

  /// The addresses listened on, with their real ports. Control thread, after start().
  const std::vector<boost::asio::ip::tcp::endpoint>& bound() const noexcept { return bound_; }

  /// Closes the listeners and every connection (waiting watches unanswered) and joins the
  /// thread. Idempotent; the destructor calls it.
  void stop();

  /// Tells the server that the registry's serial is now `serial`: watches of any other
  /// index are answered. Call after each publish, once ApiBackend::serial() returns the
  /// new serial. Any thread; allocates; returns at once.
  void serial_changed(std::uint32_t serial);

 private:
  void listen(const std::string& address, std::uint16_t port);
  void do_accept(boost::asio::ip::tcp::acceptor& acceptor);
  void on_accept(boost::asio::ip::tcp::acceptor& acceptor, const boost::system::error_code& error,
                 boost::asio::ip::tcp::socket socket);
  void run() noexcept;

  boost::asio::io_context io_;  // first: destroyed after everything that uses it
  std::shared_ptr<HttpContext> context_;
  std::vector<std::unique_ptr<boost::asio::ip::tcp::acceptor>> acceptors_;
  std::vector<boost::asio::ip::tcp::endpoint> bound_;
  std::chrono::steady_clock::time_point next_full_warning_{};  // server thread
  std::thread thread_;
  bool stopped_ = false;
};

}  // namespace signpost::registry::api
