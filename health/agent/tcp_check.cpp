// The tcp check: passing when a connection opens within the timeout.
#include "health/agent/socket_run.hpp"

namespace signpost::health::agent {

namespace {

class TcpRun final : public SocketRun {
 public:
  using SocketRun::SocketRun;

 private:
  void on_connected() override { finish({registry::Health::passing, "connected to " + where()}); }
};

}  // namespace

std::shared_ptr<CheckRun> start_tcp_check(boost::asio::io_context& io, const CheckConfig& check,
                                          CheckDone done) {
  const HostPort target = parse_host_port(check.target);
  auto run = std::make_shared<TcpRun>(io, target.host, target.port, check.timeout, std::move(done));
  run->start();
  return run;
}

}  // namespace signpost::health::agent
