// What keeps a recorded UPDATE from being sent again to good effect.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

namespace signpost::health {

/// The TSIG times (RFC 8945 §4.2 Time Signed) of the last UPDATEs accepted for one
/// instance. A signed UPDATE is accepted only when it was signed later than the last one,
/// or in the same second with a MAC not seen in that second: a recorded registration sent
/// again after a delete, or a recorded delete after a new registration, is refused, while
/// an agent may still send up to four different UPDATEs within one second. 24 octets; any thread
/// that owns it; no allocation.
class ReplayGuard {
 public:
  /// Whether an UPDATE signed at `time_signed` with `mac` may change the instance.
  bool accepts(std::uint64_t time_signed, std::span<const std::uint8_t> mac) const noexcept {
    if (time_signed != time_) return time_signed > time_;
    const std::uint32_t digest = digest_of(mac);
    for (const std::uint32_t seen : macs_) {
      if (seen == digest) return false;
    }
    return macs_.back() == 0;  // room for one more in this second
  }

  /// Records an accepted UPDATE.
  void accept(std::uint64_t time_signed, std::span<const std::uint8_t> mac) noexcept {
    if (time_signed != time_) {
      time_ = time_signed;
      macs_.fill(0);
    }
    for (std::uint32_t& seen : macs_) {
      if (seen == 0) {
        seen = digest_of(mac);
        return;
      }
    }
  }

  std::uint64_t time() const noexcept { return time_; }

  /// The guard as 24 octets (the time, then the four digests, each big-endian), to be kept
  /// across a restart, and back.
  std::array<std::uint8_t, 24> to_bytes() const noexcept {
    std::array<std::uint8_t, 24> out{};
    for (int i = 0; i < 8; ++i) out[i] = static_cast<std::uint8_t>(time_ >> (56 - 8 * i));
    for (std::size_t m = 0; m < macs_.size(); ++m) {
      for (int i = 0; i < 4; ++i) {
        out[8 + 4 * m + i] = static_cast<std::uint8_t>(macs_[m] >> (24 - 8 * i));
      }
    }
    return out;
  }
  static ReplayGuard from_bytes(const std::array<std::uint8_t, 24>& bytes) noexcept {
    ReplayGuard guard;
    for (int i = 0; i < 8; ++i) guard.time_ = guard.time_ << 8 | bytes[i];
    for (std::size_t m = 0; m < guard.macs_.size(); ++m) {
      for (int i = 0; i < 4; ++i) guard.macs_[m] = guard.macs_[m] << 8 | bytes[8 + 4 * m + i];
    }
    return guard;
  }

 private:
  // A nonzero 32-bit digest of a MAC: its first four octets. A MAC is an HMAC output, as
  // good as random, so any 32 bits of it serve (and cost no hashing on the renewal path):
  // replays repeat them exactly; two different MACs share them with odds of 2^-32, which
  // refuses a good UPDATE, never accepts a replay.
  static std::uint32_t digest_of(std::span<const std::uint8_t> mac) noexcept {
    std::uint32_t digest = 0;
    std::memcpy(&digest, mac.data(), std::min<std::size_t>(mac.size(), sizeof digest));
    return digest == 0 ? 1 : digest;
  }

  std::uint64_t time_ = 0;
  std::array<std::uint32_t, 4> macs_{};
};

}  // namespace signpost::health
