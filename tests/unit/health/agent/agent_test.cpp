// The agent against loopback fake servers: registration with every server, failover and
// backoff, health changes sent at once, errors logged once, reload and clean stop; with
// send_to = one, heartbeats to one server at a time and failover in order.
#include "health/agent/agent.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "fake_server.hpp"

namespace signpost::health::agent {
namespace {

using namespace testing;
using std::chrono::milliseconds;

constexpr AgentTiming kTiming{milliseconds(0), milliseconds(100), milliseconds(200),
                              milliseconds(1000)};

ServiceConfig service(const std::string& name, std::vector<CheckConfig> checks = {}) {
  ServiceConfig out;
  out.name = name;
  out.id = name + "-n1";
  out.port = 8080;
  out.checks = std::move(checks);
  return out;
}

AgentConfig config_for(std::vector<ServerAddress> servers, std::vector<ServiceConfig> services,
                       std::uint32_t lease) {
  AgentConfig config;
  config.source = "agent.toml";
  config.node = "n1";
  config.addresses = {"127.0.0.10"};
  config.servers = std::move(servers);
  config.key = test_key();
  config.lease = lease;
  config.services = std::move(services);
  return config;
}

// "register <instance> health=<h>" or "deregister <instance>", read with ldns.
std::string describe_request(const std::vector<std::uint8_t>& wire) {
  Pkt pkt = parse(wire);
  if (!pkt) return "garbage";
  const ldns_rr_list* updates = ldns_pkt_authority(pkt.get());
  const std::string instance = text_of(ldns_rr_owner(ldns_rr_list_rr(updates, 0)));
  for (std::size_t i = 0; i < ldns_rr_list_rr_count(updates); ++i) {
    const ldns_rr* rr = ldns_rr_list_rr(updates, i);
    if (ldns_rr_get_class(rr) == LDNS_RR_CLASS_NONE) return "deregister " + instance;
    if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_TXT) {
      std::string health = text_of(ldns_rr_rdf(rr, 0));  // "\"health=...\""
      return "register " + instance + " " + health.substr(1, health.size() - 2);
    }
  }
  return "other " + instance;
}

std::vector<std::string> described(const FakeServer& server) {
  std::vector<std::string> out;
  for (const auto& request : server.requests) out.push_back(describe_request(request));
  return out;
}

std::size_t count_of(const std::vector<std::string>& items, const std::string& wanted) {
  return static_cast<std::size_t>(std::count(items.begin(), items.end(), wanted));
}

/// Collects the agent's log lines.
struct LogCapture {
  std::vector<std::string> lines;
  Log sink() {
    return [this](LogLevel, const std::string& line) { lines.push_back(line); };
  }
  std::size_t count(const std::string& part) const {
    return static_cast<std::size_t>(std::count_if(lines.begin(), lines.end(), [&](const auto& l) {
      return l.find(part) != std::string::npos;
    }));
  }
  std::string all() const {
    std::string out;
    for (const auto& line : lines) out += line + "\n";
    return out;
  }
};

// A UDP port on loopback where nothing listens.
ServerAddress dead_server(boost::asio::io_context& io) {
  boost::asio::ip::udp::socket socket(
      io, boost::asio::ip::udp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  const std::uint16_t port = socket.local_endpoint().port();
  return ServerAddress{"127.0.0.1", port, false};
}

const std::string kWeb = "web-n1._web._tcp.svc.internal.";

// A name in /tmp that no file has now, for a check that passes once the test creates it.
std::string free_flag_path() {
  char flag[] = "/tmp/signpost-agent-flag-XXXXXX";
  const int fd = mkstemp(flag);
  if (fd < 0) return {};
  ::close(fd);
  std::remove(flag);
  return flag;
}

// An exec check, every 100 ms: critical (exit 2) until `flag` exists.
CheckConfig flag_check(const std::string& flag) {
  CheckConfig check;
  check.type = CheckType::exec;
  check.target = "test -f " + flag + " || exit 2";
  check.interval = milliseconds(100);
  return check;
}

TEST(Agent, RegistersWithEveryServerKeepsGoingAndDeregistersOnStop) {
  boost::asio::io_context io;
  LogCapture log;
  FakeServer up(io, [](const auto&, bool) { return Answer{.lease = 1}; });
  const ServerAddress down = dead_server(io);
  Agent agent(io, config_for({up.address(), down}, {service("web")}, 1), log.sink(), kTiming, 1);
  agent.start();
  ASSERT_TRUE(run_until(io, [&] { return log.count("is down") == 1; })) << log.all();
  // Heartbeats go on to the server that answers: a third of the 1 s lease apart.
  ASSERT_TRUE(run_until(io, [&] { return up.requests.size() >= 4; })) << log.all();
  for (const auto& line : described(up)) EXPECT_EQ(line, "register " + kWeb + " health=passing");
  EXPECT_EQ(log.count("registered " + kWeb + " with " + up.address().text() +
                      " (health passing, lease 1 s)"),
            1u)
      << log.all();
  EXPECT_EQ(log.count("server " + down.text() + " is down (no reply); retrying with backoff"), 1u);

  bool stopped = false;
  agent.shutdown([&] { stopped = true; });
  ASSERT_TRUE(run_until(io, [&] { return stopped; }));
  EXPECT_EQ(describe_request(up.requests.back()), "deregister " + kWeb);
  EXPECT_EQ(log.count("deregistered " + kWeb + " from " + up.address().text()), 1u) << log.all();
}

TEST(Agent, HealthChangeIsSentAtOnce) {
  boost::asio::io_context io;
  LogCapture log;
  FakeServer server(io, [](const auto&, bool) { return Answer{.lease = 30}; });
  const std::string flag = free_flag_path();
  ASSERT_FALSE(flag.empty());
  const CheckConfig check = flag_check(flag);
  // A 30 s lease: the next heartbeat is 8 s or more away, so quick UPDATEs are changes.
  Agent agent(io, config_for({server.address()}, {service("web", {check})}, 30), log.sink(),
              kTiming, 2);
  agent.start();
  ASSERT_TRUE(run_until(io, [&] { return server.requests.size() == 1; }));
  EXPECT_EQ(describe_request(server.requests[0]), "register " + kWeb + " health=critical");
  const std::string result = "check exec 'test -f " + flag + " || exit 2' of " + kWeb;
  ASSERT_TRUE(run_until(io, [&] { return log.count(result + ": critical (exit 2)") == 1; }));

  std::ofstream(flag) << "ok\n";
  const auto changed = std::chrono::steady_clock::now();
  ASSERT_TRUE(run_until(io, [&] { return server.requests.size() == 2; })) << log.all();
  EXPECT_LT(std::chrono::steady_clock::now() - changed, std::chrono::seconds(3));
  EXPECT_EQ(describe_request(server.requests[1]), "register " + kWeb + " health=passing");
  EXPECT_EQ(agent.health(kWeb), registry::Health::passing);
  EXPECT_EQ(log.count(kWeb + " is passing (check exec 'test -f " + std::string(flag) +
                      " || exit 2' is passing)"),
            1u)
      << log.all();

  std::remove(flag.c_str());
  ASSERT_TRUE(run_until(io, [&] { return server.requests.size() == 3; })) << log.all();
  EXPECT_EQ(describe_request(server.requests[2]), "register " + kWeb + " health=critical");
  EXPECT_EQ(log.count(result + ": critical (exit 2)"), 2u) << log.all();
  EXPECT_EQ(log.count(result + ": passing (exit 0)"), 1u) << log.all();
}

TEST(Agent, ServerDownIsLoggedOnceAndBackRegistersAtOnce) {
  boost::asio::io_context io;
  LogCapture log;
  bool answering = false;
  FakeServer server(io, [&](const auto&, bool) { return Answer{.drop = !answering, .lease = 1}; });
  Agent agent(io, config_for({server.address()}, {service("web")}, 1), log.sink(), kTiming, 3);
  agent.start();
  ASSERT_TRUE(run_until(io, [&] { return log.count("is down") == 1; }));
  // Retries with backoff go on, silently.
  ASSERT_TRUE(run_until(io, [&] { return server.requests.size() >= 9; }));
  EXPECT_EQ(log.count("is down"), 1u) << log.all();
  EXPECT_EQ(log.count("registered"), 0u);
  answering = true;
  ASSERT_TRUE(run_until(io, [&] { return log.count("registered") == 1; })) << log.all();
  EXPECT_EQ(log.count("server " + server.address().text() + " is back"), 1u) << log.all();
}

TEST(Agent, RegistrationErrorsAreLoggedOncePerChange) {
  boost::asio::io_context io;
  LogCapture log;
  std::uint16_t rcode = 5;
  FakeServer server(io, [&](const auto&, bool) { return Answer{.rcode = rcode, .lease = 1}; });
  Agent agent(io, config_for({server.address()}, {service("web")}, 1), log.sink(), kTiming, 4);
  agent.start();
  ASSERT_TRUE(run_until(io, [&] { return server.requests.size() >= 4; }));
  EXPECT_EQ(log.count("registration of " + kWeb + " with " + server.address().text() +
                      " failed: REFUSED"),
            1u)
      << log.all();
  rcode = 0;
  ASSERT_TRUE(run_until(io, [&] { return log.count("registered " + kWeb) == 1; }));
  rcode = 2;
  const std::size_t seen = server.requests.size();
  ASSERT_TRUE(run_until(io, [&] { return server.requests.size() >= seen + 3; }));
  EXPECT_EQ(log.count("failed: SERVFAIL"), 1u) << log.all();
  EXPECT_EQ(log.count("is down"), 0u);  // a server that answers errors is up
}

TEST(Agent, UnsignedReplyIsNotARegistration) {
  boost::asio::io_context io;
  LogCapture log;
  FakeServer server(io, [](const auto&, bool) { return Answer{.lease = 1, .sign = false}; });
  Agent agent(io, config_for({server.address()}, {service("web")}, 1), log.sink(), kTiming, 5);
  agent.start();
  ASSERT_TRUE(run_until(io, [&] { return log.count("failed:") == 1; })) << log.all();
  EXPECT_EQ(log.count("failed: NOERROR, but reply is not signed"), 1u) << log.all();
  EXPECT_EQ(log.count("registered"), 0u);
}

TEST(Agent, ReloadAppliesTheDifference) {
  boost::asio::io_context io;
  LogCapture log;
  FakeServer kept(io, [](const auto&, bool) { return Answer{.lease = 30}; });
  FakeServer dropped(io, [](const auto&, bool) { return Answer{.lease = 30}; });
  Agent agent(io,
              config_for({kept.address(), dropped.address()}, {service("web"), service("db")}, 30),
              log.sink(), kTiming, 6);
  agent.start();
  ASSERT_TRUE(run_until(io, [&] { return log.count("registered") == 4; })) << log.all();
  kept.requests.clear();
  dropped.requests.clear();

  ServiceConfig web = service("web");
  web.weight = 7;  // changed
  agent.reload(config_for({kept.address()}, {web, service("cache")}, 30));
  const std::string db = "db-n1._db._tcp.svc.internal.";
  const std::string cache = "cache-n1._cache._tcp.svc.internal.";
  ASSERT_TRUE(run_until(io, [&] {
    return kept.requests.size() >= 3 && dropped.requests.size() >= 2;
  })) << log.all();
  const auto to_kept = described(kept);
  EXPECT_EQ(count_of(to_kept, "deregister " + db), 1u);
  EXPECT_EQ(count_of(to_kept, "register " + kWeb + " health=passing"), 1u);
  EXPECT_EQ(count_of(to_kept, "register " + cache + " health=passing"), 1u);
  const auto to_dropped = described(dropped);
  EXPECT_EQ(count_of(to_dropped, "deregister " + kWeb), 1u);
  EXPECT_EQ(count_of(to_dropped, "deregister " + db), 1u);
  EXPECT_EQ(log.count("reloaded agent.toml: 1 added, 1 removed, 1 changed"), 1u) << log.all();
  // The changed weight went out in the SRV record.
  Pkt web_update = parse(kept.requests[static_cast<std::size_t>(
      std::find(to_kept.begin(), to_kept.end(), "register " + kWeb + " health=passing") -
      to_kept.begin())]);
  const ldns_rr* srv = ldns_rr_list_rr(ldns_pkt_authority(web_update.get()), 1);
  EXPECT_EQ(ldns_rdf2native_int16(ldns_rr_rdf(srv, 1)), 7);

  bool stopped = false;
  agent.shutdown([&] { stopped = true; });
  ASSERT_TRUE(run_until(io, [&] { return stopped; }));
  EXPECT_EQ(dropped.requests.size(), 2u);  // nothing more to the server no longer listed
}

TEST(Agent, ShutdownGivesUpOnServersThatAreDown) {
  boost::asio::io_context io;
  LogCapture log;
  const ServerAddress down = dead_server(io);
  Agent agent(io, config_for({down}, {service("web")}, 1), log.sink(), kTiming, 7);
  agent.start();
  bool stopped = false;
  const auto started = std::chrono::steady_clock::now();
  agent.shutdown([&] { stopped = true; });
  ASSERT_TRUE(run_until(io, [&] { return stopped; }));
  // deregister_limit is 1 s; the rest is slack for a busy machine.
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(2500));
  EXPECT_EQ(log.count("deregistration of " + kWeb + " from " + down.text() + " failed: no reply"),
            1u)
      << log.all();
}

// send_to = "one": the servers share a registry, and heartbeats go to one at a time.

AgentConfig one_at_a_time(std::vector<ServerAddress> servers, std::vector<ServiceConfig> services,
                          std::uint32_t lease) {
  AgentConfig config = config_for(std::move(servers), std::move(services), lease);
  config.send_to = SendTo::one;
  return config;
}

// A fake server that answers while `up` and keeps when it got each request and which ones it
// answered.
struct SwitchedServer {
  explicit SwitchedServer(boost::asio::io_context& io, std::uint32_t lease)
      : server(io, [this, lease](const auto&, bool) {
          arrivals.push_back(std::chrono::steady_clock::now());
          if (up) answered.push_back(arrivals.back());
          return Answer{.drop = !up, .lease = lease};
        }) {}
  FakeServer server;
  bool up = true;
  std::vector<std::chrono::steady_clock::time_point> arrivals;
  std::vector<std::chrono::steady_clock::time_point> answered;
};

TEST(AgentOneAtATime, RoundsHealthChangesAndStopGoToTheFirstServerOnly) {
  boost::asio::io_context io;
  LogCapture log;
  FakeServer first(io, [](const auto&, bool) { return Answer{.lease = 1}; });
  FakeServer second(io, [](const auto&, bool) { return Answer{.lease = 1}; });
  const std::string flag = free_flag_path();
  ASSERT_FALSE(flag.empty());
  const CheckConfig check = flag_check(flag);
  Agent agent(io, one_at_a_time({first.address(), second.address()}, {service("web", {check})}, 1),
              log.sink(), kTiming, 11);
  agent.start();
  EXPECT_EQ(log.count("1 service(s), 2 server(s), one at a time"), 1u) << log.all();
  ASSERT_TRUE(run_until(io, [&] { return first.requests.size() >= 2; })) << log.all();
  EXPECT_EQ(describe_request(first.requests[0]), "register " + kWeb + " health=critical");

  std::ofstream(flag) << "ok\n";
  ASSERT_TRUE(run_until(io, [&] { return agent.health(kWeb) == registry::Health::passing; }));
  const std::size_t before_change = first.requests.size();
  // The change, then heartbeats: all to the first server.
  ASSERT_TRUE(run_until(io, [&] { return first.requests.size() >= before_change + 3; }));
  EXPECT_EQ(describe_request(first.requests[before_change]),
            "register " + kWeb + " health=passing");
  std::remove(flag.c_str());
  EXPECT_EQ(log.count("registered " + kWeb + " with " + first.address().text()), 1u) << log.all();

  bool stopped = false;
  agent.shutdown([&] { stopped = true; });
  ASSERT_TRUE(run_until(io, [&] { return stopped; }));
  EXPECT_EQ(describe_request(first.requests.back()), "deregister " + kWeb);
  EXPECT_EQ(second.requests.size(), 0u) << log.all();
  EXPECT_EQ(log.count("deregistered"), 1u) << log.all();
}

TEST(AgentOneAtATime, FailsOverAtOnceStaysAndWraps) {
  boost::asio::io_context io;
  LogCapture log;
  constexpr std::uint32_t kLease = 2;
  SwitchedServer first(io, kLease);
  SwitchedServer second(io, kLease);
  const std::string a = first.server.address().text();
  const std::string b = second.server.address().text();
  Agent agent(
      io,
      one_at_a_time({first.server.address(), second.server.address()}, {service("web")}, kLease),
      log.sink(), kTiming, 12);
  agent.start();
  ASSERT_TRUE(run_until(io, [&] { return first.answered.size() >= 2; })) << log.all();
  EXPECT_TRUE(second.arrivals.empty());

  // The first server stops answering: the second gets the instance before its lease, renewed
  // last on the first, runs out.
  first.up = false;
  ASSERT_TRUE(run_until(io, [&] { return log.count("registered " + kWeb + " with " + b) == 1; }))
      << log.all();
  ASSERT_FALSE(second.answered.empty());
  EXPECT_LT(second.answered.front() - first.answered.back(), std::chrono::seconds(kLease));
  EXPECT_EQ(log.count("server " + a + " is down (no reply); failing over to " + b), 1u)
      << log.all();
  EXPECT_EQ(describe_request(second.server.requests.front()),
            "register " + kWeb + " health=passing");

  // Sticky: the first answers again, and heartbeats stay with the second while it answers.
  first.up = true;
  const std::size_t first_seen = first.arrivals.size();
  ASSERT_TRUE(run_until(io, [&] { return second.answered.size() >= 4; })) << log.all();
  EXPECT_EQ(first.arrivals.size(), first_seen);
  EXPECT_EQ(log.count("failing over"), 1u) << log.all();

  // The second stops answering: back to the first, the list wrapping round.
  second.up = false;
  ASSERT_TRUE(run_until(io, [&] {
    return first.arrivals.size() > first_seen &&
           log.count("registered " + kWeb + " with " + a) == 2;
  })) << log.all();
  EXPECT_EQ(log.count("server " + b + " is down (no reply); failing over to " + a), 1u)
      << log.all();
  EXPECT_EQ(log.count("server " + a + " is back"), 1u) << log.all();
}

TEST(AgentOneAtATime, EveryServerDownIsTriedInTurnWithBackoff) {
  boost::asio::io_context io;
  LogCapture log;
  constexpr std::uint32_t kLease = 2;  // each UPDATE: 3 attempts of 222 ms
  constexpr AgentTiming kSlowBackoff{milliseconds(0), milliseconds(500), milliseconds(500),
                                     milliseconds(1000)};
  std::vector<std::pair<int, std::chrono::steady_clock::time_point>> arrivals;  // (server, when)
  bool second_up = false;
  FakeServer first(io, [&](const auto&, bool) {
    arrivals.emplace_back(1, std::chrono::steady_clock::now());
    return Answer{.drop = true};
  });
  FakeServer second(io, [&](const auto&, bool) {
    arrivals.emplace_back(2, std::chrono::steady_clock::now());
    return Answer{.drop = !second_up, .lease = kLease};
  });
  Agent agent(io, one_at_a_time({first.address(), second.address()}, {service("web")}, kLease),
              log.sink(), kSlowBackoff, 13);
  agent.start();
  // Runs of transmissions to one server: (server, first arrival, last arrival).
  struct Run {
    int server;
    std::chrono::steady_clock::time_point begin, end;
  };
  const auto runs = [&] {
    std::vector<Run> out;
    for (const auto& [server, when] : arrivals) {
      if (out.empty() || out.back().server != server) {
        out.push_back(Run{server, when, when});
      } else {
        out.back().end = when;
      }
    }
    return out;
  };
  ASSERT_TRUE(run_until(io, [&] { return runs().size() >= 5; }, milliseconds(10000))) << log.all();
  const std::vector<Run> seen = runs();
  for (std::size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i].server, i % 2 == 0 ? 1 : 2);
  // The first failover is at once: the next server's first attempt follows the last attempt's
  // timeout (222 ms). Once both have timed out, the rotation waits the backoff (500 ms) too.
  EXPECT_LT(seen[1].begin - seen[0].end, milliseconds(600));
  for (std::size_t i = 2; i < 5; ++i) {
    EXPECT_GE(seen[i].begin - seen[i - 1].end, milliseconds(222 + 500)) << "run " << i;
  }
  EXPECT_EQ(log.count("is down"), 2u) << log.all();
  EXPECT_EQ(log.count("server " + first.address().text() + " is down (no reply); failing over to " +
                      second.address().text()),
            1u)
      << log.all();

  second_up = true;
  ASSERT_TRUE(run_until(io, [&] { return log.count("registered " + kWeb) == 1; })) << log.all();
  EXPECT_EQ(log.count("registered " + kWeb + " with " + second.address().text()), 1u) << log.all();
  EXPECT_EQ(log.count("server " + second.address().text() + " is back"), 1u) << log.all();
}

TEST(AgentOneAtATime, ReloadKeepsTheCurrentServerWhileListed) {
  boost::asio::io_context io;
  LogCapture log;
  // A 30 s lease: no heartbeat within the test, so every UPDATE comes from a start or reload.
  FakeServer a(io, [](const auto&, bool) { return Answer{.lease = 30}; });
  FakeServer b(io, [](const auto&, bool) { return Answer{.lease = 30}; });
  FakeServer c(io, [](const auto&, bool) { return Answer{.lease = 30}; });
  const std::string db = "db-n1._db._tcp.svc.internal.";
  Agent agent(io, one_at_a_time({a.address(), b.address()}, {service("web"), service("db")}, 30),
              log.sink(), kTiming, 14);
  agent.start();
  ASSERT_TRUE(run_until(io, [&] { return log.count("registered") == 2; })) << log.all();
  // What a reload sends, it sends at once: a moment more shows that nothing else follows.
  const auto nothing_more = [] { return false; };
  const auto settle = [&] { run_until(io, nothing_more, milliseconds(200)); };

  // C is listed first, but A, still listed, stays current: the removed db is deregistered
  // and web sent again through A alone.
  a.requests.clear();
  agent.reload(one_at_a_time({c.address(), a.address()}, {service("web")}, 30));
  ASSERT_TRUE(run_until(io, [&] { return a.requests.size() >= 2; })) << log.all();
  settle();
  EXPECT_EQ(described(a),
            (std::vector<std::string>{"deregister " + db, "register " + kWeb + " health=passing"}));
  EXPECT_TRUE(b.requests.empty());  // dropped, and sent no deregistration
  EXPECT_TRUE(c.requests.empty());

  // A is dropped: it is sent nothing (a delete there would delete web from the registry
  // shared by all), and the first listed takes over at once.
  a.requests.clear();
  agent.reload(one_at_a_time({b.address(), c.address()}, {service("web")}, 30));
  ASSERT_TRUE(run_until(io, [&] { return log.count("registered " + kWeb) == 2; })) << log.all();
  settle();
  EXPECT_TRUE(a.requests.empty());
  EXPECT_EQ(described(b), (std::vector<std::string>{"register " + kWeb + " health=passing"}));
  EXPECT_TRUE(c.requests.empty());

  // Back to send_to = all: every server.
  AgentConfig all = one_at_a_time({b.address(), c.address()}, {service("web")}, 30);
  all.send_to = SendTo::all;
  agent.reload(all);
  ASSERT_TRUE(run_until(io, [&] {
    return log.count("registered " + kWeb + " with " + c.address().text()) == 1;
  })) << log.all();
  EXPECT_EQ(b.requests.size(), 2u);
  EXPECT_EQ(c.requests.size(), 1u);
}

}  // namespace
}  // namespace signpost::health::agent
