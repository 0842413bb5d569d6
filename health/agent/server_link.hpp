// The agent's connection to one signpostd: requests out, replies matched back by id, over
// UDP with retransmission, or TCP for large or truncated exchanges (RFC 1035 §4.2).
//
// A request is not a fixed message but the means to build one: every transmission, the
// first, each UDP retry and the TCP one, is built anew with a new message id. The server
// refuses a signed UPDATE it has already accepted (same TSIG MAC) as a replay, so a retry
// of bytes whose reply was lost would be refused; built anew, it is signed at the current
// time with a new MAC (RFC 8945 §5.2.3). A reply to any transmission of a request answers
// it.
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
#include <optional>
#include <random>
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
  std::uint16_t id = 0;  // the message id of the transmission answered
};

/// One server. Lives on the agent's io_context thread; held by shared_ptr.
class ServerLink : public std::enable_shared_from_this<ServerLink> {
 public:
  using Done = std::function<void(Exchange)>;
  /// Builds the message of one transmission with message id `id` (its first two octets),
  /// signed at the current time; an empty message when it cannot be built.
  using Encode = std::function<std::vector<std::uint8_t>(std::uint16_t id)>;
  /// A request, as send() returns it; never reused by one link.
  using RequestId = std::uint64_t;

  /// Messages above this size go over TCP from the start (RFC 9715's safe UDP payload).
  static constexpr std::size_t kMaxUdpMessage = 1232;

  /// `seed` fixes the message ids (tests).
  ServerLink(boost::asio::io_context& io, ServerAddress server,
             std::uint32_t seed = std::random_device{}());
  ~ServerLink();
  ServerLink(const ServerLink&) = delete;
  ServerLink& operator=(const ServerLink&) = delete;

  /// Opens the UDP socket and starts receiving. Throws boost::system::system_error.
  void open();
  /// Sends the message `encode` builds, and builds it again, with a new id, for every later
  /// transmission; calls `done` once, on the io thread, with the reply to any of them or the
  /// failure after every attempt. A UDP reply with TC set is retried over TCP. When the first
  /// message cannot be built, returns nullopt and never calls `done`. Allocates.
  std::optional<RequestId> send(Encode encode, ExchangeLimits limits, Done done);
  /// Drops the pending request (no callback; a late reply is ignored).
  void cancel(RequestId request);
  /// True while the request is pending.
  bool pending(RequestId request) const { return pending_.count(request) != 0; }
  /// Drops every pending request (no callbacks) and closes the sockets.
  void close();

  /// The server this link talks to.
  const ServerAddress& server() const noexcept { return server_; }

 private:
  struct Pending;
  enum class TcpStep : std::uint8_t { connected, written, length_read, reply_read };

  Pending* live(RequestId request);
  bool encode_next(RequestId request, Pending& pending);
  void do_receive();
  void on_datagram(std::size_t size);
  void do_udp_attempt(RequestId request);
  void do_tcp(RequestId request);
  void on_tcp_step(RequestId request, TcpStep step, const boost::system::error_code& error);
  void complete(RequestId request, Exchange exchange);

  boost::asio::io_context& io_;
  ServerAddress server_;
  boost::asio::ip::udp::endpoint udp_endpoint_;
  boost::asio::ip::tcp::endpoint tcp_endpoint_;
  boost::asio::ip::udp::socket socket_;
  std::vector<std::uint8_t> receive_buffer_;
  std::map<RequestId, std::unique_ptr<Pending>> pending_;
  std::map<std::uint16_t, RequestId> ids_;  // every message id sent by a pending request
  RequestId next_request_ = 1;
  std::mt19937 random_;
  bool closed_ = false;
};

}  // namespace signpost::health::agent
