// Range checks of integer and number options.
#include "registry/config/option.hpp"

namespace signpost::config {

void check_range(const Option& option, const Value& value) {
  if (const auto* n = std::get_if<std::int64_t>(&value)) {
    if (*n < option.min || *n > option.max) {
      throw Invalid("must be between " + std::to_string(option.min) + " and " +
                    std::to_string(option.max) + ", not " + std::to_string(*n));
    }
  } else if (const auto* r = std::get_if<double>(&value)) {
    // Written so that NaN is out of range too.
    if (!(*r >= option.real_min && *r <= option.real_max)) {
      const std::string_view unit = option.kind == Kind::seconds ? " seconds" : "";
      throw Invalid("must be between " + number_text(option.real_min) + " and " +
                    number_text(option.real_max) + std::string(unit) + ", not " +
                    number_text(*r));
    }
  }
}

}  // namespace signpost::config
