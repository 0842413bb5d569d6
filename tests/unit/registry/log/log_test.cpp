// The programs' log lines: timestamp, level and message, as text and as JSON.
#include "registry/log/log.hpp"

#include <gtest/gtest.h>

#include <array>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace signpost {
namespace {

// 2026-05-01T10:00:00Z and 123 ms.
const std::chrono::system_clock::time_point kAt =
    std::chrono::system_clock::time_point(std::chrono::seconds(1777629600)) +
    std::chrono::milliseconds(123);

// Sets the process's log format for one test and puts text back after it.
class FormatScope {
 public:
  explicit FormatScope(LogFormat format) { set_log_format(format); }
  ~FormatScope() { set_log_format(LogFormat::text); }
  FormatScope(const FormatScope&) = delete;
  FormatScope& operator=(const FormatScope&) = delete;
};

// Parses one line strictly (Boost.JSON rejects invalid UTF-8 and bare control characters)
// and returns its object; fails the test when it is not one.
boost::json::object parse_object(const std::string& line) {
  boost::system::error_code error;
  const boost::json::value value = boost::json::parse(line, error);
  EXPECT_FALSE(error) << error.message() << " in: " << line;
  EXPECT_TRUE(value.is_object()) << line;
  return value.is_object() ? value.as_object() : boost::json::object{};
}

std::string text_of(const boost::json::object& object, std::string_view key) {
  const boost::json::value* value = object.if_contains(key);
  if (value == nullptr || !value->is_string()) return "<missing>";
  return std::string(value->as_string());
}

TEST(Log, LinesCarryAUtcTimestampWithMillisecondsAndTheLevel) {
  EXPECT_EQ(format_log_line(LogLevel::warning, "disk full", kAt),
            "2026-05-01T10:00:00.123Z warning: disk full");
  EXPECT_EQ(format_log_line(LogLevel::info, "", kAt), "2026-05-01T10:00:00.123Z info: ");
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

TEST(Log, FormatNamesAreTextAndJsonOnly) {
  EXPECT_EQ(parse_log_format("text"), LogFormat::text);
  EXPECT_EQ(parse_log_format("json"), LogFormat::json);
  EXPECT_EQ(parse_log_format("JSON"), std::nullopt);
  EXPECT_EQ(parse_log_format(""), std::nullopt);
  EXPECT_EQ(log_format(), LogFormat::text);  // the default
}

TEST(Log, JsonLineIsOneObjectWithTimeLevelAndMessage) {
  const std::string line = format_json_log_line(LogLevel::warning, "disk full", {}, kAt);
  EXPECT_EQ(line, R"({"time":"2026-05-01T10:00:00.123Z","level":"warning","msg":"disk full"})");
  const boost::json::object object = parse_object(line);
  EXPECT_EQ(object.size(), 3u);
  EXPECT_EQ(text_of(object, "time"), "2026-05-01T10:00:00.123Z");
  EXPECT_EQ(text_of(object, "level"), "warning");
  EXPECT_EQ(text_of(object, "msg"), "disk full");
}

TEST(Log, JsonFieldsFollowInOrderAsKeysOfTheirOwn) {
  const std::array<AuditField, 2> fields{AuditField{"service", "web"}, AuditField{"from", "::1"}};
  const std::string line = format_json_log_line(LogLevel::info, "m", fields, kAt);
  EXPECT_EQ(line.substr(line.find(R"("msg")")), R"("msg":"m","service":"web","from":"::1"})");
  const boost::json::object object = parse_object(line);
  EXPECT_EQ(text_of(object, "service"), "web");
  EXPECT_EQ(text_of(object, "from"), "::1");
}

TEST(Log, JsonEscapesQuotesBackslashesAndControlCharacters) {
  const std::string message = std::string("say \"hi\"\\ \n\r\t\b\f") + '\x01' + '\x1f' + '\x7f' +
                              std::string(1, '\0') + "end";
  const std::string line = format_json_log_line(LogLevel::error, message, {}, kAt);
  EXPECT_NE(line.find(R"("msg":"say \"hi\"\\ \n\r\t\b\f\u0001\u001f\u007f\u0000end")"),
            std::string::npos)
      << line;
  for (const char c : line) EXPECT_GE(static_cast<unsigned char>(c), 0x20) << line;
  EXPECT_EQ(text_of(parse_object(line), "msg"), message);
}

TEST(Log, JsonKeepsUtf8AndReplacesEveryOtherByte) {
  const std::string good = "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF";
  EXPECT_EQ(text_of(parse_object(format_json_log_line(LogLevel::info, good, {}, kAt)), "msg"),
            good);
  const std::string replacement = "\xEF\xBF\xBD";
  struct Case {
    std::string bytes;
    std::string decoded;
  };
  const std::vector<Case> cases{
      {"a\xFFz", "a" + replacement + "z"},                            // never in UTF-8
      {"\x80", replacement},                                          // lone continuation
      {"\xC0\xAF", replacement + replacement},                        // overlong '/'
      {"\xE0\x80\xAF", replacement + replacement + replacement},      // overlong, 3 octets
      {"\xED\xA0\x80", replacement + replacement + replacement},      // surrogate U+D800
      {"\xF4\x90\x80\x80", replacement + replacement + replacement + replacement},  // > U+10FFFF
      {"\xE2\x82", replacement + replacement},                        // cut short at the end
      {"\xE2\x82z", replacement + replacement + "z"},                 // cut short in the middle
  };
  for (const Case& c : cases) {
    const std::array<AuditField, 1> fields{AuditField{"value", c.bytes}};
    const boost::json::object object =
        parse_object(format_json_log_line(LogLevel::info, c.bytes, fields, kAt));
    EXPECT_EQ(text_of(object, "msg"), c.decoded);
    EXPECT_EQ(text_of(object, "value"), c.decoded);
  }
}

TEST(Log, JsonModeWritesLogLinesAsObjects) {
  const FormatScope scope(LogFormat::json);
  testing::internal::CaptureStderr();
  log_line(LogLevel::info, "listening on 127.0.0.1:53");
  const std::string written = testing::internal::GetCapturedStderr();
  ASSERT_FALSE(written.empty());
  EXPECT_EQ(written.back(), '\n');
  EXPECT_EQ(written.find('\n'), written.size() - 1);  // one line
  const boost::json::object object = parse_object(written);
  EXPECT_EQ(text_of(object, "level"), "info");
  EXPECT_EQ(text_of(object, "msg"), "listening on 127.0.0.1:53");
  EXPECT_EQ(text_of(object, "time").size(), std::string("2026-05-01T10:00:00.123Z").size());
}

TEST(Log, JsonAuditLinesCarryTheEventAndEachField) {
  const FormatScope scope(LogFormat::json);
  testing::internal::CaptureStderr();
  log_audit("register", {{"service", "web"}, {"id", "web 1"}, {"who", "key:agent."},
                         {"from", "127.0.0.1"}});
  const std::string written = testing::internal::GetCapturedStderr();
  const boost::json::object object = parse_object(written);
  EXPECT_EQ(object.size(), 8u);
  EXPECT_EQ(text_of(object, "level"), "info");
  EXPECT_EQ(text_of(object, "msg"), "audit register");
  EXPECT_EQ(text_of(object, "event"), "register");
  EXPECT_EQ(text_of(object, "service"), "web");
  EXPECT_EQ(text_of(object, "id"), "web 1");
  EXPECT_EQ(text_of(object, "who"), "key:agent.");
  EXPECT_EQ(text_of(object, "from"), "127.0.0.1");
}

TEST(Log, TextAuditLinesQuoteAndStayOnOneLine) {
  testing::internal::CaptureStderr();
  log_audit("drain", {{"service", "web"}, {"who", "token \"ops\""}, {"note", "a\nb"},
                      {"empty", ""}});
  const std::string written = testing::internal::GetCapturedStderr();
  EXPECT_EQ(written.substr(24),
            " info: audit drain service=web who=\"token \\\"ops\\\"\" note=a\\x0ab empty=\"\"\n");
}

}  // namespace
}  // namespace signpost
