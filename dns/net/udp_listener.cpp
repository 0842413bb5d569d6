// DNS over UDP: batched receive, answer, batched send.
#include "dns/net/udp_listener.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <pthread.h>
#include <unistd.h>

#include <thread>
#include <utility>

#include <boost/asio/ip/udp.hpp>

namespace signpost::dns::net {

namespace {

namespace asio = boost::asio;

// How long the thread waits after a failed receive before it tries again.
constexpr auto kErrorPause = std::chrono::milliseconds(1);

// The sender of a datagram as a client address; all zero for another family.
answer::ClientAddress client_of(const sockaddr_storage& peer) noexcept {
  if (peer.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(peer);
    return answer::ipv4_client(reinterpret_cast<const std::uint8_t*>(&v4.sin_addr));
  }
  answer::ClientAddress client{};
  if (peer.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(peer);
    std::memcpy(client.data(), &v6.sin6_addr, client.size());
  }
  return client;
}

}  // namespace

UdpListener::UdpListener(const WorkerSettings& settings, std::size_t row, WorkerState& worker,
                         const ListenEndpoint& endpoint)
    : rate_limiter_(settings.rate_limiter),
      worker_(worker),
      reclaim_(worker.reclaim),
      name_(endpoint_text(endpoint)),
      snapshot_(worker.snapshot),
      context_(settings.answer, row, settings.seed),
      rx_buffer_(WorkerState::kUdpBatch * WorkerState::kUdpSlot),
      tx_buffer_(WorkerState::kUdpBatch * WorkerState::kUdpSlot) {
  open_socket(endpoint);
  try {
    set_receive_buffer(settings.udp_receive_buffer);
  } catch (...) {
    fd_owner_.reset();
    throw;
  }
  for (std::size_t i = 0; i < WorkerState::kUdpBatch; ++i) {
    rx_iov_[i] = {rx_buffer_.data() + i * WorkerState::kUdpSlot, WorkerState::kUdpSlot};
    msghdr& header = rx_[i].msg_hdr;
    header.msg_name = &peers_[i];
    header.msg_iov = &rx_iov_[i];
    header.msg_iovlen = 1;
    header.msg_control = pktinfo_ ? rx_control_[i].bytes : nullptr;
  }
}

UdpListener::~UdpListener() {
  stop();
  fd_owner_.reset();  // the socket closes once no deferred UPDATE reply holds it
}

void UdpListener::open_socket(const ListenEndpoint& endpoint) {
  boost::system::error_code error;
  const asio::ip::address address = asio::ip::make_address(endpoint.address, error);
  if (error) throw listen_error(endpoint, "UDP", error.message());
  ipv6_ = address.is_v6();
  // Replies from a wildcard socket must leave from the address the query came to.
  pktinfo_ = address.is_unspecified();
  const asio::ip::udp::endpoint local(address, endpoint.port);
  fd_ = ::socket(ipv6_ ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int code = fd_ < 0 ? errno : 0;
  const auto enable = [&](int level, int name) {
    if (code == 0) code = enable_socket_option(fd_, level, name);
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
  // The receive gives up after kIdleSnapshotCheck, so that an idle thread still takes new
  // snapshots.
  const timeval wait{static_cast<time_t>(kIdleSnapshotCheck.count()), 0};
  if (code == 0 && setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait) != 0) code = errno;
  if (code == 0 && ::bind(fd_, local.data(), static_cast<socklen_t>(local.size())) != 0) {
    code = errno;
  }
  if (code != 0) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    throw listen_error(endpoint, "UDP", std::strerror(code));
  }
  const int fd = fd_;
  fd_owner_ = std::shared_ptr<void>(nullptr, [fd](void*) { ::close(fd); });
}

// A burst (or a worker held off its core for a moment) must not overflow the socket: the
// kernel drops what does not fit. SO_RCVBUFFORCE passes net.core.rmem_max where the process
// may (CAP_NET_ADMIN); otherwise SO_RCVBUF gets what rmem_max allows, and a warning says so.
void UdpListener::set_receive_buffer(std::size_t wanted) {
  if (wanted == 0) return;
  const int size = static_cast<int>(std::min<std::size_t>(wanted, INT_MAX / 2));
  if (setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0) {
    setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  }
  int granted = 0;
  socklen_t length = sizeof granted;
  getsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &granted, &length);
  // Linux reports twice the size asked for (it counts its bookkeeping too).
  if (static_cast<std::size_t>(granted) / 2 < wanted) {
    worker_.log("UDP " + name_ + ": receive buffer is " + std::to_string(granted / 2) +
                " octets, not the " + std::to_string(wanted) +
                " of server.udp_receive_buffer (raise net.core.rmem_max)");
  }
}

void UdpListener::start(const std::string& thread_name) {
  if (thread_.joinable()) return;
  thread_ = std::thread([this, thread_name] {
    pthread_setname_np(pthread_self(), thread_name.substr(0, 15).c_str());
    run();
  });
}

// shutdown() on a UDP socket fails with ENOTCONN, but it marks the socket closed for reading
// and wakes a recvmmsg sleeping on it, which then returns at once, now and later.
void UdpListener::stop() noexcept {
  if (!thread_.joinable()) return;
  stopping_.store(true, std::memory_order_relaxed);
  ::shutdown(fd_, SHUT_RD);
  thread_.join();
}

void UdpListener::run() noexcept {
  while (!stopping_.load(std::memory_order_relaxed)) {
    const std::size_t received = receive_batch();
    if (stopping_.load(std::memory_order_relaxed)) return;
    published_.take(snapshot_, reclaim_);
    if (received > 0) answer_batch(received);
  }
}

std::size_t UdpListener::receive_batch() noexcept {
  for (mmsghdr& message : rx_) {
    message.msg_hdr.msg_namelen = sizeof(sockaddr_storage);
    message.msg_hdr.msg_controllen = pktinfo_ ? kControlSize : 0;
    message.msg_hdr.msg_flags = 0;
  }
  int received;
  do {
    received = recvmmsg(fd_, rx_.data(), static_cast<unsigned int>(rx_.size()), MSG_WAITFORONE,
                        nullptr);
  } while (received < 0 && errno == EINTR);
  // EAGAIN: kIdleSnapshotCheck passed without a datagram (SO_RCVTIMEO).
  if (received < 0 && errno != EAGAIN && errno != EWOULDBLOCK) on_receive_error(errno);
  return received > 0 ? static_cast<std::size_t>(received) : 0;
}

void UdpListener::on_receive_error(int code) noexcept {
  const auto now = std::chrono::steady_clock::now();
  if (now - last_error_log_ >= std::chrono::seconds(1)) {
    last_error_log_ = now;
    try {
      worker_.log("UDP " + name_ + ": receiving queries failed: " + std::strerror(code));
    } catch (...) {
      // Out of memory for the message: the pause below still applies.
    }
  }
  std::this_thread::sleep_for(kErrorPause);
}

void UdpListener::answer_batch(std::size_t received) noexcept {
  std::array<std::span<const std::uint8_t>, WorkerState::kUdpBatch> queries;
  for (std::size_t i = 0; i < received; ++i) {
    queries[i] = {rx_buffer_.data() + i * WorkerState::kUdpSlot, rx_[i].msg_len};
  }
  answer::prefetch_answers(*snapshot_, {queries.data(), received});
  context_.now = unix_seconds();  // one clock read per batch
  std::size_t count = 0;
  for (std::size_t i = 0; i < received; ++i) {
    const msghdr& query = rx_[i].msg_hdr;
    ++counters_.udp_received;
    if ((query.msg_flags & MSG_TRUNC) != 0) {
      ++counters_.udp_oversized;
      continue;
    }
    const std::span<const std::uint8_t> in = queries[i];
    context_.client = client_of(peers_[i]);
    if (rate_limiter_ != nullptr) [[unlikely]] {
      context_.rate_action = rate_limiter_->admit(context_.client, context_.now);
    }
    const std::span<std::uint8_t> out(tx_buffer_.data() + i * WorkerState::kUdpSlot,
                                      WorkerState::kUdpSlot);
    std::size_t length = 0;
    if (worker_.update_handler != nullptr && is_update(in)) {
      length = answer_update(i, in, out);
    } else if (worker_.transfer_handler != nullptr && is_ixfr(in)) [[unlikely]] {
      length = answer_ixfr(i, in, out);
    } else {
      length = answer_query(i, in, out);
    }
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
    const int n = sendmmsg(fd_, tx_.data() + sent,
                           static_cast<unsigned int>(count - sent), MSG_DONTWAIT);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      counters_.udp_sent += static_cast<std::uint64_t>(n);
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      // The send buffer is full: drop the rest, as a congested link would; clients retry.
      counters_.udp_send_failed += count - sent;
      return;
    } else {
      // This one datagram cannot be sent (its peer is unreachable, say): skip it.
      ++counters_.udp_send_failed;
      ++sent;
    }
  }
}

std::size_t UdpListener::answer_query(std::size_t slot, std::span<const std::uint8_t> query,
                                      std::span<std::uint8_t> out) noexcept {
  const std::size_t length =
      answer::answer_query(*snapshot_, query, out, answer::Transport::udp, context_);
  if (length != 0 || !(context_.signed_query || context_.forward_query)) [[likely]] return length;
  if (context_.forward_query) {
    forward_query(slot, query);
    return 0;
  }
  return answer_signed(worker_.signed_query_handler, query, out, answer::Transport::udp,
                       *snapshot_, context_);
}

void UdpListener::forward_query(std::size_t slot, std::span<const std::uint8_t> query) noexcept {
  if (worker_.forwarder == nullptr) return;
  try {
    worker_.forwarder->forward({query.begin(), query.end()}, answer::Transport::udp,
                               deferred_reply(slot));
  } catch (const std::exception&) {
    // Out of memory: no response, as for a datagram lost; the client retries.
  }
}

// The response to an UPDATE answered at once goes out with the batch, like an answer; one
// too large for a slot (an UPDATE's response carries no records, so none is) is dropped. Any
// other UPDATE is copied and handed on with a reply that sends from the thread that handles
// it, so that its work never delays the queries behind it in this batch.
std::size_t UdpListener::answer_update(std::size_t slot, std::span<const std::uint8_t> message,
                                       std::span<std::uint8_t> out) noexcept {
  try {
    std::vector<std::uint8_t> response;
    if (worker_.update_handler->try_handle(message, answer::Transport::udp, response)) {
      if (response.size() > out.size()) return 0;
      std::copy(response.begin(), response.end(), out.begin());
      return response.size();
    }
    worker_.update_handler->handle_later({message.begin(), message.end()},
                                         answer::Transport::udp, address_text(peers_[slot]),
                                         deferred_reply(slot));
  } catch (const std::exception&) {
    // Out of memory: no response, as for a datagram lost; the sender retries.
  }
  return 0;
}

// IXFR over UDP (RFC 1995 §2) is answered here, at once: the SOA alone or TC.
std::size_t UdpListener::answer_ixfr(std::size_t slot, std::span<const std::uint8_t> message,
                                     std::span<std::uint8_t> out) noexcept {
  try {
    return worker_.transfer_handler->answer_datagram(message, out, address_text(peers_[slot]));
  } catch (const std::exception&) {
    return 0;  // out of memory for the address: as a datagram lost
  }
}

answer::UpdateReply UdpListener::deferred_reply(std::size_t slot) {
  struct Destination {
    sockaddr_storage peer;
    socklen_t peer_length;
    Control control;
    std::size_t control_length;
  };
  auto destination = std::make_shared<Destination>();
  destination->peer = peers_[slot];
  destination->peer_length = rx_[slot].msg_hdr.msg_namelen;
  destination->control_length = reply_control(slot, destination->control);
  return [fd = fd_, owner = fd_owner_, destination](std::vector<std::uint8_t> response) {
    if (response.empty()) return;
    iovec data{response.data(), response.size()};
    msghdr reply{};
    reply.msg_name = &destination->peer;
    reply.msg_namelen = destination->peer_length;
    reply.msg_iov = &data;
    reply.msg_iovlen = 1;
    reply.msg_control = destination->control_length != 0 ? destination->control.bytes : nullptr;
    reply.msg_controllen = destination->control_length;
    // Lost like any datagram when it cannot be sent; the sender retries.
    ::sendmsg(fd, &reply, MSG_DONTWAIT);
  };
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
