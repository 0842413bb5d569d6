// A persistent (copy-on-write) hash map split into shards, so that changing one entry of a
// large immutable map copies one small shard, not the whole map.
//
// Design. A lookup is on the answer path of nearly every registry query, over a map too
// large for the CPU caches, so it is laid out for few cache misses: the map holds each
// shard's slot array directly (no hop through the shard object), and a shard is one open
// addressing table (linear probing, at most half full) whose slot holds the key's hash,
// the key itself (short names stay inside the std::string) and the value. A hit then reads
// one slot line, then the value. Erasing shifts the following entries back, so that no
// tombstones build up in long-lived shards.
//
// Copying a map is what every publish does, so it must not touch each shard: the shards are
// owned in groups of 32, and a copy takes one reference per group (32 for 1024 shards, not
// 1024 atomic increments on as many cold cache lines), plus the flat slot-array table, which
// it copies as plain bytes. An edit copies the group it touches, then the shard.
#pragma once

#include <array>
#include <bitset>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dns/wire/rrset.hpp"

namespace signpost::registry {

/// Map from a string key to shared values whose copies share their shards. A copy edited
/// with `set`/`erase` shares every shard but those it touched. Lookups: any thread, no allocation.
/// Updates: control plane, allocate O(size / kShards).
template <typename Value, std::size_t kShards = 1024>
class ShardedMap {
 public:
  /// Shards owned together (see the design note).
  static constexpr std::size_t kGroupSize = kShards < 32 ? kShards : 32;
  static_assert(kShards % kGroupSize == 0, "shards come in whole groups");

  ShardedMap() {
    static const auto empty = [] {
      auto group = std::make_shared<Group>();
      group->shards.fill(std::make_shared<const Shard>());
      return std::shared_ptr<const Group>(std::move(group));
    }();
    groups_.fill(empty);
    tables_.fill(Table{});
  }

  const Value* find(std::string_view key) const noexcept {
    const std::size_t hash = hash_of(key);
    const Table& table = tables_[shard_of(hash)];
    if (table.slots == nullptr) return nullptr;
    for (std::size_t i = hash & table.mask;; i = (i + 1) & table.mask) {
      const Slot& slot = table.slots[i];
      if (!slot.value) return nullptr;
      if (slot.hash == hash && slot.key == key) return slot.value.get();
    }
  }

  /// Starts loading the slot where `key` would be found, for a find soon after, and
  /// returns it (nullptr when its shard is empty). A hint: it changes no result.
  const void* prefetch(std::string_view key) const noexcept {
    const std::size_t hash = hash_of(key);
    const Table& table = tables_[shard_of(hash)];
    if (table.slots == nullptr) return nullptr;
    const Slot* slot = &table.slots[hash & table.mask];
    __builtin_prefetch(slot);
    return slot;
  }
  /// The value in a slot that prefetch returned, whatever its key, or nullptr: for more
  /// hints only. The map must still be alive.
  static const Value* value_in(const void* slot) noexcept {
    return static_cast<const Slot*>(slot)->value.get();
  }

  /// Which groups and shards an edit has already copied; one per build of a new map.
  struct Owned {
    std::bitset<kShards / kGroupSize> groups;
    std::bitset<kShards> shards;
  };

  /// Sets `key` to `value` in place. The first change to a shard in an edit copies it, so
  /// maps that share the old shard keep it unchanged.
  void set(const std::string& key, std::shared_ptr<const Value> value, Owned& owned) {
    const std::size_t hash = hash_of(key);
    const std::size_t index = shard_of(hash);
    Shard& shard = own(index, owned);
    if ((shard.size + 1) * 2 > shard.slots.size()) grow(shard);
    Slot& slot = shard.slots[shard.probe(hash, key)];
    if (!slot.value) {
      slot.hash = hash;
      slot.key = key;
      ++shard.size;
      ++size_;
    }
    slot.value = std::move(value);
    tables_[index] = shard.table();
  }

  /// Removes `key` in place (copying its shard as `set` does).
  void erase(const std::string& key, Owned& owned) {
    const std::size_t hash = hash_of(key);
    const std::size_t index = shard_of(hash);
    const Shard& shared = shard(index);
    if (shared.slots.empty()) return;
    const std::size_t slot = shared.probe(hash, key);
    if (!shared.slots[slot].value) return;
    // A copy made by own() has the same layout, so the slot found is the slot to free.
    Shard& shard = own(index, owned);
    shard.erase_at(slot);
    --shard.size;
    --size_;
  }

  std::size_t size() const noexcept { return size_; }

  /// Visits every key whose value differs between `older` and this map, as
  /// visit(key, value in older or nullptr, value here or nullptr). A value is the same when
  /// both maps hold the same object: maps edited from one another share the groups and
  /// shards nobody touched, so this costs the shards that were edited, not the map
  /// (control plane: zone transfer diffs).
  template <typename Visit>
  void for_each_change(const ShardedMap& older, Visit&& visit) const {
    for (std::size_t g = 0; g < groups_.size(); ++g) {
      if (groups_[g] == older.groups_[g]) continue;
      for (std::size_t s = 0; s < kGroupSize; ++s) {
        const Shard& now = *groups_[g]->shards[s];
        const Shard& was = *older.groups_[g]->shards[s];
        if (&now == &was) continue;
        for (const Slot& slot : now.slots) {
          if (!slot.value) continue;
          const Value* before = was.find(slot.hash, slot.key);
          if (before != slot.value.get()) visit(slot.key, before, slot.value.get());
        }
        for (const Slot& slot : was.slots) {
          if (slot.value && now.find(slot.hash, slot.key) == nullptr) {
            visit(slot.key, slot.value.get(), static_cast<const Value*>(nullptr));
          }
        }
      }
    }
  }

  /// Visits every entry (control plane).
  template <typename Visit>
  void for_each(Visit&& visit) const {
    for (const auto& group : groups_) {
      for (const auto& shard : group->shards) {
        for (const Slot& slot : shard->slots) {
          if (slot.value) visit(slot.key, *slot.value);
        }
      }
    }
  }

 private:
  struct Slot {
    std::size_t hash = 0;
    std::string key;
    std::shared_ptr<const Value> value;  // null: the slot is free
  };
  struct Table {
    const Slot* slots = nullptr;  // null while the shard is empty
    std::size_t mask = 0;
  };
  struct Shard {
    std::vector<Slot> slots;  // a power of two in size, or empty
    std::size_t size = 0;

    std::size_t mask() const noexcept { return slots.size() - 1; }
    Table table() const noexcept { return {slots.data(), mask()}; }
    // The slot holding `key`, or the free slot where it would go. Needs a free slot.
    std::size_t probe(std::size_t hash, std::string_view key) const noexcept {
      std::size_t i = hash & mask();
      while (slots[i].value && !(slots[i].hash == hash && slots[i].key == key)) {
        i = (i + 1) & mask();
      }
      return i;
    }
    const Value* find(std::size_t hash, std::string_view key) const noexcept {
      return slots.empty() ? nullptr : slots[probe(hash, key)].value.get();
    }
    // Frees slot `hole`, moving back each following entry whose home lies at or before
    // the hole (backward-shift deletion), so that every probe still finds its key.
    void erase_at(std::size_t hole) noexcept {
      for (std::size_t i = (hole + 1) & mask(); slots[i].value; i = (i + 1) & mask()) {
        const std::size_t home = slots[i].hash & mask();
        // Distance from home to i, and from home to the hole, along the probe direction.
        if (((i - home) & mask()) >= ((hole - home) & mask())) {
          slots[hole] = std::move(slots[i]);
          hole = i;
        }
      }
      slots[hole] = Slot{};
    }
  };

  struct Group {
    std::array<std::shared_ptr<const Shard>, kGroupSize> shards;
  };

  const Shard& shard(std::size_t index) const noexcept {
    return *groups_[index / kGroupSize]->shards[index % kGroupSize];
  }

  static std::size_t hash_of(std::string_view key) noexcept { return dns::wire::NameHash{}(key); }
  static std::size_t shard_of(std::size_t hash) noexcept {
    // The top bits of the hash pick the shard; the shard's table uses the low ones.
    return (hash >> 24) % kShards;
  }

  static void grow(Shard& shard) {
    std::vector<Slot> old = std::move(shard.slots);
    shard.slots.assign(old.empty() ? 4 : old.size() * 2, Slot{});
    for (Slot& slot : old) {
      if (slot.value) shard.slots[shard.probe(slot.hash, slot.key)] = std::move(slot);
    }
  }

  Shard& own(std::size_t index, Owned& owned) {
    const std::size_t g = index / kGroupSize;
    if (!owned.groups[g]) {
      groups_[g] = std::make_shared<const Group>(*groups_[g]);
      owned.groups[g] = true;
    }
    // The group and, below, the shard were made by this edit and are not shared yet.
    auto& slot = const_cast<Group&>(*groups_[g]).shards[index % kGroupSize];
    if (!owned.shards[index]) {
      slot = std::make_shared<const Shard>(*slot);
      tables_[index] = slot->table();
      owned.shards[index] = true;
    }
    return const_cast<Shard&>(*slot);
  }

  std::array<std::shared_ptr<const Group>, kShards / kGroupSize> groups_;
  std::array<Table, kShards> tables_;  // each shard's slots, read by find without the hops
  std::size_t size_ = 0;
};

}  // namespace signpost::registry
