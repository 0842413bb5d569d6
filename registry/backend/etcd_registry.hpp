// The etcd backend: the registry's dynamic instances kept in etcd, shared by every signpostd
// of a cluster, and fed back to each server's registry thread through a watch.
//
// Design. Key layout: `<prefix>instances/<service>/<id>`, the value the instance's record in
// the state file's codec (encode_dynamic_instance), so disk and etcd share one format; and
// `<prefix>serial`, the highest registry zone serial the cluster published (etcd_serial.hpp),
// which the worker raises at most every 100 ms and load() reads. Each instance's
// key is attached to an etcd lease of its own whose TTL is the instance's lease
// (lease_seconds; etcd raises it to its minimum): when the agent stops, etcd revokes the
// lease, deletes the key, and every server's watch reports the removal. Liveness costs no
// Raft proposal: a heartbeat that changes nothing becomes keep_alive(), a renewal written on
// one long-lived LeaseKeepAlive stream, which moves the lease's expiry in the leader's lessor
// and writes nothing to the log; only a registration, a real change (health, drain, weight)
// or a deregistration is a write. Lease ids are never kept apart from etcd: load() reads each
// key's `lease` field and the watch's puts carry it, so a server that restarted, or one an
// agent failed over to, renews the lease some other server granted. put() reuses the key's
// lease when its TTL is unchanged and grants a new one otherwise (or when etcd no longer
// knows it); a lease left without keys is not revoked but expires by itself. Its expiry is a
// proposal as a revoke would be, only later; revoking the lease a key was last seen with
// could delete the key another server has just written again on a new lease. So a
// deregistration costs two proposals (the delete, the lease's expiry), a registration two
// (grant, put), a change one. put() skips the write when etcd already holds the same bytes;
// the record's lease_end_unix_ms and replay guard are as of that write, so callers call put()
// for what changed and keep_alive() for renewals, and a reader takes the etcd lease as the
// truth of liveness.
//
// Keep-alive coalescing: at most one renewal per lease per min(keep_alive_interval, TTL/3);
// a renewal asked for sooner is deferred to the end of that window, never dropped. Dropping
// it would let etcd expire an instance whose agent lost one heartbeat early. Deferring moves
// etcd's expiry past the agent's by at most the window, and etcd's expiry check (every
// 500 ms) and the watch add the rest: with the default window of 500 ms a dead instance
// leaves every server within its lease + 1 s (+ a few ms), inside the lease + 1.5 s the
// cluster promises; lease/3 (5 s for the agents' default lease of 15 s) would not be.
// Agents heartbeat every lease/3, so the window merges duplicates (retries, an agent
// that heartbeats twice in a row); the renewal rate stays at most that of the heartbeats,
// which etcd takes without writing.
//
// Threads. The caller's functions only queue (a short lock, no I/O), except load(). A worker
// thread owns the keep-alive stream, grants leases and writes: writes queue per key, only the
// latest value of a key is written (up to 32 keys at once, on short-lived helper threads), and
// a write that fails because etcd is unreachable stays queued and is retried with a backoff
// (100 ms doubling to 2 s). The watch's thread decodes events and calls the callback; the
// reader of the keep-alive stream reports leases etcd no longer knows.
//
// Measured on loopback against one etcd 3.4 (2 cores, etcd_registry_test.cpp): a put reaches
// another server's watch in 2.5 ms (median of 50, max 22 ms); 2,000 registrations are
// written in about 1 s; load() reads 100,000 instances in 0.75 s; keep_alive() costs 0.7 us
// and 30,000 heartbeats of 1,000 instances in 3 s move neither etcd's revision nor its count
// of committed proposals.
//
// Outage and reconciliation. While etcd is unreachable the server keeps its registry (this
// class never calls back with removals it has not seen in etcd), writes and renewals queue
// (writes bounded by max_queued distinct keys, the latest per key; renewals one per known
// key), and the outage is logged once, its end once. When etcd is back: the watch resumes
// after the last revision it delivered (or, when that was compacted, the prefix is read again
// and the callback gets the difference: upserts, and removals of what is gone); renewals are
// sent for every instance heartbeated within its lease, and a lease etcd expired meanwhile
// (a renewal answered with TTL 0) is granted anew and the instance written again with its
// last value, provided it was heartbeated within its lease; then the queued writes go out.
// An instance whose heartbeats stopped is never renewed or written again, so one that
// expired meanwhile does not come back; one whose lease etcd still held (a restarted etcd
// restores every lease with its full TTL) expires a TTL after etcd is back.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "registry/backend/etcd/etcd_client.hpp"
#include "registry/backend/etcd_serial.hpp"
#include "registry/backend/shared_registry.hpp"
#include "registry/backend/state_file.hpp"
#include "registry/log/log.hpp"

namespace signpost::registry::backend {

/// How to reach etcd and where the registry lives there ([registry] etcd_* options).
struct EtcdRegistrySettings {
  etcd::EtcdOptions etcd;             // etcd_endpoints, etcd_dial_timeout
  std::string prefix = "/signpost/";  // etcd_prefix
  /// At most one renewal per lease per this (and per a third of its TTL); it bounds how much
  /// later than its agent's lease etcd expires an instance.
  std::chrono::milliseconds keep_alive_interval{500};
  /// Distinct keys whose write may wait while etcd is unreachable; a write of another key
  /// beyond it is dropped (counted; the agent's next heartbeat registers it again).
  std::size_t max_queued = 100000;
  /// Keys per Range request of load(): 5,000 records are about a megabyte.
  std::int64_t load_page = 5000;
};

/// What the etcd registry has done, for /metrics and the status page.
struct EtcdRegistryStatus {
  bool connected = false;              // the last request to etcd succeeded
  std::string last_error;              // the last failure, "" when there was none
  std::uint64_t writes = 0;            // puts written to etcd
  std::uint64_t writes_skipped = 0;    // puts of bytes etcd already held
  std::uint64_t removes = 0;           // keys deleted
  std::uint64_t lease_grants = 0;      // leases granted
  std::uint64_t revivals = 0;          // instances written again after etcd expired their lease
  std::uint64_t keep_alives_sent = 0;  // renewals written on the stream
  std::uint64_t keep_alives_coalesced = 0;  // keep_alive() calls merged into another renewal
  std::uint64_t watch_events = 0;           // events the watch delivered
  std::uint64_t bad_values = 0;             // keys under the prefix that are no instance record
  std::uint64_t dropped_writes = 0;         // writes dropped because max_queued were waiting
  std::uint64_t errors = 0;                 // failed requests
  std::uint64_t queued_writes = 0;          // writes waiting now
  std::int64_t etcd_revision = 0;   // the highest revision etcd reported (reads, writes, watch)
  std::int64_t watch_revision = 0;  // the registry holds every change up to this revision
  /// Revisions of this prefix that etcd has committed and the watch has not delivered yet:
  /// this server's own writes not yet seen back (0 when the watch keeps up). Counting only
  /// revisions known to be in the prefix keeps writes to other keys of a shared etcd out.
  std::int64_t watch_lag_revisions = 0;
};

/// The registry's dynamic instances in etcd. Public functions may be called from any thread;
/// all but load() and stop() return at once.
class EtcdRegistry final : public SharedRegistry {
 public:
  /// An instance written or changed in etcd (by any server).
  using Upsert = SharedUpsert;
  /// An instance gone from etcd: deregistered, or its lease expired.
  using Removed = SharedRemoved;
  using Change = SharedChange;
  /// Receives the changes of one etcd revision range, in revision order, this server's own
  /// writes included (an upsert of what the registry holds already changes nothing). Runs on
  /// the component's watch thread (after a compaction, once on its worker thread), one call
  /// at a time; must not throw and should only hand the batch to the registry thread.
  using Callback = std::function<void(std::vector<Change>)>;

  /// What load() read: every instance under the prefix and the revision it was read at,
  /// and the serial in `<prefix>serial` (0: none).
  struct Loaded {
    std::vector<DynamicInstance> instances;
    std::int64_t revision = 0;
    std::uint32_t serial = 0;
  };

  /// Starts the worker thread, which connects to etcd at once (an unreachable etcd is
  /// logged and retried). `log` is called from the component's threads. Allocates.
  EtcdRegistry(EtcdRegistrySettings settings, Log log);
  /// stop().
  ~EtcdRegistry() override;
  EtcdRegistry(const EtcdRegistry&) = delete;
  EtcdRegistry& operator=(const EtcdRegistry&) = delete;

  /// Reads every instance under the prefix, in pages of load_page keys at one revision, and
  /// learns each key's value and lease. Keys that hold no valid record are skipped (logged,
  /// counted in bad_values). Blocks; control thread at start-up, before start_watch. Throws
  /// etcd::EtcdError when etcd cannot be read within the request timeout.
  Loaded load();

  /// Watches the prefix for changes after `revision` (load()'s) and calls `callback` with
  /// each batch. Once; returns at once.
  void start_watch(std::int64_t revision, Callback callback);

  /// Queues the write of `instance` (as registry::validate leaves it: names lower case)
  /// under its key with its lease, replacing a write of the same key still queued; skipped
  /// when etcd holds the same bytes. Short lock; allocates; throws StateError for what the
  /// record cannot hold (a name over 255 octets), which a validated instance never has.
  void put(const DynamicInstance& instance) override;
  /// Queues the deletion of the instance's key, replacing a queued write of it.
  void remove(std::string_view service, std::string_view id) override;
  /// Asks for a renewal of the instance's etcd lease (its heartbeat arrived). Short lock;
  /// allocates the key.
  void keep_alive(std::string_view service, std::string_view id) override;
  /// The instance's record as last written here or seen in etcd (also while a write of it
  /// waits), or nullopt. Short lock; decodes.
  std::optional<DynamicInstance> record(std::string_view service,
                                        std::string_view id) const override;

  /// Notes the registry zone's serial of a publish. The worker writes the latest one noted
  /// to `<prefix>serial` at most every kSerialInterval, only upward (RFC 1982), and keeps
  /// trying while etcd is unreachable. Registry thread (any thread); a short lock, no I/O,
  /// no allocation.
  void note_serial(std::uint32_t serial);
  static constexpr std::chrono::milliseconds kSerialInterval{100};

  /// The counters and the connection's state. Any thread; allocates the error text.
  EtcdRegistryStatus status() const;

  /// Stops the watch, the worker and the keep-alive stream; queued writes are dropped (the
  /// agents' heartbeats bring them back). Idempotent; control thread.
  void stop();

  /// The etcd key of an instance: `<prefix>instances/<service>/<id>`. Any thread; allocates.
  std::string key_of(std::string_view service, std::string_view id) const;

 private:
  using Clock = std::chrono::steady_clock;

  // What this server knows of one key: its value and lease as last written or seen in etcd.
  struct Entry {
    std::string value;
    std::int64_t lease = 0;
    std::int64_t ttl_seconds = 1;   // the instance's lease, the etcd lease's TTL
    std::int64_t revision = 0;      // etcd's revision of what this entry holds
    bool in_etcd = false;           // false: deleted, kept while heartbeats may revive it
    Clock::time_point heartbeat{};  // the latest put or keep_alive of it here
    Clock::time_point renewed{};    // the latest renewal sent for its lease
  };
  // A queued write of one key.
  struct Write {
    bool remove = false;
    std::string value;
    std::int64_t ttl_seconds = 1;
    std::int64_t gone_lease = 0;  // a revival: only while the key's lease is still this one
  };

  void run();
  void work(Clock::time_point now);
  void check_answers(Clock::time_point now);
  void ensure_stream();
  void send_renewals(Clock::time_point now);
  void due_renewals(Clock::time_point now, std::vector<std::int64_t>& leases,
                    std::vector<std::pair<std::string, Clock::time_point>>& sent);
  void revive_gone_leases(Clock::time_point now);
  void write_queued(Clock::time_point now);
  void write_serial(Clock::time_point now);
  void write_one(const std::string& key, Write& write, Clock::time_point now);
  void write_remove(const std::string& key);
  void write_put(const std::string& key, Write& write, Clock::time_point now);
  std::int64_t grant(std::int64_t ttl_seconds);
  void sweep(Clock::time_point now);
  void resync();
  Loaded read_all(std::vector<Change>* gone);
  void on_watch(const etcd::WatchNotice& notice);
  void apply(const etcd::WatchEvent& event, std::vector<Change>& changes);
  void on_answer(std::int64_t lease, std::int64_t ttl);
  void learn(const etcd::KeyValue& kv, const DynamicInstance& instance, bool in_etcd);
  bool decode(const etcd::KeyValue& kv, DynamicInstance& instance);
  std::chrono::milliseconds interval_of(const Entry& entry) const;
  // Notes revisions: one the registry now holds everything up to (watch), one of this
  // prefix that etcd committed (prefix), any that etcd reported (seen). Any thread.
  void note_revisions(std::int64_t watch, std::int64_t prefix, std::int64_t seen);
  void mark_down(const std::string& error);
  void mark_up();
  void wake();

  const EtcdRegistrySettings settings_;
  const std::string instances_prefix_;  // <prefix>instances/
  const Log log_;
  etcd::EtcdClient client_;

  // What the caller queued; the worker takes it whole.
  mutable std::mutex queue_mutex_;
  std::condition_variable wake_;
  std::unordered_map<std::string, Write> pending_writes_;
  std::unordered_map<std::string, Clock::time_point> pending_renewals_;  // key -> heartbeat
  std::vector<std::int64_t> gone_leases_;                                // answered with TTL 0
  bool resync_ = false;  // the watch's revision was compacted
  std::optional<std::uint32_t> noted_serial_;  // published since the worker last looked
  bool stopping_ = false;
  bool stopped_ = false;

  // What this server knows of each key in etcd: the worker, the watch and load() share it.
  mutable std::mutex entries_mutex_;
  std::unordered_map<std::string, Entry> entries_;
  std::unordered_map<std::int64_t, std::string> lease_keys_;  // lease -> its key

  // The worker's own.
  std::unordered_map<std::string, Write> writes_;                // queued writes not yet written
  std::unordered_map<std::string, Clock::time_point> renewals_;  // deferred renewals
  std::vector<std::int64_t> gone_;  // leases etcd no longer knows, not yet handled
  bool resync_wanted_ = false;
  EtcdSerial serial_;
  std::optional<std::uint32_t> serial_wanted_;  // not yet in etcd
  Clock::time_point next_serial_write_{};
  std::unique_ptr<etcd::EtcdKeepAliveStream> stream_;
  Clock::time_point last_stream_break_{};  // when a send last found the stream broken
  Clock::time_point unanswered_since_{};   // the first renewal sent since the last answer
  std::atomic<Clock::rep> last_answer_{0};  // when the stream last answered (its reader)
  bool down_ = false;
  Clock::time_point down_since_{};
  Clock::time_point retry_at_{};
  Clock::time_point next_renewal_ = Clock::time_point::max();
  Clock::time_point next_sweep_{};
  std::chrono::milliseconds backoff_{100};

  // The watch.
  std::mutex watch_mutex_;
  Callback callback_;
  std::unique_ptr<etcd::EtcdWatch> watch_;

  // status().
  mutable std::mutex status_mutex_;
  std::string last_error_;
  std::atomic<bool> connected_{false};
  std::atomic<bool> drop_logged_{false};
  std::atomic<std::uint64_t> writes_count_{0}, skipped_{0}, removes_{0}, grants_{0}, revivals_{0},
      keep_alives_sent_{0}, coalesced_{0}, watch_events_{0}, bad_values_{0}, dropped_{0},
      errors_{0}, queued_{0};
  std::atomic<std::int64_t> watch_revision_{0}, prefix_revision_{0}, etcd_revision_{0};

  std::thread worker_;  // last: starts after every member above is ready
};

}  // namespace signpost::registry::backend
