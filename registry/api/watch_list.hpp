// The blocking queries (GET /v1/watch) waiting for the registry's serial to move.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>

namespace signpost::registry::api {

/// The waiting watches of one HTTP server: each waits for the serial to differ from the
/// index it was given. The server's thread only (serial_changed is posted to it).
class WatchList {
 public:
  /// Called once with the serial that ended the wait.
  using Wake = std::function<void(std::uint32_t)>;

  /// Adds a watch of `index`; its handle for remove. Allocates.
  std::uint64_t add(std::uint32_t index, Wake wake);
  /// Removes a watch (its time ran out, its connection closed); a handle already woken or
  /// removed is ignored.
  void remove(std::uint64_t handle) noexcept;
  /// Wakes, and removes, every watch whose index differs from `serial`.
  void serial_changed(std::uint32_t serial);
  /// Drops every watch without waking it (the server is stopping).
  void clear() noexcept { watches_.clear(); }

  std::size_t size() const noexcept { return watches_.size(); }

 private:
  struct Watch {
    std::uint32_t index;
    Wake wake;
  };
  std::map<std::uint64_t, Watch> watches_;
  std::uint64_t next_handle_ = 1;
};

}  // namespace signpost::registry::api
