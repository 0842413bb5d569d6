// The CLI's HTTP client. Beast's synchronous calls have no timeout, so each request runs as
// a coroutine on its own io_context: tcp_stream's expiry bounds every step, and the caller
// still just waits for the answer.
#include "registry/cli/http_client.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <charconv>
#include <exception>

#include "registry/cli/cli_error.hpp"

namespace signpost::registry::cli {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

constexpr std::uint64_t kBodyLimit = 256u << 20;  // a registry of a million instances fits

/// The operator-facing cause of a connection failure.
std::string cause_of(const beast::error_code& error, std::chrono::milliseconds timeout) {
  if (error == beast::error::timeout || error == asio::error::timed_out) {
    return "no answer within " + duration_text(timeout);
  }
  if (error == asio::error::connection_refused) {
    return "connection refused (is signpostd running with [http] listen?)";
  }
  if (error == asio::error::host_not_found || error == asio::error::host_not_found_try_again) {
    return "host not found";
  }
  if (error == http::error::end_of_stream || error == asio::error::eof ||
      error == asio::error::connection_reset) {
    return "the connection closed before an answer (is it signpostd's HTTP port?)";
  }
  return error.message();
}

asio::awaitable<void> run_exchange(tcp::resolver& resolver, beast::tcp_stream& stream,
                                   const ServerUrl& server,
                                   http::request<http::string_body>& request,
                                   http::response_parser<http::string_body>& parser,
                                   std::chrono::milliseconds timeout) {
  const auto endpoints = co_await resolver.async_resolve(server.host, server.port,
                                                         asio::use_awaitable);
  stream.expires_after(timeout);
  co_await stream.async_connect(endpoints, asio::use_awaitable);
  stream.expires_after(timeout);
  co_await http::async_write(stream, request, asio::use_awaitable);
  beast::flat_buffer buffer;
  co_await http::async_read(stream, buffer, parser, asio::use_awaitable);
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

std::optional<std::uint32_t> index_of(const http::response<http::string_body>& response) {
  const auto field = response.find("X-Signpost-Index");
  if (field == response.end()) return std::nullopt;
  const auto text = field->value();
  std::uint32_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

ServerUrl parse_server_url(const std::string& text) {
  constexpr std::string_view kScheme = "http://";
  if (text.rfind(kScheme, 0) != 0) {
    throw CliError(ExitCode::usage, "--server wants http://HOST[:PORT], not \"" + text + "\"");
  }
  ServerUrl url;
  url.text = text;
  std::string rest = text.substr(kScheme.size());
  const auto slash = rest.find('/');
  if (slash != std::string::npos) {
    url.prefix = rest.substr(slash);
    while (!url.prefix.empty() && url.prefix.back() == '/') url.prefix.pop_back();
    rest.resize(slash);
  }
  std::string port_text;
  if (!rest.empty() && rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string::npos) throw CliError(ExitCode::usage, "--server: no ] in " + text);
    url.host = rest.substr(1, close - 1);
    if (close + 1 < rest.size() && rest[close + 1] == ':') port_text = rest.substr(close + 2);
  } else {
    const auto colon = rest.find(':');
    url.host = rest.substr(0, colon);
    if (colon != std::string::npos) port_text = rest.substr(colon + 1);
  }
  if (url.host.empty()) throw CliError(ExitCode::usage, "--server: no host in " + text);
  if (!port_text.empty()) url.port = port_text;
  int port = 0;
  const auto [end, error] = std::from_chars(url.port.data(), url.port.data() + url.port.size(), port);
  if (error != std::errc() || end != url.port.data() + url.port.size() || port < 1 || port > 65535) {
    throw CliError(ExitCode::usage, "--server: bad port in " + text);
  }
  return url;
}

std::string encode_path_segment(const std::string& segment) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : segment) {
    const auto octet = static_cast<unsigned char>(c);
    if (std::isalnum(octet) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[octet >> 4];
      out += kHex[octet & 0x0F];
    }
  }
  return out;
}

HttpClient::HttpClient(ServerUrl server, std::chrono::milliseconds timeout)
    : server_(std::move(server)), timeout_(timeout) {}

HttpResponse HttpClient::get(const std::string& target, std::chrono::milliseconds extra) const {
  return exchange("GET", target, {}, {}, timeout_ + extra);
}

HttpResponse HttpClient::write(const std::string& method, const std::string& target,
                               const std::string& token, const std::string& json_body) const {
  return exchange(method, target, token, json_body, timeout_);
}

HttpResponse HttpClient::exchange(const std::string& method, const std::string& target,
                                  const std::string& token, const std::string& json_body,
                                  std::chrono::milliseconds timeout) const {
  http::request<http::string_body> request{http::string_to_verb(method),
                                           server_.prefix + target, 11};
  request.set(http::field::host, server_.host + ":" + server_.port);
  request.set(http::field::user_agent, "signpost/" SIGNPOST_VERSION);
  request.set(http::field::accept, "application/json");
  if (!token.empty()) request.set(http::field::authorization, "Bearer " + token);
  if (method != "GET") {
    request.set(http::field::content_type, "application/json");
    request.body() = json_body;
    request.prepare_payload();
  }
  asio::io_context io;
  tcp::resolver resolver(io);
  beast::tcp_stream stream(io);
  http::response_parser<http::string_body> parser;
  parser.body_limit(kBodyLimit);
  std::exception_ptr failure;
  asio::co_spawn(io, run_exchange(resolver, stream, server_, request, parser, timeout),
                 [&failure](std::exception_ptr error) { failure = error; });
  // Resolving a name has no expiry of its own: bound the whole exchange as well.
  io.run_for(timeout * 3);
  if (!io.stopped()) {
    failure = std::make_exception_ptr(beast::system_error(beast::error::timeout));
  }
  if (failure) {
    try {
      std::rethrow_exception(failure);
    } catch (const beast::system_error& error) {
      throw CliError(ExitCode::unreachable,
                     "cannot reach " + server_.text + ": " + cause_of(error.code(), timeout));
    }
  }
  const auto& response = parser.get();
  return HttpResponse{response.result_int(), response.body(), index_of(response)};
}

}  // namespace signpost::registry::cli
