// Log lines kept for a test to look at, from whichever thread logs them.
#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "registry/log/log.hpp"

namespace signpost::testing {

class LogCapture {
 public:
  /// The sink to hand to the code under test; this object must outlive its use.
  Log log() {
    return [this](LogLevel level, const std::string& line) {
      const std::lock_guard lock(mutex_);
      lines_.emplace_back(level, line);
    };
  }
  /// Every line so far, with its level.
  std::vector<std::pair<LogLevel, std::string>> lines() const {
    const std::lock_guard lock(mutex_);
    return lines_;
  }
  /// How many lines contain `part`.
  std::size_t count(const std::string& part) const {
    const std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (const auto& line : lines_) n += line.second.find(part) != std::string::npos ? 1 : 0;
    return n;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::pair<LogLevel, std::string>> lines_;
};

}  // namespace signpost::testing
