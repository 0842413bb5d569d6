// Zone transfer out: AXFR (RFC 5936) and IXFR (RFC 1995) over TCP, signed with TSIG when
// asked (RFC 8945 §5.3.1), and NOTIFY (RFC 1996) on every new serial.
//
// Design. Transfers run on one thread of their own, never on a DNS worker: a worker's TCP
// session copies the request and hands it here (net::TransferHandler), and gets the framed
// messages back on its own thread to write as the socket takes them. So a transfer of a
// large zone costs the workers one copy, and no client waits behind it. At most
// `max_queued` requests wait at once; past that a request is REFUSED at once.
// Each published snapshot is handed here too (published()); for each zone that has a
// [[transfer]] policy, the thread records the new version and its change from the last one
// in the zone's bounded journal (zone_journal.hpp), from which IXFR answers. The change is
// read from what differs between the two snapshots (zone_content.hpp): registry views
// share every service and node that did not change, so a publish costs the transfer
// thread what changed, not the zone, and an AXFR reads the zone from the newest snapshot.
// The thread looks only at the newest snapshot when it gets to it, so one diff spans the
// serials published between two looks. A new serial schedules NOTIFY.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dns/net/transfer_handler.hpp"
#include "dns/xfr/transfer_policy.hpp"
#include "health/protocol/tsig.hpp"
#include "registry/snapshot.hpp"

namespace signpost::dns::xfr {

/// What the transfer service serves.
struct TransferSettings {
  std::vector<TransferPolicy> policies;  // one per zone
  std::vector<health::TsigKey> keys;     // every [[key]]: a transfer may be signed with any
  std::size_t journal_diffs = 1000;      // diffs kept per zone
  std::size_t journal_octets = std::size_t{64} << 20;  // octets of diffs kept per zone
  std::size_t max_queued = 16;           // requests waiting at once
};

/// What a transfer request was, for counting: the qtype asked (an IXFR answered in full
/// is still an IXFR).
enum class TransferType : std::uint8_t { axfr, ixfr };
inline constexpr std::size_t kTransferTypes = 2;

/// How a transfer request ended: answered (NOERROR, data or the SOA alone), REFUSED (not
/// allowed, unknown zone, too many waiting), NOTAUTH (bad TSIG, RFC 8945 §5.2) or FORMERR.
enum class TransferResult : std::uint8_t { ok, refused, notauth, formerr };
inline constexpr std::size_t kTransferResults = 4;

/// The labels of `type` and `result` on /metrics ("axfr", "ok", ...). Any thread.
std::string_view transfer_type_label(TransferType type) noexcept;
std::string_view transfer_result_label(TransferResult result) noexcept;

/// Counters, read by metrics and tests.
struct TransferCounters {
  // transfers[type][result]: requests over TCP and UDP.
  std::array<std::array<std::uint64_t, kTransferResults>, kTransferTypes> transfers{};
  std::uint64_t notify_sent = 0;      // NOTIFY messages sent, retries included
  std::uint64_t notify_answered = 0;  // NOTIFYs a secondary answered
  std::uint64_t notify_failed = 0;    // NOTIFYs with no answer after every retry

  std::uint64_t of(TransferType type, TransferResult result) const noexcept {
    return transfers[static_cast<std::size_t>(type)][static_cast<std::size_t>(result)];
  }
  void count(TransferType type, TransferResult result) noexcept {
    ++transfers[static_cast<std::size_t>(type)][static_cast<std::size_t>(result)];
  }
};

/// The transfer service: a thread, the zones' journals and the notifier. Public functions
/// may be called from any thread.
class TransferServer : public net::TransferHandler {
 public:
  using Log = std::function<void(const std::string&)>;
  /// Wall clock in seconds since the epoch, for TSIG.
  using WallClock = std::function<std::uint64_t()>;

  /// Control thread; throws KeyError for unusable keys.
  TransferServer(TransferSettings settings, Log log, WallClock wall_clock = {});
  /// Stops the thread.
  ~TransferServer() override;
  TransferServer(const TransferServer&) = delete;
  TransferServer& operator=(const TransferServer&) = delete;

  /// Starts the thread.
  void start();
  /// Stops it; requests still queued get no answer. Idempotent.
  void stop();

  /// Hands over the newest snapshot (the registry thread, after each publish). Cheap: the
  /// transfer thread looks at it later.
  void published(registry::SnapshotPtr snapshot);

  /// See net::TransferHandler. Worker thread; allocates; never blocks.
  void handle_later(std::vector<std::uint8_t> message, std::string from,
                    net::TransferReply reply) override;

  /// See net::TransferHandler: IXFR over UDP, answered on the calling thread.
  std::size_t answer_datagram(std::span<const std::uint8_t> query, std::span<std::uint8_t> out,
                              const std::string& from) noexcept override;

  /// Answers one request now, on the calling thread: the framed response (tests; the
  /// thread runs this for each request). Over UDP (`datagram`), an IXFR gets the SOA alone
  /// when the client is current, else TC with no records. Allocates.
  std::vector<std::uint8_t> respond(std::span<const std::uint8_t> message, const std::string& from,
                                    bool datagram = false);

  /// The counts so far. Any thread; never waits for a transfer being built.
  TransferCounters counters() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace signpost::dns::xfr
