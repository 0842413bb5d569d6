// One DNS-over-TCP connection: framed, pipelined queries answered in order.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "dns/net/worker.hpp"

namespace signpost::dns::net {

/// A client connection (RFC 7766). Every message is preceded by its two-octet length
/// (RFC 1035 §4.2.2). The client may send several queries without waiting (pipelining,
/// RFC 7766 §6.2.1.1); they are answered in the order they arrived. Each message, length
/// included, must arrive whole within `tcp_idle_timeout` of the moment the session began
/// to wait for it (the start, or the previous message taken); octets that trickle in do
/// not extend it, so a client cannot hold the connection by sending one now and then
/// (§6.2.3). A connection busy answering is not idle: each completed write, and a
/// transfer still being built, moves the deadline on, so a slow reader gets a whole zone,
/// while one that stops reading is closed when a write has waited that long.
/// The connection is closed when that time is up, on a zero-length frame, on a
/// read error, and once the client has closed its side and every answer is sent.
/// Owns one slot of the worker's ConnectionLimit, for `client`, released when it is
/// destroyed. Lives as long as one of its asynchronous operations holds it; the worker's
/// thread only.
class TcpSession : public std::enable_shared_from_this<TcpSession> {
 public:
  TcpSession(boost::asio::ip::tcp::socket socket, WorkerState& state, const ClientAddress& client);
  ~TcpSession();
  TcpSession(const TcpSession&) = delete;
  TcpSession& operator=(const TcpSession&) = delete;

  /// Starts reading queries and the idle timer.
  void start();

 private:
  void do_read();
  void on_read(const boost::system::error_code& error, std::size_t length);
  // Answers the complete frames read so far; false when the framing is malformed.
  bool answer_frames();
  // Answers an UPDATE at once or hands it on (see UpdateHandler).
  void answer_update(std::span<const std::uint8_t> message);
  // Hands a query to the worker's Forwarder; its response is written when it comes.
  void forward_query(std::span<const std::uint8_t> message);
  // Hands an AXFR or IXFR to the transfer handler; its response is appended when ready.
  void answer_transfer(std::span<const std::uint8_t> message);
  void append_frame(const std::uint8_t* data, std::size_t length);
  // Answers the frames held back (by a write in flight), then writes, reads on
  // and closes when done.
  void resume();
  void do_write();
  void do_write_some();
  void on_write(const boost::system::error_code& error, std::size_t length);
  void do_idle_wait();
  void on_idle(const boost::system::error_code& error);
  // Starts the wait for the next message: it has tcp_idle_timeout from now to arrive whole.
  void await_message() { deadline_ = std::chrono::steady_clock::now() + state_.tcp_idle_timeout; }
  // Closes once the client has finished sending and every answer is written.
  void finish_if_done();
  void close();

  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer idle_timer_;
  WorkerState& state_;
  ClientAddress client_;
  std::chrono::steady_clock::time_point deadline_;  // for the message awaited
  std::vector<std::uint8_t> in_;       // received octets; in_[0, in_used_) are unprocessed
  std::size_t in_used_ = 0;
  std::vector<std::uint8_t> pending_;  // framed answers waiting for the write in flight
  std::vector<std::uint8_t> writing_;  // framed answers being written
  std::size_t written_ = 0;            // octets of writing_ the socket has taken
  std::size_t forwarding_ = 0;  // queries at the Forwarder, not answered yet
  bool transfer_in_flight_ = false;  // an AXFR/IXFR handed to the TransferHandler
  bool reading_ = false;
  bool eof_ = false;
  bool closed_ = false;
};

}  // namespace signpost::dns::net
