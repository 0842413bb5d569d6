// The config engine's schema on a toy table: consistency checks, hints and the reference.
#include "registry/config/schema.hpp"

#include <gtest/gtest.h>

#include "tests/unit/registry/config/toy_schema.hpp"

namespace signpost::config {
namespace {

void set_nothing(testing::ToyTarget&, const Value&) {}

TEST(ConfigSchema, FindsSectionsAndOptions) {
  const Schema schema = testing::toy_schema();
  ASSERT_NE(schema.find("shop", "opens"), nullptr);
  EXPECT_EQ(schema.find("shop", "opens")->name(), "shop.opens");
  EXPECT_EQ(schema.find("shop", "price"), nullptr);
  const Section* part = schema.find_section("item.part");
  ASSERT_NE(part, nullptr);
  EXPECT_EQ(part->parent(), "item");
  EXPECT_EQ(part->key(), "part");
  EXPECT_EQ(part->header(), "[[item.part]]");
  EXPECT_EQ(schema.find_section("shop")->header(), "[shop]");
  EXPECT_EQ(schema.find_section("shop")->parent(), "");
  EXPECT_EQ(schema.find_section("part"), nullptr);
}

TEST(ConfigSchema, RefusesAnInconsistentTable) {
  const auto option = [](std::string_view section) {
    return Option{.section = section, .key = "k", .set = set_nothing};
  };
  EXPECT_NO_THROW(Schema({{.name = "a"}}, {option("a")}, false));
  EXPECT_THROW(Schema({{.name = "a"}}, {option("b")}, false), std::logic_error);
  EXPECT_THROW(Schema({{.name = "a"}}, {Option{.section = "a", .key = "k"}}, false),
               std::logic_error);  // no setter
  EXPECT_THROW(Schema({{.name = "a"}, {.name = "a"}}, {}, false), std::logic_error);
  EXPECT_THROW(Schema({{.name = "a.b", .array = true}, {.name = "a"}}, {}, false),
               std::logic_error);  // nested before its parent
}

TEST(ConfigSchema, HintsForUnknownNames) {
  const Schema schema = testing::toy_schema();
  EXPECT_EQ(schema.hint("shop", "tacks"), " (did you mean 'shop.tags'?)");
  EXPECT_EQ(schema.hint("item", "weight"), " (it belongs in [[item.part]])");
  EXPECT_EQ(schema.hint("item.part", "name"), " (it belongs in [shop] or [[item]])");
  EXPECT_EQ(schema.hint("shop", "colour"), "");
  EXPECT_EQ(schema.top_level_hint("price"), " (it belongs in [[item]])");
  EXPECT_EQ(schema.top_level_hint("shops"), " (did you mean [shop]?)");
  EXPECT_EQ(schema.top_level_hint("dealy"), " (did you mean 'shop.delay'?)");
  EXPECT_EQ(schema.top_level_hint("warehouse"), "");
}

TEST(ConfigSchema, ReferenceListsEveryOption) {
  const std::string reference = testing::toy_schema().reference();
  EXPECT_EQ(reference.substr(0, reference.find('\n', reference.find('\n') + 1) + 1),
            "| key | type | default | allowed | reload | description |\n"
            "| --- | --- | --- | --- | --- | --- |\n");
  for (const char* row : {
           "| `shop.name` | string | required |  | no | The shop's name. |\n",
           "| `shop.opens` | integer | `9` | `0..23` | yes | Hour it opens. |\n",
           "| `shop.tax` | number | `0.2` | `0..1` | no | Tax rate. |\n",
           "| `shop.delay` | number (seconds) | `1.5` | `0.1..60` | no | Greeting delay. |\n",
           "| `shop.tags` | array of strings | `[]` |  | no | Tags. |\n",
           "| `shop.stock` | integer | `0` | `0..2^63-1` | no | Stock. |\n",
           "| `shop.sundays` | boolean | `false` |  | no | Opens on Sundays. |\n",
           "| `item.price` | integer | none | `1..1000` | no | Price. |\n",
           "| `item.labels` | table of strings | `{}` | `any strings` | no | Labels. |\n",
           "| `item.part.weight` | number | `1` | `0..100` | no | Weight. |\n"}) {
    EXPECT_NE(reference.find(row), std::string::npos) << row << reference;
  }
  const std::string without = testing::toy_schema(false).reference();
  EXPECT_EQ(without.rfind("| key | type | default | allowed | description |\n", 0), 0u);
  EXPECT_NE(without.find("| `shop.opens` | integer | `9` | `0..23` | Hour it opens. |\n"),
            std::string::npos)
      << without;
}

TEST(ConfigSchema, EditDistance) {
  EXPECT_EQ(edit_distance("ttl", "ttl"), 0u);
  EXPECT_EQ(edit_distance("ttl", "tll"), 1u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
}

}  // namespace
}  // namespace signpost::config
