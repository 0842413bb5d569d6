// The waiting watches.
#include "registry/api/watch_list.hpp"

#include <vector>

namespace signpost::registry::api {

std::uint64_t WatchList::add(std::uint32_t index, Wake wake) {
  const std::uint64_t handle = next_handle_++;
  watches_.emplace(handle, Watch{index, std::move(wake)});
  return handle;
}

void WatchList::remove(std::uint64_t handle) noexcept { watches_.erase(handle); }

void WatchList::serial_changed(std::uint32_t serial) {
  // Taken out first: a wake may add or remove watches (its session answers, reads the next
  // request and starts another watch), which must not disturb this walk.
  std::vector<Wake> woken;
  for (auto it = watches_.begin(); it != watches_.end();) {
    if (it->second.index == serial) {
      ++it;
      continue;
    }
    woken.push_back(std::move(it->second.wake));
    it = watches_.erase(it);
  }
  for (Wake& wake : woken) wake(serial);
}

}  // namespace signpost::registry::api
