// Log lines on stderr, as text or JSON.
#include "registry/log/log.hpp"

#include <atomic>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <vector>

namespace signpost {

namespace {

// Relaxed is enough: the format is set at start-up, and a line is whole in either format.
std::atomic<LogFormat> g_format{LogFormat::text};

// "2026-05-01T10:00:00.123Z": UTC, milliseconds.
std::string timestamp(std::chrono::system_clock::time_point at) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(at);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char stamp[64];
  std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(millis));
  return stamp;
}

// Length of the well-formed UTF-8 sequence that `text` starts with, or 0 when it does not
// start with one: no overlong forms, no surrogates, nothing above U+10FFFF (RFC 3629 §4).
std::size_t utf8_sequence(std::string_view text) noexcept {
  const auto octet = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = octet(0);
  if (lead < 0x80) return 1;
  std::size_t length = 0;
  unsigned char low = 0x80;  // the range of the second octet, narrowed for some leads
  unsigned char high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;   // overlong below U+0800
    if (lead == 0xED) high = 0x9F;  // surrogates U+D800..U+DFFF
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;   // overlong below U+10000
    if (lead == 0xF4) high = 0x8F;  // above U+10FFFF
  } else {
    return 0;  // a continuation octet, C0/C1 (always overlong) or F5..FF
  }
  if (text.size() < length || octet(1) < low || octet(1) > high) return 0;
  for (std::size_t i = 2; i < length; ++i) {
    if ((octet(i) & 0xC0) != 0x80) return 0;
  }
  return length;
}

// A control character inside a JSON string: the short escapes where RFC 8259 §7 has one.
void append_json_control(std::string& out, unsigned char c) {
  switch (c) {
    case '\n': out += "\\n"; return;
    case '\r': out += "\\r"; return;
    case '\t': out += "\\t"; return;
    case '\b': out += "\\b"; return;
    case '\f': out += "\\f"; return;
    default: {
      char escape[8];
      std::snprintf(escape, sizeof escape, "\\u%04x", static_cast<unsigned>(c));
      out += escape;
    }
  }
}

// `text` as a JSON string. Bytes that are not UTF-8 become U+FFFD, one per byte, so that a
// collector never rejects the line for what a client sent.
void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  while (!text.empty()) {
    const auto c = static_cast<unsigned char>(text.front());
    std::size_t used = 1;
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7F) {
      append_json_control(out, c);
    } else if (c < 0x80) {
      out += static_cast<char>(c);
    } else if ((used = utf8_sequence(text)) != 0) {
      out.append(text.substr(0, used));
    } else {
      out += "\xEF\xBF\xBD";
      used = 1;
    }
    text.remove_prefix(used);
  }
  out += '"';
}

void append_json_member(std::string& out, std::string_view name, std::string_view value) {
  out += ',';
  append_json_string(out, name);
  out += ':';
  append_json_string(out, value);
}

// A text audit value: quoted when it holds a space, a quote, '=' or nothing, so that the
// line splits on spaces; control characters escaped, so that it stays one line.
void append_text_value(std::string& out, std::string_view value) {
  const bool quote = value.empty() || value.find_first_of(" \"=") != std::string_view::npos;
  if (quote) out += '"';
  for (const char c : value) {
    const auto octet = static_cast<unsigned char>(c);
    if (octet < 0x20 || octet == 0x7F) {
      char escape[8];
      std::snprintf(escape, sizeof escape, "\\x%02x", static_cast<unsigned>(octet));
      out += escape;
      continue;
    }
    if (quote && (c == '"' || c == '\\')) out += '\\';
    out += c;
  }
  if (quote) out += '"';
}

void write_line(std::string line) {
  static std::mutex mutex;
  line += '\n';
  // stderr is unbuffered, so the line goes out in one write; the flush covers a stderr
  // that was made buffered.
  const std::lock_guard lock(mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace

std::string plural(std::size_t count, std::string_view noun) {
  return std::to_string(count) + " " + std::string(noun) + (count == 1 ? "" : "s");
}

std::string_view to_string(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::info: return "info";
    case LogLevel::warning: return "warning";
    default: return "error";
  }
}

std::optional<LogFormat> parse_log_format(std::string_view text) noexcept {
  if (text == "text") return LogFormat::text;
  if (text == "json") return LogFormat::json;
  return std::nullopt;
}

void set_log_format(LogFormat format) noexcept { g_format.store(format, std::memory_order_relaxed); }

LogFormat log_format() noexcept { return g_format.load(std::memory_order_relaxed); }

std::string format_log_line(LogLevel level, std::string_view message,
                            std::chrono::system_clock::time_point at) {
  return timestamp(at) + " " + std::string(to_string(level)) + ": " + std::string(message);
}

std::string format_json_log_line(LogLevel level, std::string_view message,
                                 std::span<const AuditField> fields,
                                 std::chrono::system_clock::time_point at) {
  std::string out = "{\"time\":\"" + timestamp(at) + "\",\"level\":\"";
  out += to_string(level);
  out += "\",\"msg\":";
  append_json_string(out, message);
  for (const auto& [name, value] : fields) append_json_member(out, name, value);
  out += '}';
  return out;
}

void log_line(LogLevel level, std::string_view message) {
  const auto now = std::chrono::system_clock::now();
  write_line(log_format() == LogFormat::json ? format_json_log_line(level, message, {}, now)
                                             : format_log_line(level, message, now));
}

void log_audit(std::string_view event, std::span<const AuditField> fields) {
  std::string message = "audit ";
  message += event;
  const auto now = std::chrono::system_clock::now();
  if (log_format() == LogFormat::json) {
    std::vector<AuditField> members;
    members.reserve(fields.size() + 1);
    members.emplace_back("event", event);
    members.insert(members.end(), fields.begin(), fields.end());
    write_line(format_json_log_line(LogLevel::info, message, members, now));
    return;
  }
  for (const auto& [name, value] : fields) {
    message += ' ';
    message += name;
    message += '=';
    append_text_value(message, value);
  }
  write_line(format_log_line(LogLevel::info, message, now));
}

}  // namespace signpost
