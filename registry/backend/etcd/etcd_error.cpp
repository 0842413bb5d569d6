// The etcd client's error and its message.
#include "registry/backend/etcd/etcd_error.hpp"

#include <utility>

namespace signpost::registry::etcd {

std::string_view to_string(EtcdErrc code) noexcept {
  switch (code) {
    case EtcdErrc::unavailable: return "unavailable";
    case EtcdErrc::deadline_exceeded: return "deadline exceeded";
    case EtcdErrc::unauthenticated: return "unauthenticated";
    case EtcdErrc::permission_denied: return "permission denied";
    case EtcdErrc::invalid_argument: return "invalid argument";
    case EtcdErrc::not_found: return "not found";
    case EtcdErrc::canceled: return "canceled";
    case EtcdErrc::other: return "error";
  }
  return "error";
}

EtcdError::EtcdError(EtcdErrc code, const std::string& endpoint, const std::string& detail)
    : std::runtime_error("etcd " + endpoint + ": " + std::string(to_string(code)) + ": " + detail),
      code_(code),
      endpoint_(endpoint) {}

EtcdError EtcdError::with_message(EtcdErrc code, std::string endpoint, const std::string& message) {
  return EtcdError(Verbatim{}, code, std::move(endpoint), message);
}

EtcdError::EtcdError(Verbatim, EtcdErrc code, std::string endpoint, const std::string& message)
    : std::runtime_error(message), code_(code), endpoint_(std::move(endpoint)) {}

}  // namespace signpost::registry::etcd
