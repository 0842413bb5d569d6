// The programs' log: one timestamped line per event on stderr, for signpostd and the agent
// alike. Like the config engine it belongs to no module, so it lives in `signpost` itself;
// it sits under registry/ only because that is the layer below both programs.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace signpost {

/// How much an event matters.
enum class LogLevel : std::uint8_t { info, warning, error };

/// Where a component's events go: log_line in the programs, a capture in tests.
using Log = std::function<void(LogLevel, const std::string&)>;

/// "info", "warning", "error".
std::string_view to_string(LogLevel level) noexcept;

/// "2026-05-01T10:00:00.123Z warning: message" (UTC, milliseconds), without a newline.
/// Any thread; allocates.
std::string format_log_line(LogLevel level, std::string_view message,
                            std::chrono::system_clock::time_point at);

/// Writes format_log_line of now and a newline to stderr as one write, under a lock, so
/// that lines from different threads never interleave. Any thread; allocates; never called
/// per packet.
void log_line(LogLevel level, std::string_view message);

}  // namespace signpost
