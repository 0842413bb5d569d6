// The API's routes: which path and method mean what, and the answers.
#include "registry/api/api_router.hpp"

#include <charconv>
#include <memory>

#include <boost/json/parse.hpp>

#include "registry/api/api_json.hpp"
#include "registry/api/request_target.hpp"
#include "registry/api/status_page.hpp"
#include "registry/model.hpp"

namespace signpost::registry::api {

namespace http = boost::beast::http;
namespace json = boost::json;

namespace {

constexpr std::string_view kPrometheus = "text/plain; version=0.0.4; charset=utf-8";
constexpr std::string_view kIndexHeader = "X-Signpost-Index";
// The status page loads nothing from anywhere but this server (no fonts, scripts or
// styles from a CDN), and may be framed by no other site.
constexpr std::string_view kStatusPagePolicy =
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'";
constexpr std::chrono::seconds kDefaultWait{60};

ApiResponse json_response(unsigned status, const json::value& body) {
  ApiResponse response;
  response.status = status;
  response.body = to_json_text(body);
  return response;
}

ApiResponse with_index(ApiResponse response, std::uint32_t serial) {
  response.headers.emplace_back(kIndexHeader, std::to_string(serial));
  return response;
}

// A whole decimal number that fits T; nullopt for anything else ("", "+1", "1.5", "1e3").
template <class T>
std::optional<T> parse_decimal(std::string_view text) {
  T value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// The scheme is case-insensitive (RFC 9110 §11.1); one space separates it from the token.
std::optional<std::string_view> bearer_token(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size()) return std::nullopt;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    const char c = authorization[i];
    if ((c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c) != kScheme[i]) return std::nullopt;
  }
  std::string_view token = authorization.substr(kScheme.size());
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty() || token.find_first_of(" \t") != std::string_view::npos) return std::nullopt;
  return token;
}

// {"weight": 0..65535} or {"weight": null}; the error text when the body is neither.
std::optional<std::string> parse_weight(std::string_view body,
                                        std::optional<std::uint16_t>& weight) {
  boost::system::error_code error;
  const json::value document = json::parse(body, error);
  if (error) return "the body is not JSON: " + error.message();
  const json::object* object = document.if_object();
  const json::value* value = object == nullptr ? nullptr : object->if_contains("weight");
  if (value == nullptr)
    return std::string("the body must be {\"weight\": N} or {\"weight\": null}");
  if (value->is_null()) {
    weight.reset();
    return std::nullopt;
  }
  const bool integer = value->is_int64() || value->is_uint64();
  if (!integer || (value->is_int64() && (value->get_int64() < 0 || value->get_int64() > 65535)) ||
      (value->is_uint64() && value->get_uint64() > 65535)) {
    return std::string("weight must be an integer from 0 to 65535, or null");
  }
  weight = static_cast<std::uint16_t>(
      value->is_int64() ? value->get_int64() : static_cast<std::int64_t>(value->get_uint64()));
  return std::nullopt;
}

}  // namespace

enum class ApiRouter::Endpoint : std::uint8_t {
  status_page,
  metrics,
  services,
  service,
  nodes,
  status,
  watch,
  deregister,
  drain,
  undrain,
  weight
};

// What a path names: its endpoint, the one method it takes, and the service and instance.
struct ApiRouter::Route {
  Endpoint endpoint;
  http::verb method = http::verb::get;
  std::string service = {};
  std::string id = {};
};

namespace {

using Segments = std::vector<std::string>;

bool starts(const Segments& segments, std::initializer_list<std::string_view> prefix) {
  if (segments.size() < prefix.size()) return false;
  std::size_t i = 0;
  for (std::string_view part : prefix) {
    if (segments[i++] != part) return false;
  }
  return true;
}

}  // namespace

std::string_view ApiResponse::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return {};
}

ApiRouter::ApiRouter(ApiBackend& backend, const std::vector<std::string>& tokens,
                     std::chrono::seconds max_wait)
    : backend_(backend), tokens_(tokens), max_wait_(max_wait) {}

ApiResponse ApiRouter::error_response(unsigned status, std::string_view message) {
  return json_response(status, json::object{{"error", message}});
}

ApiResponse ApiRouter::watch_response(std::uint32_t serial) const {
  return with_index(json_response(200, json::object{{"index", serial}}), serial);
}

std::optional<ApiRouter::Route> ApiRouter::match(const Segments& segments) {
  const std::size_t size = segments.size();
  if (size == 0) return Route{Endpoint::status_page};
  if (size == 1 && segments[0] == "metrics") return Route{Endpoint::metrics};
  if (size == 2 && starts(segments, {"v1", "nodes"})) return Route{Endpoint::nodes};
  if (size == 2 && starts(segments, {"v1", "status"})) return Route{Endpoint::status};
  if (size == 2 && starts(segments, {"v1", "watch"})) return Route{Endpoint::watch};
  if (!starts(segments, {"v1", "services"})) return std::nullopt;
  if (size == 2) return Route{Endpoint::services};
  if (size == 3) return Route{Endpoint::service, http::verb::get, segments[2]};
  if (size < 5 || size > 6 || segments[3] != "instances") return std::nullopt;
  if (size == 5) return Route{Endpoint::deregister, http::verb::delete_, segments[2], segments[4]};
  const std::string& action = segments[5];
  Endpoint endpoint{};
  if (action == "drain") {
    endpoint = Endpoint::drain;
  } else if (action == "undrain") {
    endpoint = Endpoint::undrain;
  } else if (action == "weight") {
    endpoint = Endpoint::weight;
  } else {
    return std::nullopt;
  }
  return Route{endpoint, http::verb::put, segments[2], segments[4]};
}

std::optional<WatchQuery> ApiRouter::route(const ApiRequest& request, Respond respond) const {
  Respond answer = std::move(respond);
  if (request.method == http::verb::get) {
    // Every GET answer says which serial it reflects, errors too (a client may follow it).
    answer = [this, inner = std::move(answer)](ApiResponse response) {
      if (response.header(kIndexHeader).empty())
        response = with_index(std::move(response), serial());
      inner(std::move(response));
    };
  }
  const std::optional<RequestTarget> target = parse_target(request.target);
  if (!target) {
    answer(error_response(400, "the request target is not a valid path"));
    return std::nullopt;
  }
  std::optional<Route> route = match(target->segments);
  if (!route) {
    answer(error_response(404, "no such path"));
    return std::nullopt;
  }
  if (route->method != request.method) {
    ApiResponse response =
        error_response(405, "this path takes only " + std::string(http::to_string(route->method)));
    response.headers.emplace_back("Allow", http::to_string(route->method));
    answer(std::move(response));
    return std::nullopt;
  }
  try {
    if (!route->service.empty()) route->service = normalize_label("service name", route->service);
    if (!route->id.empty()) route->id = normalize_label("instance id", route->id);
  } catch (const RegistryError& error) {
    answer(error_response(400, error.what()));
    return std::nullopt;
  }
  if (route->endpoint == Endpoint::watch) return route_watch(*target, answer);
  if (route->method == http::verb::get) {
    route_reads(*route, request, answer);
  } else {
    route_writes(*route, request, answer);
  }
  return std::nullopt;
}

void ApiRouter::route_reads(const Route& route, const ApiRequest&, const Respond& respond) const {
  switch (route.endpoint) {
    case Endpoint::status_page: {
      ApiResponse response;
      response.content_type = "text/html; charset=utf-8";
      response.body = status_page_html();
      response.headers.emplace_back("Content-Security-Policy", kStatusPagePolicy);
      response.headers.emplace_back("X-Content-Type-Options", "nosniff");
      respond(std::move(response));
      return;
    }
    case Endpoint::metrics:
      backend_.metrics([respond](std::string text) {
        ApiResponse response;
        response.content_type = kPrometheus;
        response.body = std::move(text);
        respond(std::move(response));
      });
      return;
    case Endpoint::services:
      backend_.services([this, respond](std::vector<ServiceSummary> services) {
        const std::uint32_t serial_now = serial();
        json::array list;
        list.reserve(services.size());
        for (const ServiceSummary& summary : services)
          list.emplace_back(service_summary_json(summary));
        const json::object body{{"serial", serial_now}, {"services", std::move(list)}};
        respond(with_index(json_response(200, body), serial_now));
      });
      return;
    case Endpoint::service:
      backend_.service(
          route.service, [this, respond, name = route.service](std::optional<ServiceInfo> info) {
            if (!info) {
              respond(error_response(404, "no such service: " + name));
              return;
            }
            const std::uint32_t serial_now = serial();
            respond(with_index(json_response(200, service_json(*info, serial_now)), serial_now));
          });
      return;
    case Endpoint::nodes:
      backend_.nodes([this, respond](std::vector<NodeInfo> nodes) {
        const std::uint32_t serial_now = serial();
        json::array list;
        list.reserve(nodes.size());
        for (const NodeInfo& node : nodes) list.emplace_back(node_json(node));
        const json::object body{{"serial", serial_now}, {"nodes", std::move(list)}};
        respond(with_index(json_response(200, body), serial_now));
      });
      return;
    case Endpoint::status:
      backend_.status([respond](StatusInfo status) {
        respond(with_index(json_response(200, status_json(status)), status.serial));
      });
      return;
    default:
      respond(error_response(404, "no such path"));
  }
}

std::optional<Actor> ApiRouter::authorize(const ApiRequest& request, const Respond& respond) const {
  if (!tokens_.enabled()) {
    respond(error_response(403, "writes are disabled: set http.token_file"));
    return std::nullopt;
  }
  const std::optional<std::string_view> token = bearer_token(request.authorization);
  if (!token) {
    ApiResponse response = error_response(
        401, request.authorization.empty() ? "this write needs Authorization: Bearer <token>"
                                           : "the Authorization header is not Bearer <token>");
    response.headers.emplace_back("WWW-Authenticate", "Bearer");
    respond(std::move(response));
    return std::nullopt;
  }
  std::optional<std::string> id = tokens_.find(*token);
  if (!id) {
    respond(error_response(403, "the token is not valid"));
    return std::nullopt;
  }
  return Actor{std::move(*id), request.client_address};
}

void ApiRouter::route_writes(const Route& route, const ApiRequest& request,
                             const Respond& respond) const {
  std::optional<Actor> actor = authorize(request, respond);
  if (!actor) return;
  switch (route.endpoint) {
    case Endpoint::drain:
    case Endpoint::undrain:
      backend_.set_drained(route.service, route.id, route.endpoint == Endpoint::drain,
                           std::move(*actor), write_reply(respond, false, route.service, route.id));
      return;
    case Endpoint::weight: {
      std::optional<std::uint16_t> weight;
      if (std::optional<std::string> error = parse_weight(request.body, weight)) {
        respond(error_response(400, *error));
        return;
      }
      backend_.set_weight(route.service, route.id, weight, std::move(*actor),
                          write_reply(respond, false, route.service, route.id));
      return;
    }
    case Endpoint::deregister:
      backend_.deregister(route.service, route.id, std::move(*actor),
                          write_reply(respond, true, route.service, route.id));
      return;
    default:
      respond(error_response(404, "no such path"));
  }
}

ApiRouter::Reply<WriteResult> ApiRouter::write_reply(Respond respond, bool deregistering,
                                                     std::string service, std::string id) const {
  return [respond = std::move(respond), deregistering, service = std::move(service),
          id = std::move(id)](WriteResult result) {
    switch (result.status) {
      case WriteStatus::ok:
        break;
      case WriteStatus::bad_request:
        return respond(error_response(400, result.message));
      case WriteStatus::not_found:
        return respond(error_response(404, result.message.empty()
                                               ? "no such instance: " + service + "/" + id
                                               : result.message));
      case WriteStatus::conflict:
        return respond(error_response(409, result.message));
      case WriteStatus::backend_down:
        return respond(
            error_response(503, result.message.empty() ? "the backend is down" : result.message));
    }
    json::object body{{"serial", result.serial}};
    if (deregistering) {
      body["deregistered"] = json::object{{"service", service}, {"id", id}};
    } else {
      body["instance"] = result.instance ? json::value(instance_json(*result.instance)) : nullptr;
    }
    respond(json_response(200, body));
  };
}

std::optional<WatchQuery> ApiRouter::route_watch(const RequestTarget& target,
                                                 const Respond& respond) const {
  WatchQuery query;
  query.wait = std::min(kDefaultWait, max_wait_);
  if (const auto index = target.parameter("index")) {
    const std::optional<std::uint32_t> value = parse_decimal<std::uint32_t>(*index);
    if (!value) {
      respond(error_response(400, "index must be a serial: a whole number from 0 to 4294967295"));
      return std::nullopt;
    }
    query.index = *value;
  }
  if (auto wait = target.parameter("wait")) {
    if (!wait->empty() && wait->back() == 's') wait->remove_suffix(1);  // "30s" as Consul takes it
    const std::optional<std::uint32_t> value = parse_decimal<std::uint32_t>(*wait);
    if (!value) {
      respond(error_response(400, "wait must be a whole number of seconds"));
      return std::nullopt;
    }
    query.wait = std::min(std::chrono::seconds(*value), max_wait_);
  }
  const std::uint32_t serial_now = serial();
  if (query.index == 0 || query.index != serial_now || query.wait.count() == 0) {
    respond(watch_response(serial_now));
    return std::nullopt;
  }
  return query;
}

}  // namespace signpost::registry::api
