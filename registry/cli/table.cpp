// Aligned text tables.
#include "registry/cli/table.hpp"

#include <algorithm>
#include <stdexcept>

namespace signpost::registry::cli {

std::size_t display_width(const std::string& text) noexcept {
  std::size_t width = 0;
  for (const char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++width;
  }
  return width;
}

Table::Table(std::vector<std::string> headers)
    : headers_(std::move(headers)), right_(headers_.size(), false) {}

void Table::align_right(std::size_t index) {
  if (index >= right_.size()) throw std::invalid_argument("no such table column");
  right_[index] = true;
}

void Table::add_row(std::vector<std::string> cells) {
  if (cells.size() > headers_.size()) {
    throw std::invalid_argument("a table row has more cells than the table has columns");
  }
  cells.resize(headers_.size());
  rows_.push_back(std::move(cells));
}

std::string Table::render_row(const std::vector<std::string>& cells,
                              const std::vector<std::size_t>& widths) const {
  std::string line;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    const std::size_t pad = widths[i] - display_width(cells[i]);
    const bool last = i + 1 == cells.size();
    if (right_[i]) line.append(pad, ' ');
    line += cells[i];
    if (!right_[i] && !last) line.append(pad, ' ');
    if (!last) line += "  ";
  }
  // A left-aligned empty last cell would leave the separator behind.
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line + '\n';
}

std::string Table::render(bool with_header) const {
  std::vector<std::size_t> widths(headers_.size());
  for (std::size_t i = 0; i < headers_.size() && with_header; ++i) {
    widths[i] = display_width(headers_[i]);
  }
  for (const auto& row : rows_) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], display_width(row[i]));
    }
  }
  std::string out = with_header ? render_row(headers_, widths) : std::string();
  for (const auto& row : rows_) out += render_row(row, widths);
  return out;
}

}  // namespace signpost::registry::cli
