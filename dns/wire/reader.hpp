// Bounds-checked big-endian reader over a received DNS message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace signpost::dns::wire {

/// Reads network-order integers and byte runs from a message, never past its end.
/// Every read returns false instead of overrunning; the position then stays put.
/// Any thread; no allocation.
class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> message, std::size_t position = 0) noexcept
      : message_(message), position_(position) {}

  bool read_u8(std::uint8_t& out) noexcept;
  bool read_u16(std::uint16_t& out) noexcept;
  bool read_u32(std::uint32_t& out) noexcept;
  /// Skips `count` octets.
  bool skip(std::size_t count) noexcept;
  /// Returns a view of the next `count` octets and advances past them.
  bool read_bytes(std::size_t count, std::span<const std::uint8_t>& out) noexcept;

  std::size_t position() const noexcept { return position_; }
  void seek(std::size_t position) noexcept { position_ = position; }
  std::size_t remaining() const noexcept {
    return position_ <= message_.size() ? message_.size() - position_ : 0;
  }
  std::span<const std::uint8_t> message() const noexcept { return message_; }

 private:
  std::span<const std::uint8_t> message_;
  std::size_t position_;
};

/// Loads a big-endian 16-bit value; the caller has checked the bounds.
inline std::uint16_t load_u16(const std::uint8_t* p) noexcept {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

/// Loads a big-endian 32-bit value; the caller has checked the bounds.
inline std::uint32_t load_u32(const std::uint8_t* p) noexcept {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

/// Copies `n` octets between buffers that do not overlap. Names' labels and most records are
/// short, and two overlapping fixed-size copies inline cost less than a call to memcpy
/// with a variable size.
inline void copy_octets(std::uint8_t* to, const std::uint8_t* from, std::size_t n) noexcept {
  if (n >= 16 && n <= 32) {
    std::memcpy(to, from, 16);
    std::memcpy(to + n - 16, from + n - 16, 16);
  } else if (n >= 8 && n < 16) {
    std::memcpy(to, from, 8);
    std::memcpy(to + n - 8, from + n - 8, 8);
  } else if (n >= 4 && n < 8) {
    std::memcpy(to, from, 4);
    std::memcpy(to + n - 4, from + n - 4, 4);
  } else if (n != 0) {
    std::memcpy(to, from, n);
  }
}

/// Stores a big-endian 16-bit value; the caller has checked the bounds.
inline void store_u16(std::uint8_t* p, std::uint16_t v) noexcept {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}

/// Stores a big-endian 32-bit value; the caller has checked the bounds.
inline void store_u32(std::uint8_t* p, std::uint32_t v) noexcept {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
}

}  // namespace signpost::dns::wire
