// DNS over TCP: the acceptor.
#include "dns/net/tcp_listener.hpp"

#include <memory>

#include "dns/net/tcp_session.hpp"

namespace signpost::dns::net {

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

// After a failed accept (out of file descriptors, say) the connection stays queued; wait a
// little before trying again instead of spinning.
constexpr std::chrono::milliseconds kAcceptRetry{100};
constexpr std::chrono::minutes kWarningInterval{1};

// IPv4 addresses as IPv4-mapped IPv6 ones, so that a client is one key whichever family
// its listener has.
ClientAddress client_address(const asio::ip::address& address) {
  if (address.is_v6()) return address.to_v6().to_bytes();
  return asio::ip::make_address_v6(asio::ip::v4_mapped, address.to_v4()).to_bytes();
}

}  // namespace

TcpListener::TcpListener(asio::io_context& io, WorkerState& state, const ListenEndpoint& endpoint)
    : acceptor_(io), retry_(io), state_(state), name_(endpoint_text(endpoint)) {
  boost::system::error_code error;
  const asio::ip::address address = asio::ip::make_address(endpoint.address, error);
  if (error) throw listen_error(endpoint, "TCP", error.message());
  const tcp::endpoint local(address, endpoint.port);
  acceptor_.open(local.protocol(), error);
  const auto enable = [&](int level, int name) {
    if (error) return;
    if (const int code = enable_socket_option(acceptor_.native_handle(), level, name)) {
      error.assign(code, boost::system::system_category());
    }
  };
  // SO_REUSEADDR lets a restart bind while old connections linger in TIME_WAIT.
  enable(SOL_SOCKET, SO_REUSEADDR);
  enable(SOL_SOCKET, SO_REUSEPORT);
  if (address.is_v6()) enable(IPPROTO_IPV6, IPV6_V6ONLY);
  if (!error) acceptor_.bind(local, error);
  if (!error) acceptor_.listen(asio::socket_base::max_listen_connections, error);
  if (error) throw listen_error(endpoint, "TCP", error.message());
}

void TcpListener::do_accept() {
  acceptor_.async_accept([this](const boost::system::error_code& error, tcp::socket socket) {
    on_accept(error, std::move(socket));
  });
}

void TcpListener::on_accept(const boost::system::error_code& error, tcp::socket socket) {
  if (error == asio::error::operation_aborted || !acceptor_.is_open()) return;
  if (error) {
    if (warning_due(next_accept_warning_)) {
      state_.log("TCP " + name_ + ": accepting a connection failed: " + error.message());
    }
    retry_.expires_after(kAcceptRetry);
    retry_.async_wait([this](const boost::system::error_code& e) { on_retry(e); });
    return;
  }
  do_accept();
  ClientAddress client{};
  if (!admit(socket, client)) {
    boost::system::error_code ignored;
    socket.close(ignored);
    return;
  }
  ++state_.counters.tcp_accepted;
  std::shared_ptr<TcpSession> session;
  try {
    session = std::make_shared<TcpSession>(std::move(socket), state_, client);
  } catch (const std::bad_alloc&) {
    state_.tcp_limit.release(client);  // the session that would own the slot does not exist
    return;
  }
  session->start();
}

bool TcpListener::admit(const tcp::socket& socket, ClientAddress& client) {
  boost::system::error_code error;
  const tcp::endpoint remote = socket.remote_endpoint(error);
  if (error) return false;  // the client has already gone (reset before we got to it)
  client = client_address(remote.address());
  switch (state_.tcp_limit.try_acquire(client)) {
    case ConnectionLimit::Admission::accepted:
      return true;
    case ConnectionLimit::Admission::server_full:
      ++state_.counters.tcp_refused;
      if (warning_due(next_server_full_warning_)) {
        state_.log("TCP " + name_ + ": " + std::to_string(state_.tcp_limit.max()) +
                   " connections are open (server.tcp_max_clients); closing new ones");
      }
      return false;
    case ConnectionLimit::Admission::client_full:
      ++state_.counters.tcp_client_refused;
      if (warning_due(next_client_full_warning_)) {
        state_.log("TCP " + name_ + ": " + std::to_string(state_.tcp_limit.max_per_client()) +
                   " connections from " + remote.address().to_string() +
                   " are open (server.tcp_max_per_client); closing new ones from it");
      }
      return false;
  }
  return false;
}

void TcpListener::on_retry(const boost::system::error_code& error) {
  if (!error) do_accept();
}

bool TcpListener::warning_due(std::chrono::steady_clock::time_point& next) {
  const auto now = std::chrono::steady_clock::now();
  if (now < next) return false;
  next = now + kWarningInterval;
  return true;
}

}  // namespace signpost::dns::net
