// A DNS worker: its thread, io_context, listeners and snapshot swap.
#include "dns/net/worker.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "dns/net/tcp_listener.hpp"
#include "dns/net/udp_listener.hpp"
#include "dns/wire/message.hpp"
#include "dns/wire/reader.hpp"
#include "dns/wire/types.hpp"

namespace signpost::dns::net {

namespace {

namespace asio = boost::asio;

// Largest DNS message, and so the largest TCP answer (RFC 1035 §4.2.2).
constexpr std::size_t kMaxMessage = 65535;
// Attempts at finding a port that is free for both UDP and TCP when port 0 is asked for.
constexpr int kPortAttempts = 8;

// Binds a plain UDP socket and a plain TCP socket on `endpoint`, then lets both go.
std::uint16_t try_port(const ListenEndpoint& endpoint, const asio::ip::address& address,
                       boost::system::error_code& error, const char*& transport) {
  asio::io_context io;
  asio::ip::udp::socket udp(io);
  transport = "UDP";
  udp.open(address.is_v6() ? asio::ip::udp::v6() : asio::ip::udp::v4(), error);
  if (!error && address.is_v6()) udp.set_option(asio::ip::v6_only(true), error);
  if (!error) udp.bind({address, endpoint.port}, error);
  if (error) return 0;
  const std::uint16_t port = udp.local_endpoint().port();
  asio::ip::tcp::acceptor tcp(io);
  transport = "TCP";
  tcp.open(address.is_v6() ? asio::ip::tcp::v6() : asio::ip::tcp::v4(), error);
  if (!error && address.is_v6()) tcp.set_option(asio::ip::v6_only(true), error);
  if (!error) tcp.set_option(asio::socket_base::reuse_address(true), error);
  if (!error) tcp.bind({address, port}, error);
  return error ? 0 : port;
}

}  // namespace

std::string endpoint_text(const ListenEndpoint& endpoint) {
  const bool ipv6 = endpoint.address.find(':') != std::string::npos;
  return (ipv6 ? "[" + endpoint.address + "]" : endpoint.address) + ":" +
         std::to_string(endpoint.port);
}

std::string address_text(const sockaddr_storage& address) {
  char text[INET6_ADDRSTRLEN] = {};
  if (address.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(address).sin_addr, text, sizeof text);
  } else if (address.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(address).sin6_addr, text,
              sizeof text);
  }
  return text;
}

NetError listen_error(const ListenEndpoint& endpoint, std::string_view transport,
                      const std::string& reason) {
  return NetError("cannot listen on " + endpoint_text(endpoint) + " (" + std::string(transport) +
                  "): " + reason);
}

int enable_socket_option(int fd, int level, int name) noexcept {
  const int on = 1;
  return setsockopt(fd, level, name, &on, sizeof on) == 0 ? 0 : errno;
}

std::uint16_t reserve_port(const ListenEndpoint& endpoint) {
  boost::system::error_code error;
  const asio::ip::address address = asio::ip::make_address(endpoint.address, error);
  if (error) throw listen_error(endpoint, "UDP", error.message());
  const char* transport = "UDP";
  for (int attempt = 0; attempt < kPortAttempts; ++attempt) {
    const std::uint16_t port = try_port(endpoint, address, error, transport);
    if (port != 0) return port;
    // With port 0 the UDP port the kernel picked may be taken for TCP: pick again.
    if (endpoint.port != 0 || std::string_view(transport) == "UDP") break;
  }
  throw listen_error(endpoint, transport, error.message());
}

bool is_update(std::span<const std::uint8_t> message) noexcept {
  constexpr std::uint8_t kQr = 0x80;
  constexpr std::uint8_t kOpcodeUpdate = 5;
  return message.size() >= 12 && (message[2] & kQr) == 0 &&
         ((message[2] >> 3) & 0x0f) == kOpcodeUpdate;
}

bool is_transfer(std::span<const std::uint8_t> message) noexcept {
  wire::Header header;
  if (!wire::parse_header(message, header) || header.has(wire::flag::kQr) ||
      header.opcode() != wire::opcode::kQuery || header.qdcount != 1) {
    return false;
  }
  std::size_t position = wire::kHeaderSize;
  wire::Name qname;
  std::uint16_t qtype = 0;
  std::uint16_t qclass = 0;
  wire::NameError name_error = wire::NameError::ok;
  if (wire::parse_question(message, position, qname, qtype, qclass, name_error) !=
      wire::MessageError::ok) {
    return false;
  }
  return qtype == wire::rrtype::kAxfr || qtype == wire::rrtype::kIxfr;
}

bool is_ixfr(std::span<const std::uint8_t> message) noexcept {
  // QR clear, opcode QUERY, QDCOUNT 1 (RFC 1035 §4.1.1).
  if (message.size() < wire::kHeaderSize + 5 || (message[2] & 0xf8) != 0 || message[4] != 0 ||
      message[5] != 1) {
    return false;
  }
  std::size_t at = wire::kHeaderSize;
  while (at < message.size() && message[at] != 0) {
    if (message[at] > 63) return false;  // a pointer or a bad label: not a transfer we serve
    at += 1 + message[at];
  }
  return at + 3 <= message.size() && wire::load_u16(message.data() + at + 1) == wire::rrtype::kIxfr;
}

std::size_t answer_signed(answer::SignedQueryHandler* handler, std::span<const std::uint8_t> query,
                          std::span<std::uint8_t> out, answer::Transport transport,
                          const registry::Snapshot& snapshot,
                          answer::AnswerContext& context) noexcept {
  if (handler != nullptr) return handler->handle(query, out, transport, snapshot, context);
  return answer::answer_error(query, out, transport, wire::rcode::kNotAuth, context);
}

NetCounters& NetCounters::operator+=(const NetCounters& other) noexcept {
  udp_received += other.udp_received;
  udp_sent += other.udp_sent;
  udp_send_failed += other.udp_send_failed;
  udp_oversized += other.udp_oversized;
  tcp_accepted += other.tcp_accepted;
  tcp_refused += other.tcp_refused;
  tcp_client_refused += other.tcp_client_refused;
  tcp_idle_closed += other.tcp_idle_closed;
  tcp_bad_framing += other.tcp_bad_framing;
  return *this;
}

void SnapshotMailbox::put(registry::SnapshotPtr snapshot) {
  auto* next = new registry::SnapshotPtr(std::move(snapshot));
  delete slot_.exchange(next, std::memory_order_acq_rel);
}

void SnapshotMailbox::take(registry::SnapshotPtr& current, const SnapshotReclaim& reclaim) noexcept {
  if (slot_.load(std::memory_order_relaxed) == nullptr) return;
  registry::SnapshotPtr* next = slot_.exchange(nullptr, std::memory_order_acq_rel);
  if (next == nullptr) return;
  current.swap(*next);
  // `*next` now holds the previous snapshot; its last reference may be costly to drop.
  try {
    if (reclaim) reclaim(std::move(*next));
  } catch (const std::exception&) {
    // Out of memory to hand it back: it is dropped below instead.
  }
  delete next;
}

WorkerState::WorkerState(const WorkerSettings& settings, registry::SnapshotPtr initial,
                         ConnectionLimit& limit, SnapshotReclaim give_back, NetLog net_log)
    : snapshot(std::move(initial)),
      reclaim(std::move(give_back)),
      context(settings.answer, settings.first_row, settings.seed),
      tcp_limit(limit),
      tcp_idle_timeout(settings.tcp_idle_timeout),
      log(std::move(net_log)),
      tcp_tx(kMaxMessage) {}

// Members are destroyed in reverse: the listeners stop their threads and close their
// sockets first, then the io_context destroys the handlers still queued (and with them any
// TCP sessions, which use `state`), and the state goes last.
struct Worker::Impl {
  Impl(const WorkerSettings& worker_settings, registry::SnapshotPtr snapshot,
       ConnectionLimit& limit, Reclaim give_back, NetLog net_log)
      : settings(worker_settings),
        state(settings, std::move(snapshot), limit, std::move(give_back), std::move(net_log)),
        index(settings.index) {}

  void run();
  // Takes a new snapshot when TCP has been idle (see kIdleSnapshotCheck).
  void do_idle_check();

  WorkerSettings settings;
  WorkerState state;
  std::size_t index;
  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  asio::steady_timer idle_check{io};
  std::vector<std::unique_ptr<UdpListener>> udp;
  std::vector<std::unique_ptr<TcpListener>> tcp;
  std::thread thread;
};

void Worker::Impl::run() {
  for (;;) {
    try {
      io.run();
      return;
    } catch (const std::exception& e) {
      // Handlers do not throw on the query path; this is a bug or memory exhaustion. Keep
      // serving: the handlers that did not throw are still queued.
      state.log("worker " + std::to_string(index) + ": " + e.what());
    }
  }
}

void Worker::Impl::do_idle_check() {
  idle_check.expires_after(kIdleSnapshotCheck);
  idle_check.async_wait([this](const boost::system::error_code& error) {
    if (error) return;
    state.published.take(state.snapshot, state.reclaim);
    do_idle_check();
  });
}

Worker::Worker(const WorkerSettings& settings, registry::SnapshotPtr snapshot,
               ConnectionLimit& tcp_limit, Reclaim reclaim, NetLog log)
    : impl_(std::make_unique<Impl>(settings, std::move(snapshot), tcp_limit, std::move(reclaim),
                                   std::move(log))) {}

Worker::~Worker() { stop(); }

void Worker::listen(const ListenEndpoint& endpoint) {
  const std::size_t row = impl_->settings.first_row + 1 + impl_->udp.size();
  impl_->udp.push_back(std::make_unique<UdpListener>(impl_->settings, row, impl_->state, endpoint));
  impl_->tcp.push_back(std::make_unique<TcpListener>(impl_->io, impl_->state, endpoint));
}

void Worker::set_update_handler(answer::UpdateHandler* handler) noexcept {
  impl_->state.update_handler = handler;
}

void Worker::set_signed_query_handler(answer::SignedQueryHandler* handler) noexcept {
  impl_->state.signed_query_handler = handler;
}

void Worker::set_forwarder(answer::Forwarder* forwarder) noexcept {
  impl_->state.forwarder = forwarder;
}

void Worker::set_transfer_handler(TransferHandler* handler) noexcept {
  impl_->state.transfer_handler = handler;
}

// Threads are named for top -H and perf: "dns-udp-<worker>" for the UDP socket of the first
// listen address ("dns-udp-<worker>-<n>" for the others), "dns-tcp-<worker>" for TCP.
void Worker::start() {
  if (impl_->thread.joinable()) return;
  const std::string index = std::to_string(impl_->index);
  for (std::size_t i = 0; i < impl_->udp.size(); ++i) {
    impl_->udp[i]->start("dns-udp-" + index + (i == 0 ? "" : "-" + std::to_string(i)));
  }
  for (auto& listener : impl_->tcp) listener->start();
  impl_->do_idle_check();
  impl_->thread = std::thread([impl = impl_.get(), name = "dns-tcp-" + index] {
    pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
    impl->run();
  });
}

void Worker::stop() {
  if (!impl_) return;
  for (auto& listener : impl_->udp) listener->stop();
  if (!impl_->thread.joinable()) return;
  impl_->io.stop();
  impl_->thread.join();
}

void Worker::publish(registry::SnapshotPtr snapshot) {
  for (auto& listener : impl_->udp) listener->publish(snapshot);
  impl_->state.published.put(std::move(snapshot));
}

answer::AnswerCounters Worker::answer_counters() const noexcept {
  answer::AnswerCounters sum = impl_->state.context.counters;
  for (const auto& listener : impl_->udp) sum += listener->answer_counters();
  return sum;
}

NetCounters Worker::net_counters() const noexcept {
  NetCounters sum = impl_->state.counters;
  for (const auto& listener : impl_->udp) sum += listener->net_counters();
  return sum;
}

}  // namespace signpost::dns::net
