// A bare UDP responder, the floor of the load benchmark: one fixed 100-octet answer per query.
//
// It receives batches with recvmmsg, copies each query's ID into a fixed answer and sends
// the batch back with sendmmsg: the least work any DNS server on one thread can do per
// query, so that a server's cost can be read as a multiple of the kernel's.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "tests/bench/bench_socket.hpp"

namespace {

constexpr std::size_t kBatch = 64;
constexpr std::size_t kQueryMax = 1500;
constexpr std::size_t kAnswerSize = 100;

volatile std::sig_atomic_t g_stop = 0;

void on_signal(int) { g_stop = 1; }

/// The fixed answer: NOERROR, AA, question s0000.svc.internal A IN and four A records
/// whose owners point at the question, 12 + 24 + 4 * 16 = 100 octets.
std::array<std::uint8_t, kAnswerSize> make_answer() {
  std::array<std::uint8_t, kAnswerSize> a{};
  const std::uint8_t header[12] = {0, 0, 0x84, 0x00, 0, 1, 0, 4, 0, 0, 0, 0};
  std::size_t at = 0;
  for (std::uint8_t b : header) a[at++] = b;
  const std::uint8_t qname[] = {5, 's', '0', '0', '0', '0', 3, 's', 'v', 'c',
                                8, 'i', 'n', 't', 'e', 'r', 'n', 'a', 'l', 0};
  for (std::uint8_t b : qname) a[at++] = b;
  const std::uint8_t question_tail[4] = {0, 1, 0, 1};
  for (std::uint8_t b : question_tail) a[at++] = b;
  for (std::uint8_t i = 0; i < 4; ++i) {
    const std::uint8_t rr[16] = {0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 10, 1, 0, i};
    for (std::uint8_t b : rr) a[at++] = b;
  }
  return a;
}


std::uint16_t bound_port(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

/// Per-batch buffers: the queries come in, the answers go out to the same peers.
struct Batch {
  std::array<std::array<std::uint8_t, kQueryMax>, kBatch> in{};
  std::array<std::array<std::uint8_t, kAnswerSize>, kBatch> out{};
  std::array<sockaddr_in, kBatch> peers{};
  std::array<iovec, kBatch> in_iov{};
  std::array<iovec, kBatch> out_iov{};
  std::array<mmsghdr, kBatch> in_msgs{};
  std::array<mmsghdr, kBatch> out_msgs{};
};

void prepare(Batch& b, const std::array<std::uint8_t, kAnswerSize>& answer) {
  for (std::size_t i = 0; i < kBatch; ++i) {
    b.out[i] = answer;
    b.in_iov[i] = {b.in[i].data(), kQueryMax};
    b.out_iov[i] = {b.out[i].data(), kAnswerSize};
    b.in_msgs[i].msg_hdr.msg_iov = &b.in_iov[i];
    b.in_msgs[i].msg_hdr.msg_iovlen = 1;
    b.out_msgs[i].msg_hdr.msg_iov = &b.out_iov[i];
    b.out_msgs[i].msg_hdr.msg_iovlen = 1;
    b.out_msgs[i].msg_hdr.msg_name = &b.peers[i];
    b.out_msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_in);
  }
}

/// Answers until SIGTERM/SIGINT; returns the number of answers sent.
unsigned long long serve(int fd, Batch& b) {
  unsigned long long answered = 0;
  while (!g_stop) {
    for (std::size_t i = 0; i < kBatch; ++i) {
      b.in_msgs[i].msg_hdr.msg_name = &b.peers[i];
      b.in_msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_in);
    }
    const int got = ::recvmmsg(fd, b.in_msgs.data(), kBatch, MSG_WAITFORONE, nullptr);
    if (got <= 0) continue;  // EINTR on a stop signal
    unsigned int ready = 0;
    for (int i = 0; i < got; ++i) {
      if (b.in_msgs[i].msg_len < 12) continue;  // not even a header: dropped
      b.out[ready][0] = b.in[i][0];
      b.out[ready][1] = b.in[i][1];
      b.peers[ready] = b.peers[i];
      ++ready;
    }
    unsigned int sent = 0;
    while (sent < ready) {
      const int n = ::sendmmsg(fd, b.out_msgs.data() + sent, ready - sent, 0);
      if (n <= 0) break;
      sent += static_cast<unsigned int>(n);
    }
    answered += sent;
  }
  return answered;
}

}  // namespace

int main(int argc, char** argv) {
  long port = 0;
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--port" && i + 1 < argc) {
      port = std::strtol(argv[++i], nullptr, 10);
    } else {
      std::fprintf(stderr, "usage: %s [--port N]   (0 or none: a free port)\n", argv[0]);
      return 2;
    }
  }
  if (port < 0 || port > 65535) return 2;
  const int fd = signpost::bench::bound_udp_socket(static_cast<std::uint16_t>(port));
  if (fd < 0) {
    std::fprintf(stderr, "udp_echo: cannot bind 127.0.0.1:%ld: %s\n", port, std::strerror(errno));
    return 1;
  }
  struct sigaction action{};
  action.sa_handler = on_signal;  // no SA_RESTART: recvmmsg returns on the signal
  ::sigaction(SIGTERM, &action, nullptr);
  ::sigaction(SIGINT, &action, nullptr);
  std::printf("port %u\n", bound_port(fd));
  std::fflush(stdout);
  static Batch batch;
  prepare(batch, make_answer());
  const unsigned long long answered = serve(fd, batch);
  std::printf("answered %llu\n", answered);
  ::close(fd);
  return 0;
}
