// Requests to one server over UDP (retransmitted, each retry built and signed anew) or TCP,
// replies matched by id.
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
  Encode encode;
  std::vector<std::uint8_t> message;  // the latest transmission's
  std::uint16_t id = 0;               // its message id
  std::vector<std::uint16_t> ids;     // every transmission's, for ids_
  ExchangeLimits limits;
  Done done;
  int attempts_left = 0;
  asio::steady_timer timer;
  tcp::socket tcp_socket;
  std::vector<std::uint8_t> tcp_frame;  // the length prefix and message, then the reply
};

ServerLink::ServerLink(asio::io_context& io, ServerAddress server, std::uint32_t seed)
    : io_(io),
      server_(std::move(server)),
      udp_endpoint_(asio::ip::make_address(server_.address), server_.port),
      tcp_endpoint_(udp_endpoint_.address(), server_.port),
      socket_(io),
      receive_buffer_(65535),
      random_(seed) {}

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
  for (auto& [request, pending] : pending_) {
    pending->timer.cancel();
    pending->tcp_socket.close(ignored);
  }
  pending_.clear();
  ids_.clear();
}

// Builds the request's next transmission with a message id that no pending request uses; a
// reply to an earlier one still answers the request, so its ids stay taken until it ends.
bool ServerLink::encode_next(RequestId request, Pending& pending) {
  if (ids_.size() > 0xffff) return false;  // every id taken: no message can be told apart
  std::uniform_int_distribution<int> pick(0, 0xffff);
  std::uint16_t id = 0;
  do {
    id = static_cast<std::uint16_t>(pick(random_));
  } while (ids_.count(id) != 0);
  std::vector<std::uint8_t> message = pending.encode(id);
  if (message.size() < kHeaderSize || id_of(message) != id) return false;
  pending.message = std::move(message);
  pending.id = id;
  pending.ids.push_back(id);
  ids_[id] = request;
  return true;
}

std::optional<ServerLink::RequestId> ServerLink::send(Encode encode, ExchangeLimits limits,
                                                      Done done) {
  const RequestId request = next_request_++;
  auto pending = std::make_unique<Pending>(io_);
  pending->encode = std::move(encode);
  pending->limits = limits;
  pending->done = std::move(done);
  pending->attempts_left = limits.attempts;
  if (!encode_next(request, *pending)) return std::nullopt;
  const bool large = pending->message.size() > kMaxUdpMessage;
  pending_[request] = std::move(pending);
  if (large) {
    do_tcp(request);
  } else {
    do_udp_attempt(request);
  }
  return request;
}

void ServerLink::cancel(RequestId request) {
  const auto found = pending_.find(request);
  if (found == pending_.end()) return;
  boost::system::error_code ignored;
  found->second->timer.cancel();
  found->second->tcp_socket.close(ignored);
  for (const std::uint16_t id : found->second->ids) ids_.erase(id);
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
  const auto found = ids_.find(id);
  if (!response || found == ids_.end()) return;
  const RequestId request = found->second;
  Pending* pending = live(request);
  if (pending == nullptr || pending->tcp_socket.is_open()) return;
  if (truncated) {
    // RFC 2181 §9: a truncated reply is retried over TCP, built anew as every retry is.
    if (encode_next(request, *pending)) {
      do_tcp(request);
    } else {
      complete(request, Exchange{false, {}, "cannot build the request", id});
    }
    return;
  }
  complete(request, Exchange{true, std::move(reply), {}, id});
}

void ServerLink::do_udp_attempt(RequestId request) {
  Pending& pending = *pending_.at(request);
  --pending.attempts_left;
  boost::system::error_code ignored;
  socket_.send(asio::buffer(pending.message), 0, ignored);  // a datagram never blocks long
  pending.timer.expires_after(pending.limits.attempt_timeout);
  std::weak_ptr<ServerLink> weak = weak_from_this();
  pending.timer.async_wait([weak, request](const boost::system::error_code& error) {
    auto self = weak.lock();
    if (error || !self) return;
    Pending* waiting = self->live(request);
    if (waiting == nullptr) return;
    if (waiting->attempts_left == 0) {
      self->complete(request, Exchange{false, {}, "no reply", waiting->id});
    } else if (!self->encode_next(request, *waiting)) {
      self->complete(request, Exchange{false, {}, "cannot build the request", waiting->id});
    } else {
      self->do_udp_attempt(request);
    }
  });
}

// One TCP connection, two-octet length prefixes (RFC 1035 §4.2.2), bounded by the time all
// UDP attempts would have had. Sends the transmission encoded last.
void ServerLink::do_tcp(RequestId request) {
  Pending& pending = *pending_.at(request);
  const std::size_t size = pending.message.size();
  pending.tcp_frame = {static_cast<std::uint8_t>(size >> 8), static_cast<std::uint8_t>(size)};
  pending.tcp_frame.insert(pending.tcp_frame.end(), pending.message.begin(), pending.message.end());
  pending.timer.expires_after(pending.limits.attempt_timeout *
                              std::max(1, pending.limits.attempts));
  std::weak_ptr<ServerLink> weak = weak_from_this();
  pending.timer.async_wait([weak, request](const boost::system::error_code& error) {
    if (error) return;
    auto self = weak.lock();
    if (Pending* waiting = self ? self->live(request) : nullptr) {
      self->complete(request, Exchange{false, {}, "no reply over TCP", waiting->id});
    }
  });
  pending.tcp_socket.async_connect(tcp_endpoint_,
                                   [weak, request](const boost::system::error_code& error) {
                                     if (auto self = weak.lock())
                                       self->on_tcp_step(request, TcpStep::connected, error);
                                   });
}

ServerLink::Pending* ServerLink::live(RequestId request) {
  if (closed_) return nullptr;
  const auto found = pending_.find(request);
  return found == pending_.end() ? nullptr : found->second.get();
}

// connected -> request written -> length read -> reply read.
void ServerLink::on_tcp_step(RequestId request, TcpStep step,
                             const boost::system::error_code& error) {
  Pending* pending = live(request);
  if (pending == nullptr) return;
  if (error) {
    complete(request, Exchange{false, {}, "TCP: " + error.message(), pending->id});
    return;
  }
  std::weak_ptr<ServerLink> weak = weak_from_this();
  const auto next = [weak, request](TcpStep following) {
    return [weak, request, following](const boost::system::error_code& failure, std::size_t) {
      if (auto self = weak.lock()) self->on_tcp_step(request, following, failure);
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
      complete(request, Exchange{true, std::move(reply), {}, pending->id});
      break;
    }
  }
}

void ServerLink::complete(RequestId request, Exchange exchange) {
  const auto found = pending_.find(request);
  if (found == pending_.end()) return;
  std::unique_ptr<Pending> pending = std::move(found->second);
  pending_.erase(found);
  for (const std::uint16_t id : pending->ids) ids_.erase(id);
  boost::system::error_code ignored;
  pending->timer.cancel();
  pending->tcp_socket.close(ignored);
  if (pending->done) pending->done(std::move(exchange));
}

}  // namespace signpost::health::agent
