// DNS over UDP on one address for one worker: batched receive, answer, batched send.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <span>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#include "dns/net/worker.hpp"

namespace signpost::dns::net {

/// One SO_REUSEPORT UDP socket of one worker. When readable it drains the socket with
/// recvmmsg, answers every datagram into the worker's transmit slots and replies with one
/// sendmmsg (RFC 1035 §4.2.1). A socket bound to a wildcard address answers from the
/// address each query was sent to (IP_PKTINFO / IPV6_PKTINFO, RFC 3542 §6). The worker's
/// thread only; the data path never throws, allocates or logs.
class UdpListener {
 public:
  /// Opens and binds the socket. Control thread; throws NetError.
  UdpListener(boost::asio::io_context& io, WorkerState& state, const ListenEndpoint& endpoint);
  UdpListener(const UdpListener&) = delete;
  UdpListener& operator=(const UdpListener&) = delete;

  /// Starts waiting for queries.
  void start() { do_wait(); }

 private:
  static constexpr std::size_t kControlSize = 64;  // room for one in6_pktinfo message
  struct alignas(cmsghdr) Control {
    unsigned char bytes[kControlSize];
  };

  void set_receive_buffer();
  void do_wait();
  void on_readable(const boost::system::error_code& error);
  void drain() noexcept;
  // Receives up to a batch; returns how many datagrams, 0 when none are waiting.
  std::size_t receive_batch() noexcept;
  // Answers the received datagrams and sends the responses.
  void answer_batch(std::size_t received) noexcept;
  void send_batch(std::size_t count) noexcept;
  // Hands an UPDATE to the worker's UpdateHandler and puts its response in `out`; returns
  // its length, 0 for none. Allocates (UPDATEs are not the answer path).
  std::size_t answer_update(std::span<const std::uint8_t> message, std::span<std::uint8_t> out);
  // Copies the query's destination address into the reply's control data; returns its size.
  std::size_t reply_control(std::size_t slot, Control& out) noexcept;

  boost::asio::io_context& io_;
  boost::asio::ip::udp::socket socket_;
  WorkerState& state_;
  std::string name_;
  bool ipv6_ = false;
  bool pktinfo_ = false;
  std::array<mmsghdr, WorkerState::kUdpBatch> rx_{};
  std::array<mmsghdr, WorkerState::kUdpBatch> tx_{};
  std::array<iovec, WorkerState::kUdpBatch> rx_iov_{};
  std::array<iovec, WorkerState::kUdpBatch> tx_iov_{};
  std::array<sockaddr_storage, WorkerState::kUdpBatch> peers_{};
  std::array<Control, WorkerState::kUdpBatch> rx_control_{};
  std::array<Control, WorkerState::kUdpBatch> tx_control_{};
};

}  // namespace signpost::dns::net
