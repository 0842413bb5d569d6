// Repeated renewals answered on the DNS workers, without a lock and without the registry.
//
// Design. Agents renew by sending the same UPDATE again and again; nearly every UPDATE a
// server sees is one. The registry thread owns the leases (LeaseTracker) and the store, and
// remembers, for each instance, the UPDATE that last registered or renewed it, by a hash of
// its bytes (header ID and TSIG aside). It publishes those remembered renewals as an
// immutable table, swapped whole after every UPDATE that changed it, so that a worker reads it
// without a lock. The table is 256 shards by the hash's top byte, and a new version copies
// only the shards that changed (tens of microseconds with 100,000 instances), sharing the rest. What a worker must change per renewal lives in a
// small per-instance slot beside it: the replay guard and a "renewed" mark, behind a
// one-bit try-lock that the worker never waits for (when it is taken, the UPDATE goes the
// full way, to the registry thread), and two flags the registry thread sets: whether the
// slot's remembered renewal is still the one (it is cleared at once when another UPDATE
// changes the instance), and whether a renewal changes nothing (not while the lease has run
// out or the instance is critical: then the renewal must change the registry, on its
// thread). The registry thread takes the "renewed" marks at every lease tick and renews the
// leases then: a renewal reaches the lease within a tick, and leases are checked only then.
// Slots are indexed like the tracker's (LeaseTracker::Handle::slot) and allocated in fixed
// chunks that never move, so a worker may hold a pointer to one while the registry thread
// adds more.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "health/hash_keyed_table.hpp"
#include "health/lease_tracker.hpp"
#include "health/protocol/tsig.hpp"
#include "health/replay_guard.hpp"
#include "registry/model.hpp"

namespace signpost::health {

/// A remembered renewal: what answering it needs, and the lease it renews.
struct Renewal {
  LeaseTracker::Handle lease;
  const TsigKey* tsig_key = nullptr;
  std::uint32_t length = 0;  // of the hashed bytes (a message's octets fit in 32 bits)
  std::uint32_t zone_end = 0;
  std::uint32_t requested = 0;
  std::uint32_t granted = 0;
  registry::Health health = registry::Health::passing;
  bool edns = false;
};

/// The remembered renewals and the per-instance state that workers change.
class RenewalBoard {
 public:
  /// Room for `capacity` slots (the most instances tracked at once). Allocates the chunk
  /// table only.
  explicit RenewalBoard(std::size_t capacity);
  ~RenewalBoard();
  RenewalBoard(const RenewalBoard&) = delete;
  RenewalBoard& operator=(const RenewalBoard&) = delete;

  // --- Any thread (the DNS workers) ------------------------------------------------------

  /// A renewal that repeats the remembered UPDATE with hash `hash` (its hashed part
  /// `length` octets long), signed with `key` at `time_signed` with `mac`: when its slot
  /// takes it (remembered still, changes nothing, not a replay, slot free), records it in the
  /// replay guard, marks the slot renewed and returns the renewal; nullopt otherwise (the
  /// UPDATE then goes the full way). Lock-free; no allocation.
  std::optional<Renewal> renew(std::uint64_t hash, std::uint32_t length, const TsigKey* key,
                               std::uint64_t time_signed,
                               std::span<const std::uint8_t> mac) const noexcept;

  // --- The registry thread ---------------------------------------------------------------

  /// The remembered renewal with this hash, or nullptr.
  const Renewal* find(std::uint64_t hash) const noexcept;
  /// Remembers `renewal` under `hash` for its slot (lease.slot); published at the next
  /// publish(). Allocates.
  void remember(std::uint64_t hash, const Renewal& renewal);
  /// Forgets the renewal with this hash; its slot stops taking it at once.
  void forget(std::uint64_t hash);
  /// Makes the remembered renewals as they are now the ones workers read. Allocates (the
  /// shard index, and copies of the changed shards) when they changed since the last one.
  void publish();

  /// Whether a renewal of the slot's instance changes nothing (its lease has not run out, it
  /// is not critical): only then do workers take its renewals. Returns whether a renewal
  /// was marked since the last take_renewed (taken here), for the caller to apply.
  bool set_open(std::uint32_t slot, bool open);
  /// Whether a worker renewed the slot's instance since the last call; clears the mark.
  bool take_renewed(std::uint32_t slot) noexcept;
  /// The slot's replay guard, a copy.
  ReplayGuard guard(std::uint32_t slot);
  /// Whether the slot's guard accepts an UPDATE signed at `time_signed` with `mac`.
  bool guard_accepts(std::uint32_t slot, std::uint64_t time_signed, std::span<const std::uint8_t> mac);
  /// Records an accepted UPDATE in the slot's guard.
  void guard_accept(std::uint32_t slot, std::uint64_t time_signed, std::span<const std::uint8_t> mac);
  /// Sets the slot's guard (an instance taken back after a restart, or registered again).
  void set_guard(std::uint32_t slot, const ReplayGuard& guard);
  /// Empties the slot: no renewal, closed, a fresh guard.
  void reset(std::uint32_t slot);
  /// Whether the slot exists (its index is below the capacity).
  bool holds(std::uint32_t slot) const noexcept { return slot < capacity_; }

 private:
  using Shard = HashKeyedTable<Renewal>;
  static constexpr std::size_t kShards = 256;
  struct Table {
    std::array<std::shared_ptr<const Shard>, kShards> shards;
    const Renewal* find(std::uint64_t hash) const noexcept {
      const auto& shard = shards[hash >> 56];
      return shard ? shard->find(hash) : nullptr;
    }
  };
  struct Slot {
    std::atomic<std::uint64_t> renewal{0};  // hash of its remembered renewal; 0: none
    std::atomic<bool> open{false};
    std::atomic<bool> renewed{false};
    mutable std::atomic_flag busy = ATOMIC_FLAG_INIT;  // guards `guard`
    ReplayGuard guard;
  };
  static constexpr std::size_t kChunk = 4096;

  Slot* slot_at(std::uint32_t index) const noexcept;
  Slot& slot_for(std::uint32_t index);  // allocates its chunk when needed
  Shard& writable(std::uint64_t hash);  // the draft's own copy of the hash's shard

  // The published table as this thread last read it (its thread_local copy of the pointer
  // keeps it alive); read again only when the board's version moved, so that a renewal
  // costs no reference count on the shared table.
  const Table* current_table() const noexcept;

  const std::uint64_t id_;  // tells boards apart in the threads' caches
  std::atomic<std::uint64_t> version_{1};
  std::size_t capacity_;
  std::unique_ptr<std::atomic<Slot*>[]> chunks_;
  std::size_t chunk_count_;
  std::atomic<std::shared_ptr<const Table>> published_;
  std::shared_ptr<Table> draft_;  // changes since the last publish; null: none
  std::array<std::shared_ptr<Shard>, kShards> copied_;  // the draft's own shards
};

}  // namespace signpost::health
