// DNS over UDP on one address for one worker: batched receive, answer, batched send.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "dns/net/worker.hpp"

namespace signpost::dns::net {

/// One SO_REUSEPORT UDP socket of one worker, served by a thread of its own that blocks in
/// recvmmsg until a datagram comes, takes what else is waiting with it, answers every
/// datagram into its transmit slots and replies with one sendmmsg (RFC 1035 §4.2.1). A
/// socket bound to a wildcard address answers from the address each query was sent to
/// (IP_PKTINFO / IPV6_PKTINFO, RFC 3542 §6).
///
/// Design. The socket is deliberately kept out of the worker's epoll set (Asio registers
/// every socket it opens, for as long as it is open). A registered socket has a waiter on its
/// wait queue at all times, so the kernel takes the queue's lock and calls the epoll
/// callback for every datagram sent, when the send buffer is freed; a socket read by a
/// blocking recvmmsg has a waiter only while the thread sleeps. Measured on 10,000 services:
/// about 8 % less server CPU per A query and 6 % per SRV query, all of it kernel time. So the
/// listener has its own thread, its own snapshot pointer (handed over through a mailbox), its
/// own answer context and counters; TCP stays on the worker's io_context. The data path never
/// throws, allocates or logs; an UPDATE (not a query) may allocate. Each query's sender goes
/// into the answer context (its DNS Cookie is bound to it) and, with `[rrl]` on, through the
/// server's RateLimiter; with it off that is one test of a null pointer per query.
class UdpListener {
 public:
  /// Opens and binds the socket. `row` is this listener's row of round-robin state (see
  /// answer_rows); replaced snapshots go back through `worker.reclaim`. Control thread;
  /// throws NetError naming the address and the OS reason.
  UdpListener(const WorkerSettings& settings, std::size_t row, WorkerState& worker,
              const ListenEndpoint& endpoint);
  /// Stops the thread if it runs and closes the socket.
  ~UdpListener();
  UdpListener(const UdpListener&) = delete;
  UdpListener& operator=(const UdpListener&) = delete;

  /// Starts the listener's thread, named `thread_name` (at most 15 characters). Control thread.
  void start(const std::string& thread_name);
  /// Wakes the thread, lets it finish the batch in hand and waits for it. Idempotent.
  void stop() noexcept;
  /// Hands the listener a new snapshot, which its thread swaps in before it answers the next
  /// datagrams, or within kIdleSnapshotCheck when none come. Any thread; lock-free.
  void publish(registry::SnapshotPtr snapshot) { published_.put(std::move(snapshot)); }

  /// Counters. Any thread, also while the listener runs (see answer::OwnedCounter).
  const answer::AnswerCounters& answer_counters() const noexcept { return context_.counters; }
  const NetCounters& net_counters() const noexcept { return counters_; }

 private:
  static constexpr std::size_t kControlSize = 64;  // room for one in6_pktinfo message
  struct alignas(cmsghdr) Control {
    unsigned char bytes[kControlSize];
  };

  void open_socket(const ListenEndpoint& endpoint);
  void set_receive_buffer(std::size_t wanted);
  void run() noexcept;
  // Waits for the first datagram (at most kIdleSnapshotCheck), then takes up to a batch;
  // returns how many, 0 for none.
  std::size_t receive_batch() noexcept;
  // Logs a failed receive at most once a second and waits a moment, so that an error that
  // repeats (ENOMEM) neither spins the core nor floods the log.
  void on_receive_error(int code) noexcept;
  // Answers the received datagrams and sends the responses.
  void answer_batch(std::size_t received) noexcept;
  void send_batch(std::size_t count) noexcept;
  // Answers the query in receive slot `slot` into `out`, a signed one through the worker's
  // SignedQueryHandler; returns the length, 0 to drop or when it was forwarded.
  std::size_t answer_query(std::size_t slot, std::span<const std::uint8_t> query,
                           std::span<std::uint8_t> out) noexcept;
  // Hands a copy of the query in receive slot `slot` to the worker's Forwarder, with a reply
  // that sends the response later from the forwarder's thread. Allocates (forwarded queries
  // are not the answer path for our zones); out of memory drops it.
  void forward_query(std::size_t slot, std::span<const std::uint8_t> query) noexcept;
  // Hands the UPDATE in receive slot `slot` to the worker's UpdateHandler. When it is
  // answered at once, puts the response in `out` and returns its length; otherwise returns 0
  // (also when the handler runs out of memory) and the reply is sent later, from another
  // thread. Allocates (UPDATEs are not the answer path).
  std::size_t answer_update(std::size_t slot, std::span<const std::uint8_t> message,
                            std::span<std::uint8_t> out) noexcept;
  // Answers the IXFR in receive slot `slot` through the worker's TransferHandler (the SOA
  // alone, or TC); returns the length, 0 to drop. Allocates (transfers are not the answer
  // path).
  std::size_t answer_ixfr(std::size_t slot, std::span<const std::uint8_t> message,
                          std::span<std::uint8_t> out) noexcept;
  // A reply that sends to the peer of receive slot `slot`, from the address it wrote to,
  // from any thread; it keeps the socket open until it is gone. For UPDATEs and forwarded
  // queries.
  answer::UpdateReply deferred_reply(std::size_t slot);
  // Copies the query's destination address into the reply's control data; returns its size.
  std::size_t reply_control(std::size_t slot, Control& out) noexcept;

  RateLimiter* rate_limiter_;  // the server's, or nullptr: rate limiting is off
  WorkerState& worker_;  // the handlers and the log, shared with the worker's TCP side
  SnapshotReclaim reclaim_;  // a copy of the worker's
  std::string name_;
  int fd_ = -1;
  std::shared_ptr<void> fd_owner_;  // closes fd_; shared with deferred UPDATE replies
  bool ipv6_ = false;
  bool pktinfo_ = false;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  SnapshotMailbox published_;
  std::chrono::steady_clock::time_point last_error_log_{};

  // The thread's own: everything below is touched by it alone once it runs.
  registry::SnapshotPtr snapshot_;
  answer::AnswerContext context_;
  NetCounters counters_;
  std::vector<std::uint8_t> rx_buffer_;  // kUdpBatch slots of kUdpSlot octets
  std::vector<std::uint8_t> tx_buffer_;
  std::array<mmsghdr, WorkerState::kUdpBatch> rx_{};
  std::array<mmsghdr, WorkerState::kUdpBatch> tx_{};
  std::array<iovec, WorkerState::kUdpBatch> rx_iov_{};
  std::array<iovec, WorkerState::kUdpBatch> tx_iov_{};
  std::array<sockaddr_storage, WorkerState::kUdpBatch> peers_{};
  std::array<Control, WorkerState::kUdpBatch> rx_control_{};
  std::array<Control, WorkerState::kUdpBatch> tx_control_{};
};

}  // namespace signpost::dns::net
