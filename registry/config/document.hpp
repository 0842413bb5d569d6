// A configuration file read against a schema: the TOML parsed (the only toml++ code in
// Signpost), its shape checked, and each table's options handed to their setters with
// errors that name the file, the line and the key.
//
// A program reads its file in the order it wants its errors: Document checks the top level
// when it is built; Table::read checks one table (unknown keys, types, required keys,
// ranges) and calls the setters, so that the program can check what depends on several
// options (a duplicate name, a default from another table) between tables, at their lines.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "registry/config/config_error.hpp"
#include "registry/config/schema.hpp"

namespace signpost::config {

struct DocumentState;
struct TableNode;

/// One [table], or one entry of an [[array of tables]], of a Document. A view: valid while
/// its Document lives. Control thread.
class Table {
 public:
  /// Called with each option of the table's section that has a value, in table order.
  using Use = std::function<void(const Option&, const Value&)>;

  /// The line of its header; 1 when the file does not have the table.
  std::size_t line() const;
  /// The line of `key` in it, or line() when it does not hold `key`.
  std::size_t line_of(std::string_view key) const;
  /// True when the file gives `key` in it.
  bool has(std::string_view key) const;

  /// Checks the table against its section and calls `use` with every option that has a
  /// value: given in the file (of the option's kind and in its range) or its default.
  /// Unknown keys (other than nested sections), wrong types, missing required keys and
  /// values out of range throw ConfigError; so does an Invalid thrown by `use`, with the
  /// line and the key added.
  void visit(const Use& use) const;

  /// visit() with each option's setter, storing into `target`.
  template <typename Target>
  void read(Target target) const {
    visit([&target](const Option& option, const Value& value) { option.set(target, value); });
  }

  /// The entries of `section`, a section nested in this one ("service.instance" in a
  /// [[service]] entry), in file order; none when it is absent. Throws ConfigError when it
  /// is not an array of tables (or for a nested [table], not a table).
  std::vector<Table> entries(std::string_view section) const;

  /// Throws ConfigError "file:line: message".
  [[noreturn]] void fail(std::size_t line, const std::string& message) const;

 private:
  friend class Document;
  explicit Table(const TableNode* node) : node_(node) {}
  void check_keys() const;
  const TableNode* node_;
};

/// A parsed file. Control thread; allocates.
class Document {
 public:
  /// Parses `text`; `source` names it in messages. Throws ConfigError for TOML syntax
  /// errors, for unknown tables and keys at the top level, and for a section of the wrong
  /// shape ("'service' must be an array of tables: [[service]]").
  Document(const Schema& schema, std::string_view text, std::string source);
  /// Reads and parses the file at `path`; throws ConfigError, also when it cannot be read.
  static Document load(const Schema& schema, const std::string& path);

  Document(Document&&) noexcept;
  Document& operator=(Document&&) noexcept;
  ~Document();

  const std::string& source() const;
  /// The top-level [section]; an empty table at line 1 when the file does not have it.
  Table table(std::string_view section) const;
  /// The entries of the top-level [[section]], in file order; none when it is absent.
  std::vector<Table> entries(std::string_view section) const;

  /// Throws ConfigError "file:line: message".
  [[noreturn]] void fail(std::size_t line, const std::string& message) const;

 private:
  std::unique_ptr<DocumentState> state_;
};

}  // namespace signpost::config
