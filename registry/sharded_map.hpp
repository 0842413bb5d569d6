// A persistent (copy-on-write) hash map split into shards, so that changing one entry of a
// large immutable map copies one small shard, not the whole map.
#pragma once

#include <array>
#include <bitset>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "dns/zone/zone.hpp"

namespace signpost::registry {

/// Map from a string key to shared values whose copies share their shards. A copy edited
/// with `set`/`erase` shares every shard but those it touched. Lookups: any thread, no allocation.
/// Updates: control plane, allocate O(size / kShards).
template <typename Value, std::size_t kShards = 1024>
class ShardedMap {
 public:
  using Shard = std::unordered_map<std::string, std::shared_ptr<const Value>, dns::zone::NameHash,
                                   std::equal_to<>>;

  ShardedMap() {
    static const auto empty = std::make_shared<const Shard>();
    shards_.fill(empty);
  }

  const Value* find(std::string_view key) const noexcept {
    const Shard& shard = *shards_[shard_of(key)];
    const auto it = shard.find(key);
    return it == shard.end() ? nullptr : it->second.get();
  }

  /// Which shards an edit has already copied; one per build of a new map.
  using Owned = std::bitset<kShards>;

  /// Sets `key` to `value` in place. The first change to a shard in an edit copies it, so
  /// maps that share the old shard keep it unchanged.
  void set(const std::string& key, std::shared_ptr<const Value> value, Owned& owned) {
    if (own(shard_of(key), owned).insert_or_assign(key, std::move(value)).second) ++size_;
  }

  /// Removes `key` in place (copying its shard as `set` does).
  void erase(const std::string& key, Owned& owned) {
    const std::size_t index = shard_of(key);
    if (shards_[index]->find(key) == shards_[index]->end()) return;
    own(index, owned).erase(key);
    --size_;
  }

  std::size_t size() const noexcept { return size_; }

  /// Visits every entry (control plane).
  template <typename Visit>
  void for_each(Visit&& visit) const {
    for (const auto& shard : shards_) {
      for (const auto& [key, value] : *shard) visit(key, *value);
    }
  }

 private:
  static std::size_t shard_of(std::string_view key) noexcept {
    // The top bits of the hash pick the shard; the shard's table uses the low ones.
    return (dns::zone::NameHash{}(key) >> 24) % kShards;
  }

  Shard& own(std::size_t index, Owned& owned) {
    if (!owned[index]) {
      shards_[index] = std::make_shared<const Shard>(*shards_[index]);
      owned[index] = true;
    }
    // The shard was made by this edit and is not shared yet.
    return const_cast<Shard&>(*shards_[index]);
  }

  std::array<std::shared_ptr<const Shard>, kShards> shards_;
  std::size_t size_ = 0;
};

}  // namespace signpost::registry
