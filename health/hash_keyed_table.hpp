// A flat map from 64-bit hashes to small values, for lookups that must cost one cache miss.
//
// Design. The key is already a hash, so its low bits pick the slot directly; linear
// probing over one array of {key, value} slots, at most half full, finds a hit in the slot
// it reads first nearly always. std::unordered_map needs three dependent reads for the
// same (bucket, the node before, the node) and a division by a prime. Erasing shifts the
// following entries back (no tombstones). Key 0 marks a free slot, so the caller's keys
// must not be 0 (see nonzero_key).
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace signpost::health {

/// A hash as a key of HashKeyedTable: any value but 0.
inline std::uint64_t nonzero_key(std::uint64_t hash) noexcept { return hash == 0 ? 1 : hash; }

/// Map from nonzero 64-bit hashes to Values. Not thread-safe; pointers to values are valid
/// until the next assign or erase.
template <typename Value>
class HashKeyedTable {
 public:
  /// The value at `key`, or nullptr. O(1) expected.
  Value* find(std::uint64_t key) noexcept {
    if (slots_.empty()) return nullptr;
    for (std::size_t i = key & mask_;; i = (i + 1) & mask_) {
      Slot& slot = slots_[i];
      if (slot.key == key) return &slot.value;
      if (slot.key == 0) return nullptr;
    }
  }

  const Value* find(std::uint64_t key) const noexcept {
    return const_cast<HashKeyedTable*>(this)->find(key);
  }
  /// Sets `key` (not 0) to `value`, adding it if absent.
  void assign(std::uint64_t key, Value value) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    Slot& slot = slots_[probe(key)];
    if (slot.key == 0) {
      slot.key = key;
      ++size_;
    }
    slot.value = std::move(value);
  }

  /// Removes `key`; returns whether it was there.
  bool erase(std::uint64_t key) noexcept {
    if (slots_.empty()) return false;
    std::size_t hole = probe(key);
    if (slots_[hole].key == 0) return false;
    // Backward-shift deletion: each following entry of the run moves into the hole when
    // the hole is no further from its home slot, along the probe direction, than it is.
    for (std::size_t next = (hole + 1) & mask_; slots_[next].key != 0; next = (next + 1) & mask_) {
      const std::size_t home = slots_[next].key & mask_;
      if (((next - home) & mask_) >= ((hole - home) & mask_)) {
        slots_[hole] = std::move(slots_[next]);
        hole = next;
      }
    }
    slots_[hole] = Slot{};
    --size_;
    return true;
  }

  std::size_t size() const noexcept { return size_; }

 private:
  struct Slot {
    std::uint64_t key = 0;
    Value value{};
  };

  // The slot holding `key`, or the free slot where it would go.
  std::size_t probe(std::uint64_t key) const noexcept {
    std::size_t i = key & mask_;
    while (slots_[i].key != key && slots_[i].key != 0) i = (i + 1) & mask_;
    return i;
  }

  void grow() {
    std::vector<Slot> old = std::exchange(slots_, std::vector<Slot>(slots_.empty() ? 16 : slots_.size() * 2));
    mask_ = slots_.size() - 1;
    for (Slot& slot : old) {
      if (slot.key != 0) slots_[probe(slot.key)] = std::move(slot);
    }
  }

  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
};

}  // namespace signpost::health
