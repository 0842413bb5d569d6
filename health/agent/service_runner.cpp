// Runs one service's checks on their intervals and adds their statuses up to its health.
#include "health/agent/service_runner.hpp"

namespace signpost::health::agent {

ServiceRunner::ServiceRunner(boost::asio::io_context& io, ServiceConfig config, std::string name,
                             Log log, HealthChanged changed)
    : io_(io),
      config_(std::move(config)),
      name_(std::move(name)),
      log_(std::move(log)),
      changed_(std::move(changed)),
      health_(config_.checks.empty() ? registry::Health::passing : registry::Health::critical) {
  for (const CheckConfig& check : config_.checks) {
    slots_.push_back(std::make_unique<Slot>(io_, check));
  }
}

ServiceRunner::~ServiceRunner() { stop(); }

void ServiceRunner::start() {
  for (const auto& slot : slots_) do_run(*slot);
}

void ServiceRunner::stop() {
  stopped_ = true;
  for (const auto& slot : slots_) {
    slot->timer.cancel();
    if (slot->run) slot->run->cancel();
    slot->run.reset();
  }
}

void ServiceRunner::do_run(Slot& slot) {
  if (stopped_) return;
  slot.started = std::chrono::steady_clock::now();
  std::weak_ptr<ServiceRunner> weak = weak_from_this();
  Slot* target = &slot;
  slot.run = start_check(io_, slot.config, [weak, target](CheckResult result) {
    if (auto self = weak.lock(); self && !self->stopped_) self->on_result(*target, result);
  });
}

void ServiceRunner::on_result(Slot& slot, const CheckResult& result) {
  slot.run.reset();
  const std::string check =
      "check " + std::string(to_string(slot.config.type)) + " '" + slot.config.target + "'";
  const std::string what = check + " of " + name_;
  if (slot.last_result != result.health) {
    log_(
        result.health == registry::Health::passing ? LogLevel::info : LogLevel::warning,
        what + ": " + std::string(registry::to_string(result.health)) + " (" + result.output + ")");
    slot.last_result = result.health;
  }
  if (slot.state.record(result.health)) {
    update_health(check + " is " + std::string(registry::to_string(slot.state.status())));
  }
  // The next run starts an interval after this one started, or at once if it overran.
  slot.timer.expires_at(slot.started + slot.config.interval);
  std::weak_ptr<ServiceRunner> weak = weak_from_this();
  Slot* target = &slot;
  slot.timer.async_wait([weak, target](const boost::system::error_code& error) {
    if (error) return;
    if (auto self = weak.lock()) self->do_run(*target);
  });
}

void ServiceRunner::update_health(const std::string& reason) {
  registry::Health health = registry::Health::passing;
  for (const auto& slot : slots_) health = worst(health, slot->state.status());
  if (health == health_) return;
  health_ = health;
  if (changed_) changed_(reason);
}

}  // namespace signpost::health::agent
