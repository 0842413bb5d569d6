// Log lines on stderr.
#include "registry/log/log.hpp"

#include <cstdio>
#include <ctime>
#include <mutex>

namespace signpost {

std::string_view to_string(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::info: return "info";
    case LogLevel::warning: return "warning";
    default: return "error";
  }
}

std::string format_log_line(LogLevel level, std::string_view message,
                            std::chrono::system_clock::time_point at) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(at);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char stamp[64];
  std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(millis));
  return std::string(stamp) + " " + std::string(to_string(level)) + ": " + std::string(message);
}

void log_line(LogLevel level, std::string_view message) {
  static std::mutex mutex;
  const std::string line = format_log_line(level, message, std::chrono::system_clock::now()) + "\n";
  // stderr is unbuffered, so the line goes out in one write; the flush covers a stderr
  // that was made buffered.
  const std::lock_guard lock(mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

void log_audit(std::string_view event, std::span<const AuditField> fields) {
  std::string message = "audit ";
  message += event;
  for (const auto& [name, value] : fields) {
    message += ' ';
    message += name;
    message += '=';
    // A value with a space or nothing in it is quoted, so that the line splits on spaces.
    const bool quote = value.empty() || value.find_first_of(" \"=") != std::string_view::npos;
    if (quote) message += '"';
    for (const char c : value) {
      if (quote && (c == '"' || c == '\\')) message += '\\';
      message += c;
    }
    if (quote) message += '"';
  }
  log_line(LogLevel::info, message);
}

}  // namespace signpost
