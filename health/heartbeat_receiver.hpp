// The heartbeat receiver: DNS UPDATEs to the registry zone, verified, turned into leases and
// registry changes, answered.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "dns/answer/message_handlers.hpp"
#include "health/lease_tracker.hpp"
#include "health/renewal_board.hpp"
#include "health/replay_guard.hpp"
#include "health/protocol/tsig.hpp"
#include "health/update_plan.hpp"
#include "registry/backend/shared_registry.hpp"
#include "registry/backend/state_file.hpp"
#include "registry/log/log.hpp"
#include "registry/publisher.hpp"

namespace signpost::health {

/// Fixed settings of the receiver.
struct ReceiverSettings {
  std::string domain;  // the registry zone, text ("svc.internal.")
  LeaseSettings leases;
  std::chrono::milliseconds tick{250};  // how often leases are checked; instances leave
                                        // within one tick of their lease running out
  std::size_t max_instances = 1'000'000;  // registered by UPDATE at once (health.max_instances)
  std::size_t max_queued = 4096;          // UPDATEs waiting for the registry thread
  /// How long a deleted instance's replay guard is kept: longer than any accepted TSIG
  /// time window, so that a recorded UPDATE is refused for as long as its time would pass.
  std::chrono::seconds replay_memory{900};
};

/// What the receiver counts; written by the workers and the registry thread, read from any
/// thread (relaxed).
struct ReceiverCounters {
  std::atomic<std::uint64_t> received{0};
  std::atomic<std::uint64_t> accepted{0};       // NOERROR
  std::atomic<std::uint64_t> unchanged{0};      // renewals that published nothing
  std::atomic<std::uint64_t> repeated{0};       // of which known as repeats, not parsed
  std::atomic<std::uint64_t> rejected{0};       // any other rcode
  std::atomic<std::uint64_t> bad_signature{0};  // BADKEY, BADSIG, BADTIME, BADTRUNC or unsigned
  std::atomic<std::uint64_t> replayed{0};       // signed no later than the last accepted
  std::atomic<std::uint64_t> over_quota{0};     // refused: key.max_instances, max_instances
  std::atomic<std::uint64_t> dropped{0};        // not handled: too many queued
  std::atomic<std::uint64_t> expired{0};        // leases that ran out (instances left answers)
  std::atomic<std::uint64_t> flap_holds{0};     // instances flap damping began to suppress
};

/// Takes UPDATE messages from the DNS workers (dns::answer::UpdateHandler): TSIG verification
/// (RFC 8945), the update (RFC 2136 §3.4) read as registrations, what the key may touch,
/// replays, quotas, prerequisites (§3.2), the Update Lease (RFC 9664), then a signed
/// response. The registry thread owns all of it: every UPDATE but a repeated renewal runs
/// there, checked against the whole registry (static instances included) and applied to the
/// store; lease ticks run there too (the heartbeat thread is only their clock). A worker
/// answers at once, without a lock, an UPDATE that repeats a remembered renewal, from the
/// immutable table the registry thread publishes (RenewalBoard), and a refusal for the
/// signature or form. The instance itself is kept once, in the store; the receiver keeps its
/// lease (LeaseTracker), replay guard and key beside it.
/// Expired and critical instances leave the answers through the publisher.
class HeartbeatReceiver : public dns::answer::UpdateHandler {
 public:
  using Log = std::function<void(const std::string&)>;
  /// Wall clock in seconds since the epoch, for TSIG; the lease clock is steady_clock.
  using WallClock = std::function<std::uint64_t()>;

  /// Control thread; throws KeyError for unusable keys.
  HeartbeatReceiver(ReceiverSettings settings, std::vector<TsigKey> keys,
                    registry::Publisher& publisher, Log log, WallClock wall_clock = {});
  ~HeartbeatReceiver() override;
  HeartbeatReceiver(const HeartbeatReceiver&) = delete;
  HeartbeatReceiver& operator=(const HeartbeatReceiver&) = delete;

  /// Starts the heartbeat thread, which has the registry thread check the leases every tick.
  void start();
  /// Stops it, and takes no more UPDATEs for the registry thread. Idempotent.
  void stop();

  /// dns::answer::UpdateHandler: answers a repeated renewal, or a message refused before any
  /// registry work (unsigned, bad TSIG, malformed). Worker thread; no lock.
  bool try_handle(std::span<const std::uint8_t> message, dns::answer::Transport transport,
                  std::vector<std::uint8_t>& response) override;
  /// dns::answer::UpdateHandler: queues the UPDATE for the registry thread (at most
  /// max_queued at once; more are dropped and counted). With more than one key, UPDATEs
  /// signed with one key take at most half the queue, so that whoever holds one key
  /// cannot fill it and have every other key's registrations dropped. Worker thread.
  void handle_later(std::vector<std::uint8_t> message, dns::answer::Transport transport,
                    std::string from, dns::answer::UpdateReply reply) override;

  /// Handles one UPDATE as the workers' two calls together would, and waits for the
  /// response (empty: none). Tests and benchmarks; not from the registry thread.
  std::vector<std::uint8_t> process(std::span<const std::uint8_t> message);
  /// Checks the leases now, on the registry thread, and waits for it. Tests; with the
  /// heartbeat thread not running and the publisher running.
  void tick();

  /// Where the registry's dynamic part goes to be kept (the memory backend's StateWriter):
  /// called on the registry thread within `interval` of a registration, change or removal,
  /// and every `renewal_interval` while leases are only renewed (a restart then finds leases
  /// at most that much shorter than they were); both stretch to 3 and 20 times what the last
  /// export took, so that exports never take much of the registry thread. Before start().
  /// The sink gets the state file's bytes (encode_state), with the serial `serial` gives.
  using StateSink = std::function<void(std::vector<std::uint8_t>)>;
  void keep_state(StateSink sink, std::function<std::uint32_t()> serial,
                  std::chrono::milliseconds interval, std::chrono::milliseconds renewal_interval);
  /// Every heartbeat instance with its lease, damping, key and replay guard, and the guards
  /// of deleted ones: what a restart must not lose. Registry thread; allocates.
  registry::backend::RegistryState export_state(const registry::Store& store);
  /// The same state as the state file's bytes, with the registry zone's `serial`, encoded one
  /// instance at a time (never a copy of the whole registry). Registry thread; allocates.
  std::vector<std::uint8_t> encode_state(const registry::Store& store, std::uint32_t serial);
  /// Takes back what export_state saved before a restart: leases end when they would have
  /// (an instance whose lease ran out while the server was down expires at the first
  /// tick). Instances of keys no longer configured, of a service now declared with another
  /// protocol or clashing with a static instance are left out and logged. Registry thread,
  /// before the first UPDATE; returns how many instances were taken back.
  std::size_t restore_state(const registry::backend::RegistryState& state,
                            registry::Store& store);

  /// Shares the heartbeat instances with the other servers of a cluster (the etcd backend):
  /// a registration or real change is put, a deregistration removed, a renewal that changes
  /// nothing only keeps the instance alive. What the other servers share arrives through
  /// apply_shared. Liveness is then the shared registry's: an instance whose lease runs out
  /// here is let go (kept in the answers, no longer tracked here: its agent may heartbeat
  /// another server) and leaves when the shared registry removes it. Before start().
  void share_with(registry::backend::SharedRegistry* shared) { shared_ = shared; }
  /// Takes what the shared registry reports: instances written by any server (this one's
  /// own writes come back and change nothing) and removals. An instance this server tracks
  /// is replaced only by a record of a later UPDATE than it accepted for it (its agent moved
  /// to another server, which then tracks it); a removal of one whose agent heartbeats here
  /// is undone (the shared registry expired it while this server could not renew it).
  /// Registry thread; returns how many instances were added or replaced.
  std::size_t apply_shared(const std::vector<registry::backend::SharedChange>& changes,
                           registry::Store& store);

  /// The API's writes, on the registry thread. After the store's override of an instance
  /// changed (registry::Store::set_override): keeps it where the backend keeps the
  /// instance (the state file, or the instance's record in the shared registry, whichever
  /// server tracks it).
  void override_changed(const InstanceKey& key, const registry::Store& store);
  /// Deregisters a heartbeat instance as a deleting UPDATE would: its replay guard is kept,
  /// and in a cluster every server removes it. False when no heartbeat registered it.
  bool deregister(const InstanceKey& key, registry::Store& store);
  /// Whether self-preservation holds back expiries (or, in a cluster, removals) now, and how
  /// many instances it keeps in the answers. Registry thread.
  std::pair<bool, std::size_t> preserving() const;
  /// The lease of a heartbeat instance that another server of the cluster tracks, from its
  /// shared record: its length and when it ends (Unix ms). nullopt: none. Registry thread.
  std::optional<std::pair<std::uint32_t, std::int64_t>> shared_lease(const InstanceKey& key) const;

  const ReceiverCounters& counters() const noexcept { return counters_; }
  const LeaseTracker& tracker() const noexcept { return tracker_; }

 private:
  struct Outcome {
    std::uint16_t rcode = 0;
    std::uint16_t tsig_error = 0;  // BADTIME for a replay
    std::uint32_t lease = 0;  // granted, 0 when nothing was registered
    bool repeatable = false;  // a lone registration or renewal: remember it (see Renewal)
    InstanceKey renewed;      // when repeatable: the instance, its lease asked for and health
    std::uint32_t requested = 0;
    registry::Health health = registry::Health::passing;
  };
  // What the receiver keeps of an instance registered by heartbeat, beside its lease in the
  // tracker, its records in the store (the one copy of the instance itself) and its slot in
  // the renewal board: indexed by the instance's slot in the tracker, so that it needs no
  // table of its own. Registry thread.
  struct Registered {
    std::uint64_t renewal = 0;     // the hash of its remembered renewal; 0: none
    const TsigKey* key = nullptr;  // the key it counts against (key.max_instances); nullptr:
                                   // the slot holds no instance
    bool renewed = false;          // a renewal arrived after its registration (an agent's)
  };
  // The response to `message` when it can be given without the registry: a repeated
  // renewal, or a refusal for its signature or form. nullopt: it needs the registry thread.
  // Any thread.
  std::optional<std::vector<std::uint8_t>> answer_without_registry(
      std::span<const std::uint8_t> message, const TsigCheck& check);
  // The whole handling, on the registry thread.
  std::vector<std::uint8_t> process_with(std::span<const std::uint8_t> message,
                                         registry::Store& store);
  // The response when `message` repeats a remembered renewal that the board takes; nullopt
  // otherwise. Any thread; the lease is renewed at the next tick.
  std::optional<std::vector<std::uint8_t>> renew_repeated(std::span<const std::uint8_t> message,
                                                          const TsigCheck& check);
  void remember_renewal(std::span<const std::uint8_t> message, const TsigCheck& check,
                        std::size_t zone_end, bool edns, const Outcome& outcome);
  // Drops the remembered renewal with this hash, and its instance's note of it.
  void forget_renewal(std::uint64_t hash);
  Outcome apply_request(const UpdateRequest& request, const TsigCheck& check,
                        registry::Store& store);
  // Why `key` may not make the changes of `plan`, or "" when it may: services it is not
  // allowed, static instances, addresses added to nodes of services it may not touch.
  std::string forbidden(const UpdatePlan& plan, const TsigKey& key,
                        const registry::Store& store) const;
  // Whether every instance `plan` touches accepts an UPDATE signed as in `check`.
  bool fresh(const UpdatePlan& plan, const TsigCheck& check);
  // Why registering `plan` would pass a quota, or "".
  std::string over_quota(const UpdatePlan& plan, const TsigKey& key) const;
  // Renews the lease and applies the instance to the store when it changed; returns the
  // granted lease.
  std::uint32_t register_instance(Registration registration, std::uint32_t requested,
                                  const TsigCheck& check, registry::Store& store,
                                  std::chrono::steady_clock::time_point now);
  void note_refusal(const std::string& reason);
  // One audit line for a change an UPDATE or the lease ticks made.
  void audit(std::string_view event, const InstanceKey& key, std::string_view who,
             std::initializer_list<AuditField> more = {}) const;
  // Audits a health change the tracker published, and counts expiries and flap holds.
  void audit_health(const InstanceKey& key, registry::Health health,
                    std::chrono::steady_clock::time_point now);
  // Sets the overrides a kept record carries on the instance in the store.
  static void take_override(const registry::backend::DynamicInstance& record,
                            registry::Store& store);
  // The receiver's data of a tracked instance, or nullptr.
  Registered* find_registered(const InstanceKey& key);
  const Registered* find_registered(const InstanceKey& key) const;
  Registered& registered_at(std::uint32_t slot);
  // Lets go of a slot's data: its remembered renewal and its count against its key.
  void retire(std::uint32_t slot);
  // Deregisters an instance: its lease, its data and its records in the store.
  void deregister_instance(const InstanceKey& key, registry::Store& store);
  void remember_deleted(const InstanceKey& key, const ReplayGuard& guard);
  void forget_old_deletions(std::chrono::steady_clock::time_point now);
  // Applies the tracker's changes to the store, and opens or closes the instances' slots on
  // the renewal board to match.
  void publish_changes(registry::Store& store);
  // Renews the leases the workers renewed since the last tick.
  void apply_renewals(std::chrono::steady_clock::time_point now);
  void renew_slot(std::uint32_t slot, std::chrono::steady_clock::time_point now);
  // Lease ticks, on the registry thread.
  void tick_with(registry::Store& store);
  // Calls the visitors with each instance's record and each deleted guard; returns the time
  // the state was taken, Unix milliseconds.
  std::int64_t visit_state(
      const registry::Store& store,
      const std::function<void(const registry::backend::DynamicInstance&)>& on_instance,
      const std::function<void(const registry::backend::DeletedGuard&)>& on_deleted);
  void visit_static_overrides(
      const registry::Store& store,
      const std::function<void(const registry::backend::StaticOverride&)>& visit);
  // Hands the state to the sink when it changed and the interval has passed (ticks).
  void save_state_if_due(registry::Store& store, std::chrono::steady_clock::time_point now);
  // Completes the record of a tracked instance whose instance and protocol are set: its
  // lease, damping, key and replay guard as of the clocks' time. False when not tracked.
  bool complete_record(const InstanceKey& key, registry::backend::DynamicInstance& out,
                       Clock::time_point steady, std::chrono::system_clock::time_point wall);
  // Puts the instances changed in this batch to the shared registry.
  void share_changes(const registry::Store& store);
  // Shares a deletion as a tombstone: the instance's record with a lease of 0 and the guard
  // that deleted it. Before the store lets go of the instance.
  void share_deletion(const InstanceKey& key, const ReplayGuard& guard,
                      const registry::Store& store);
  // Takes a tombstone another server shared.
  void take_deletion(const registry::backend::DynamicInstance& tombstone,
                     registry::Store& store);
  // Stops tracking an instance without touching the store (cluster: another server may
  // track it now).
  void let_go(std::uint32_t slot, const InstanceKey& key);
  // Starts tracking an instance known from the shared registry, as it was there; false when
  // the shared registry does not hold it.
  bool adopt(const InstanceKey& key, std::chrono::steady_clock::time_point now);
  void take_shared(const registry::backend::DynamicInstance& record, registry::Store& store,
                   std::size_t& taken);
  void drop_shared(const registry::backend::SharedRemoved& removed, registry::Store& store);
  // Whether a removal from the shared registry is part of a mass removal that
  // self-preservation keeps out of effect; records it.
  bool hold_removal(const InstanceKey& key, const registry::Store& store,
                    std::chrono::steady_clock::time_point now);
  // Ends the cluster's self-preservation when it is due: what did not come back leaves.
  void review_held(registry::Store& store, std::chrono::steady_clock::time_point now);
  std::vector<std::uint8_t> respond(std::span<const std::uint8_t> message,
                                    const TsigCheck& check, std::size_t zone_end,
                                    const Outcome& outcome, bool edns);
  void do_tick();

  ReceiverSettings settings_;
  std::string domain_wire_;
  TsigSigner signer_;
  LeaseTracker tracker_;
  registry::Publisher& publisher_;
  Log log_;
  WallClock wall_clock_;
  std::vector<Registered> registered_;  // by tracker slot
  RenewalBoard board_;
  std::vector<std::size_t> key_instances_;  // registered per key, in signer_.keys() order
  // Replay guards of deleted instances, and when each may go (in the order they were added).
  std::unordered_map<InstanceKey, ReplayGuard, InstanceKeyHash> deleted_;
  std::deque<std::pair<std::chrono::steady_clock::time_point, InstanceKey>> deletions_;
  ReceiverCounters counters_;
  std::atomic<std::size_t> queued_{0};
  // UPDATEs waiting per key, in signer_.keys() order (see handle_later).
  std::unique_ptr<std::atomic<std::size_t>[]> queued_by_key_;
  std::atomic<bool> accepting_{true};
  StateSink state_sink_;
  std::function<std::uint32_t()> state_serial_;
  std::chrono::milliseconds state_interval_{250};
  std::chrono::milliseconds renewal_state_interval_{2000};
  std::chrono::steady_clock::time_point last_state_{};
  std::chrono::steady_clock::duration last_export_cost_{};
  // Since the last export: an instance registered, changed or gone; only leases renewed.
  std::atomic<bool> state_changed_{false};
  std::atomic<bool> leases_renewed_{false};
  registry::backend::SharedRegistry* shared_ = nullptr;
  std::vector<InstanceKey> unshared_;  // changed in this batch, not yet put
  // Self-preservation of the cluster: removals from the shared registry in the last
  // preservation_window, and the instances kept in the answers through a mass removal.
  std::deque<std::chrono::steady_clock::time_point> shared_removals_;
  std::unordered_map<InstanceKey, std::chrono::steady_clock::time_point, InstanceKeyHash> held_;
  std::chrono::steady_clock::time_point holding_since_{};
  std::chrono::steady_clock::time_point last_hold_{};
  std::string from_;  // the address of the UPDATE being handled, for the audit log
  std::chrono::steady_clock::time_point last_refusal_log_{};
  std::uint64_t refusals_not_logged_ = 0;

  // Everything above is the registry thread's, except the board (see RenewalBoard), the
  // signer and the settings (read only) and the atomics.
  boost::asio::io_context io_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{io_.get_executor()};
  boost::asio::steady_timer timer_{io_};
  std::thread thread_;
};

}  // namespace signpost::health
