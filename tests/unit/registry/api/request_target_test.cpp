// Request targets taken apart, and the API's JSON numbers.
#include "registry/api/request_target.hpp"

#include <gtest/gtest.h>

#include "registry/api/api_json.hpp"

namespace signpost::registry::api {
namespace {

using Segments = std::vector<std::string>;

TEST(RequestTarget, SplitsAndDecodesSegments) {
  EXPECT_EQ(parse_target("/")->segments, Segments{});
  EXPECT_EQ(parse_target("/v1/services")->segments, (Segments{"v1", "services"}));
  EXPECT_EQ(parse_target("/v1/services/")->segments, (Segments{"v1", "services", ""}));
  EXPECT_EQ(parse_target("/v1/a%2Fb/%41")->segments, (Segments{"v1", "a/b", "A"}));
  EXPECT_EQ(parse_target("/a+b")->segments, Segments{"a+b"});
}

TEST(RequestTarget, DecodesQueryParameters) {
  const auto target = parse_target("/v1/watch?index=12&wait=%33%30&&flag&index=13&k%3D=v%26");
  ASSERT_TRUE(target);
  EXPECT_EQ(target->segments, (Segments{"v1", "watch"}));
  EXPECT_EQ(target->parameter("index"), "12");  // the first of two
  EXPECT_EQ(target->parameter("wait"), "30");
  EXPECT_EQ(target->parameter("flag"), "");
  EXPECT_EQ(target->parameter("k="), "v&");
  EXPECT_EQ(target->parameter("missing"), std::nullopt);
}

TEST(RequestTarget, RefusesMalformedTargets) {
  for (const char* bad :
       {"", "v1/services", "http://host/v1", "*", "/%", "/%4", "/%zz", "/a%00", "/?x=%g0"}) {
    EXPECT_EQ(parse_target(bad), std::nullopt) << bad;
  }
}

TEST(ApiJson, NumbersAreWrittenAsPeopleWriteThem) {
  const boost::json::value value = {
      {"a", 12.5}, {"b", 30.0}, {"c", 1}, {"d", "x\"y"}, {"e", nullptr}};
  EXPECT_EQ(to_json_text(value), R"({"a":12.5,"b":30,"c":1,"d":"x\"y","e":null})");
  EXPECT_EQ(to_json_text(boost::json::array{0.001, -2.25}), "[0.001,-2.25]");
}

TEST(ApiJson, StringsAreAlwaysUtf8) {
  const boost::json::value value = {{"ok", "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"},
                                    {"bad\xFF", "W\xDB\xCC" "5b \xC0\xAF \xED\xA0\x80 \xE2\x82"}};
  EXPECT_EQ(to_json_text(value),
            "{\"ok\":\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\","
            "\"bad\xEF\xBF\xBD\":\"W\xEF\xBF\xBD\xEF\xBF\xBD" "5b \xEF\xBF\xBD\xEF\xBF\xBD "
            "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD \xEF\xBF\xBD\xEF\xBF\xBD\"}");
}

}  // namespace
}  // namespace signpost::registry::api
