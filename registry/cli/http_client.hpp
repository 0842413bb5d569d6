// A small synchronous HTTP/1.1 client for the Signpost API (Boost.Beast), with a timeout.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace signpost::registry::cli {

/// Where the API is: from "http://HOST[:PORT][/PREFIX]" (HOST may be "[v6]").
struct ServerUrl {
  std::string text;    // as given, for messages
  std::string host;    // without brackets
  std::string port = "80";
  std::string prefix;  // path before /v1/..., without a final slash ("" usually)
};

/// Parses a --server value; throws CliError(ExitCode::usage) for anything but plain http
/// with a host. Pure.
ServerUrl parse_server_url(const std::string& text);

/// What the server answered.
struct HttpResponse {
  unsigned status = 0;
  std::string body;
  std::optional<std::uint32_t> index;  // X-Signpost-Index, when present
};

/// One request per call on a fresh connection (the CLI makes a handful). Connection
/// failures and timeouts throw CliError(ExitCode::unreachable) with a message naming the
/// server and the cause; any HTTP status is returned, not thrown. One thread per client.
class HttpClient {
 public:
  HttpClient(ServerUrl server, std::chrono::milliseconds timeout);

  /// GET `target` ("/v1/services"). `extra` lengthens the timeout for a blocking query.
  HttpResponse get(const std::string& target,
                   std::chrono::milliseconds extra = std::chrono::milliseconds(0)) const;

  /// PUT or DELETE with a bearer token and (for PUT) a JSON body.
  HttpResponse write(const std::string& method, const std::string& target,
                     const std::string& token, const std::string& json_body) const;

  /// The server this client asks, for messages.
  const ServerUrl& server() const noexcept { return server_; }

 private:
  HttpResponse exchange(const std::string& method, const std::string& target,
                        const std::string& token, const std::string& json_body,
                        std::chrono::milliseconds timeout) const;

  ServerUrl server_;
  std::chrono::milliseconds timeout_;
};

/// Percent-encodes one path segment (a service name or an instance id). Pure.
std::string encode_path_segment(const std::string& segment);

}  // namespace signpost::registry::cli
