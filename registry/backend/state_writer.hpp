// The thread that writes the state file, off the registry thread.
//
// Design. The registry thread hands over each new state as an immutable shared pointer
// and goes on: submit() only swaps a pointer under a short lock. The writer thread keeps
// the newest state it was given and drops older ones it has not written yet (coalescing,
// so a burst of heartbeats costs one write), encodes it and saves it with
// save_state_file, at most once per `min_interval`, since every write rewrites and syncs
// the whole file. A failed write (disk full, permissions) is logged once per distinct
// error and retried after `retry_interval` with the newest state; the server keeps
// answering from memory meanwhile. flush() writes at once and waits, for shutdown.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <thread>

#include "registry/backend/state_file.hpp"
#include "registry/log/log.hpp"

namespace signpost::registry::backend {

/// How often the writer may write.
struct StateWriterSettings {
  std::chrono::milliseconds min_interval{100};     // between two writes
  std::chrono::milliseconds retry_interval{1000};  // after a failed write
};

/// What the writer has done, for /metrics.
struct StateWriterCounters {
  std::uint64_t submitted = 0;  // states handed to submit()
  std::uint64_t writes = 0;     // files written
  std::uint64_t failures = 0;   // writes that failed
  std::chrono::microseconds last_write_duration{0};  // encoding and saving, the last success
};

/// Writes submitted states to one state file on a thread of its own. Public functions may
/// be called from any thread.
class StateWriter {
 public:
  /// Saves bytes to a path; save_state_file but in tests. Throws std::system_error.
  using Save = std::function<void(const std::string&, std::span<const std::uint8_t>)>;

  /// Starts the writer thread for the file at `path`. Allocates.
  StateWriter(std::string path, Log log, StateWriterSettings settings = {},
              Save save = save_state_file);
  /// Writes what is pending and stops, as stop().
  ~StateWriter();
  StateWriter(const StateWriter&) = delete;
  StateWriter& operator=(const StateWriter&) = delete;

  /// Hands over the newest state, to be written within `min_interval`; a state submitted
  /// before it and not yet written is dropped. Never waits for the disk: the lock it
  /// takes is held only to swap pointers. The registry thread; no allocation.
  void submit(std::shared_ptr<const RegistryState> state);
  /// As submit, for a state already encoded (StateEncoder): a large registry is encoded
  /// record by record into one buffer rather than copied whole.
  void submit_encoded(std::shared_ptr<const std::vector<std::uint8_t>> bytes);

  /// Writes the newest submitted state now, if it was not written yet, and waits for it.
  /// Returns false when that write failed (it is retried later). Control thread, e.g. at
  /// shutdown; never the registry thread while it must answer.
  bool flush();

  /// Writes what is pending (one attempt) and joins the thread; idempotent. submit() after
  /// it does nothing. Control thread.
  void stop();

  /// The counters so far. Any thread; takes the short lock; no allocation.
  StateWriterCounters counters() const;

 private:
  using Clock = std::chrono::steady_clock;
  // A state to write: as a RegistryState, or encoded already.
  struct Pending {
    std::shared_ptr<const RegistryState> state;
    std::shared_ptr<const std::vector<std::uint8_t>> bytes;
    explicit operator bool() const noexcept { return state || bytes; }
  };

  void run();
  void hand_over(Pending pending);
  // Waits until a state is due or stop; returns it, or null when stopping with none.
  Pending next_due(std::unique_lock<std::mutex>& lock);
  // Encodes (if need be) and saves one state; returns whether it was written. Writer
  // thread, unlocked.
  bool write(const Pending& pending, std::chrono::microseconds& took);
  void log_failure(const std::string& error);

  const std::string path_;
  const Log log_;
  const StateWriterSettings settings_;
  const Save save_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;  // the writer: a submit, a flush or stop
  std::condition_variable done_;  // flush(): a write ended
  Pending pending_;                               // the newest state not yet written
  std::uint64_t pending_generation_ = 0;          // its number
  std::uint64_t written_ = 0;     // number of the newest state written
  std::uint64_t flush_target_ = 0;  // a flush() waits for this one; 0: none
  StateWriterCounters counters_;    // counters_.submitted: the newest state's number
  Clock::time_point next_write_{};  // no write before this (min_interval, retry_interval)
  bool stopping_ = false;
  bool finished_ = false;  // the writer thread has returned

  std::set<std::string> logged_errors_;  // since the last success; writer thread only

  std::thread thread_;  // last: starts after every member above is ready
};

}  // namespace signpost::registry::backend
