// A check run over TCP: resolve, connect, bounded by the check's timeout.
#include "health/agent/socket_run.hpp"

#include <boost/asio/connect.hpp>

namespace signpost::health::agent {

namespace asio = boost::asio;
using asio::ip::tcp;

SocketRun::SocketRun(asio::io_context& io, std::string host, std::uint16_t port,
                     std::chrono::milliseconds timeout, CheckDone done)
    : resolver_(io),
      socket_(io),
      timer_(io),
      host_(std::move(host)),
      port_(port),
      where_((host_.find(':') != std::string::npos ? "[" + host_ + "]" : host_) + ":" +
             std::to_string(port)),
      timeout_(timeout),
      done_(std::move(done)) {}

void SocketRun::start() {
  auto self = shared_from_this();
  timer_.expires_after(timeout_);
  timer_.async_wait([self](const boost::system::error_code& error) {
    if (error || self->finished_) return;
    self->finish({registry::Health::critical, "timed out after " + seconds_text(self->timeout_)});
  });
  boost::system::error_code error;
  const asio::ip::address address = asio::ip::make_address(host_, error);
  if (!error) {
    // A numeric address needs no lookup (and no resolver thread).
    do_connect(tcp::resolver::results_type::create(tcp::endpoint(address, port_), host_,
                                                   std::to_string(port_)));
    return;
  }
  resolver_.async_resolve(
      host_, std::to_string(port_),
      [self](const boost::system::error_code& failure,
             const tcp::resolver::results_type& endpoints) {
        if (self->finished_) return;
        if (failure) {
          self->finish({registry::Health::critical,
                        "cannot resolve " + self->host_ + ": " + failure.message()});
          return;
        }
        self->do_connect(endpoints);
      });
}

void SocketRun::do_connect(const tcp::resolver::results_type& endpoints) {
  auto self = shared_from_this();
  asio::async_connect(
      socket_, endpoints, [self](const boost::system::error_code& error, const tcp::endpoint&) {
        if (self->finished_) return;
        if (error) {
          self->finish(
              {registry::Health::critical, "connect to " + self->where_ + ": " + error.message()});
          return;
        }
        self->on_connected();
      });
}

void SocketRun::finish(CheckResult result) {
  if (finished_) return;
  finished_ = true;
  close();
  CheckDone done = std::move(done_);
  done_ = nullptr;
  if (done) done(std::move(result));
}

void SocketRun::cancel() {
  finished_ = true;
  done_ = nullptr;
  close();
}

void SocketRun::close() {
  boost::system::error_code ignored;
  timer_.cancel();
  resolver_.cancel();
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

}  // namespace signpost::health::agent
