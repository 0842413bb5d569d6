// The agent's connection to one signpostd: requests out, replies matched back by id, over
// UDP with retransmission, or TCP for large or truncated exchanges (RFC 1035 §4.2).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "health/agent/agent_config.hpp"

namespace signpost::health::agent {

/// How long one request may take: `attempts` sends over UDP, each waiting `attempt_timeout`
/// (over TCP, one connection bounded by the sum).
struct ExchangeLimits {
  std::chrono::milliseconds attempt_timeout{1000};
  int attempts = 3;
};

/// How a request ended: the reply's octets, or why there is none.
struct Exchange {
  bool answered = false;
  std::vector<std::uint8_t> reply;
  std::string failure;  // "no reply", "connection refused", ...
};

/// One server. Requests are DNS messages whose first two octets (the id) must be unique
/// among those pending. Lives on the agent's io_context thread; held by shared_ptr.
class ServerLink : public std::enable_shared_from_this<ServerLink> {
 public:
  using Done = std::function<void(Exchange)>;

  /// Messages above this size go over TCP from the start (RFC 9715's safe UDP payload).
  static constexpr std::size_t kMaxUdpMessage = 1232;

  ServerLink(boost::asio::io_context& io, ServerAddress server);
  ~ServerLink();
  ServerLink(const ServerLink&) = delete;
  ServerLink& operator=(const ServerLink&) = delete;

  /// Opens the UDP socket and starts receiving. Throws boost::system::system_error.
  void open();
  /// Sends `message`; calls `done` once, on the io thread, with the reply carrying the same
  /// id or the failure after every attempt. A UDP reply with TC set is retried over TCP.
  void send(std::vector<std::uint8_t> message, ExchangeLimits limits, Done done);
  /// Drops the pending request `id` (no callback; a late reply is ignored).
  void cancel(std::uint16_t id);
  /// True when a request with this id is pending.
  bool pending(std::uint16_t id) const { return pending_.count(id) != 0; }
  /// Drops every pending request (no callbacks) and closes the sockets.
  void close();

  /// The server this link talks to.
  const ServerAddress& server() const noexcept { return server_; }

 private:
  struct Pending;
  enum class TcpStep : std::uint8_t { connected, written, length_read, reply_read };

  Pending* live(std::uint16_t id);
  void do_receive();
  void on_datagram(std::size_t size);
  void do_udp_attempt(std::uint16_t id);
  void do_tcp(std::uint16_t id);
  void on_tcp_step(std::uint16_t id, TcpStep step, const boost::system::error_code& error);
  void complete(std::uint16_t id, Exchange exchange);

  boost::asio::io_context& io_;
  ServerAddress server_;
  boost::asio::ip::udp::endpoint udp_endpoint_;
  boost::asio::ip::tcp::endpoint tcp_endpoint_;
  boost::asio::ip::udp::socket socket_;
  std::vector<std::uint8_t> receive_buffer_;
  std::map<std::uint16_t, std::unique_ptr<Pending>> pending_;
  bool closed_ = false;
};

}  // namespace signpost::health::agent
