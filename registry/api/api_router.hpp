// What each API request means: its route, its checks, the backend call and the answer.
// Kept apart from the sockets (http_session) so that it can be tested and fuzzed alone.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/beast/http/verb.hpp>

#include "registry/api/api_backend.hpp"
#include "registry/api/bearer_tokens.hpp"
#include "registry/api/request_target.hpp"

namespace signpost::registry::api {

/// One request, as the router needs it.
struct ApiRequest {
  boost::beast::http::verb method = boost::beast::http::verb::get;
  std::string target;         // origin-form: "/v1/services?x=y"
  std::string authorization;  // the Authorization header's value; "" when absent
  std::string body;
  std::string client_address;  // the peer's IP, for the audit log
};

/// One answer: a status, its body and the headers beyond Content-Type and Content-Length.
struct ApiResponse {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  /// The value of header `name` (exact spelling), or "" when it is not set.
  std::string_view header(std::string_view name) const;
};

/// A blocking query (GET /v1/watch) for the caller to hold: answer once the serial differs
/// from `index`, or after `wait`.
struct WatchQuery {
  std::uint32_t index = 0;
  std::chrono::seconds wait{60};
};

/// Takes an ApiResponse; called once, from any thread.
using Respond = std::function<void(ApiResponse)>;

/// Routes requests to the backend and turns its replies into answers (see docs/api.md for
/// every path, status and body). Immutable after construction; any thread may call it.
class ApiRouter {
 public:
  /// `tokens` as read_token_file gives them (empty: writes disabled); watches wait at most
  /// `max_wait`. Control thread.
  ApiRouter(ApiBackend& backend, const std::vector<std::string>& tokens,
            std::chrono::seconds max_wait);

  /// Handles `request`. Either calls `respond` exactly once (at once, or later on the
  /// registry thread once the backend replies) and returns nullopt, or, for a watch that
  /// must wait, returns its query and does not call `respond`: the caller then holds it
  /// (and answers with watch_response). Allocates; never throws for any request.
  std::optional<WatchQuery> route(const ApiRequest& request, Respond respond) const;

  /// The answer to a watch: {"index": serial}. Any thread.
  ApiResponse watch_response(std::uint32_t serial) const;

  /// An error answer: {"error": message}. Any thread.
  static ApiResponse error_response(unsigned status, std::string_view message);

  /// The serial now. Any thread.
  std::uint32_t serial() const { return backend_.serial(); }

 private:
  enum class Endpoint : std::uint8_t;
  struct Route;
  template <class T>
  using Reply = ApiBackend::Reply<T>;

  // What `segments` name, or nullopt when no route has that path.
  static std::optional<Route> match(const std::vector<std::string>& segments);
  void route_reads(const Route& route, const ApiRequest& request, const Respond& respond) const;
  void route_writes(const Route& route, const ApiRequest& request, const Respond& respond) const;
  std::optional<WatchQuery> route_watch(const RequestTarget& target, const Respond& respond) const;
  // The actor of a write, or nullopt after answering 401 or 403.
  std::optional<Actor> authorize(const ApiRequest& request, const Respond& respond) const;
  // The reply to a write: its answer from the WriteResult.
  Reply<WriteResult> write_reply(Respond respond, bool deregistering, std::string service,
                                 std::string id) const;

  ApiBackend& backend_;
  BearerTokens tokens_;
  std::chrono::seconds max_wait_;
};

}  // namespace signpost::registry::api
