// A persistent (copy-on-write) hash map split into shards, so that changing one entry of a
// large immutable map copies one small shard, not the whole map.
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "dns/zone/zone.hpp"

namespace signpost::registry {

/// Immutable map from a string key to shared values. `with`/`without` return a new map
/// that shares every shard but the one touched. Lookups: any thread, no allocation.
/// Updates: control plane, allocate O(size / kShards).
template <typename Value, std::size_t kShards = 256>
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

  /// A copy with `key` set to `value`.
  ShardedMap with(const std::string& key, std::shared_ptr<const Value> value) const {
    ShardedMap copy = *this;
    auto& slot = copy.shards_[shard_of(key)];
    auto shard = std::make_shared<Shard>(*slot);
    const bool added = shard->insert_or_assign(key, std::move(value)).second;
    slot = std::move(shard);
    if (added) ++copy.size_;
    return copy;
  }

  /// A copy without `key`.
  ShardedMap without(const std::string& key) const {
    ShardedMap copy = *this;
    auto& slot = copy.shards_[shard_of(key)];
    if (slot->find(key) == slot->end()) return copy;
    auto shard = std::make_shared<Shard>(*slot);
    shard->erase(key);
    slot = std::move(shard);
    --copy.size_;
    return copy;
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

  std::array<std::shared_ptr<const Shard>, kShards> shards_;
  std::size_t size_ = 0;
};

}  // namespace signpost::registry
