// A real etcd for the etcd client's tests: /usr/bin/etcd (from PATH) on free loopback ports
// with a data directory of its own, started, killed and restarted by pid.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "registry/backend/etcd/etcd_types.hpp"

namespace signpost::test {

/// One single-member etcd cluster. Test thread only; allocates.
class EtcdServer {
 public:
  /// Picks free client and peer ports and makes an empty data directory; starts nothing.
  EtcdServer();
  /// Kills etcd (if running) and removes the data directory.
  ~EtcdServer();
  EtcdServer(const EtcdServer&) = delete;
  EtcdServer& operator=(const EtcdServer&) = delete;

  /// Starts etcd on the same ports and data directory as before and waits until it answers
  /// a read (at most 15 s). Throws std::runtime_error with the end of etcd's log otherwise.
  void start();
  /// SIGKILL and reap: a crash, nothing flushed or said goodbye to.
  void kill();
  /// Runs `etcdctl <arguments>` against this server; returns its exit status.
  int etcdctl(const std::string& arguments) const;

  /// "127.0.0.1:port" of the client listener.
  std::string endpoint() const;
  /// Options for a client of this server alone: a dial timeout of 300 ms, so that tests of
  /// an etcd that is down fail fast, and `request_timeout`.
  registry::etcd::EtcdOptions client_options(
      std::chrono::milliseconds request_timeout = std::chrono::seconds(2)) const;

 private:
  std::string log_tail() const;

  std::string root_;  // holds data/ and etcd.log
  std::uint16_t client_port_ = 0;
  std::uint16_t peer_port_ = 0;
  pid_t pid_ = -1;
};

/// A loopback TCP port nothing listens on now (bound to port 0 and closed again).
std::uint16_t free_loopback_port();

}  // namespace signpost::test
