// One server per state file: an advisory lock held for the server's lifetime.
#pragma once

#include <string>

namespace signpost::registry::backend {

/// Holds an exclusive flock(2) on `<state file>.lock` for as long as it lives, so that two
/// servers started with one state file cannot overwrite each other's registry. The lock
/// goes with the process, even after `kill -9`.
class StateFileLock {
 public:
  /// Takes the lock without waiting. Throws std::runtime_error naming the file when another
  /// process holds it or the lock file cannot be opened. Control thread at start-up.
  explicit StateFileLock(const std::string& state_file);
  ~StateFileLock();
  StateFileLock(const StateFileLock&) = delete;
  StateFileLock& operator=(const StateFileLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace signpost::registry::backend
