// DNS over UDP: batched receive, answer, batched send.
#include "dns/net/udp_listener.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <memory>
#include <vector>

#include <boost/asio/post.hpp>

namespace signpost::dns::net {

namespace {

namespace asio = boost::asio;
using asio::ip::udp;

// Batches handled per wake-up before yielding to the worker's other handlers (TCP).
constexpr int kBatchesPerTurn = 16;

}  // namespace

UdpListener::UdpListener(asio::io_context& io, WorkerState& state, const ListenEndpoint& endpoint)
    : io_(io), socket_(io), state_(state), name_(endpoint_text(endpoint)) {
  boost::system::error_code error;
  const asio::ip::address address = asio::ip::make_address(endpoint.address, error);
  if (error) throw listen_error(endpoint, "UDP", error.message());
  ipv6_ = address.is_v6();
  // Replies from a wildcard socket must leave from the address the query came to.
  pktinfo_ = address.is_unspecified();
  const udp::endpoint local(address, endpoint.port);
  socket_.open(local.protocol(), error);
  const auto enable = [&](int level, int name) {
    if (error) return;
    if (const int code = enable_socket_option(socket_.native_handle(), level, name)) {
      error.assign(code, boost::system::system_category());
    }
  };
  if (ipv6_) enable(IPPROTO_IPV6, IPV6_V6ONLY);
  enable(SOL_SOCKET, SO_REUSEPORT);
  if (pktinfo_) {
    if (ipv6_) {
      enable(IPPROTO_IPV6, IPV6_RECVPKTINFO);
    } else {
      enable(IPPROTO_IP, IP_PKTINFO);
    }
  }
  if (!error) socket_.bind(local, error);
  if (error) throw listen_error(endpoint, "UDP", error.message());
  set_receive_buffer();

  for (std::size_t i = 0; i < WorkerState::kUdpBatch; ++i) {
    rx_iov_[i] = {state_.udp_rx.data() + i * WorkerState::kUdpSlot, WorkerState::kUdpSlot};
    msghdr& header = rx_[i].msg_hdr;
    header.msg_name = &peers_[i];
    header.msg_iov = &rx_iov_[i];
    header.msg_iovlen = 1;
    header.msg_control = pktinfo_ ? rx_control_[i].bytes : nullptr;
  }
}

// A burst (or a worker held off its core for a moment) must not overflow the socket: the
// kernel drops what does not fit. SO_RCVBUFFORCE passes net.core.rmem_max where the process
// may (CAP_NET_ADMIN); otherwise SO_RCVBUF gets what rmem_max allows, and a warning says so.
void UdpListener::set_receive_buffer() {
  const std::size_t wanted = state_.udp_receive_buffer;
  if (wanted == 0) return;
  const int fd = socket_.native_handle();
  const int size = static_cast<int>(std::min<std::size_t>(wanted, INT_MAX / 2));
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  }
  int granted = 0;
  socklen_t length = sizeof granted;
  getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &granted, &length);
  // Linux reports twice the size asked for (it counts its bookkeeping too).
  if (static_cast<std::size_t>(granted) / 2 < wanted) {
    state_.log("UDP " + name_ + ": receive buffer is " + std::to_string(granted / 2) +
               " octets, not the " + std::to_string(wanted) +
               " of server.udp_receive_buffer (raise net.core.rmem_max)");
  }
}

void UdpListener::do_wait() {
  socket_.async_wait(udp::socket::wait_read,
                     [this](const boost::system::error_code& error) { on_readable(error); });
}

void UdpListener::on_readable(const boost::system::error_code& error) {
  if (error == asio::error::operation_aborted || !socket_.is_open()) return;
  if (error) state_.log("UDP " + name_ + ": waiting for queries failed: " + error.message());
  drain();
}

// The reactor reports readiness edge-triggered, so the socket is read until it is empty;
// after a number of batches the rest is left to a posted continuation, so that TCP
// handlers on this worker get their turn.
void UdpListener::drain() noexcept {
  for (int turn = 0; turn < kBatchesPerTurn; ++turn) {
    const std::size_t received = receive_batch();
    if (received == 0) {
      do_wait();
      return;
    }
    answer_batch(received);
  }
  asio::post(io_, [this] { drain(); });
}

std::size_t UdpListener::receive_batch() noexcept {
  for (mmsghdr& message : rx_) {
    message.msg_hdr.msg_namelen = sizeof(sockaddr_storage);
    message.msg_hdr.msg_controllen = pktinfo_ ? kControlSize : 0;
    message.msg_hdr.msg_flags = 0;
  }
  int received;
  do {
    received = recvmmsg(socket_.native_handle(), rx_.data(),
                        static_cast<unsigned int>(rx_.size()), MSG_DONTWAIT, nullptr);
  } while (received < 0 && errno == EINTR);
  // EAGAIN means the socket is empty; other errors (ENOMEM) are retried on the next wake-up.
  return received > 0 ? static_cast<std::size_t>(received) : 0;
}

void UdpListener::answer_batch(std::size_t received) noexcept {
  std::array<std::span<const std::uint8_t>, WorkerState::kUdpBatch> queries;
  for (std::size_t i = 0; i < received; ++i) {
    queries[i] = {state_.udp_rx.data() + i * WorkerState::kUdpSlot, rx_[i].msg_len};
  }
  state_.prefetch({queries.data(), received});
  std::size_t count = 0;
  for (std::size_t i = 0; i < received; ++i) {
    const msghdr& query = rx_[i].msg_hdr;
    ++state_.counters.udp_received;
    if ((query.msg_flags & MSG_TRUNC) != 0) {
      ++state_.counters.udp_oversized;
      continue;
    }
    const std::span<const std::uint8_t> in = queries[i];
    const std::span<std::uint8_t> out(state_.udp_tx.data() + i * WorkerState::kUdpSlot,
                                      WorkerState::kUdpSlot);
    const std::size_t length = state_.update_handler != nullptr && is_update(in)
                                   ? answer_update(in, out)
                                   : state_.respond(in, out, answer::Transport::udp);
    if (length == 0) continue;
    tx_iov_[count] = {out.data(), length};
    msghdr& reply = tx_[count].msg_hdr;
    reply.msg_name = &peers_[i];
    reply.msg_namelen = query.msg_namelen;
    reply.msg_iov = &tx_iov_[count];
    reply.msg_iovlen = 1;
    const std::size_t control = reply_control(i, tx_control_[count]);
    reply.msg_control = control != 0 ? tx_control_[count].bytes : nullptr;
    reply.msg_controllen = control;
    reply.msg_flags = 0;
    ++count;
  }
  send_batch(count);
}

void UdpListener::send_batch(std::size_t count) noexcept {
  std::size_t sent = 0;
  while (sent < count) {
    const int n = sendmmsg(socket_.native_handle(), tx_.data() + sent,
                           static_cast<unsigned int>(count - sent), MSG_DONTWAIT);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      state_.counters.udp_sent += static_cast<std::uint64_t>(n);
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      // The send buffer is full: drop the rest, as a congested link would; clients retry.
      state_.counters.udp_send_failed += count - sent;
      return;
    } else {
      // This one datagram cannot be sent (its peer is unreachable, say): skip it.
      ++state_.counters.udp_send_failed;
      ++sent;
    }
  }
}

// The response to an UPDATE goes out with the batch, like an answer; one too large for a
// slot (an UPDATE's response carries no records, so none is) is dropped.
std::size_t UdpListener::answer_update(std::span<const std::uint8_t> message,
                                       std::span<std::uint8_t> out) {
  const std::vector<std::uint8_t> response =
      state_.update_handler->handle(message, answer::Transport::udp);
  if (response.size() > out.size()) return 0;
  std::copy(response.begin(), response.end(), out.begin());
  return response.size();
}

std::size_t UdpListener::reply_control(std::size_t slot, Control& out) noexcept {
  if (!pktinfo_) return 0;
  msghdr& query = rx_[slot].msg_hdr;
  msghdr reply{};
  reply.msg_control = out.bytes;
  reply.msg_controllen = sizeof out.bytes;
  cmsghdr* put = CMSG_FIRSTHDR(&reply);
  for (cmsghdr* got = CMSG_FIRSTHDR(&query); got != nullptr; got = CMSG_NXTHDR(&query, got)) {
    if (!ipv6_ && got->cmsg_level == IPPROTO_IP && got->cmsg_type == IP_PKTINFO) {
      in_pktinfo info;
      std::memcpy(&info, CMSG_DATA(got), sizeof info);
      // Source address = the query's destination; the route picks the interface.
      in_pktinfo source{};
      source.ipi_spec_dst = info.ipi_addr;
      put->cmsg_level = IPPROTO_IP;
      put->cmsg_type = IP_PKTINFO;
      put->cmsg_len = CMSG_LEN(sizeof source);
      std::memcpy(CMSG_DATA(put), &source, sizeof source);
      return CMSG_SPACE(sizeof source);
    }
    if (ipv6_ && got->cmsg_level == IPPROTO_IPV6 && got->cmsg_type == IPV6_PKTINFO) {
      // The interface is kept: a link-local destination needs it (RFC 3542 §6.1).
      put->cmsg_level = IPPROTO_IPV6;
      put->cmsg_type = IPV6_PKTINFO;
      put->cmsg_len = CMSG_LEN(sizeof(in6_pktinfo));
      std::memcpy(CMSG_DATA(put), CMSG_DATA(got), sizeof(in6_pktinfo));
      return CMSG_SPACE(sizeof(in6_pktinfo));
    }
  }
  return 0;
}

}  // namespace signpost::dns::net
