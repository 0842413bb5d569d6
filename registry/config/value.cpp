// Values as text, for messages, the reference and the record of sealed options.
#include "registry/config/value.hpp"

#include <sstream>

namespace signpost::config {

namespace {

std::string quote(const std::string& text) { return "\"" + text + "\""; }

}  // namespace

std::string_view kind_name(Kind kind) noexcept {
  switch (kind) {
    case Kind::integer: return "integer";
    case Kind::real: return "number";
    case Kind::seconds: return "number (seconds)";
    case Kind::string: return "string";
    case Kind::string_list: return "array of strings";
    case Kind::string_map: return "table of strings";
    case Kind::boolean: return "boolean";
  }
  return "";
}

std::string number_text(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

std::string value_text(const Value& value) {
  if (const auto* b = std::get_if<bool>(&value)) return *b ? "true" : "false";
  if (const auto* n = std::get_if<std::int64_t>(&value)) return std::to_string(*n);
  if (const auto* r = std::get_if<double>(&value)) return number_text(*r);
  if (const auto* s = std::get_if<std::string>(&value)) return quote(*s);
  if (const auto* list = std::get_if<StringList>(&value)) {
    std::string out = "[";
    for (const std::string& item : *list) out += (out.size() > 1 ? ", " : "") + quote(item);
    return out + "]";
  }
  if (const auto* map = std::get_if<StringMap>(&value)) {
    std::string out = "{";
    for (const auto& [key, item] : *map) {
      out += (out.size() > 1 ? ", " : " ") + key + " = " + quote(item);
    }
    return out + (map->empty() ? "}" : " }");
  }
  return "";
}

}  // namespace signpost::config
