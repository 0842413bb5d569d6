// A program's configuration schema: its sections ([table] and [[array of tables]]) and its
// option table, with what follows from them alone: lookup, "did you mean" hints for
// unknown names, and the reference that `--help-config` prints.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "registry/config/option.hpp"

namespace signpost::config {

/// One section of a file. A dotted name nests it in the section before the last dot:
/// "service.instance" is the `instance` key of each [[service]] entry.
struct Section {
  std::string_view name;  // "dns", "service", "service.instance"
  bool array = false;     // [[name]], an array of tables, rather than [name]

  /// "[dns]" or "[[service.instance]]".
  std::string header() const;
  /// The section it is nested in ("service" for "service.instance"), or "" at the top.
  std::string_view parent() const noexcept;
  /// Its key in the parent's table ("instance"), or its name at the top.
  std::string_view key() const noexcept;
};

/// Sections and options, checked for consistency once. Immutable after construction; any
/// thread may read it.
class Schema {
 public:
  /// Throws std::logic_error when an option names an undeclared section or has no
  /// setter, when a section is declared twice, or when a nested section's parent is
  /// missing. `reload_column`: whether the reference says, per option, whether SIGHUP
  /// reloads it (for programs where only some options reload).
  Schema(std::vector<Section> sections, std::vector<Option> options, bool reload_column);

  const std::vector<Section>& sections() const noexcept { return sections_; }
  /// Every option, in the order of the reference.
  const std::vector<Option>& options() const noexcept { return options_; }
  /// The section `name`, or nullptr.
  const Section* find_section(std::string_view name) const noexcept;
  /// The option `section`.`key`, or nullptr.
  const Option* find(std::string_view section, std::string_view key) const noexcept;

  /// A hint for an unknown key of `section`, with its leading space, or "": a close
  /// spelling in the same section (" (did you mean 'dns.ttl'?)"), else the sections that
  /// declare it (" (it belongs in [[service.check]])").
  std::string hint(std::string_view section, std::string_view key) const;
  /// A hint for an unknown name at the top of the file: the sections that declare it as a
  /// key (" (it belongs in [agent])"), a close spelling of a top-level section
  /// (" (did you mean [[service]]?)"), or of a key of a top-level [table].
  std::string top_level_hint(std::string_view name) const;

  /// The reference of every option as a Markdown table: key, type, default, allowed
  /// values, (reload,) and what it does. Allocates.
  std::string reference() const;

 private:
  std::string belongs_in(std::string_view section, std::string_view key) const;

  std::vector<Section> sections_;
  std::vector<Option> options_;
  bool reload_column_;
};

/// Levenshtein distance between `a` and `b`, for the hints.
std::size_t edit_distance(std::string_view a, std::string_view b);

}  // namespace signpost::config
