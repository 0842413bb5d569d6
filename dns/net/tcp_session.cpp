// One DNS-over-TCP connection.
#include "dns/net/tcp_session.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <algorithm>
#include <cstring>
#include <span>
#include <utility>

#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>

namespace signpost::dns::net {

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

// Room for several small queries; grows to 2 + 65,535 octets for the largest message.
constexpr std::size_t kInitialBuffer = 4096;
// Framed answers a client may leave unread before we stop reading its queries.
constexpr std::size_t kMaxPending = 256 * 1024;
// Octets written but not yet sent that the kernel holds for one connection
// (TCP_NOTSENT_LOWAT): a write completes as the peer reads, not once a buffer of megabytes
// has taken the whole of a zone, so progress on a transfer is seen often (the idle rule
// counts it) and a peer that stops reading ties up this much, not the zone.
constexpr int kUnsentLimit = 128 * 1024;
// Forwarded queries of one connection waiting for their answers before we stop reading its
// queries, so that one client cannot take every slot the forwarder has.
constexpr std::size_t kMaxForwarding = 64;

std::size_t frame_length(const std::uint8_t* at) noexcept {
  return static_cast<std::size_t>(at[0]) << 8 | at[1];
}

}  // namespace

TcpSession::TcpSession(tcp::socket socket, WorkerState& state, const ClientAddress& client)
    : socket_(std::move(socket)),
      idle_timer_(socket_.get_executor()),
      state_(state),
      client_(client),
      in_(kInitialBuffer) {}

TcpSession::~TcpSession() { state_.tcp_limit.release(client_); }

void TcpSession::start() {
  boost::system::error_code ignored;
  // Answers are written whole; do not hold them back waiting for more (Nagle).
  socket_.set_option(tcp::no_delay(true), ignored);
  socket_.set_option(asio::detail::socket_option::integer<IPPROTO_TCP, TCP_NOTSENT_LOWAT>(
                         kUnsentLimit),
                     ignored);
  await_message();
  do_idle_wait();
  do_read();
}

void TcpSession::do_read() {
  // A full buffer holds whole frames waiting for an UPDATE's response: read on after it.
  if (closed_ || eof_ || reading_ || pending_.size() >= kMaxPending || in_used_ == in_.size()) {
    return;
  }
  reading_ = true;
  socket_.async_read_some(asio::buffer(in_.data() + in_used_, in_.size() - in_used_),
                          [self = shared_from_this()](const boost::system::error_code& error,
                                                      std::size_t length) {
                            self->on_read(error, length);
                          });
}

void TcpSession::on_read(const boost::system::error_code& error, std::size_t length) {
  reading_ = false;
  if (closed_) return;
  if (error == asio::error::eof) {
    eof_ = true;  // the client is done sending; answer what it sent, then close
    finish_if_done();
    return;
  }
  if (error) {
    close();
    return;
  }
  // Octets alone do not move the deadline: only a whole message does (answer_frames).
  in_used_ += length;
  if (!answer_frames()) {
    ++state_.counters.tcp_bad_framing;
    close();
    return;
  }
  do_write();
  do_read();
}

bool TcpSession::answer_frames() {
  std::size_t start = 0;
  // One transfer at a time per connection: its response may be as large as the zone, so
  // the frames behind it wait until it is back (and then until it is written).
  while (in_used_ - start >= 2 && pending_.size() < kMaxPending && forwarding_ < kMaxForwarding &&
         !transfer_in_flight_) {
    const std::size_t length = frame_length(in_.data() + start);
    if (length == 0) return false;
    if (in_used_ - start < 2 + length) break;
    const std::span<const std::uint8_t> message(in_.data() + start + 2, length);
    start += 2 + length;
    if (state_.update_handler != nullptr && is_update(message)) {
      answer_update(message);
      continue;
    }
    if (state_.transfer_handler != nullptr && is_transfer(message)) {
      answer_transfer(message);
      continue;
    }
    const std::size_t answer = state_.respond(message, state_.tcp_tx, answer::Transport::tcp,
                                              client_);
    // A query that must be dropped gets no answer; the connection carries on.
    if (answer != 0) {
      append_frame(state_.tcp_tx.data(), answer);
    } else if (state_.context.forward_query) {
      forward_query(message);
    }
  }
  if (start != 0) {
    std::memmove(in_.data(), in_.data() + start, in_used_ - start);
    in_used_ -= start;
    await_message();
  }
  // Make room for the whole of a frame that has only begun to arrive.
  if (in_used_ >= 2) {
    const std::size_t needed = 2 + frame_length(in_.data());
    if (needed > in_.size()) in_.resize(needed);
  }
  return true;
}

// An UPDATE answered at once keeps its place among the answers. Any other is handled on
// another thread and its response comes back to this session's thread when it is ready, out
// of order with the answers around it, as RFC 7766 §7 allows (clients match by ID).
void TcpSession::answer_update(std::span<const std::uint8_t> message) {
  boost::system::error_code error;  // a peer already gone: its address is left empty
  std::vector<std::uint8_t> response;
  if (state_.update_handler->try_handle(message, answer::Transport::tcp, response)) {
    if (!response.empty()) append_frame(response.data(), response.size());
    return;
  }
  auto reply = [self = shared_from_this(), executor = socket_.get_executor()](
                   std::vector<std::uint8_t> later) mutable {
    // The session moves into the handler, so that it is destroyed on its own thread.
    asio::post(executor, [self = std::move(self), later = std::move(later)] {
      if (self->closed_ || later.empty()) return;
      self->append_frame(later.data(), later.size());
      self->do_write();
    });
  };
  std::string from = socket_.remote_endpoint(error).address().to_string();
  state_.update_handler->handle_later({message.begin(), message.end()}, answer::Transport::tcp,
                                      std::move(from), std::move(reply));
}

// Like an UPDATE handled later, the response comes back out of order (RFC 7766 §7). Until it
// has, the connection stays open even once the client has finished sending.
void TcpSession::forward_query(std::span<const std::uint8_t> message) {
  if (state_.forwarder == nullptr) return;
  auto reply = [self = shared_from_this(), executor = socket_.get_executor()](
                   std::vector<std::uint8_t> later) mutable {
    // The session moves into the handler, so that it is destroyed on its own thread.
    asio::post(executor, [self = std::move(self), later = std::move(later)] {
      --self->forwarding_;
      if (self->closed_) return;
      if (!later.empty()) self->append_frame(later.data(), later.size());
      self->resume();  // reads on if the limit held queries back; closes if done
    });
  };
  ++forwarding_;
  try {
    state_.forwarder->forward({message.begin(), message.end()}, answer::Transport::tcp,
                              std::move(reply));
  } catch (...) {
    --forwarding_;
    throw;
  }
}

// A transfer is built on the transfer thread and its messages, framed, come back here to be
// written as the socket takes them; meanwhile this session reads on (RFC 7766 §7).
void TcpSession::answer_transfer(std::span<const std::uint8_t> message) {
  boost::system::error_code error;  // a peer already gone: its address is left empty
  auto reply = [self = shared_from_this(), executor = socket_.get_executor()](
                   std::vector<std::uint8_t> framed) mutable {
    asio::post(executor, [self = std::move(self), framed = std::move(framed)] {
      self->transfer_in_flight_ = false;
      if (self->closed_) return;
      self->pending_.insert(self->pending_.end(), framed.begin(), framed.end());
      self->resume();  // writes it, and takes the frames that waited behind it
    });
  };
  transfer_in_flight_ = true;
  std::string from = socket_.remote_endpoint(error).address().to_string();
  state_.transfer_handler->handle_later({message.begin(), message.end()}, std::move(from),
                                        std::move(reply));
}

void TcpSession::append_frame(const std::uint8_t* data, std::size_t length) {
  pending_.push_back(static_cast<std::uint8_t>(length >> 8));
  pending_.push_back(static_cast<std::uint8_t>(length));
  pending_.insert(pending_.end(), data, data + length);
}

void TcpSession::do_write() {
  if (closed_ || !writing_.empty() || pending_.empty()) return;
  writing_.swap(pending_);
  written_ = 0;
  do_write_some();
}

// Writes as much as the socket takes now, not the whole buffer at once: each completed
// write is progress that moves the deadline, so a transfer read slowly is not cut off as
// idle, while a peer that stops reading leaves a write pending until the deadline passes.
void TcpSession::do_write_some() {
  socket_.async_write_some(
      asio::buffer(writing_.data() + written_, writing_.size() - written_),
      [self = shared_from_this()](const boost::system::error_code& error, std::size_t length) {
        self->on_write(error, length);
      });
}

void TcpSession::on_write(const boost::system::error_code& error, std::size_t length) {
  if (closed_) return;
  if (error) {
    close();
    return;
  }
  written_ += length;
  await_message();
  if (written_ < writing_.size()) {
    do_write_some();
    return;
  }
  writing_.clear();
  // Queries held back while answers piled up can go now; taking one restarts the wait.
  resume();
}

void TcpSession::resume() {
  if (!answer_frames()) {
    ++state_.counters.tcp_bad_framing;
    close();
    return;
  }
  do_write();
  do_read();
  finish_if_done();
}

void TcpSession::do_idle_wait() {
  idle_timer_.expires_at(deadline_);
  idle_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& error) {
    self->on_idle(error);
  });
}

// One timer per connection, re-armed only when it fires: each message taken just moves the
// deadline, which costs no timer operation.
void TcpSession::on_idle(const boost::system::error_code& error) {
  if (closed_ || error == asio::error::operation_aborted) return;
  // A transfer being built is work in progress, not an idle client: its writes, once it
  // is back, are what the deadline then watches.
  if (transfer_in_flight_) await_message();
  if (std::chrono::steady_clock::now() >= deadline_) {
    ++state_.counters.tcp_idle_closed;
    close();
    return;
  }
  do_idle_wait();
}

void TcpSession::finish_if_done() {
  if (!eof_ || closed_ || forwarding_ != 0 || !writing_.empty() || !pending_.empty() ||
      transfer_in_flight_) {
    return;
  }
  boost::system::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_send, ignored);
  close();
}

void TcpSession::close() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  socket_.close(ignored);
  idle_timer_.cancel();
}

}  // namespace signpost::dns::net
