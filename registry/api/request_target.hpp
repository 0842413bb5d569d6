// The request target of an API request (RFC 9112 §3.2, origin-form): path segments and query.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace signpost::registry::api {

/// A request target taken apart: the path's segments and the query's parameters, each
/// percent-decoded (RFC 3986 §2.1). "/" has no segment; "/v1/services/" has a last empty one.
struct RequestTarget {
  std::vector<std::string> segments;
  std::vector<std::pair<std::string, std::string>> query;  // in order; a bare key has ""

  /// The value of the first parameter named `key`, or nullopt.
  std::optional<std::string_view> parameter(std::string_view key) const;
};

/// Decodes %XX escapes; nullopt when an escape is malformed or decodes to NUL. '+' stays
/// '+'. Any thread; allocates.
std::optional<std::string> percent_decode(std::string_view text);

/// Takes an origin-form target ("/path?query") apart; nullopt when it does not start with
/// '/' or holds a malformed escape. Any thread; allocates.
std::optional<RequestTarget> parse_target(std::string_view target);

}  // namespace signpost::registry::api
