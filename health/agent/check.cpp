// Dispatch of check runs by type, and the mapping of HTTP statuses and exit codes to health.
#include "health/agent/check.hpp"

#include <sstream>

namespace signpost::health::agent {

std::shared_ptr<CheckRun> start_check(boost::asio::io_context& io, const CheckConfig& check,
                                      CheckDone done) {
  switch (check.type) {
    case CheckType::http: return start_http_check(io, check, std::move(done));
    case CheckType::tcp: return start_tcp_check(io, check, std::move(done));
    default: return start_exec_check(io, check, std::move(done));
  }
}

registry::Health http_status_health(int status) noexcept {
  if (status >= 200 && status <= 299) return registry::Health::passing;
  if (status == 429) return registry::Health::warning;
  return registry::Health::critical;
}

registry::Health exit_status_health(int code) noexcept {
  if (code == 0) return registry::Health::passing;
  if (code == 1) return registry::Health::warning;
  return registry::Health::critical;
}

std::string seconds_text(std::chrono::milliseconds duration) {
  std::ostringstream out;
  out << static_cast<double>(duration.count()) / 1000.0 << " s";
  return out.str();
}

}  // namespace signpost::health::agent
