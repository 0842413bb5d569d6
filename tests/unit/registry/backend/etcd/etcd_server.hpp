// A real etcd for the etcd client's tests: /usr/bin/etcd (from PATH) on free loopback ports
// with a data directory of its own, started, killed and restarted by pid.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

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
