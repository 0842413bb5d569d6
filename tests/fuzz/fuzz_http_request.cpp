// libFuzzer target: bytes from the network as the API server reads them. They go through
// Beast's request parser with the server's default limits (8 KiB of headers, 64 KiB of
// body), and every request that parses goes to the router (ApiRouter::route) over an
// in-memory backend that replies at once, so the fuzzer reaches the target's decoding, the
// token check, the JSON body of a weight and the watch's parameters.
//
// Input: one or more requests, one after the other (pipelined). Every request must get
// exactly one answer, or become a watch; every answer's status must be one the API
// documents, and a JSON answer must hold JSON.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/parse.hpp>

#include "registry/api/api_router.hpp"
#include "registry/api/http_settings.hpp"
#include "tests/unit/support/test_api_backend.hpp"

namespace {

namespace http = boost::beast::http;
using namespace signpost::registry::api;

bool documented(unsigned status) {
  switch (status) {
    case 200:
    case 400:
    case 401:
    case 403:
    case 404:
    case 405:
    case 409:
    case 503:
      return true;
    default:
      return false;
  }
}

void check(const ApiRouter& router, const http::request<http::string_body>& parsed) {
  ApiRequest request;
  request.method = parsed.method();
  request.target = std::string(parsed.target());
  request.authorization = std::string(parsed[http::field::authorization]);
  request.body = parsed.body();
  request.client_address = "127.0.0.1";
  int answers = 0;
  std::optional<ApiResponse> answer;
  const std::optional<WatchQuery> watch = router.route(request, [&](ApiResponse response) {
    ++answers;
    answer = std::move(response);
  });
  if (answers + (watch ? 1 : 0) != 1) std::abort();
  if (!answer) return;
  if (!documented(answer->status)) std::abort();
  if (answer->content_type == "application/json") {
    boost::system::error_code error;
    boost::json::parse(answer->body, error);
    if (error) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const HttpSettings settings;
  signpost::testing::TestApiBackend backend(false);
  const ApiRouter router(backend, {"token"}, settings.max_wait);
  std::string_view input(reinterpret_cast<const char*>(data), size);
  while (!input.empty()) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(settings.max_header_bytes));
    parser.body_limit(settings.max_body_bytes);
    parser.eager(true);
    boost::system::error_code error;
    const std::size_t used = parser.put(boost::asio::buffer(input.data(), input.size()), error);
    input.remove_prefix(used);
    if (error || !parser.is_done()) return 0;  // the server answers 400, 413 or 431, or waits
    check(router, parser.get());
  }
  return 0;
}
