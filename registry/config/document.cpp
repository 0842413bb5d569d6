// Reading a TOML file against a schema. toml++ is used here and nowhere else.
#include "registry/config/document.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <deque>
#include <fstream>
#include <optional>
#include <sstream>

namespace signpost::config {

// What a Table points at: a TOML table of the document, and the section it is read as.
struct TableNode {
  const DocumentState* document;
  const toml::table* table;
  const Section* section;
};

struct DocumentState {
  const Schema* schema = nullptr;
  std::string source;
  toml::table root;
  toml::table empty;  // stands for a [table] the file does not have
  // Tables handed out so far; a deque, so that their addresses stay put.
  mutable std::deque<TableNode> nodes;

  const TableNode* node(const toml::table& table, const Section& section) const {
    return &nodes.emplace_back(TableNode{this, &table, &section});
  }

  [[noreturn]] void fail(std::size_t line, const std::string& message) const {
    throw ConfigError(source + ":" + std::to_string(line) + ": " + message);
  }
};

namespace {

std::size_t node_line(const toml::node& node) { return node.source().begin.line; }

std::string_view toml_type(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a number";
    case toml::node_type::boolean: return "a boolean";
    default: return "a date or time";
  }
}

// "an integer", "a string": the type an option wants, for messages.
std::string wanted_type(Kind kind) {
  const std::string_view name = kind_name(kind);
  return (name.front() == 'i' || name.front() == 'a' ? "an " : "a ") + std::string(name);
}

std::optional<Value> to_string_map(const toml::table& table) {
  StringMap map;
  for (const auto& [key, item] : table) {
    if (!item.is_string()) return std::nullopt;
    map.emplace_back(std::string(key.str()), item.as_string()->get());
  }
  // The file's order (toml++ keeps keys sorted), so that TXT strings come out as written.
  std::sort(map.begin(), map.end(), [&](const auto& a, const auto& b) {
    return table.get(a.first)->source().begin < table.get(b.first)->source().begin;
  });
  return Value{std::move(map)};
}

// The TOML value as the option's kind; nullopt when its type is wrong.
std::optional<Value> to_value(const toml::node& node, Kind kind) {
  switch (kind) {
    case Kind::integer:
      if (const auto* n = node.as_integer()) return Value{n->get()};
      return std::nullopt;
    case Kind::real:
    case Kind::seconds:
      if (const auto* r = node.as_floating_point()) return Value{r->get()};
      if (const auto* n = node.as_integer()) return Value{static_cast<double>(n->get())};
      return std::nullopt;
    case Kind::string:
      if (const auto* s = node.as_string()) return Value{s->get()};
      return std::nullopt;
    case Kind::boolean:
      // Only TOML's own true and false: a "no" or a 0 is more likely a slip than a choice.
      if (const auto* b = node.as_boolean()) return Value{b->get()};
      return std::nullopt;
    case Kind::string_list: {
      const auto* array = node.as_array();
      if (array == nullptr) return std::nullopt;
      StringList list;
      for (const toml::node& item : *array) {
        if (!item.is_string()) return std::nullopt;
        list.push_back(item.as_string()->get());
      }
      return Value{std::move(list)};
    }
    case Kind::string_map: {
      const auto* table = node.as_table();
      if (table == nullptr) return std::nullopt;
      return to_string_map(*table);
    }
  }
  return std::nullopt;
}

// Throws unless `node` has the section's shape: a table, or a non-empty array of tables.
void check_shape(const DocumentState& state, const toml::node& node, const Section& section) {
  const std::string name(section.name);
  if (section.array) {
    const toml::array* array = node.as_array();
    if (array == nullptr || !array->is_array_of_tables()) {
      state.fail(node_line(node), "'" + name + "' must be an array of tables: " + section.header());
    }
  } else if (!node.is_table()) {
    state.fail(node_line(node), "'" + name + "' must be a table (" + section.header() + "), not " +
                                  std::string(toml_type(node)));
  }
}

// The tables of a section's node: each entry of an array of tables, or the one table.
std::vector<const TableNode*> nodes_of(const DocumentState& state, const toml::node& node,
                                       const Section& section) {
  check_shape(state, node, section);
  std::vector<const TableNode*> out;
  if (const toml::array* array = node.as_array()) {
    for (const toml::node& item : *array) out.push_back(state.node(*item.as_table(), section));
  } else {
    out.push_back(state.node(*node.as_table(), section));
  }
  return out;
}

const Section& section_named(const Schema& schema, std::string_view name) {
  const Section* section = schema.find_section(name);
  if (section == nullptr) throw std::logic_error("no section '" + std::string(name) + "'");
  return *section;
}

}  // namespace

// ---- Table

std::size_t Table::line() const {
  return std::max<std::size_t>(node_line(*node_->table), 1);
}

std::size_t Table::line_of(std::string_view key) const {
  const toml::node* node = node_->table->get(key);
  return node != nullptr ? node_line(*node) : line();
}

bool Table::has(std::string_view key) const { return node_->table->contains(key); }

void Table::fail(std::size_t line, const std::string& message) const {
  node_->document->fail(line, message);
}

void Table::visit(const Use& use) const {
  const Schema& schema = *node_->document->schema;
  const std::string_view section = node_->section->name;
  check_keys();
  for (const Option& option : schema.options()) {
    if (option.section != section) continue;
    const toml::node* node = node_->table->get(option.key);
    const std::size_t line = line_of(option.key);
    Value value = option.fallback;
    if (node != nullptr) {
      std::optional<Value> given = to_value(*node, option.kind);
      if (!given) {
        fail(line, "key '" + option.name() + "': must be " + wanted_type(option.kind) + ", not " +
                       std::string(toml_type(*node)));
      }
      value = std::move(*given);
    } else if (option.required) {
      fail(line, "key '" + option.name() + "' is required");
    }
    if (std::holds_alternative<std::monostate>(value)) continue;
    try {
      check_range(option, value);
      use(option, value);
    } catch (const Invalid& e) {
      fail(line, "key '" + option.name() + "': " + e.what());
    }
  }
}

// Rejects the first key in the file that the section does not declare; keys that hold a
// nested section are read by entries().
void Table::check_keys() const {
  const Schema& schema = *node_->document->schema;
  const std::string_view section = node_->section->name;
  const toml::key* unknown = nullptr;
  for (const auto& [key, node] : *node_->table) {
    const std::string nested = std::string(section) + "." + std::string(key.str());
    if (schema.find_section(nested) != nullptr || schema.find(section, key.str()) != nullptr) {
      continue;
    }
    if (unknown == nullptr || key.source().begin < unknown->source().begin) unknown = &key;
  }
  if (unknown != nullptr) {
    fail(unknown->source().begin.line, "unknown key '" + std::string(section) + "." +
                                           std::string(unknown->str()) + "'" +
                                           schema.hint(section, unknown->str()));
  }
}

std::vector<Table> Table::entries(std::string_view name) const {
  const DocumentState& state = *node_->document;
  const Section& section = section_named(*state.schema, name);
  if (section.parent() != node_->section->name) {
    throw std::logic_error("'" + std::string(name) + "' is not nested in '" +
                           std::string(node_->section->name) + "'");
  }
  const toml::node* node = node_->table->get(section.key());
  std::vector<Table> out;
  if (node == nullptr) return out;
  for (const TableNode* entry : nodes_of(state, *node, section)) out.push_back(Table(entry));
  return out;
}

// ---- Document

Document::Document(const Schema& schema, std::string_view text, std::string source)
    : state_(std::make_unique<DocumentState>()) {
  DocumentState& state = *state_;
  state.schema = &schema;
  state.source = std::move(source);
  try {
    state.root = toml::parse(text, state.source);
  } catch (const toml::parse_error& e) {
    state.fail(e.source().begin.line, std::string(e.description()));
  }
  for (const auto& [key, node] : state.root) {
    const Section* section = schema.find_section(key.str());
    if (section == nullptr || !section->parent().empty()) {
      state.fail(key.source().begin.line, "unknown table or key '" + std::string(key.str()) + "'" +
                                              schema.top_level_hint(key.str()));
    }
    check_shape(state, node, *section);
  }
}

Document Document::load(const Schema& schema, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path + ": cannot be read");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw ConfigError(path + ": cannot be read");
  return Document(schema, text.str(), path);
}

Document::Document(Document&&) noexcept = default;
Document& Document::operator=(Document&&) noexcept = default;
Document::~Document() = default;

const std::string& Document::source() const { return state_->source; }

void Document::fail(std::size_t line, const std::string& message) const {
  state_->fail(line, message);
}

Table Document::table(std::string_view name) const {
  const Section& section = section_named(*state_->schema, name);
  if (section.array || !section.parent().empty()) {
    throw std::logic_error("'" + std::string(name) + "' is not a top-level [table]");
  }
  const toml::table* table = state_->root[name].as_table();
  return Table(state_->node(table != nullptr ? *table : state_->empty, section));
}

std::vector<Table> Document::entries(std::string_view name) const {
  const Section& section = section_named(*state_->schema, name);
  if (!section.parent().empty()) {
    throw std::logic_error("'" + std::string(name) + "' is not a top-level section");
  }
  const toml::node* node = state_->root.get(name);
  std::vector<Table> out;
  if (node == nullptr) return out;
  for (const TableNode* entry : nodes_of(*state_, *node, section)) out.push_back(Table(entry));
  return out;
}

}  // namespace signpost::config
