// Waiting in tests for what another thread or process brings about, without fixed sleeps.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace signpost::testing {

/// Polls `done` every 20 ms until it holds or `timeout` has passed; its last answer. Test
/// thread.
inline bool eventually(const std::function<bool()>& done,
                       std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  const auto give_up = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < give_up) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

}  // namespace signpost::testing
