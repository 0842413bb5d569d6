// Aligned text tables for the CLI's human-readable output.
#pragma once

#include <string>
#include <vector>

namespace signpost::registry::cli {

/// A table of text cells printed with each column as wide as its widest cell (header
/// included), columns two spaces apart, no trailing blanks. Columns marked numeric are
/// right-aligned. Cells are counted in UTF-8 code points, so "–" and "✓" align. One thread.
class Table {
 public:
  /// A table with these column headers, printed as given.
  explicit Table(std::vector<std::string> headers);

  /// Right-aligns column `index` (numbers line up on their last digit).
  void align_right(std::size_t index);

  /// Adds a row; missing cells print empty, extra cells are an error (std::invalid_argument).
  void add_row(std::vector<std::string> cells);

  /// How many rows were added (the header not counted).
  std::size_t rows() const noexcept { return rows_.size(); }

  /// The whole table, one line per row after the header line (left out when
  /// `with_header` is false), each ending in '\n'.
  std::string render(bool with_header = true) const;

 private:
  std::string render_row(const std::vector<std::string>& cells,
                         const std::vector<std::size_t>& widths) const;

  std::vector<std::string> headers_;
  std::vector<bool> right_;
  std::vector<std::vector<std::string>> rows_;
};

/// Display width of UTF-8 text: its code points (continuation octets not counted). Pure.
std::size_t display_width(const std::string& text) noexcept;

}  // namespace signpost::registry::cli
