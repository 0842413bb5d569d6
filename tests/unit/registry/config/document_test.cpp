// The config engine reading files against a toy schema: values and defaults, nested arrays
// of tables, and every error with its file, line and key.
#include "registry/config/document.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "tests/unit/registry/config/toy_schema.hpp"

namespace signpost::config {
namespace {

using testing::Item;
using testing::Part;
using testing::Shop;
using testing::ToyTarget;

const Schema& schema() {
  static const Schema toy = testing::toy_schema();
  return toy;
}

// Reads a whole toy file the way a program would: [shop], then each [[item]] and its parts.
Shop read_shop(const Document& document) {
  Shop shop;
  document.table("shop").read(ToyTarget{&shop, nullptr, nullptr});
  for (const Table& table : document.entries("item")) {
    Item item;
    table.read(ToyTarget{&shop, &item, nullptr});
    for (const Table& part_table : table.entries("item.part")) {
      Part part;
      part_table.read(ToyTarget{&shop, &item, &part});
      item.parts.push_back(part);
    }
    shop.items.push_back(item);
  }
  return shop;
}

Shop parse(std::string_view text) { return read_shop(Document(schema(), text, "toy.toml")); }

// The message of the ConfigError that reading `text` raises, or "" when it reads.
std::string error_of(std::string_view text) {
  try {
    parse(text);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(ConfigDocument, ReadsValuesAndDefaults) {
  const Shop shop = parse(R"([shop]
name = "corner"
delay = 2
tags = ["a", "b"]

[[item]]
name = "tea"
price = 3
labels = { zeta = "1", alpha = "2", mid = "3" }

[[item.part]]
id = "leaf"
weight = 0.5

[[item.part]]
id = "bag"

[[item]]
name = "cup"
)");
  EXPECT_EQ(shop.name, "corner");
  EXPECT_EQ(shop.opens, 9);        // default
  EXPECT_DOUBLE_EQ(shop.tax, 0.2);  // default
  EXPECT_DOUBLE_EQ(shop.delay, 2.0);  // an integer is a number
  EXPECT_EQ(shop.tags, (StringList{"a", "b"}));
  ASSERT_EQ(shop.items.size(), 2u);
  EXPECT_EQ(shop.items[0].price, 3);
  // A table of strings keeps the order of the file.
  EXPECT_EQ(shop.items[0].labels, (StringMap{{"zeta", "1"}, {"alpha", "2"}, {"mid", "3"}}));
  ASSERT_EQ(shop.items[0].parts.size(), 2u);
  EXPECT_DOUBLE_EQ(shop.items[0].parts[0].weight, 0.5);
  EXPECT_EQ(shop.items[0].parts[1].id, "bag");
  EXPECT_DOUBLE_EQ(shop.items[0].parts[1].weight, 1.0);
  EXPECT_EQ(shop.items[1].price, 0);  // no default: the setter is not called
  EXPECT_TRUE(shop.items[1].parts.empty());
  EXPECT_FALSE(shop.sundays);  // the default
}

TEST(ConfigDocument, ReadsBooleans) {
  EXPECT_TRUE(parse("[shop]\nname = \"x\"\nsundays = true\n").sundays);
  EXPECT_FALSE(parse("[shop]\nname = \"x\"\nsundays = false\n").sundays);
}

TEST(ConfigDocument, VisitSeesEveryValueInTableOrder) {
  const Document document(schema(), "[shop]\nopens = 7\nname = \"x\"\n", "toy.toml");
  std::vector<std::string> seen;
  document.table("shop").visit([&](const Option& option, const Value& value) {
    seen.push_back(option.name() + "=" + value_text(value));
  });
  EXPECT_EQ(seen, (std::vector<std::string>{"shop.name=\"x\"", "shop.opens=7", "shop.tax=0.2",
                                            "shop.delay=1.5", "shop.tags=[]", "shop.stock=0",
                                            "shop.sundays=false"}));
}

TEST(ConfigDocument, TablesKnowTheirLines) {
  const Document document(schema(), "# comment\n[shop]\nname = \"x\"\n\n[[item]]\nname = \"y\"\n",
                          "toy.toml");
  const Table shop = document.table("shop");
  EXPECT_EQ(shop.line(), 2u);
  EXPECT_EQ(shop.line_of("name"), 3u);
  EXPECT_EQ(shop.line_of("opens"), 2u);  // not given: the table's line
  EXPECT_TRUE(shop.has("name"));
  EXPECT_FALSE(shop.has("opens"));
  EXPECT_EQ(document.entries("item").at(0).line(), 5u);
  const Document empty(schema(), "", "toy.toml");
  EXPECT_EQ(empty.table("shop").line(), 1u);  // absent: line 1
  EXPECT_TRUE(empty.entries("item").empty());
  EXPECT_EQ(empty.source(), "toy.toml");
}

TEST(ConfigDocument, ValueErrorsNameFileLineAndKey) {
  const std::string shop = "[shop]\nname = \"x\"\n";
  EXPECT_EQ(error_of("[shop]\nopens = 3\n"), "toy.toml:1: key 'shop.name' is required");
  EXPECT_EQ(error_of(shop + "opens = 24\n"),
            "toy.toml:3: key 'shop.opens': must be between 0 and 23, not 24");
  EXPECT_EQ(error_of(shop + "tax = 1.5\n"),
            "toy.toml:3: key 'shop.tax': must be between 0 and 1, not 1.5");
  EXPECT_EQ(error_of(shop + "tax = nan\n"),
            "toy.toml:3: key 'shop.tax': must be between 0 and 1, not nan");
  EXPECT_EQ(error_of(shop + "delay = 0\n"),
            "toy.toml:3: key 'shop.delay': must be between 0.1 and 60 seconds, not 0");
  EXPECT_EQ(error_of(shop + "opens = \"9\"\n"),
            "toy.toml:3: key 'shop.opens': must be an integer, not a string");
  EXPECT_EQ(error_of(shop + "opens = 9.5\n"),
            "toy.toml:3: key 'shop.opens': must be an integer, not a number");
  EXPECT_EQ(error_of(shop + "delay = true\n"),
            "toy.toml:3: key 'shop.delay': must be a number (seconds), not a boolean");
  // A boolean is TOML's true or false, nothing that looks like one.
  EXPECT_EQ(error_of(shop + "sundays = \"yes\"\n"),
            "toy.toml:3: key 'shop.sundays': must be a boolean, not a string");
  EXPECT_EQ(error_of(shop + "sundays = \"true\"\n"),
            "toy.toml:3: key 'shop.sundays': must be a boolean, not a string");
  EXPECT_EQ(error_of(shop + "sundays = 1\n"),
            "toy.toml:3: key 'shop.sundays': must be a boolean, not an integer");
  EXPECT_EQ(error_of(shop + "sundays = 0.0\n"),
            "toy.toml:3: key 'shop.sundays': must be a boolean, not a number");
  EXPECT_EQ(error_of(shop + "sundays = [true]\n"),
            "toy.toml:3: key 'shop.sundays': must be a boolean, not an array");
  EXPECT_EQ(error_of(shop + "tags = [1]\n"),
            "toy.toml:3: key 'shop.tags': must be an array of strings, not an array");
  EXPECT_EQ(error_of(shop + "[[item]]\nname = \"t\"\nlabels = { a = 1 }\n"),
            "toy.toml:5: key 'item.labels': must be a table of strings, not a table");
  // A setter's Invalid gets the line and the key.
  EXPECT_EQ(error_of("[shop]\n\nname = \"closed\"\n"),
            "toy.toml:3: key 'shop.name': 'closed' is no name");
  EXPECT_EQ(error_of(shop + "[[item]]\nname = \"t\"\n[[item.part]]\nweight = 1\n"),
            "toy.toml:5: key 'item.part.id' is required");
}

TEST(ConfigDocument, UnknownKeysGetHints) {
  const std::string shop = "[shop]\nname = \"x\"\n";
  EXPECT_EQ(error_of(shop + "opnes = 3\n"),
            "toy.toml:3: unknown key 'shop.opnes' (did you mean 'shop.opens'?)");
  EXPECT_EQ(error_of(shop + "price = 3\n"),
            "toy.toml:3: unknown key 'shop.price' (it belongs in [[item]])");
  EXPECT_EQ(error_of(shop + "colour = 3\n"), "toy.toml:3: unknown key 'shop.colour'");
  // The first unknown key in the file, even on one line.
  EXPECT_EQ(error_of(shop + "zz = 1\naa = 2\n"), "toy.toml:3: unknown key 'shop.zz'");
  EXPECT_EQ(error_of(shop + "[[item]]\nname = \"t\"\nlabels = {}\nfoo = { b = 1 }\n"),
            "toy.toml:6: unknown key 'item.foo'");
  EXPECT_EQ(error_of(shop + "[[item]]\nname = \"t\"\n[[item.part]]\nid = \"p\"\nname = \"q\"\n"),
            "toy.toml:7: unknown key 'item.part.name' (it belongs in [shop] or [[item]])");
}

TEST(ConfigDocument, TopLevelErrorsGetHints) {
  EXPECT_EQ(error_of("name = \"x\"\n"),
            "toy.toml:1: unknown table or key 'name' (it belongs in [shop] or [[item]])");
  EXPECT_EQ(error_of("weight = 1\n"),
            "toy.toml:1: unknown table or key 'weight' (it belongs in [[item.part]])");
  EXPECT_EQ(error_of("opens = 3\n"), "toy.toml:1: unknown table or key 'opens' (it belongs in [shop])");
  EXPECT_EQ(error_of("[shoop]\n"), "toy.toml:1: unknown table or key 'shoop' (did you mean [shop]?)");
  EXPECT_EQ(error_of("[[items]]\n"),
            "toy.toml:1: unknown table or key 'items' (did you mean [[item]]?)");
  EXPECT_EQ(error_of("opnes = 1\n"),
            "toy.toml:1: unknown table or key 'opnes' (did you mean 'shop.opens'?)");
  EXPECT_EQ(error_of("[warehouse]\n"), "toy.toml:1: unknown table or key 'warehouse'");
  // Nested sections are not top-level names.
  EXPECT_EQ(error_of("[[part]]\nid = \"p\"\n"), "toy.toml:1: unknown table or key 'part'");
}

TEST(ConfigDocument, SectionsOfTheWrongShape) {
  EXPECT_EQ(error_of("shop = 5\n"), "toy.toml:1: 'shop' must be a table ([shop]), not an integer");
  EXPECT_EQ(error_of("[[shop]]\nname = \"x\"\n"),
            "toy.toml:1: 'shop' must be a table ([shop]), not an array");
  EXPECT_EQ(error_of("[item]\nname = \"x\"\n"),
            "toy.toml:1: 'item' must be an array of tables: [[item]]");
  EXPECT_EQ(error_of("item = []\n"), "toy.toml:1: 'item' must be an array of tables: [[item]]");
  EXPECT_EQ(error_of("[shop]\nname = \"x\"\n[[item]]\nname = \"t\"\npart = 5\n"),
            "toy.toml:5: 'item.part' must be an array of tables: [[item.part]]");
}

TEST(ConfigDocument, SyntaxErrorsNameTheLine) {
  const std::string error = error_of("[shop]\nname = \"x\"\n[item\n");
  EXPECT_EQ(error.rfind("toy.toml:3: ", 0), 0u) << error;
  const std::string duplicate = error_of("[shop]\nname = \"x\"\nname = \"y\"\n");
  EXPECT_EQ(duplicate.rfind("toy.toml:3: ", 0), 0u) << duplicate;
}

TEST(ConfigDocument, FilesAreReadAndMissingOnesNamed) {
  const std::string path = ::testing::TempDir() + "signpost_config_document_test.toml";
  std::ofstream(path) << "[shop]\nname = \"from file\"\n";
  const Document document = Document::load(schema(), path);
  EXPECT_EQ(document.source(), path);
  EXPECT_EQ(read_shop(document).name, "from file");
  try {
    Document::load(schema(), path + ".missing");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), path + ".missing: cannot be read");
  }
}

TEST(ConfigDocument, ProgramsFailAtALineOfTheirChoosing) {
  const Document document(schema(), "[shop]\nname = \"x\"\n", "toy.toml");
  try {
    document.table("shop").fail(2, "name taken");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), "toy.toml:2: name taken");
  }
  EXPECT_THROW(document.table("item"), std::logic_error);       // not a [table]
  EXPECT_THROW(document.entries("item.part"), std::logic_error);  // not top-level
  EXPECT_THROW(document.table("nothing"), std::logic_error);
}

}  // namespace
}  // namespace signpost::config
