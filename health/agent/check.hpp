// Health checks of the agent: one run of an http, tcp or exec check, on an Asio io_context.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "health/agent/agent_config.hpp"
#include "registry/model.hpp"

namespace signpost::health::agent {

/// The result of one run: its health and a short text for the log ("HTTP/1.1 200 OK",
/// "connection refused", the command's output).
struct CheckResult {
  registry::Health health = registry::Health::critical;
  std::string output;
  bool operator==(const CheckResult&) const = default;
};

/// Called once with a run's result, on the io_context's thread.
using CheckDone = std::function<void(CheckResult)>;

/// One run of a check in progress. The run keeps itself alive until it completes; cancel()
/// stops it (an exec check's process group is killed) and `done` is then never called.
class CheckRun {
 public:
  virtual ~CheckRun() = default;
  /// Stops the run without calling back. The io_context's thread.
  virtual void cancel() = 0;
};

/// Starts one run of `check` on `io`; `done` is called on io's thread when it completes or
/// times out (critical). Allocates.
std::shared_ptr<CheckRun> start_check(boost::asio::io_context& io, const CheckConfig& check,
                                      CheckDone done);

/// http: GET the URL over HTTP/1.1; the status line decides (see http_status_health).
std::shared_ptr<CheckRun> start_http_check(boost::asio::io_context& io, const CheckConfig& check,
                                           CheckDone done);
/// tcp: passing when a TCP connection to host:port opens within the timeout.
std::shared_ptr<CheckRun> start_tcp_check(boost::asio::io_context& io, const CheckConfig& check,
                                          CheckDone done);
/// exec: runs the target with /bin/sh -c in its own process group, stdout and stderr
/// captured (the first 4 KiB), killed at the timeout (see exit_status_health).
std::shared_ptr<CheckRun> start_exec_check(boost::asio::io_context& io, const CheckConfig& check,
                                           CheckDone done);

/// An HTTP status code's health: 2xx passing, 429 warning (the service is up but shedding
/// load), anything else critical.
registry::Health http_status_health(int status) noexcept;

/// A command's exit code's health: 0 passing, 1 warning, anything else critical.
registry::Health exit_status_health(int code) noexcept;

/// "2.5 s": a duration for messages.
std::string seconds_text(std::chrono::milliseconds duration);

}  // namespace signpost::health::agent
