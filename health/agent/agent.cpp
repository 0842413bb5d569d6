// The running agent: registration rounds per server, health changes, failover, reload and
// deregistration; with send_to = one, the rotation through the servers.
#include "health/agent/agent.hpp"

#include <algorithm>
#include <set>

namespace signpost::health::agent {

namespace {

std::uint64_t wall_seconds() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

std::string health_text(registry::Health health) {
  return std::string(registry::to_string(health));
}

// Short deregistration exchanges: a clean stop must not hang on a server that is down.
constexpr ExchangeLimits kDeregisterLimits{std::chrono::milliseconds(400), 2};

std::string instance_name_of(const AgentConfig& config, const ServiceConfig& service) {
  return make_instance_records(config, service, registry::Health::passing).instance_name();
}

}  // namespace

/// Every transmission of one UPDATE, each signed anew (see server_link.hpp), so that a reply
/// is checked against the MAC of the transmission it answers (RFC 8945 §5.3).
struct Agent::Attempts {
  std::vector<SignedUpdate> sent;
  std::string error;  // why the last one could not be built

  /// Builds one with `encode` and keeps it; returns its octets, or none on UpdateError.
  template <typename Encode>
  std::vector<std::uint8_t> add(const Encode& encode) {
    try {
      sent.push_back(encode());
      return sent.back().wire;
    } catch (const UpdateError& e) {
      error = e.what();
      return {};
    }
  }
  /// The transmission that `exchange` answers (the last one when none matches).
  const SignedUpdate& answered(const Exchange& exchange) const {
    for (const SignedUpdate& update : sent) {
      if (update.id == exchange.id) return update;
    }
    return sent.back();
  }
};

/// One instance on one server.
struct Agent::Lane {
  enum class State : std::uint8_t { unknown, registered, failed };
  std::optional<ServerLink::RequestId> pending;  // the UPDATE in flight
  bool resend = false;                   // the instance changed while an UPDATE was in flight
  State state = State::unknown;
  std::string failure;        // the last failure logged
  std::uint32_t granted = 0;  // lease the server granted, seconds; 0 = none yet
};

/// One server: its link, round timer, reachability and lanes.
struct Agent::ServerState {
  enum class Reach : std::uint8_t { unknown, up, down };
  ServerState(boost::asio::io_context& io, std::shared_ptr<ServerLink> server_link,
              const AgentTiming& timing)
      : link(std::move(server_link)),
        timer(io),
        backoff(timing.backoff_initial, timing.backoff_max) {}
  std::shared_ptr<ServerLink> link;
  boost::asio::steady_timer timer;
  Reach reach = Reach::unknown;
  bool first_round_done = false;  // health changes before it are carried by it
  Backoff backoff;
  std::map<std::string, Lane> lanes;  // by instance name
  std::string text() const { return link->server().text(); }
};

Agent::Agent(boost::asio::io_context& io, AgentConfig config, Log log, AgentTiming timing,
             std::uint32_t seed)
    : io_(io),
      config_(std::move(config)),
      log_(std::move(log)),
      timing_(timing),
      random_(seed),
      rotation_backoff_(timing.backoff_initial, timing.backoff_max),
      shutdown_timer_(io) {}

Agent::~Agent() {
  for (auto& [name, runner] : services_) runner->stop();
  for (auto& server : servers_) {
    server->timer.cancel();
    server->link->close();
  }
  for (const auto& retired : retired_links_) {
    if (auto link = retired.lock()) link->close();
  }
  shutdown_timer_.cancel();
}

void Agent::start() {
  for (const ServiceConfig& service : config_.services) add_service(service);
  for (const ServerAddress& address : config_.servers) {
    ServerState& server = add_server(address);
    if (config_.send_to == SendTo::one) {
      if (current_ != nullptr) continue;
      current_ = &server;  // the first listed
    }
    schedule_round(server, first_delay(config_.lease, timing_.first_delay_cap, random_));
  }
  log_(LogLevel::info, "signpost-agent " SIGNPOST_VERSION " started: node " + config_.node + ", " +
                           std::to_string(services_.size()) + " service(s), " +
                           std::to_string(servers_.size()) + " server(s)" +
                           (current_ != nullptr ? ", one at a time" : ""));
}

void Agent::add_service(const ServiceConfig& service) {
  const std::string name = instance_name_of(config_, service);
  auto runner = std::make_shared<ServiceRunner>(
      io_, service, name, log_,
      [this, name](const std::string& reason) { on_health_changed(name, reason); });
  services_[name] = runner;
  runner->start();
}

// Opens the link; the caller schedules the first round.
Agent::ServerState& Agent::add_server(const ServerAddress& address) {
  auto link = std::make_shared<ServerLink>(io_, address, static_cast<std::uint32_t>(random_()));
  link->open();
  servers_.push_back(std::make_unique<ServerState>(io_, std::move(link), timing_));
  return *servers_.back();
}

bool Agent::sends_to(const ServerState& server) const noexcept {
  return config_.send_to == SendTo::all || &server == current_;
}

void Agent::schedule_round(ServerState& server, std::chrono::milliseconds delay) {
  server.timer.expires_after(delay);
  ServerState* target = &server;
  server.timer.async_wait([this, target](const boost::system::error_code& error) {
    // A timer that had expired when its server was parked still calls back, without error.
    if (!error && !stopping_ && sends_to(*target)) do_round(*target);
  });
}

void Agent::do_round(ServerState& server) {
  server.first_round_done = true;
  for (const auto& [name, runner] : services_) send_registration(server, name);
  const auto heartbeat = heartbeat_delay(granted_lease(server), random_);
  // Retries of a server that is down back off, but never wait longer than a heartbeat, so
  // that a server that returns hears from us as soon as it would have anyway.
  schedule_round(server, server.reach == ServerState::Reach::down
                             ? std::min(server.backoff.next(), heartbeat)
                             : heartbeat);
}

void Agent::send_registration(ServerState& server, const std::string& name) {
  const auto service = services_.find(name);
  if (service == services_.end() || stopping_) return;
  Lane& lane = server.lanes[name];
  if (lane.pending) {
    lane.resend = true;
    return;
  }
  auto attempts = std::make_shared<Attempts>();
  const InstanceRecords records = records_of(*service->second);
  const std::uint32_t lease = config_.lease;
  const KeyConfig key = config_.key;
  ServerState* target = &server;
  // The link drops its callbacks when it is closed or the request cancelled, which happens
  // before `server` goes away; so the raw pointer stays valid here.
  const auto request = server.link->send(
      [attempts, records, lease, key](std::uint16_t id) {
        return attempts->add([&] { return encode_registration(records, lease, key, id); });
      },
      exchange_limits(config_.lease), [this, target, name, attempts](Exchange exchange) {
        on_registration_reply(*target, name, attempts->answered(exchange), exchange);
      });
  if (!request) {
    log_(LogLevel::error, "cannot build the UPDATE of " + name + ": " + attempts->error);
    return;
  }
  lane.pending = *request;
  lane.resend = false;
}

void Agent::on_registration_reply(ServerState& server, const std::string& name,
                                  const SignedUpdate& request, const Exchange& exchange) {
  Lane& lane = server.lanes[name];
  lane.pending.reset();
  if (!exchange.answered) {
    lane.state = Lane::State::unknown;  // "registered" is logged again once it is back
    on_unreachable(server, exchange.failure);
    return;
  }
  const UpdateReply reply =
      parse_update_reply(exchange.reply, request, config_.key, wall_seconds());
  if (reply.accepted()) {
    lane.granted = reply.lease.value_or(config_.lease);
    if (lane.state != Lane::State::registered) {
      const auto service = services_.find(name);
      log_(LogLevel::info,
           "registered " + name + " with " + server.text() + " (health " +
               (service == services_.end() ? "?" : health_text(service->second->health())) +
               ", lease " + std::to_string(lane.granted) + " s)");
    }
    lane.state = Lane::State::registered;
    lane.failure.clear();
  } else {
    const std::string failure = reply.describe();
    if (lane.state != Lane::State::failed || lane.failure != failure) {
      log_(LogLevel::error,
           "registration of " + name + " with " + server.text() + " failed: " + failure);
    }
    lane.state = Lane::State::failed;
    lane.failure = failure;
  }
  on_reachable(server);
  if (lane.resend) send_registration(server, name);
}

void Agent::on_reachable(ServerState& server) {
  const bool was_down = server.reach == ServerState::Reach::down;
  server.reach = ServerState::Reach::up;
  server.backoff.reset();
  if (&server == current_) {
    misses_ = 0;
    rotation_backoff_.reset();
  }
  if (was_down) {
    log_(LogLevel::info, "server " + server.text() + " is back");
    do_round(server);  // re-register everything there at once
  }
}

void Agent::on_unreachable(ServerState& server, const std::string& why) {
  if (config_.send_to == SendTo::one) {
    if (&server == current_) fail_over(server, why);
    return;
  }
  if (server.reach == ServerState::Reach::down) return;
  server.reach = ServerState::Reach::down;
  server.backoff.reset();
  log_(LogLevel::warning,
       "server " + server.text() + " is down (" + why + "); retrying with backoff");
  schedule_round(server, server.backoff.next());
}

// send_to = one: the current server let an UPDATE time out. The next one in `servers` order
// gets a full round at once, unless every server has timed out since the last answer: then
// the rotation backs off, as the retries of a single server that is down do. A server is
// logged as down once per outage, as with send_to = all.
void Agent::fail_over(ServerState& from, const std::string& why) {
  const bool was_down = from.reach == ServerState::Reach::down;
  from.reach = ServerState::Reach::down;
  park(from);
  const auto at = std::find_if(servers_.begin(), servers_.end(),
                               [&](const auto& server) { return server.get() == &from; });
  const auto next = static_cast<std::size_t>(at - servers_.begin() + 1) % servers_.size();
  ServerState& to = *servers_[next];
  current_ = &to;
  ++misses_;
  if (!was_down) {
    log_(LogLevel::warning, "server " + from.text() + " is down (" + why + "); " +
                                (&to == &from ? std::string("retrying with backoff")
                                              : "failing over to " + to.text()));
  }
  if (misses_ < servers_.size()) {
    do_round(to);
    return;
  }
  schedule_round(to,
                 std::min(rotation_backoff_.next(), heartbeat_delay(granted_lease(to), random_)));
}

// Stops the rounds of a server that heartbeats no longer go to and drops its UPDATEs in
// flight, so that a late reply neither counts nor starts a round there. Its lanes go too:
// when heartbeats come back to it, its registrations are logged again.
void Agent::park(ServerState& server) {
  server.timer.cancel();
  std::vector<std::string> names;
  for (const auto& [name, lane] : server.lanes) names.push_back(name);
  drop_lanes(server, names);
}

void Agent::on_health_changed(const std::string& name, const std::string& reason) {
  const auto service = services_.find(name);
  if (service == services_.end() || stopping_) return;
  log_(LogLevel::info,
       name + " is " + health_text(service->second->health()) + " (" + reason + ")");
  // At once, not at the next heartbeat. A server that is down gets it with its next retry.
  for (auto& server : servers_) {
    if (sends_to(*server) && server->first_round_done &&
        server->reach != ServerState::Reach::down) {
      send_registration(*server, name);
    }
  }
}

InstanceRecords Agent::records_of(const ServiceRunner& runner) const {
  return make_instance_records(config_, runner.config(), runner.health());
}

std::uint32_t Agent::granted_lease(const ServerState& server) const {
  std::uint32_t lease = 0;
  for (const auto& [name, lane] : server.lanes) {
    if (lane.granted != 0 && (lease == 0 || lane.granted < lease)) lease = lane.granted;
  }
  return lease != 0 ? lease : config_.lease;
}

std::optional<registry::Health> Agent::health(const std::string& instance_name) const {
  const auto found = services_.find(instance_name);
  if (found == services_.end()) return std::nullopt;
  return found->second->health();
}

void Agent::deregister(const std::shared_ptr<ServerLink>& link, const InstanceRecords& records,
                       const KeyConfig& key, std::function<void()> done) {
  auto attempts = std::make_shared<Attempts>();
  const std::string what = records.instance_name() + " from " + link->server().text();
  // The callback holds the link, so that a server removed by a reload stays open for it.
  const auto request = link->send(
      [attempts, records, key](std::uint16_t id) {
        return attempts->add([&] { return encode_deregistration(records, key, id); });
      },
      kDeregisterLimits,
      [this, link, attempts, key, what, done](const Exchange& exchange) {
        if (!exchange.answered) {
          log_(LogLevel::warning, "deregistration of " + what + " failed: " + exchange.failure);
        } else {
          const UpdateReply reply = parse_update_reply(
              exchange.reply, attempts->answered(exchange), key, wall_seconds());
          if (reply.accepted()) {
            log_(LogLevel::info, "deregistered " + what);
          } else {
            log_(LogLevel::warning, "deregistration of " + what + " failed: " + reply.describe());
          }
        }
        done();
      });
  if (!request) {
    log_(LogLevel::error, "cannot build the deregistration of " + what + ": " + attempts->error);
    done();
  }
}

void Agent::drop_lanes(ServerState& server, const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    const auto lane = server.lanes.find(name);
    if (lane == server.lanes.end()) continue;
    if (lane->second.pending) server.link->cancel(*lane->second.pending);
    server.lanes.erase(lane);
  }
}

void Agent::shutdown(std::function<void()> done) {
  stopping_ = true;
  auto remaining = std::make_shared<std::size_t>(0);
  auto finish = std::make_shared<std::function<void()>>(std::move(done));
  const auto one_done = [this, remaining, finish]() {
    if (*remaining > 0) --*remaining;
    if (*remaining != 0 || !*finish) return;
    shutdown_timer_.cancel();
    std::exchange(*finish, nullptr)();
  };
  std::vector<std::string> names;
  for (auto& [name, runner] : services_) {
    runner->stop();
    names.push_back(name);
  }
  for (auto& server : servers_) {
    server->timer.cancel();
    drop_lanes(*server, names);  // no late heartbeat may re-register after the delete
    if (!sends_to(*server)) continue;
    for (const auto& [name, runner] : services_) {
      ++*remaining;
      deregister(server->link, records_of(*runner), config_.key, one_done);
    }
  }
  if (*remaining == 0) {
    ++*remaining;
    one_done();
    return;
  }
  shutdown_timer_.expires_after(timing_.deregister_limit);
  shutdown_timer_.async_wait([remaining, one_done](const boost::system::error_code& error) {
    if (error) return;
    *remaining = 1;  // give up on the servers that have not answered
    one_done();
  });
}

void Agent::reload(AgentConfig next) {
  std::set<std::string> wanted;
  for (const ServiceConfig& service : next.services) wanted.insert(instance_name_of(next, service));
  std::set<std::string> next_servers;
  for (const ServerAddress& address : next.servers) next_servers.insert(address.text());
  std::vector<std::string> removed;
  for (const auto& [name, runner] : services_) {
    if (wanted.count(name) == 0) removed.push_back(name);
  }
  retire(removed, next_servers);
  const std::size_t removed_count = removed.size();
  for (const std::string& name : removed) {
    services_.at(name)->stop();
    services_.erase(name);
  }
  config_ = std::move(next);
  std::size_t added = 0;
  std::size_t changed = 0;
  for (const ServiceConfig& service : config_.services) {
    const auto found = services_.find(instance_name_of(config_, service));
    if (found != services_.end() && found->second->config() == service) continue;
    if (found != services_.end()) {
      found->second->stop();
      services_.erase(found);
      ++changed;
    } else {
      ++added;
    }
    add_service(service);
  }
  reload_servers();
  log_(LogLevel::info, "reloaded " + config_.source + ": " + std::to_string(added) + " added, " +
                           std::to_string(removed_count) + " removed, " + std::to_string(changed) +
                           " changed");
}

// Deregisters, with the running key, the instances in `removed` from every server, and every
// instance from the servers not in `next_servers`, which are then dropped. With send_to = one
// the servers share a registry: `removed` goes through the current server alone, and a server
// leaving the list is sent nothing, since deleting there would delete the instances that stay.
void Agent::retire(const std::vector<std::string>& removed,
                   const std::set<std::string>& next_servers) {
  std::vector<std::string> all;
  for (const auto& [name, runner] : services_) all.push_back(name);
  for (auto& server : servers_) {
    const bool server_kept = next_servers.count(server->text()) != 0;
    const std::vector<std::string>& leaving = server_kept ? removed : all;
    drop_lanes(*server, leaving);
    if (!sends_to(*server)) continue;
    for (const std::string& name : config_.send_to == SendTo::one ? removed : leaving) {
      deregister(server->link, records_of(*services_.at(name)), config_.key, [] {});
    }
  }
  std::erase_if(servers_, [&](const std::unique_ptr<ServerState>& server) {
    if (next_servers.count(server->text()) != 0) return false;
    server->timer.cancel();
    retired_links_.push_back(server->link);  // open until its deregistrations end
    if (server.get() == current_) current_ = nullptr;
    return true;
  });
}

// After a reload: opens links to the servers new in the list, keeps `servers` order, and sends
// the new settings at once, to every server or (send_to = one) to the current one, which
// stays current while it is listed; otherwise the first listed takes over. A reload starts
// the rotation afresh.
void Agent::reload_servers() {
  const bool one = config_.send_to == SendTo::one;
  if (!one) current_ = nullptr;
  std::set<std::string> kept;
  for (auto& server : servers_) {
    kept.insert(server->text());
    if (!one) do_round(*server);
  }
  for (const ServerAddress& address : config_.servers) {
    if (kept.count(address.text()) != 0) continue;
    ServerState& server = add_server(address);
    if (!one) schedule_round(server, first_delay(config_.lease, timing_.first_delay_cap, random_));
  }
  std::map<std::string, std::size_t> position;
  for (const ServerAddress& address : config_.servers) {
    position.emplace(address.text(), position.size());
  }
  std::sort(servers_.begin(), servers_.end(), [&](const auto& a, const auto& b) {
    return position.at(a->text()) < position.at(b->text());
  });
  if (!one) return;
  if (current_ == nullptr) current_ = servers_.front().get();
  for (auto& server : servers_) {
    if (server.get() != current_) park(*server);
  }
  misses_ = 0;
  rotation_backoff_.reset();
  do_round(*current_);
}

}  // namespace signpost::health::agent
