// Parsing of check targets: the http check's URL and the tcp check's host:port.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <stdexcept>

#include "health/agent/agent_config.hpp"

namespace signpost::health::agent {

namespace {

std::uint16_t port_of(std::string_view text, std::string_view whole) {
  unsigned port = 0;
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, port);
  if (text.empty() || error != std::errc() || stop != end || port == 0 || port > 65535) {
    throw std::invalid_argument("'" + std::string(whole) + "' has no valid port (1-65535)");
  }
  return static_cast<std::uint16_t>(port);
}

bool is_host_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.' || c == '_';
}

// "host", "host:port", "[v6]" or "[v6]:port"; `needs_port` says whether the port may be left
// out (then `fallback` is used).
HostPort split_host_port(std::string_view text, std::string_view whole, bool needs_port,
                         std::uint16_t fallback) {
  HostPort out;
  std::string_view rest;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos || close == 1) {
      throw std::invalid_argument("'" + std::string(whole) + "' has an unclosed '['");
    }
    out.host = std::string(text.substr(1, close - 1));
    rest = text.substr(close + 1);
    const bool hex = std::all_of(out.host.begin(), out.host.end(), [](char c) {
      return std::isxdigit(static_cast<unsigned char>(c)) != 0 || c == ':' || c == '.';
    });
    if (!hex) throw std::invalid_argument("'" + std::string(whole) + "' has a bad IPv6 address");
  } else {
    const std::size_t colon = text.rfind(':');
    out.host = std::string(text.substr(0, colon));
    rest = colon == std::string_view::npos ? std::string_view{} : text.substr(colon);
    if (out.host.find(':') != std::string::npos) {
      throw std::invalid_argument("'" + std::string(whole) +
                                  "': write an IPv6 address in brackets, like [::1]:80");
    }
    if (out.host.empty() || !std::all_of(out.host.begin(), out.host.end(), is_host_char)) {
      throw std::invalid_argument("'" + std::string(whole) + "' has no valid host");
    }
  }
  if (rest.empty()) {
    if (needs_port) {
      throw std::invalid_argument("'" + std::string(whole) +
                                  "' needs a port, like \"127.0.0.1:80\"");
    }
    out.port = fallback;
  } else if (rest.front() != ':') {
    throw std::invalid_argument("'" + std::string(whole) + "' has text after the host");
  } else {
    out.port = port_of(rest.substr(1), whole);
  }
  return out;
}

}  // namespace

std::string_view to_string(CheckType type) noexcept {
  switch (type) {
    case CheckType::http: return "http";
    case CheckType::tcp: return "tcp";
    default: return "exec";
  }
}

HostPort parse_host_port(std::string_view text) { return split_host_port(text, text, true, 0); }

HttpTarget parse_http_url(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  const auto starts_with = [&](std::string_view prefix) {
    return url.size() >= prefix.size() &&
           std::equal(prefix.begin(), prefix.end(), url.begin(), [](char a, char b) {
             return a == std::tolower(static_cast<unsigned char>(b));
           });
  };
  if (starts_with("https://")) {
    throw std::invalid_argument("'" + std::string(url) + "': https is not supported, use http://");
  }
  if (!starts_with(kScheme)) {
    throw std::invalid_argument("'" + std::string(url) +
                                "' is not an http URL, like \"http://127.0.0.1:8080/health\"");
  }
  const std::string_view rest = url.substr(kScheme.size());
  const std::size_t slash = rest.find('/');
  const std::string_view authority = rest.substr(0, slash);
  if (authority.find('@') != std::string_view::npos) {
    throw std::invalid_argument("'" + std::string(url) + "': user names are not supported");
  }
  const HostPort host = split_host_port(authority, url, false, 80);
  HttpTarget out{host.host, host.port, "/"};
  if (slash != std::string_view::npos) out.path = std::string(rest.substr(slash));
  const auto bad = [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; };
  if (std::any_of(out.path.begin(), out.path.end(), bad)) {
    throw std::invalid_argument("'" + std::string(url) +
                                "': the path may not hold spaces or control characters");
  }
  return out;
}

}  // namespace signpost::health::agent
