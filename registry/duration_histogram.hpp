// A fixed-bucket histogram of durations, written by one thread and read by any.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace signpost::registry {

/// Counts durations into fixed buckets from 100 us to 1 s (the span of a snapshot publish,
/// from one changed service to a rebuild of a large registry), for a Prometheus histogram.
/// One thread observes (the registry thread); any thread may read at any time. Relaxed
/// atomics: a reading taken during an observation may miss that one observation in some
/// fields, never tear a value. noexcept; no allocation.
class DurationHistogram {
 public:
  /// Upper bounds of the buckets, in seconds; a last bucket holds what exceeds them all.
  static constexpr std::array<double, 13> kBounds{0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                                  0.005,  0.01,    0.025,  0.05,  0.1,
                                                  0.25,   0.5,     1.0};

  /// What read() saw: per-bucket counts (not cumulative; the last one past every bound)
  /// and the sum of every duration observed.
  struct Reading {
    std::array<std::uint64_t, kBounds.size() + 1> counts{};
    double sum_seconds = 0;
  };

  /// Counts one duration. The observing thread.
  void observe(std::chrono::nanoseconds duration) noexcept {
    const double seconds = std::chrono::duration<double>(duration).count();
    std::size_t bucket = 0;
    while (bucket < kBounds.size() && seconds > kBounds[bucket]) ++bucket;
    counts_[bucket].fetch_add(1, std::memory_order_relaxed);
    sum_nanoseconds_.fetch_add(static_cast<std::uint64_t>(duration.count()),
                               std::memory_order_relaxed);
  }

  /// The counts now. Any thread.
  Reading read() const noexcept {
    Reading out;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      out.counts[i] = counts_[i].load(std::memory_order_relaxed);
    }
    out.sum_seconds = static_cast<double>(sum_nanoseconds_.load(std::memory_order_relaxed)) / 1e9;
    return out;
  }

 private:
  std::array<std::atomic<std::uint64_t>, kBounds.size() + 1> counts_{};
  std::atomic<std::uint64_t> sum_nanoseconds_{0};
};

}  // namespace signpost::registry
