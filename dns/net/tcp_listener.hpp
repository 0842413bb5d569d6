// DNS over TCP on one address for one worker: accepts connections within the limit.
#pragma once

#include <chrono>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "dns/net/worker.hpp"

namespace signpost::dns::net {

/// One SO_REUSEPORT TCP acceptor of one worker. Each accepted connection becomes a
/// TcpSession while the server-wide ConnectionLimit allows: tcp_max_clients in total and
/// tcp_max_per_client from its client's address. Connections beyond either are closed at
/// once (RFC 7766 §6.2.2) and counted. The worker's thread only.
class TcpListener {
 public:
  /// Opens, binds and listens. Control thread; throws NetError.
  TcpListener(boost::asio::io_context& io, WorkerState& state, const ListenEndpoint& endpoint);
  TcpListener(const TcpListener&) = delete;
  TcpListener& operator=(const TcpListener&) = delete;

  /// Starts accepting.
  void start() { do_accept(); }

 private:
  void do_accept();
  void on_accept(const boost::system::error_code& error, boost::asio::ip::tcp::socket socket);
  void on_retry(const boost::system::error_code& error);
  // Takes a slot of the limit for `socket`'s client, or counts why not; false to close it.
  bool admit(const boost::asio::ip::tcp::socket& socket, ClientAddress& client);
  // True at most once a minute for each `next`, which it moves on: warnings are logged
  // only then, so that a flood of connections cannot flood the log.
  static bool warning_due(std::chrono::steady_clock::time_point& next);

  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer retry_;
  WorkerState& state_;
  std::string name_;
  std::chrono::steady_clock::time_point next_accept_warning_{};
  std::chrono::steady_clock::time_point next_server_full_warning_{};
  std::chrono::steady_clock::time_point next_client_full_warning_{};
};

}  // namespace signpost::dns::net
