// One configuration option, declared once in a program's option table: its TOML type,
// default, range and help drive validation, the defaults and the reference
// (`--help-config`); its setter stores the value into the program's own configuration.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <typeinfo>

#include "registry/config/value.hpp"

namespace signpost::config {

/// Thrown by setters with the reason alone ("must name at least one address"); the engine
/// adds the file, the line and the key.
class Invalid : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// An option's setter: a plain function or captureless lambda `void(T&, const Value&)`,
/// where T is the program's own target type (pointers to its configuration and to the
/// table entry being read). It is stored without its type, so that one Option type serves
/// every program's table; calling it with any other target type throws std::logic_error.
/// Copyable, no allocation.
class Setter {
 public:
  constexpr Setter() = default;

  template <typename Target>
  Setter(void (*set)(Target&, const Value&))  // NOLINT: converts, as tables declare it
      : set_(reinterpret_cast<Erased>(set)), target_(&typeid(Target)) {}

  /// A captureless lambda: its conversion to a function pointer gives the target type.
  template <typename Lambda>
    requires requires(Lambda lambda) { +lambda; }
  Setter(Lambda lambda) : Setter(+lambda) {}  // NOLINT: converts, as tables declare it

  explicit operator bool() const noexcept { return set_ != nullptr; }

  /// Stores `value` into `target`; throws Invalid when the value cannot be used.
  template <typename Target>
  void operator()(Target& target, const Value& value) const {
    if (set_ == nullptr || *target_ != typeid(Target)) {
      throw std::logic_error("option setter called with the wrong target type");
    }
    reinterpret_cast<void (*)(Target&, const Value&)>(set_)(target, value);
  }

 private:
  // Casting a function pointer to another function pointer type and back gives the
  // original (C++20 [expr.reinterpret.cast]/6); void(*)() is the customary erased form.
  using Erased = void (*)();
  Erased set_ = nullptr;
  const std::type_info* target_ = nullptr;
};

/// One option, declared once. Tables list them with designated initializers:
/// `{.section = "dns", .key = "ttl", .fallback = std::int64_t{5}, .min = 0, .max = 86400,
///   .help = "...", .set = [](Target& t, const Value& v) { ... }}`.
struct Option {
  std::string_view section{};  // a section of the schema: "dns", "service", "service.check"
  std::string_view key{};
  Kind kind = Kind::integer;
  Value fallback{};      // the default; monostate when there is none (or it is computed)
  std::int64_t min = 0;  // integer range
  std::int64_t max = 0;
  double real_min = 0;  // real and seconds range
  double real_max = 0;
  bool reloadable = false;  // SIGHUP applies it; otherwise it takes effect at start-up
  bool required = false;
  std::string_view shown_default{};  // printed instead of `fallback` when set
  std::string_view allowed{};        // printed instead of the range when set
  std::string_view help{};
  Setter set{};

  /// "section.key", as messages and the reference name it.
  std::string name() const { return std::string(section) + "." + std::string(key); }
};

/// Checks `value` against the option's range; throws Invalid ("must be between 1 and 3600,
/// not 0", "... seconds, not 0") when it is outside. Other kinds are not checked here.
void check_range(const Option& option, const Value& value);

}  // namespace signpost::config
