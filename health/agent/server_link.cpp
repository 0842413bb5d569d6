// Requests to one server over UDP (retransmitted) or TCP, replies matched by id.
#include "health/agent/server_link.hpp"

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

namespace signpost::health::agent {

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;

namespace {

constexpr std::size_t kHeaderSize = 12;

std::uint16_t id_of(const std::vector<std::uint8_t>& message) {
  return static_cast<std::uint16_t>((message[0] << 8) | message[1]);
}

}  // namespace

struct ServerLink::Pending {
  explicit Pending(asio::io_context& io) : timer(io), tcp_socket(io) {}
  std::vector<std::uint8_t> message;
  ExchangeLimits limits;
  Done done;
  int attempts_left = 0;
  asio::steady_timer timer;
  tcp::socket tcp_socket;
  std::vector<std::uint8_t> tcp_frame;  // the length prefix and message, then the reply
};

ServerLink::ServerLink(asio::io_context& io, ServerAddress server)
    : io_(io),
      server_(std::move(server)),
      udp_endpoint_(asio::ip::make_address(server_.address), server_.port),
      tcp_endpoint_(udp_endpoint_.address(), server_.port),
      socket_(io),
      receive_buffer_(65535) {}

ServerLink::~ServerLink() { close(); }

void ServerLink::open() {
  socket_.open(udp_endpoint_.protocol());
  // Connected, so that the kernel drops datagrams from anyone but the server.
  socket_.connect(udp_endpoint_);
  do_receive();
}

void ServerLink::close() {
  closed_ = true;
  boost::system::error_code ignored;
  socket_.close(ignored);
  for (auto& [id, pending] : pending_) {
    pending->timer.cancel();
    pending->tcp_socket.close(ignored);
  }
  pending_.clear();
}

void ServerLink::send(std::vector<std::uint8_t> message, ExchangeLimits limits, Done done) {
  const std::uint16_t id = id_of(message);
  auto pending = std::make_unique<Pending>(io_);
  pending->message = std::move(message);
  pending->limits = limits;
  pending->done = std::move(done);
  pending->attempts_left = limits.attempts;
  const bool large = pending->message.size() > kMaxUdpMessage;
  pending_[id] = std::move(pending);
  if (large) {
    do_tcp(id);
  } else {
    do_udp_attempt(id);
  }
}

void ServerLink::cancel(std::uint16_t id) {
  const auto found = pending_.find(id);
  if (found == pending_.end()) return;
  boost::system::error_code ignored;
  found->second->timer.cancel();
  found->second->tcp_socket.close(ignored);
  pending_.erase(found);
}

void ServerLink::do_receive() {
  std::weak_ptr<ServerLink> weak = weak_from_this();
  socket_.async_receive(asio::buffer(receive_buffer_),
                        [weak](const boost::system::error_code& error, std::size_t size) {
                          auto self = weak.lock();
                          if (!self || self->closed_ || error == asio::error::operation_aborted) {
                            return;
                          }
                          // An ICMP error (connection refused) is left to the timeouts: it
                          // may belong to an older datagram.
                          if (!error) self->on_datagram(size);
                          self->do_receive();
                        });
}

void ServerLink::on_datagram(std::size_t size) {
  if (size < kHeaderSize) return;
  std::vector<std::uint8_t> reply(receive_buffer_.begin(),
                                  receive_buffer_.begin() + static_cast<std::ptrdiff_t>(size));
  const std::uint16_t id = id_of(reply);
  const bool response = (reply[2] & 0x80) != 0;
  const bool truncated = (reply[2] & 0x02) != 0;
  const auto found = pending_.find(id);
  if (!response || found == pending_.end() || found->second->tcp_socket.is_open()) return;
  if (truncated) {
    do_tcp(id);  // RFC 2181 §9: a truncated reply is retried over TCP
    return;
  }
  complete(id, Exchange{true, std::move(reply), {}});
}

void ServerLink::do_udp_attempt(std::uint16_t id) {
  Pending& pending = *pending_.at(id);
  --pending.attempts_left;
  boost::system::error_code ignored;
  socket_.send(asio::buffer(pending.message), 0, ignored);  // a datagram never blocks long
  pending.timer.expires_after(pending.limits.attempt_timeout);
  std::weak_ptr<ServerLink> weak = weak_from_this();
  pending.timer.async_wait([weak, id](const boost::system::error_code& error) {
    auto self = weak.lock();
    if (error || !self || self->closed_ || self->pending_.count(id) == 0) return;
    if (self->pending_.at(id)->attempts_left > 0) {
      self->do_udp_attempt(id);
    } else {
      self->complete(id, Exchange{false, {}, "no reply"});
    }
  });
}

// One TCP connection, two-octet length prefixes (RFC 1035 §4.2.2), bounded by the time all
// UDP attempts would have had.
void ServerLink::do_tcp(std::uint16_t id) {
  Pending& pending = *pending_.at(id);
  const std::size_t size = pending.message.size();
  pending.tcp_frame = {static_cast<std::uint8_t>(size >> 8), static_cast<std::uint8_t>(size)};
  pending.tcp_frame.insert(pending.tcp_frame.end(), pending.message.begin(), pending.message.end());
  pending.timer.expires_after(pending.limits.attempt_timeout *
                              std::max(1, pending.limits.attempts));
  std::weak_ptr<ServerLink> weak = weak_from_this();
  pending.timer.async_wait([weak, id](const boost::system::error_code& error) {
    if (error) return;
    if (auto self = weak.lock(); self && self->live(id)) {
      self->complete(id, Exchange{false, {}, "no reply over TCP"});
    }
  });
  pending.tcp_socket.async_connect(tcp_endpoint_,
                                   [weak, id](const boost::system::error_code& error) {
                                     if (auto self = weak.lock())
                                       self->on_tcp_step(id, TcpStep::connected, error);
                                   });
}

ServerLink::Pending* ServerLink::live(std::uint16_t id) {
  if (closed_) return nullptr;
  const auto found = pending_.find(id);
  return found == pending_.end() ? nullptr : found->second.get();
}

// connected -> request written -> length read -> reply read.
void ServerLink::on_tcp_step(std::uint16_t id, TcpStep step,
                             const boost::system::error_code& error) {
  Pending* pending = live(id);
  if (pending == nullptr) return;
  if (error) {
    complete(id, Exchange{false, {}, "TCP: " + error.message()});
    return;
  }
  std::weak_ptr<ServerLink> weak = weak_from_this();
  const auto next = [weak, id](TcpStep following) {
    return [weak, id, following](const boost::system::error_code& failure, std::size_t) {
      if (auto self = weak.lock()) self->on_tcp_step(id, following, failure);
    };
  };
  switch (step) {
    case TcpStep::connected:
      asio::async_write(pending->tcp_socket, asio::buffer(pending->tcp_frame),
                        next(TcpStep::written));
      break;
    case TcpStep::written:
      pending->tcp_frame.assign(2, 0);
      asio::async_read(pending->tcp_socket, asio::buffer(pending->tcp_frame),
                       next(TcpStep::length_read));
      break;
    case TcpStep::length_read:
      pending->tcp_frame.assign(
          static_cast<std::size_t>((pending->tcp_frame[0] << 8) | pending->tcp_frame[1]), 0);
      asio::async_read(pending->tcp_socket, asio::buffer(pending->tcp_frame),
                       next(TcpStep::reply_read));
      break;
    case TcpStep::reply_read: {
      std::vector<std::uint8_t> reply = std::move(pending->tcp_frame);
      complete(id, Exchange{true, std::move(reply), {}});
      break;
    }
  }
}

void ServerLink::complete(std::uint16_t id, Exchange exchange) {
  const auto found = pending_.find(id);
  if (found == pending_.end()) return;
  std::unique_ptr<Pending> pending = std::move(found->second);
  pending_.erase(found);
  boost::system::error_code ignored;
  pending->timer.cancel();
  pending->tcp_socket.close(ignored);
  if (pending->done) pending->done(std::move(exchange));
}

}  // namespace signpost::health::agent
