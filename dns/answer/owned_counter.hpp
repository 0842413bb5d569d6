// A counter that one thread writes and any thread may read while it runs.
#pragma once

#include <atomic>
#include <cstdint>

namespace signpost::dns::answer {

/// A 64-bit event counter owned by one thread: only that thread adds to it, any thread may
/// read it at any time (a scrape of /metrics while the worker answers).
///
/// Design. Adding is a relaxed load and a relaxed store, not a read-modify-write: on x86-64
/// that is a plain `mov`, `add`, `mov` with no `lock` prefix, as cheap as the plain integer
/// it replaces, while a reader on another thread sees a whole value (the atomic makes the
/// concurrent read defined; a plain integer read would be a data race). It is correct only
/// because there is one writer: two threads adding would lose counts. Copies read the value
/// (relaxed), so sums of counters can be made on any thread. noexcept; no allocation.
class OwnedCounter {
 public:
  OwnedCounter() = default;
  OwnedCounter(const OwnedCounter& other) noexcept : value_(other.load()) {}
  OwnedCounter& operator=(const OwnedCounter& other) noexcept {
    value_.store(other.load(), std::memory_order_relaxed);
    return *this;
  }

  /// Adds `n`. The owning thread only.
  void add(std::uint64_t n) noexcept {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  /// Adds one. The owning thread only.
  OwnedCounter& operator++() noexcept {
    add(1);
    return *this;
  }
  /// Adds `n`. The owning thread only.
  OwnedCounter& operator+=(std::uint64_t n) noexcept {
    add(n);
    return *this;
  }

  /// The count now. Any thread.
  std::uint64_t load() const noexcept { return value_.load(std::memory_order_relaxed); }
  /// The count now, so that a counter reads as the integer it replaced. Any thread.
  operator std::uint64_t() const noexcept { return load(); }  // NOLINT(google-explicit-constructor)

 private:
  std::atomic<std::uint64_t> value_{0};
};

}  // namespace signpost::dns::answer
