// The heartbeat receiver: DNS UPDATEs to the registry zone, verified, turned into leases and
// registry changes, answered.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "dns/net/worker.hpp"
#include "health/hash_keyed_table.hpp"
#include "health/lease_tracker.hpp"
#include "health/tsig.hpp"
#include "health/update_plan.hpp"
#include "registry/publisher.hpp"

namespace signpost::health {

/// Fixed settings of the receiver.
struct ReceiverSettings {
  std::string domain;  // the registry zone, text ("svc.internal.")
  LeaseSettings leases;
  std::chrono::milliseconds tick{250};  // how often leases are checked; instances leave
                                        // within one tick of their lease running out
};

/// What the receiver counts; written under the receiver's lock, read from any thread (relaxed).
struct ReceiverCounters {
  std::atomic<std::uint64_t> received{0};
  std::atomic<std::uint64_t> accepted{0};       // NOERROR
  std::atomic<std::uint64_t> unchanged{0};      // renewals that published nothing
  std::atomic<std::uint64_t> repeated{0};       // of which known as repeats, not parsed
  std::atomic<std::uint64_t> rejected{0};       // any other rcode
  std::atomic<std::uint64_t> bad_signature{0};  // BADKEY, BADSIG, BADTIME or unsigned
};

/// Takes UPDATE messages from the DNS workers (dns::net::UpdateHandler) and handles them one
/// at a time, on the worker that received each, under one lock that it shares with the lease
/// ticks of its own thread, the heartbeat thread: TSIG verification
/// (RFC 8945), prerequisites (RFC 2136 §3.2), the update (§3.4) read as registrations, the
/// Update Lease (RFC 9664), then a signed response. Registry changes are posted to the
/// Publisher; a renewal that changes nothing posts nothing. Expired and critical instances
/// leave the answers through the same path.
class HeartbeatReceiver : public dns::net::UpdateHandler {
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

  /// Starts the heartbeat thread and its lease ticks.
  void start();
  /// Stops it; UPDATEs not yet handled get no answer. Idempotent.
  void stop();

  /// Handles one UPDATE at once and returns the response (empty: none). Any thread; takes
  /// the receiver's lock for the UPDATE.
  std::vector<std::uint8_t> handle(std::span<const std::uint8_t> message,
                                   dns::answer::Transport transport) override;

  /// Handles one UPDATE at once and returns the response (empty: none). With the receiver's
  /// lock held, or while the heartbeat thread is not running (tests and benchmarks).
  std::vector<std::uint8_t> process(std::span<const std::uint8_t> message);
  /// Checks the leases now. As process.
  void tick();

  const ReceiverCounters& counters() const noexcept { return counters_; }
  const LeaseTracker& tracker() const noexcept { return tracker_; }

 private:
  struct Outcome {
    std::uint16_t rcode = 0;
    std::uint32_t lease = 0;  // granted, 0 when nothing was registered
    bool repeatable = false;  // a lone registration or renewal: remember it (see Renewal)
    InstanceKey renewed;      // when repeatable: the instance, its lease asked for and health
    std::uint32_t requested = 0;
    registry::Health health = registry::Health::passing;
  };
  // An instance as registered by heartbeat (packed; its service and id are its key), and
  // the hash of its remembered renewal (see Renewal), if any.
  struct Registered {
    registry::PackedInstance instance;
    registry::Protocol protocol = registry::Protocol::tcp;
    std::optional<std::uint64_t> renewal;
  };
  using RegisteredMap = std::unordered_map<InstanceKey, Registered, InstanceKeyHash>;
  // Agents renew by sending the same UPDATE again and again. One that repeats, byte for byte
  // (header ID and TSIG aside), the UPDATE that last registered or renewed an instance is
  // known by the hash of those bytes and skips parsing, planning and every lookup by name:
  // its lease is renewed through its handle and answered as before. Sent again, an UPDATE
  // that registered or changed an instance changes nothing more, so it is remembered too,
  // and an agent's first heartbeat after registering takes the short way. An instance has
  // at most one remembered renewal, and loses it when another UPDATE changes it (the
  // renewal left it as it was) or it is deregistered, so that `instance` always points into
  // registered_ at the instance the renewal saw.
  struct Renewal {
    Registered* instance = nullptr;
    LeaseTracker::Handle lease;
    const TsigKey* tsig_key = nullptr;
    std::uint32_t length = 0;  // of the hashed bytes (a message's octets fit in 32 bits)
    std::uint32_t zone_end = 0;
    std::uint32_t requested = 0;
    std::uint32_t granted = 0;
    registry::Health health = registry::Health::passing;
    bool edns = false;
  };
  using Renewals = HashKeyedTable<Renewal>;  // by nonzero hash of the repeated bytes
  // The response when `message` repeats a remembered renewal, after renewing the lease;
  // nullopt otherwise.
  std::optional<std::vector<std::uint8_t>> renew_repeated(std::span<const std::uint8_t> message,
                                                          const TsigCheck& check);
  void remember_renewal(std::span<const std::uint8_t> message, const TsigCheck& check,
                        std::size_t zone_end, bool edns, const Outcome& outcome);
  // Drops the remembered renewal with this hash, and its instance's note of it.
  void forget_renewal(std::uint64_t hash);
  Outcome apply_request(const UpdateRequest& request, const TsigKey& key);
  std::uint16_t check_prerequisites(const UpdateRequest& request) const;
  // Renews the lease and posts the instance when it changed; returns the granted lease.
  std::uint32_t register_instance(Registration registration, std::uint32_t requested,
                                  std::chrono::steady_clock::time_point now);
  void note_refusal(const std::string& reason);
  void deregister_instance(const InstanceKey& key);
  void leave_node(const RegisteredMap::value_type& entry);
  void publish_changes();
  std::vector<std::uint8_t> respond(std::span<const std::uint8_t> message,
                                    const TsigCheck& check, std::size_t zone_end,
                                    const Outcome& outcome, bool edns);
  void do_tick();
  // The records the registered instances make at `owner` of `type` (ANY: all), as
  // (type, rdata) pairs, for the prerequisites.
  std::vector<std::pair<std::uint16_t, std::vector<std::uint8_t>>> records_at(
      const std::string& owner, std::uint16_t type) const;

  ReceiverSettings settings_;
  std::string domain_wire_;
  TsigSigner signer_;
  LeaseTracker tracker_;
  registry::Publisher& publisher_;
  Log log_;
  WallClock wall_clock_;
  RegisteredInstances lookup_;
  // As reported; health in the store may differ.
  RegisteredMap registered_;
  Renewals renewals_;
  // The instances on each node, as pointers to registered_'s elements (which never move).
  std::map<std::string, std::vector<const RegisteredMap::value_type*>, std::less<>> by_node_;
  ReceiverCounters counters_;
  std::chrono::steady_clock::time_point last_refusal_log_{};
  std::uint64_t refusals_not_logged_ = 0;

  std::mutex mutex_;  // process() and tick() one at a time, from workers and the heartbeat thread
  boost::asio::io_context io_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{io_.get_executor()};
  boost::asio::steady_timer timer_{io_};
  std::thread thread_;
};

}  // namespace signpost::health
