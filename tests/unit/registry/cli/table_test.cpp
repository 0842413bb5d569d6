// Aligned tables: columns sized to content, right-aligned numbers, no trailing blanks.
#include "registry/cli/table.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace signpost::registry::cli {
namespace {

TEST(Table, SizesEachColumnToItsWidestCell) {
  Table table({"ID", "NODE", "WEIGHT"});
  table.align_right(2);
  table.add_row({"web-1", "host-1", "5"});
  table.add_row({"w", "a-much-longer-node", "65535"});
  EXPECT_EQ(table.render(),
            "ID     NODE                WEIGHT\n"
            "web-1  host-1                   5\n"
            "w      a-much-longer-node   65535\n");
}

TEST(Table, LeavesNoTrailingBlanksAndFillsMissingCells) {
  Table table({"A", "LONGHEADER"});
  table.add_row({"x"});
  EXPECT_EQ(table.render(), "A  LONGHEADER\nx\n");
}

TEST(Table, CountsCodePointsNotOctets) {
  Table table({"H", "X"});
  table.add_row({"\u2013", "1"});
  table.add_row({"ab", "2"});
  EXPECT_EQ(table.render(), "H   X\n\u2013   1\nab  2\n");
  EXPECT_EQ(display_width("\u2713ok"), 3u);
}

TEST(Table, WithoutHeaderSizesToTheRowsOnly) {
  Table table({"a-very-long-header", "B"});
  table.add_row({"k", "v"});
  table.add_row({"key", "value"});
  EXPECT_EQ(table.render(false), "k    v\nkey  value\n");
}

TEST(Table, RefusesARowWiderThanTheTableAndAnUnknownColumn) {
  Table table({"A"});
  EXPECT_THROW(table.add_row({"1", "2"}), std::invalid_argument);
  EXPECT_THROW(table.align_right(1), std::invalid_argument);
}

}  // namespace
}  // namespace signpost::registry::cli
