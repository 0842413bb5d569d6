// UDP sockets of the benchmark programs: loopback, 4 MiB buffers each way so that bursts
// are not dropped on the client's side.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <string>

namespace signpost::bench {

/// A UDP socket (non-blocking when asked) with large buffers; -1 on failure.
inline int udp_socket(bool non_blocking) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | (non_blocking ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) return -1;
  const int size = 4 << 20;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  return fd;
}

/// A non-blocking UDP socket connected to `server`:`port`; -1 on failure.
inline int connected_udp_socket(const std::string& server, std::uint16_t port) {
  const int fd = udp_socket(true);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (::inet_pton(AF_INET, server.c_str(), &addr.sin_addr) != 1 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

/// A blocking UDP socket bound to 127.0.0.1:`port` (0 = any free port); -1 on failure.
inline int bound_udp_socket(std::uint16_t port) {
  const int fd = udp_socket(false);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace signpost::bench
