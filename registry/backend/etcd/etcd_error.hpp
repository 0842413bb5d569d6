// The error every etcd client call throws: what failed, on which endpoint, and why.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace signpost::registry::etcd {

/// Why an etcd request failed; the gRPC status codes etcd answers with, grouped.
enum class EtcdErrc {
  unavailable,         // no connection, or it broke: the endpoint is down or unreachable
  deadline_exceeded,   // the request's deadline passed
  unauthenticated,     // bad user or password, or the token expired
  permission_denied,   // the user may not touch the key
  invalid_argument,    // etcd refused the request (empty key, TTL out of range, ...)
  not_found,           // the lease is unknown (expired or revoked)
  canceled,            // the client stopped the request
  other,               // anything else etcd or gRPC reported
};

/// The name of `code` as messages print it ("unavailable", "deadline exceeded", ...).
/// Any thread; no allocation.
std::string_view to_string(EtcdErrc code) noexcept;

/// A failed etcd request. what() reads "etcd 127.0.0.1:2379: unavailable: <detail>", naming
/// the endpoint the request last went to (or every endpoint tried, separated by "; ").
class EtcdError : public std::runtime_error {
 public:
  /// Builds the message from its parts. Any thread; allocates.
  EtcdError(EtcdErrc code, const std::string& endpoint, const std::string& detail);
  /// Keeps a message already built (several endpoints' failures joined). Any thread;
  /// allocates.
  static EtcdError with_message(EtcdErrc code, std::string endpoint, const std::string& message);

  /// The reason, for callers that react to it (retry on unavailable, re-grant on not_found).
  EtcdErrc code() const noexcept { return code_; }
  /// The endpoint ("host:port") the last attempt went to.
  const std::string& endpoint() const noexcept { return endpoint_; }

 private:
  struct Verbatim {};
  EtcdError(Verbatim, EtcdErrc code, std::string endpoint, const std::string& message);

  EtcdErrc code_;
  std::string endpoint_;
};

}  // namespace signpost::registry::etcd
