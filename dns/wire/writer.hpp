// Fixed-capacity big-endian writer for building DNS responses in place.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "dns/wire/reader.hpp"

namespace signpost::dns::wire {

/// Writes into a caller-owned buffer with a hard limit. A write that does not fit
/// writes nothing and returns false, so callers can roll back to a mark and keep
/// the message well formed (clean truncation, RFC 2181 §9). Any thread; no allocation.
class Writer {
 public:
  Writer(std::span<std::uint8_t> buffer, std::size_t limit) noexcept
      : data_(buffer.data()), limit_(limit < buffer.size() ? limit : buffer.size()) {}

  bool put_u8(std::uint8_t v) noexcept {
    if (limit_ - size_ < 1) return false;
    data_[size_++] = v;
    return true;
  }
  bool put_u16(std::uint16_t v) noexcept {
    if (limit_ - size_ < 2) return false;
    store_u16(data_ + size_, v);
    size_ += 2;
    return true;
  }
  bool put_u32(std::uint32_t v) noexcept {
    if (limit_ - size_ < 4) return false;
    store_u32(data_ + size_, v);
    size_ += 4;
    return true;
  }
  bool put_bytes(std::span<const std::uint8_t> bytes) noexcept {
    if (limit_ - size_ < bytes.size()) return false;
    copy_octets(data_ + size_, bytes.data(), bytes.size());
    size_ += bytes.size();
    return true;
  }
  /// Overwrites a 16-bit value already written at `offset`.
  void patch_u16(std::size_t offset, std::uint16_t v) noexcept { store_u16(data_ + offset, v); }

  std::size_t size() const noexcept { return size_; }
  std::size_t limit() const noexcept { return limit_; }
  std::size_t room() const noexcept { return limit_ - size_; }
  /// Drops everything written after `mark` (a former size()).
  void rewind(std::size_t mark) noexcept { size_ = mark; }
  /// Lowers the limit, e.g. to keep room for the OPT record; never raises it.
  void reserve_tail(std::size_t bytes) noexcept { limit_ = bytes < limit_ ? limit_ - bytes : 0; }
  /// Gives back what reserve_tail took.
  void release_tail(std::size_t bytes) noexcept { limit_ += bytes; }
  std::uint8_t* data() noexcept { return data_; }
  const std::uint8_t* data() const noexcept { return data_; }

 private:
  std::uint8_t* data_;
  std::size_t limit_;
  std::size_t size_ = 0;
};

}  // namespace signpost::dns::wire
