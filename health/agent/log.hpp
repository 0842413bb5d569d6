// The agent's log: one line per event on stderr.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace signpost::health::agent {

/// How much an event matters.
enum class LogLevel : std::uint8_t { info, warning, error };

/// Where the agent's events go: stderr in the program, a capture in tests.
using Log = std::function<void(LogLevel, const std::string&)>;

/// Writes "2024-05-01T12:00:00.123Z info: message" to stderr as one write. Any thread.
void log_to_stderr(LogLevel level, const std::string& message);

}  // namespace signpost::health::agent
