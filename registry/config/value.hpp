// A configuration value as the option-table engine reads it from TOML, before an option's
// setter checks and stores it; and the kinds of TOML value an option can take.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace signpost::config {

using StringList = std::vector<std::string>;
/// A TOML table of strings, in the order of the file.
using StringMap = std::vector<std::pair<std::string, std::string>>;
/// A value as read from TOML; monostate when an option has neither a value nor a default.
/// (C++20's converting constructor never turns a pointer or a number into the bool: a string
/// literal still makes a std::string, 0.25 a double.)
using Value = std::variant<std::monostate, bool, std::int64_t, double, std::string, StringList,
                           StringMap>;

/// The TOML type an option takes. `real` and `seconds` are both numbers (an integer is
/// accepted too) held as double; `seconds` says so in messages and in the reference.
/// `boolean` takes TOML `true` or `false` only (no "yes", no 0/1), held as bool.
enum class Kind : std::uint8_t { integer, real, seconds, string, string_list, string_map, boolean };

/// The largest integer an option can take (TOML integers are 64-bit signed).
inline constexpr std::int64_t kMaxInt = INT64_MAX;

/// "integer", "number", "number (seconds)", "string", "array of strings", "table of strings",
/// "boolean".
std::string_view kind_name(Kind kind) noexcept;

/// The value as it would be written in TOML: `true`, `5`, `0.25`, `"text"`, `["a", "b"]`,
/// `{ k = "v" }`; "" for monostate. Any thread; allocates.
std::string value_text(const Value& value);

/// A number as the reference and messages print it: `0.25`, `86400`.
std::string number_text(double value);

}  // namespace signpost::config
