// Bounds-checked big-endian reader.
#include "dns/wire/reader.hpp"

namespace signpost::dns::wire {

bool Reader::read_u8(std::uint8_t& out) noexcept {
  if (remaining() < 1) return false;
  out = message_[position_];
  position_ += 1;
  return true;
}

bool Reader::read_u16(std::uint16_t& out) noexcept {
  if (remaining() < 2) return false;
  out = load_u16(message_.data() + position_);
  position_ += 2;
  return true;
}

bool Reader::read_u32(std::uint32_t& out) noexcept {
  if (remaining() < 4) return false;
  out = load_u32(message_.data() + position_);
  position_ += 4;
  return true;
}

bool Reader::skip(std::size_t count) noexcept {
  if (remaining() < count) return false;
  position_ += count;
  return true;
}

bool Reader::read_bytes(std::size_t count, std::span<const std::uint8_t>& out) noexcept {
  if (remaining() < count) return false;
  out = message_.subspan(position_, count);
  position_ += count;
  return true;
}

}  // namespace signpost::dns::wire
