// The programs' log: one timestamped line per event on stderr, for signpostd and the agent
// alike, as text or as one JSON object per line (`log.format`). Like the config engine it belongs to no module, so it lives in `signpost` itself;
// it sits under registry/ only because that is the layer below both programs.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
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

/// A count and its noun as a log line says it: "1 service", "3 services". Allocates.
std::string plural(std::size_t count, std::string_view noun);

/// How lines are written: "2026-... info: message" text, or one JSON object per line
/// for log collectors.
enum class LogFormat : std::uint8_t { text, json };

/// "text" -> text, "json" -> json, anything else -> nullopt (`log.format`'s values).
std::optional<LogFormat> parse_log_format(std::string_view text) noexcept;

/// Sets how every later line of this process is written. Meant for start-up, before other
/// threads log, so that no line changes format half way; any thread may call it (the
/// setting is atomic). The default is text.
void set_log_format(LogFormat format) noexcept;

/// The format set_log_format chose. Any thread.
LogFormat log_format() noexcept;

/// One field of an audit line: a name ("service", "who", "from") and its value.
using AuditField = std::pair<std::string_view, std::string_view>;

/// "2026-05-01T10:00:00.123Z warning: message" (UTC, milliseconds), without a newline.
/// Any thread; allocates.
std::string format_log_line(LogLevel level, std::string_view message,
                            std::chrono::system_clock::time_point at);

/// The JSON form of a line, without a newline: {"time":"2026-05-01T10:00:00.123Z",
/// "level":"info","msg":"..."}, then each of `fields` as a key of its own, in order (their
/// names must not be "time", "level" or "msg"). Strings are escaped per RFC 8259 §7:
/// quote, backslash and control characters; bytes that are not UTF-8 become U+FFFD, so
/// the line is always valid JSON. Any thread; allocates.
std::string format_json_log_line(LogLevel level, std::string_view message,
                                 std::span<const AuditField> fields,
                                 std::chrono::system_clock::time_point at);

/// Writes the line of now, in log_format(), and a newline to stderr as one write, under a
/// lock, so that lines from different threads never interleave. Any thread; allocates;
/// never called per packet.
void log_line(LogLevel level, std::string_view message);

/// Writes one audit line: a change to the registry (`event`: "register", "deregister",
/// "health", "drain", "undrain", "weight", "expire"), with who made it (a key name, an API
/// token's id), what it touched and from which address. As text:
/// "... info: audit register service=web id=a who=key:agent. from=127.0.0.1"; as JSON:
/// {"time":...,"level":"info","msg":"audit register","event":"register","service":"web",...}
/// (so no field may be named "event").
/// Any thread; allocates; never called per packet (only for changes).
void log_audit(std::string_view event, std::span<const AuditField> fields);
inline void log_audit(std::string_view event, std::initializer_list<AuditField> fields) {
  log_audit(event, std::span<const AuditField>(fields.begin(), fields.size()));
}

}  // namespace signpost
