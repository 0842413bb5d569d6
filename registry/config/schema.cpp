// Schema consistency, hints for unknown names, and the option reference.
#include "registry/config/schema.hpp"

#include <algorithm>

namespace signpost::config {

namespace {

// "[a]", "[a] or [[b]]", "[a], [[b]] or [[c]]".
std::string either(const std::vector<std::string>& headers) {
  std::string out;
  for (std::size_t i = 0; i < headers.size(); ++i) {
    if (i > 0) out += i + 1 == headers.size() ? " or " : ", ";
    out += headers[i];
  }
  return out;
}

std::string allowed_text(const Option& option) {
  if (!option.allowed.empty()) return std::string(option.allowed);
  if (option.kind == Kind::integer) {
    return std::to_string(option.min) + ".." +
           (option.max == kMaxInt ? std::string("2^63-1") : std::to_string(option.max));
  }
  if (option.kind == Kind::real || option.kind == Kind::seconds) {
    return number_text(option.real_min) + ".." + number_text(option.real_max);
  }
  return "";
}

// Close enough to be a misspelling: at most two edits.
bool close(std::string_view a, std::string_view b) { return edit_distance(a, b) <= 2; }

}  // namespace

std::string Section::header() const {
  return array ? "[[" + std::string(name) + "]]" : "[" + std::string(name) + "]";
}

std::string_view Section::parent() const noexcept {
  const std::size_t dot = name.rfind('.');
  return dot == std::string_view::npos ? std::string_view() : name.substr(0, dot);
}

std::string_view Section::key() const noexcept {
  const std::size_t dot = name.rfind('.');
  return dot == std::string_view::npos ? name : name.substr(dot + 1);
}

Schema::Schema(std::vector<Section> sections, std::vector<Option> options, bool reload_column)
    : sections_(std::move(sections)), options_(std::move(options)), reload_column_(reload_column) {
  for (std::size_t i = 0; i < sections_.size(); ++i) {
    const Section& section = sections_[i];
    const auto earlier = sections_.begin() + static_cast<std::ptrdiff_t>(i);
    const auto named = [&](std::string_view name) {
      return [name](const Section& other) { return other.name == name; };
    };
    if (std::any_of(sections_.begin(), earlier, named(section.name))) {
      throw std::logic_error("section '" + std::string(section.name) + "' is declared twice");
    }
    if (!section.parent().empty() && std::none_of(sections_.begin(), earlier, named(section.parent()))) {
      throw std::logic_error("section '" + std::string(section.name) +
                             "' is declared before its parent or without it");
    }
  }
  for (const Option& option : options_) {
    if (find_section(option.section) == nullptr) {
      throw std::logic_error("option '" + option.name() + "' is in an undeclared section");
    }
    if (!option.set) throw std::logic_error("option '" + option.name() + "' has no setter");
  }
}

const Section* Schema::find_section(std::string_view name) const noexcept {
  for (const Section& section : sections_) {
    if (section.name == name) return &section;
  }
  return nullptr;
}

const Option* Schema::find(std::string_view section, std::string_view key) const noexcept {
  for (const Option& option : options_) {
    if (option.section == section && option.key == key) return &option;
  }
  return nullptr;
}

// " (it belongs in [[service.check]])": every other section that declares `key`.
std::string Schema::belongs_in(std::string_view section, std::string_view key) const {
  std::vector<std::string> headers;
  for (const Section& other : sections_) {
    if (other.name != section && find(other.name, key) != nullptr) {
      headers.push_back(other.header());
    }
  }
  return headers.empty() ? "" : " (it belongs in " + either(headers) + ")";
}

std::string Schema::hint(std::string_view section, std::string_view key) const {
  for (const Option& option : options_) {
    if (option.section == section && close(option.key, key)) {
      return " (did you mean '" + option.name() + "'?)";
    }
  }
  return belongs_in(section, key);
}

std::string Schema::top_level_hint(std::string_view name) const {
  std::string hint = belongs_in({}, name);
  if (!hint.empty()) return hint;
  for (const Section& section : sections_) {
    if (section.parent().empty() && close(section.name, name)) {
      return " (did you mean " + section.header() + "?)";
    }
  }
  for (const Option& option : options_) {
    const Section* section = find_section(option.section);
    if (section->parent().empty() && !section->array && close(option.key, name)) {
      return " (did you mean '" + option.name() + "'?)";
    }
  }
  return "";
}

std::string Schema::reference() const {
  std::string out = reload_column_
                        ? "| key | type | default | allowed | reload | description |\n"
                          "| --- | --- | --- | --- | --- | --- |\n"
                        : "| key | type | default | allowed | description |\n"
                          "| --- | --- | --- | --- | --- |\n";
  for (const Option& option : options_) {
    std::string shown = option.required ? "required" : std::string(option.shown_default);
    if (shown.empty()) shown = "`" + value_text(option.fallback) + "`";
    const std::string allowed = allowed_text(option);
    out += "| `" + option.name() + "` | " + std::string(kind_name(option.kind)) + " | " + shown +
           " | " + (allowed.empty() ? "" : "`" + allowed + "`") + " | ";
    if (reload_column_) out += option.reloadable ? "yes | " : "no | ";
    out += std::string(option.help) + " |\n";
  }
  return out;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t substituted = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      diagonal = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, substituted});
    }
  }
  return row[b.size()];
}

}  // namespace signpost::config
