// The programs' log: one timestamped line per event on stderr, for signpostd and the agent
// alike. Like the config engine it belongs to no module, so it lives in `signpost` itself;
// it sits under registry/ only because that is the layer below both programs.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>

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

/// One field of an audit line: a name ("service", "who", "from") and its value.
using AuditField = std::pair<std::string_view, std::string_view>;

/// Writes one audit line: a change to the registry (`event`: "register", "deregister",
/// "health", "drain", "undrain", "weight", "expire"), with who made it (a key name, an API
/// token's id), what it touched and from which address. As text:
/// "... info: audit register service=web id=a who=key:agent. from=127.0.0.1".
/// Any thread; allocates; never called per packet (only for changes).
void log_audit(std::string_view event, std::span<const AuditField> fields);
inline void log_audit(std::string_view event, std::initializer_list<AuditField> fields) {
  log_audit(event, std::span<const AuditField>(fields.begin(), fields.size()));
}

}  // namespace signpost
