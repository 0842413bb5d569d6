// The part of the http and tcp checks that opens a TCP connection within a timeout.
// Internal to health/agent.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "health/agent/check.hpp"

namespace signpost::health::agent {

/// One check run over TCP: resolves the host (numeric addresses without a lookup), connects,
/// then hands over to on_connected(). The whole run is bounded by the check's timeout, after
/// which it finishes critical. Subclasses call finish() exactly when they are done; the
/// first finish() wins. Lives on one io_context thread; held by shared_ptr.
class SocketRun : public CheckRun, public std::enable_shared_from_this<SocketRun> {
 public:
  SocketRun(boost::asio::io_context& io, std::string host, std::uint16_t port,
            std::chrono::milliseconds timeout, CheckDone done);

  /// Arms the timeout and starts resolving or connecting.
  void start();
  void cancel() override;

 protected:
  /// The connection is open; socket() is usable.
  virtual void on_connected() = 0;
  /// Reports `result` once and closes everything.
  void finish(CheckResult result);
  boost::asio::ip::tcp::socket& socket() noexcept { return socket_; }
  bool finished() const noexcept { return finished_; }
  /// "127.0.0.1:8080", for messages.
  const std::string& where() const noexcept { return where_; }

 private:
  void do_connect(const boost::asio::ip::tcp::resolver::results_type& endpoints);
  void close();

  boost::asio::ip::tcp::resolver resolver_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer timer_;
  std::string host_;
  std::uint16_t port_;
  std::string where_;
  std::chrono::milliseconds timeout_;
  CheckDone done_;
  bool finished_ = false;
};

}  // namespace signpost::health::agent
