// The programs' log lines: timestamp, level and message.
#include "registry/log/log.hpp"

#include <gtest/gtest.h>

namespace signpost {
namespace {

TEST(Log, LinesCarryAUtcTimestampWithMillisecondsAndTheLevel) {
  // 2026-05-01T10:00:00Z and 123 ms.
  const std::chrono::system_clock::time_point at =
      std::chrono::system_clock::time_point(std::chrono::seconds(1777629600)) +
      std::chrono::milliseconds(123);
  EXPECT_EQ(format_log_line(LogLevel::warning, "disk full", at),
            "2026-05-01T10:00:00.123Z warning: disk full");
  EXPECT_EQ(format_log_line(LogLevel::info, "", at), "2026-05-01T10:00:00.123Z info: ");
  EXPECT_EQ(to_string(LogLevel::error), "error");
}

TEST(Log, ASinkTakesTheLogLine) {
  const Log sink = log_line;  // what the programs hand their components
  testing::internal::CaptureStderr();
  sink(LogLevel::info, "hello");
  const std::string written = testing::internal::GetCapturedStderr();
  EXPECT_EQ(written.size(), std::string("2026-05-01T10:00:00.123Z info: hello\n").size());
  EXPECT_EQ(written.substr(24), " info: hello\n");
}

}  // namespace
}  // namespace signpost
