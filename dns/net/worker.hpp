// A DNS worker: its own sockets, buffers and snapshot pointers; a thread for each UDP socket
// and one io_context thread for TCP.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "dns/answer/message_handlers.hpp"
#include "dns/answer/responder.hpp"
#include "dns/net/connection_limit.hpp"
#include "dns/net/rate_limit.hpp"
#include "dns/net/transfer_handler.hpp"
#include "registry/snapshot.hpp"

namespace signpost::dns::net {

/// A socket that could not be set up; the message names the address and the OS reason.
class NetError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Where to serve: a numeric IPv4 or IPv6 address (no brackets) and a port.
struct ListenEndpoint {
  std::string address;
  std::uint16_t port = 0;
};

/// "127.0.0.1:53" or "[::1]:53", for messages.
std::string endpoint_text(const ListenEndpoint& endpoint);

/// The IP address of a socket address as text ("127.0.0.1", "::1"); "" for another family.
/// Any thread; allocates.
std::string address_text(const sockaddr_storage& address);

/// The NetError for a socket on `endpoint` that could not be set up:
/// "cannot listen on 127.0.0.1:53 (UDP): Address already in use".
NetError listen_error(const ListenEndpoint& endpoint, std::string_view transport,
                      const std::string& reason);

/// Sets the integer socket option `level`/`name` of `fd` to 1. Returns 0, or the errno.
int enable_socket_option(int fd, int level, int name) noexcept;

/// Checks that nothing else serves `endpoint` over UDP or TCP, and picks a free port when its
/// port is 0 (the same one for both). Returns the port. Binding with SO_REUSEPORT alone would
/// silently share the port with another running server; this plain bind refuses instead.
/// Control thread, before the workers bind; throws NetError.
std::uint16_t reserve_port(const ListenEndpoint& endpoint);

/// What the network code counts. Each set belongs to one thread, which alone adds to it; any
/// thread may read it while that thread runs (answer::OwnedCounter). A cache line of its own.
struct alignas(64) NetCounters {
  using Counter = answer::OwnedCounter;
  Counter udp_received;
  Counter udp_sent;
  Counter udp_send_failed;     // dropped: the socket buffer was full or send failed
  Counter udp_oversized;       // queries longer than a receive slot, dropped
  Counter tcp_accepted;
  Counter tcp_refused;         // closed at once: tcp_max_clients reached
  Counter tcp_client_refused;  // closed at once: tcp_max_per_client from its address
  Counter tcp_idle_closed;     // no whole message within tcp_idle_timeout
  Counter tcp_bad_framing;     // zero-length frames

  /// Adds `other` to these counters, which must be a sum being made, not a running thread's.
  NetCounters& operator+=(const NetCounters& other) noexcept;
};

/// Rows of per-thread answer state (round-robin rows, generator seeds) one worker uses with
/// `listen_addresses` addresses: one for each UDP listener's thread and one for TCP.
constexpr std::size_t answer_rows(std::size_t listen_addresses) noexcept {
  return listen_addresses + 1;
}

/// Fixed settings of one worker.
struct WorkerSettings {
  std::size_t index = 0;  // 0-based, for thread names and messages
  /// The first of the worker's answer_rows: TCP's; its UDP listeners take the next ones.
  std::size_t first_row = 0;
  answer::AnswerOptions answer;
  std::uint64_t seed = 0;  // dns.seed; 0 = random
  std::chrono::seconds tcp_idle_timeout{10};
  /// SO_RCVBUF of each UDP socket in octets (server.udp_receive_buffer); 0 = the system's.
  std::size_t udp_receive_buffer = 0;
  /// The server's response rate limiter for UDP (`[rrl]`), shared by every worker and
  /// outliving them; nullptr when rate limiting is off.
  RateLimiter* rate_limiter = nullptr;
};

/// True when `message` is a request (QR clear) with opcode UPDATE (5), RFC 2136 §2.2.
bool is_update(std::span<const std::uint8_t> message) noexcept;

/// True when `message` is a request (QR clear, opcode QUERY) with one question of type AXFR
/// or IXFR (RFC 5936, RFC 1995): TCP hands those to its TransferHandler. Any thread;
/// noexcept; no allocation.
bool is_transfer(std::span<const std::uint8_t> message) noexcept;

/// True when `message` is a request (QR clear, opcode QUERY) whose one question is of type
/// IXFR, found by walking the question's labels only: the UDP path asks this of every
/// datagram when transfers are served. Any thread; noexcept; no allocation.
bool is_ixfr(std::span<const std::uint8_t> message) noexcept;

/// Answers `query`, which answer::answer_query left to the signed path, through `handler`;
/// without one, the key cannot be known: NOTAUTH (RFC 8945 §5.2.1). Worker thread; noexcept.
std::size_t answer_signed(answer::SignedQueryHandler* handler, std::span<const std::uint8_t> query,
                          std::span<std::uint8_t> out, answer::Transport transport,
                          const registry::Snapshot& snapshot,
                          answer::AnswerContext& context) noexcept;

/// Logs one line (a warning); never called per packet. Any thread.
using NetLog = std::function<void(const std::string&)>;

/// Takes a snapshot an answering thread no longer uses, so that the last reference can be
/// dropped on another thread, off the query path. Any thread.
using SnapshotReclaim = std::function<void(registry::SnapshotPtr)>;

/// How often an answering thread with nothing to answer still looks for a new snapshot, so
/// that an idle one lets go of the one it had (a superseded snapshot holds every shard
/// changed since).
inline constexpr std::chrono::seconds kIdleSnapshotCheck{1};

/// A one-slot hand-over of snapshots to one answering thread, which swaps the newest in
/// before it answers: publishing never wakes it. Lock-free.
class SnapshotMailbox {
 public:
  SnapshotMailbox() = default;
  SnapshotMailbox(const SnapshotMailbox&) = delete;
  SnapshotMailbox& operator=(const SnapshotMailbox&) = delete;
  ~SnapshotMailbox() { delete slot_.exchange(nullptr); }

  /// Leaves `snapshot` for the thread. One left earlier and not taken yet is dropped here,
  /// unserved. Any thread; allocates.
  void put(registry::SnapshotPtr snapshot);
  /// Swaps the snapshot left since the last call, if any, into `current`, and hands the one
  /// it replaces to `reclaim` (or drops it when that fails). The answering thread; one atomic
  /// load when nothing was left.
  void take(registry::SnapshotPtr& current, const SnapshotReclaim& reclaim) noexcept;

 private:
  std::atomic<registry::SnapshotPtr*> slot_{nullptr};  // owned; nullptr when empty
};

/// What one worker's TCP listeners and sessions share. Owned by its Worker and used only on
/// that worker's io_context thread, so nothing here is locked; its UDP listeners' threads
/// read only `update_handler`, `signed_query_handler`, `forwarder` and `log`, and the publisher uses only
/// `published`: all are safe from any thread.
struct WorkerState {
  /// Octets per UDP receive and transmit slot: the largest udp_payload we allow.
  static constexpr std::size_t kUdpSlot = 4096;
  /// Datagrams read and answered per recvmmsg/sendmmsg call.
  static constexpr std::size_t kUdpBatch = 32;

  WorkerState(const WorkerSettings& settings, registry::SnapshotPtr snapshot,
              ConnectionLimit& tcp_limit, SnapshotReclaim reclaim, NetLog log);

  /// Answers one query from the newest snapshot into `out` (see answer::answer_query; a
  /// signed one through `signed_query_handler`). Returns the response length, 0 to drop.
  /// noexcept; allocates nothing but when it hands back a snapshot that a publish replaced,
  /// or answers a signed query.
  /// `client` is the sender's address (for its cookie); TCP is never rate limited.
  std::size_t respond(std::span<const std::uint8_t> query, std::span<std::uint8_t> out,
                      answer::Transport transport, const answer::ClientAddress& client) noexcept {
    published.take(snapshot, reclaim);
    context.client = client;
    context.now = unix_seconds();
    const std::size_t length = answer::answer_query(*snapshot, query, out, transport, context);
    if (length != 0 || !context.signed_query) [[likely]] return length;
    return answer_signed(signed_query_handler, query, out, transport, *snapshot, context);
  }

  registry::SnapshotPtr snapshot;  // what TCP answers from; swapped in from `published`
  SnapshotMailbox published;
  SnapshotReclaim reclaim;
  answer::UpdateHandler* update_handler = nullptr;  // UPDATE gets NOTIMP when there is none
  answer::SignedQueryHandler* signed_query_handler = nullptr;  // see answer_signed when there is none
  answer::Forwarder* forwarder = nullptr;  // set when AnswerOptions::forward is
  TransferHandler* transfer_handler = nullptr;  // AXFR/IXFR over TCP; REFUSED when there is none
  answer::AnswerContext context;
  NetCounters counters;
  ConnectionLimit& tcp_limit;
  std::chrono::seconds tcp_idle_timeout;
  NetLog log;
  std::vector<std::uint8_t> tcp_tx;  // one TCP response, up to 65,535 octets
};

/// One DNS worker. Each worker binds its own UDP socket and TCP acceptor on every listen
/// address with SO_REUSEPORT, so the kernel spreads queries over the workers and they share
/// nothing on the query path. Each UDP socket has a thread of its own (see UdpListener);
/// the TCP acceptors and sessions share the worker's io_context thread.
class Worker {
 public:
  /// Called on one of the worker's threads with a snapshot that thread no longer uses, so
  /// that the last reference can be dropped on another thread, off the query path. Each
  /// thread hands back its own reference, so one snapshot may come back more than once.
  using Reclaim = SnapshotReclaim;

  /// Control thread; allocates the worker's buffers and answer context.
  Worker(const WorkerSettings& settings, registry::SnapshotPtr snapshot,
         ConnectionLimit& tcp_limit, Reclaim reclaim, NetLog log);
  /// Stops the thread if it runs.
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  /// Binds a UDP socket and a TCP acceptor on `endpoint` (whose port must not be 0).
  /// Control thread, before start(); throws NetError naming the address and the OS reason.
  void listen(const ListenEndpoint& endpoint);
  /// Sends DNS UPDATE messages to `handler` (which must outlive the worker's thread) instead of
  /// answering them NOTIMP. Control thread, before start().
  void set_update_handler(answer::UpdateHandler* handler) noexcept;
  /// Sends queries that carry TSIG to `handler` (which must outlive the worker's threads).
  /// Control thread, before start().
  void set_signed_query_handler(answer::SignedQueryHandler* handler) noexcept;
  /// Hands the queries that answer_query leaves to be forwarded (AnswerOptions::forward) to
  /// `forwarder`, which must outlive the worker's threads. Control thread, before start().
  void set_forwarder(answer::Forwarder* forwarder) noexcept;
  /// Hands AXFR and IXFR requests over TCP to `handler` (which must outlive the worker's
  /// threads) instead of answering them REFUSED. Control thread, before start().
  void set_transfer_handler(TransferHandler* handler) noexcept;
  /// Starts the worker's threads.
  void start();
  /// Stops the threads and waits for them; open TCP connections are dropped. Idempotent.
  void stop();
  /// Hands the worker a new snapshot: each of its threads swaps it in before it answers
  /// next, or within kIdleSnapshotCheck when it has nothing to answer. Wakes no thread.
  /// Any thread.
  void publish(registry::SnapshotPtr snapshot);

  /// Counters, summed over the worker's threads. Any thread, also while the worker runs (a
  /// scrape): no lock, no allocation; each thread's counters are read as they are then.
  answer::AnswerCounters answer_counters() const noexcept;
  NetCounters net_counters() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace signpost::dns::net
