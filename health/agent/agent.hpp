// The running agent: services and their checks, heartbeats to every server or to one at a
// time, failover, reload and deregistration.
//
// Every configured service is an instance registered with every server by its own UPDATE
// (update_message.hpp). Each server has a round timer: a round sends every instance's UPDATE,
// and the next round comes a third of the granted lease later (jittered). A health change
// goes to every reachable server at once, outside the rounds. A server that lets an UPDATE
// time out is down: that is logged once, and its rounds follow an exponential backoff (never
// slower than the heartbeat) until it answers again, which is logged once and triggers a
// round at once. Registration results are logged when they change, never per heartbeat.
//
// With `send_to = "one"` the servers share one registry (the etcd backend), and writing every
// heartbeat through every server would only multiply the registry's writes. Rounds, health
// changes and deregistrations then go to the current server alone, the first listed at start.
// When it lets an UPDATE time out, the agent moves at once to the next server in `servers`
// order (wrapping), drops what was in flight to the old one and sends the new one a full
// round: the last renewal is at most a heartbeat and a timeout old, so the leases in the
// shared registry never run out. The agent stays on the new server while it answers, as etcd
// clients stay on their endpoint; once every server has let an UPDATE time out since the last
// answer, the rotation goes on with the backoff of a server that is down.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "health/agent/agent_config.hpp"
#include "health/agent/schedule.hpp"
#include "health/agent/server_link.hpp"
#include "health/agent/service_runner.hpp"
#include "health/agent/update_message.hpp"
#include "registry/log/log.hpp"

namespace signpost::health::agent {

/// The agent's delays that are not derived from the lease. The backoff also paces the
/// rotation of send_to = one once every server is down.
struct AgentTiming {
  std::chrono::milliseconds first_delay_cap{1000};  // first registration within this
  std::chrono::milliseconds backoff_initial{500};   // retries of a server that is down
  std::chrono::milliseconds backoff_max{5000};
  std::chrono::milliseconds deregister_limit{2000};  // the most a clean stop waits
};

/// The agent. Create, use and destroy it on the thread that runs `io` (the io thread); every
/// method must be called there.
class Agent {
 public:
  /// `seed` fixes the jitter and the links' message ids (tests); throws nothing.
  Agent(boost::asio::io_context& io, AgentConfig config, Log log, AgentTiming timing = {},
        std::uint32_t seed = std::random_device{}());
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  /// Opens a link to every server, starts every check and schedules the first registrations
  /// (with send_to = one, with the first server only).
  /// Throws boost::system::system_error when a socket cannot be opened.
  void start();

  /// Applies a new configuration: instances no longer configured (and every instance on a
  /// server no longer listed) are deregistered with the old key; new and changed services
  /// are registered at once; unchanged services keep their checks' state. With send_to = one
  /// the servers share a registry: the removed instances are deregistered through the
  /// current server only, a server no longer listed is sent nothing, and the current server
  /// stays current while it is listed (else the first listed takes over).
  void reload(AgentConfig next);

  /// Deregisters every instance from every server (with send_to = one, through the current
  /// server), then calls `done` (once, on the io thread)
  /// when all have answered or after timing.deregister_limit.
  void shutdown(std::function<void()> done);

  /// The current health of an instance (by instance name), or nullopt.
  std::optional<registry::Health> health(const std::string& instance_name) const;
  /// The configuration in force (the last one reloaded).
  const AgentConfig& config() const noexcept { return config_; }

 private:
  struct Attempts;
  struct Lane;
  struct ServerState;

  void add_service(const ServiceConfig& service);
  ServerState& add_server(const ServerAddress& address);
  void reload_servers();
  bool sends_to(const ServerState& server) const noexcept;
  void fail_over(ServerState& from, const std::string& why);
  void park(ServerState& server);
  void schedule_round(ServerState& server, std::chrono::milliseconds delay);
  void do_round(ServerState& server);
  void send_registration(ServerState& server, const std::string& name);
  void on_registration_reply(ServerState& server, const std::string& name,
                             const SignedUpdate& request, const Exchange& exchange);
  void on_reachable(ServerState& server);
  void on_unreachable(ServerState& server, const std::string& why);
  void on_health_changed(const std::string& name, const std::string& reason);
  void deregister(const std::shared_ptr<ServerLink>& link, const InstanceRecords& records,
                  const KeyConfig& key, std::function<void()> done);
  void drop_lanes(ServerState& server, const std::vector<std::string>& names);
  void retire(const std::vector<std::string>& removed, const std::set<std::string>& next_servers);
  InstanceRecords records_of(const ServiceRunner& runner) const;
  std::uint32_t granted_lease(const ServerState& server) const;

  boost::asio::io_context& io_;
  AgentConfig config_;
  Log log_;
  AgentTiming timing_;
  Random random_;
  std::map<std::string, std::shared_ptr<ServiceRunner>> services_;  // by instance name
  std::vector<std::unique_ptr<ServerState>> servers_;  // in `servers` order
  // send_to = one: where heartbeats go (null with send_to = all), how many servers have let an
  // UPDATE time out since the last answer, and the backoff once every one has.
  ServerState* current_ = nullptr;
  std::size_t misses_ = 0;
  Backoff rotation_backoff_;
  std::vector<std::weak_ptr<ServerLink>> retired_links_;  // servers dropped by a reload
  boost::asio::steady_timer shutdown_timer_;
  bool stopping_ = false;
};

}  // namespace signpost::health::agent
