// The HTTP API server.
#include "registry/api/http_server.hpp"

#include <stdexcept>

#include <boost/asio/post.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/steady_timer.hpp>

#include "registry/api/http_session.hpp"

namespace signpost::registry::api {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

constexpr std::chrono::minutes kWarningInterval{1};
// After a failed accept (out of file descriptors, say) wait a little instead of spinning.
constexpr std::chrono::milliseconds kAcceptRetry{100};

std::string endpoint_text(const std::string& address, std::uint16_t port) {
  const bool v6 = address.find(':') != std::string::npos;
  return (v6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

}  // namespace

HttpServer::HttpServer(HttpSettings settings, ApiBackend& backend, Log log)
    : context_(std::make_shared<HttpContext>(std::move(settings), backend, std::move(log),
                                             io_.get_executor())) {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::start() {
  try {
    for (const auto& [address, port] : context_->settings.listen) listen(address, port);
  } catch (...) {
    acceptors_.clear();
    bound_.clear();
    throw;
  }
  for (const tcp::endpoint& endpoint : bound_) {
    if (context_->log) {
      context_->log(
          LogLevel::info,
          "http: listening on " + endpoint_text(endpoint.address().to_string(), endpoint.port()));
    }
  }
  for (const auto& acceptor : acceptors_) do_accept(*acceptor);
  thread_ = std::thread([this] { run(); });
}

void HttpServer::listen(const std::string& address, std::uint16_t port) {
  const std::string name = "http.listen " + endpoint_text(address, port);
  boost::system::error_code error;
  const asio::ip::address ip = asio::ip::make_address(address, error);
  if (error) throw std::runtime_error(name + ": not an IP address");
  const tcp::endpoint local(ip, port);
  auto acceptor = std::make_unique<tcp::acceptor>(io_);
  acceptor->open(local.protocol(), error);
  // SO_REUSEADDR lets a restart bind while old connections linger in TIME_WAIT.
  if (!error) acceptor->set_option(asio::socket_base::reuse_address(true), error);
  if (!error && ip.is_v6()) acceptor->set_option(asio::ip::v6_only(true), error);
  if (!error) acceptor->bind(local, error);
  if (!error) acceptor->listen(asio::socket_base::max_listen_connections, error);
  if (error) throw std::runtime_error(name + ": " + error.message());
  bound_.push_back(acceptor->local_endpoint());
  acceptors_.push_back(std::move(acceptor));
}

void HttpServer::do_accept(tcp::acceptor& acceptor) {
  acceptor.async_accept(
      [this, &acceptor](const boost::system::error_code& error, tcp::socket socket) {
        on_accept(acceptor, error, std::move(socket));
      });
}

void HttpServer::on_accept(tcp::acceptor& acceptor, const boost::system::error_code& error,
                           tcp::socket socket) {
  if (error == asio::error::operation_aborted || !acceptor.is_open()) return;
  const auto now = std::chrono::steady_clock::now();
  const bool warn = now >= next_full_warning_ && context_->log;
  if (error) {
    if (warn)
      context_->log(LogLevel::warning, "http: accepting a connection failed: " + error.message());
    if (warn) next_full_warning_ = now + kWarningInterval;
    auto retry = std::make_shared<asio::steady_timer>(io_, kAcceptRetry);
    retry->async_wait([this, &acceptor, retry](const boost::system::error_code& e) {
      if (!e && acceptor.is_open()) do_accept(acceptor);
    });
    return;
  }
  do_accept(acceptor);
  if (context_->sessions.size() >= context_->settings.max_connections) {
    if (warn) {
      context_->log(LogLevel::warning,
                    "http: " + std::to_string(context_->settings.max_connections) +
                        " connections are open; closing new ones");
      next_full_warning_ = now + kWarningInterval;
    }
    boost::system::error_code ignored;
    socket.close(ignored);
    return;
  }
  std::make_shared<HttpSession>(std::move(socket), context_)->start();
}

void HttpServer::run() noexcept {
  while (true) {
    try {
      io_.run();
      return;
    } catch (const std::exception& error) {
      // A handler that threw (out of memory, say) loses its connection, not the server.
      if (context_->log) context_->log(LogLevel::error, std::string("http: ") + error.what());
    } catch (...) {
      return;
    }
  }
}

void HttpServer::stop() {
  if (stopped_) return;
  stopped_ = true;
  context_->close_posts();
  const auto close_all = [this] {
    for (const auto& acceptor : acceptors_) {
      boost::system::error_code ignored;
      acceptor->close(ignored);
    }
    const auto sessions = context_->sessions;  // close() erases from the table
    for (const auto& [raw, session] : sessions) session->close();
    context_->watches.clear();
  };
  if (!thread_.joinable()) {
    close_all();
    return;
  }
  asio::post(io_, [this, close_all] {
    close_all();
    io_.stop();
  });
  thread_.join();
}

void HttpServer::serial_changed(std::uint32_t serial) {
  asio::post(io_, [context = context_, serial] { context->watches.serial_changed(serial); });
}

}  // namespace signpost::registry::api
