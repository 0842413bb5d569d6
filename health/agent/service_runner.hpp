// One configured service on this node: its checks, run on their intervals, and the health
// they add up to.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "health/agent/agent_config.hpp"
#include "health/agent/check.hpp"
#include "health/agent/check_state.hpp"
#include "registry/log/log.hpp"

namespace signpost::health::agent {

/// Runs the checks of one service, each every `interval` (a run that overruns delays the
/// next, runs never overlap), and keeps the instance's health: the worst of its checks'
/// statuses, passing when it has none. A check's result is logged when it differs from the
/// check's previous result. Lives on the agent's io_context thread; held by shared_ptr so
/// that pending handlers outlive nothing.
class ServiceRunner : public std::enable_shared_from_this<ServiceRunner> {
 public:
  /// Called (on the io thread) when health() changes; the argument says why.
  using HealthChanged = std::function<void(const std::string& reason)>;

  /// `name` labels the instance in logs (its instance name).
  ServiceRunner(boost::asio::io_context& io, ServiceConfig config, std::string name, Log log,
                HealthChanged changed);
  ~ServiceRunner();
  ServiceRunner(const ServiceRunner&) = delete;
  ServiceRunner& operator=(const ServiceRunner&) = delete;

  /// Starts every check now.
  void start();
  /// Cancels the checks (killing exec checks' processes); no callback follows.
  void stop();

  /// The instance's health now: the worst of its checks (passing without checks).
  registry::Health health() const noexcept { return health_; }
  /// The service as configured.
  const ServiceConfig& config() const noexcept { return config_; }
  /// The instance name, as in logs.
  const std::string& name() const noexcept { return name_; }

 private:
  struct Slot {
    Slot(boost::asio::io_context& io, const CheckConfig& check)
        : config(check),
          state(check.success_before_passing, check.failures_before_critical),
          timer(io) {}
    CheckConfig config;
    CheckState state;
    boost::asio::steady_timer timer;
    std::shared_ptr<CheckRun> run;
    std::optional<registry::Health> last_result;
    std::chrono::steady_clock::time_point started;
  };

  void do_run(Slot& slot);
  void on_result(Slot& slot, const CheckResult& result);
  void update_health(const std::string& reason);

  boost::asio::io_context& io_;
  ServiceConfig config_;
  std::string name_;
  Log log_;
  HealthChanged changed_;
  std::vector<std::unique_ptr<Slot>> slots_;
  registry::Health health_;
  bool stopped_ = false;
};

}  // namespace signpost::health::agent
