// Options of the config engine: setters stored without their target type, range checks,
// and values as text.
#include "registry/config/option.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace signpost::config {
namespace {

struct Target {
  std::int64_t* out = nullptr;
};
struct OtherTarget {};

void set_twice(Target& target, const Value& value) { *target.out = 2 * std::get<std::int64_t>(value); }

TEST(ConfigOption, SettersTakeFunctionsAndLambdas) {
  std::int64_t out = 0;
  Target target{&out};
  const Option from_function{.section = "a", .key = "b", .set = set_twice};
  from_function.set(target, Value{std::int64_t{21}});
  EXPECT_EQ(out, 42);
  const Option from_lambda{.section = "a", .key = "b", .set = [](Target& t, const Value& v) {
                             *t.out = std::get<std::int64_t>(v) + 1;
                           }};
  from_lambda.set(target, Value{std::int64_t{1}});
  EXPECT_EQ(out, 2);
  EXPECT_TRUE(static_cast<bool>(from_lambda.set));
  EXPECT_FALSE(static_cast<bool>(Option{}.set));
}

TEST(ConfigOption, SetterRefusesAnotherTargetType) {
  const Option option{.section = "a", .key = "b", .set = set_twice};
  OtherTarget other;
  EXPECT_THROW(option.set(other, Value{std::int64_t{1}}), std::logic_error);
  Target target;
  EXPECT_THROW(Option{}.set(target, Value{}), std::logic_error);
}

TEST(ConfigOption, RangeChecks) {
  const Option integer{.min = 1, .max = 10};
  EXPECT_NO_THROW(check_range(integer, Value{std::int64_t{1}}));
  EXPECT_NO_THROW(check_range(integer, Value{std::int64_t{10}}));
  try {
    check_range(integer, Value{std::int64_t{11}});
    FAIL();
  } catch (const Invalid& e) {
    EXPECT_STREQ(e.what(), "must be between 1 and 10, not 11");
  }
  const Option seconds{.kind = Kind::seconds, .real_min = 0.5, .real_max = 2};
  EXPECT_NO_THROW(check_range(seconds, Value{2.0}));
  try {
    check_range(seconds, Value{0.25});
    FAIL();
  } catch (const Invalid& e) {
    EXPECT_STREQ(e.what(), "must be between 0.5 and 2 seconds, not 0.25");
  }
  EXPECT_THROW(check_range(Option{.kind = Kind::real, .real_max = 1}, Value{std::nan("")}),
               Invalid);
  EXPECT_NO_THROW(check_range(integer, Value{std::string("not checked")}));
}

TEST(ConfigOption, ValuesAsText) {
  EXPECT_EQ(value_text(Value{}), "");
  EXPECT_EQ(value_text(Value{std::int64_t{-3}}), "-3");
  EXPECT_EQ(value_text(Value{0.25}), "0.25");
  EXPECT_EQ(value_text(Value{std::string("x")}), "\"x\"");
  EXPECT_EQ(value_text(Value{StringList{}}), "[]");
  EXPECT_EQ(value_text(Value{StringList{"a", "b"}}), "[\"a\", \"b\"]");
  EXPECT_EQ(value_text(Value{StringMap{}}), "{}");
  EXPECT_EQ(value_text(Value{StringMap{{"k", "v"}, {"a", "b"}}}), "{ k = \"v\", a = \"b\" }");
  EXPECT_EQ(value_text(Value{true}), "true");
  EXPECT_EQ(value_text(Value{false}), "false");
  EXPECT_EQ(kind_name(Kind::seconds), "number (seconds)");
  EXPECT_EQ(kind_name(Kind::boolean), "boolean");
  // A string literal or a number is never taken for the bool alternative.
  EXPECT_TRUE(std::holds_alternative<std::string>(Value{"text"}));
  EXPECT_TRUE(std::holds_alternative<double>(Value{0.0}));
  const Option option{.section = "service.check", .key = "timeout"};
  EXPECT_EQ(option.name(), "service.check.timeout");
}

}  // namespace
}  // namespace signpost::config
