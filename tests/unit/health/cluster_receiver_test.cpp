// The heartbeat receiver in a cluster (docs/cluster.md), against a real etcd: each server is a
// registry thread with its receiver and an etcd registry of its own, wired as signpostd wires
// them (App::share_registry), and takes real signed UPDATEs. Registrations and removals reach
// the other server through the watch, renewals write nothing, an agent fails over without a
// write, an older record does not replace a newer one, a removal of a heartbeated instance is
// undone, and a mass removal is held by the cluster's self-preservation.
#include "health/heartbeat_receiver.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "dns/wire/types.hpp"
#include "health/protocol/update_builder.hpp"
#include "registry/backend/etcd_registry.hpp"
#include "tests/unit/support/eventually.hpp"
#include "tests/unit/registry/backend/etcd/etcd_server.hpp"
#include "tests/unit/support/test_receiver.hpp"

namespace signpost::health {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace backend = registry::backend;
namespace wire = dns::wire;
using registry::Health;

constexpr const char* kSecret = "c2lnbnBvc3QgdGVzdCBrZXkgMDEyMzQ1Njc4OWFiY2RlZg==";

std::vector<TsigKey> keys() {
  return {make_tsig_key("agent-key", "hmac-sha256", kSecret, {"web"})};
}

std::uint64_t wall_seconds() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

std::uint16_t rcode_of(const std::vector<std::uint8_t>& response) {
  return response.size() >= 4 ? response[3] & 0x0f : 0xffff;
}

using signpost::testing::eventually;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The agents of web instances on host-1: their registrations (which are their heartbeats)
// and deregistrations, as an agent sends them. Each UPDATE is signed one second after the
// last: an instance's replay guard is the cluster's, so the agents keep one clock for every
// server, and a renewal is a new message (same records, a new signature).
class Agents {
 public:
  std::vector<std::uint8_t> registration(const std::string& id, std::uint32_t lease,
                                         Health health = Health::passing,
                                         std::uint16_t weight = 5, bool lease_option = true) {
    UpdateBuilder update(next_id_++, "svc.internal.");
    const std::string owner = id + "._web._tcp.svc.internal.";
    const std::string node = "host-1.node.svc.internal.";
    update.add(UpdateSection::update, owner, wire::rrtype::kAny, wire::rrclass::kAny, 0, {});
    std::vector<std::uint8_t> rdata;
    encode_srv_rdata(0, weight, 8080, node, rdata);
    update.add(UpdateSection::update, owner, wire::rrtype::kSrv, wire::rrclass::kIn, lease, rdata);
    rdata.clear();
    const std::vector<std::string> txt{"health=" + std::string(registry::to_string(health))};
    encode_txt_rdata(txt, rdata);
    update.add(UpdateSection::update, owner, wire::rrtype::kTxt, wire::rrclass::kIn, lease, rdata);
    rdata.clear();
    std::uint16_t type = 0;
    encode_address_rdata("127.0.0.10", type, rdata);
    update.add(UpdateSection::update, node, type, wire::rrclass::kIn, lease, rdata);
    rdata.clear();
    encode_name_rdata(owner, rdata);
    update.add(UpdateSection::update, "_web._tcp.svc.internal.", wire::rrtype::kPtr,
               wire::rrclass::kIn, lease, rdata);
    // Without the option the lease asked for is the records' TTL: the same lease.
    if (lease_option) update.set_lease(lease);
    return finish(update);
  }

  std::vector<std::uint8_t> deregistration(const std::string& id) {
    UpdateBuilder update(next_id_++, "svc.internal.");
    const std::string owner = id + "._web._tcp.svc.internal.";
    update.add(UpdateSection::update, owner, wire::rrtype::kAny, wire::rrclass::kAny, 0, {});
    std::vector<std::uint8_t> rdata;
    encode_name_rdata(owner, rdata);
    update.add(UpdateSection::update, "_web._tcp.svc.internal.", wire::rrtype::kPtr,
               wire::rrclass::kNone, 0, rdata);
    return finish(update);
  }

 private:
  std::vector<std::uint8_t> finish(UpdateBuilder& update) {
    SignedRequest request;
    EXPECT_EQ(update.finish(signer_, signer_.keys().front(), ++signed_at_, request),
              UpdateBuildError::ok);
    return std::move(request.wire);
  }

  TsigSigner signer_{keys()};
  std::uint64_t signed_at_ = wall_seconds();
  std::uint16_t next_id_ = 1;
};

// One server of the cluster, wired as App::open_etcd and App::share_registry wire signpostd:
// the receiver shares with the etcd registry before its heartbeat thread starts, the registry
// read from etcd is applied on the registry thread, and the watch posts each batch there.
class Server {
 public:
  Server(const std::string& endpoint, const ReceiverSettings& settings, bool heartbeats)
      : etcd_(etcd_settings(endpoint), [](LogLevel, const std::string&) {}),
        rig_(keys(), settings) {
    rig_.receiver.share_with(&etcd_);
    if (heartbeats) rig_.receiver.start();
    backend::EtcdRegistry::Loaded loaded = etcd_.load();
    std::vector<backend::SharedChange> changes;
    for (auto& instance : loaded.instances) {
      changes.emplace_back(backend::SharedUpsert{std::move(instance)});
    }
    apply_shared(changes);
    etcd_.start_watch(loaded.revision, [this](std::vector<backend::SharedChange> batch) {
      rig_.publisher.post([this, batch = std::move(batch)](registry::Store& store) {
        rig_.receiver.apply_shared(batch, store);
      });
    });
  }
  // The watch first, then what it posted, then the heartbeat thread: nothing reaches the
  // receiver once it is gone.
  ~Server() {
    etcd_.stop();
    rig_.publisher.apply([](registry::Store&) {});
    rig_.receiver.stop();
  }

  static backend::EtcdRegistrySettings etcd_settings(const std::string& endpoint) {
    backend::EtcdRegistrySettings settings;
    settings.etcd.endpoints = {endpoint};
    settings.etcd.dial_timeout = 300ms;
    settings.etcd.request_timeout = 2s;
    settings.prefix = "/signpost/";
    return settings;
  }

  std::uint16_t send(const std::vector<std::uint8_t>& update) {
    return rcode_of(rig_.receiver.process(update));
  }
  void tick() { rig_.receiver.tick(); }
  std::size_t apply_shared(const std::vector<backend::SharedChange>& changes) {
    std::size_t taken = 0;
    rig_.publisher.apply(
        [&](registry::Store& store) { taken = rig_.receiver.apply_shared(changes, store); });
    return taken;
  }

  // The instance as this server's registry holds it, once what was posted has run.
  std::optional<registry::Instance> find(const std::string& id) {
    std::optional<registry::Instance> out;
    rig_.publisher.apply([&](registry::Store& store) { out = store.find_instance("web", id); });
    return out;
  }
  // Whether this server tracks the instance's lease (its agent heartbeats here).
  bool tracks(const std::string& id) {
    bool out = false;
    rig_.publisher.apply(
        [&](registry::Store&) { out = rig_.receiver.tracker().contains({"web", id}); });
    return out;
  }
  // Heartbeat instances in the registry, answered or not.
  std::size_t instances() {
    std::size_t out = 0;
    rig_.publisher.apply(
        [&](registry::Store& store) { out = store.count_of(registry::Source::heartbeat); });
    return out;
  }
  // Instances of web in the answers (eligible: not critical) of the last snapshot.
  std::size_t answered() {
    rig_.publisher.apply([](registry::Store&) {});
    const registry::SnapshotPtr snapshot = rig_.publisher.current();
    const registry::ServiceRecords* web = snapshot->registry()->find_service("web");
    return web == nullptr ? 0 : web->instances.size();
  }

  backend::EtcdRegistry& etcd() { return etcd_; }
  const ReceiverCounters& counters() const { return rig_.receiver.counters(); }

 private:
  backend::EtcdRegistry etcd_;  // first: it outlives the receiver that writes to it
  testing::ReceiverRig rig_;
};

class ClusterReceiverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    etcd_.start();
    client_ = std::make_unique<registry::etcd::EtcdClient>(etcd_.client_options());
  }

  static ReceiverSettings settings() {
    return testing::ReceiverRig::receiver_settings(std::chrono::seconds(600));
  }
  std::unique_ptr<Server> server(bool heartbeats = false,
                                 const ReceiverSettings& with = settings()) {
    return std::make_unique<Server>(etcd_.endpoint(), with, heartbeats);
  }

  static std::string key_of(const std::string& id) { return "/signpost/instances/web/" + id; }
  bool in_etcd(const std::string& id) { return !client_->range(key_of(id)).kvs.empty(); }
  std::int64_t revision() { return client_->range("/signpost/none").revision; }

  test::EtcdServer etcd_;
  std::unique_ptr<registry::etcd::EtcdClient> client_;
  Agents agents_;
};

TEST_F(ClusterReceiverTest, ARegistrationAndItsDeregistrationReachTheOtherServer) {
  auto a = server();
  auto b = server();
  const Clock::time_point registered = Clock::now();
  ASSERT_EQ(a->send(agents_.registration("web-1", 10)), wire::rcode::kNoError);
  ASSERT_TRUE(eventually([&] { return b->find("web-1").has_value(); }));
  std::printf("registration at A in B's registry after %.0f ms\n",
              1000 * seconds_since(registered));
  const registry::Instance at_b = *b->find("web-1");
  EXPECT_EQ(at_b, *a->find("web-1"));
  EXPECT_EQ(at_b.source, registry::Source::heartbeat);
  EXPECT_EQ(at_b.port, 8080);
  EXPECT_EQ(at_b.weight, 5);
  EXPECT_EQ(b->answered(), 1u);
  EXPECT_TRUE(a->tracks("web-1"));
  EXPECT_FALSE(b->tracks("web-1"));  // its agent heartbeats A

  const Clock::time_point deregistered = Clock::now();
  ASSERT_EQ(a->send(agents_.deregistration("web-1")), wire::rcode::kNoError);
  EXPECT_FALSE(a->find("web-1").has_value());
  ASSERT_TRUE(eventually([&] { return !b->find("web-1").has_value(); }));
  std::printf("deregistration at A out of B's registry after %.0f ms\n",
              1000 * seconds_since(deregistered));
  EXPECT_EQ(b->answered(), 0u);
  // The tombstone that carried the deletion goes with its lease.
  EXPECT_TRUE(eventually([&] { return !in_etcd("web-1"); }, 10s));
}

TEST_F(ClusterReceiverTest, RenewalsWriteNothingAndAHealthChangeReachesTheOtherServer) {
  auto a = server();
  auto b = server();
  ASSERT_EQ(a->send(agents_.registration("web-1", 10)), wire::rcode::kNoError);
  ASSERT_TRUE(eventually([&] { return b->find("web-1").has_value() && in_etcd("web-1"); }));
  const std::int64_t before = revision();
  const backend::EtcdRegistryStatus written = a->etcd().status();

  // The same registration, signed anew, six times: renewals. Sent alternately with and
  // without the Update Lease option (the same lease), so that the first is answered from
  // the renewal board (applied at A's tick) and the others, unlike the renewal remembered
  // before them, take the registry thread's whole path: both must only keep the etcd lease
  // alive.
  for (int i = 0; i < 6; ++i) {
    const bool lease_option = i % 2 == 0;
    ASSERT_EQ(a->send(agents_.registration("web-1", 10, Health::passing, 5, lease_option)),
              wire::rcode::kNoError);
    a->tick();
  }
  EXPECT_EQ(a->counters().unchanged.load(), 6u);
  EXPECT_EQ(a->counters().repeated.load(), 1u);
  // A put would have been queued while A handled the UPDATE; the keep-alives reach etcd.
  ASSERT_TRUE(eventually([&] {
    const backend::EtcdRegistryStatus now = a->etcd().status();
    return now.keep_alives_sent >= 1 && now.queued_writes == 0;
  }));
  const backend::EtcdRegistryStatus renewed = a->etcd().status();
  EXPECT_EQ(renewed.writes, written.writes);
  EXPECT_EQ(renewed.writes_skipped, written.writes_skipped);  // not even asked to put
  EXPECT_EQ(revision(), before);

  // Critical: a real change, written, and out of both servers' answers.
  ASSERT_EQ(a->send(agents_.registration("web-1", 10, Health::critical)), wire::rcode::kNoError);
  ASSERT_TRUE(eventually([&] { return revision() > before; }));
  ASSERT_TRUE(eventually([&] { return b->find("web-1")->health == Health::critical; }));
  EXPECT_EQ(b->answered(), 0u);
  EXPECT_EQ(a->answered(), 0u);
  EXPECT_EQ(revision(), before + 1);  // one put, on the same lease
}

// The agent moves from A to B: B goes on from the shared record and writes nothing; A lets
// the instance go when its own lease runs out but keeps answering it; it leaves both when the
// renewals stop and etcd's lease runs out.
TEST_F(ClusterReceiverTest, AnAgentThatFailsOverIsRenewedWithoutAWriteAndLeavesWithItsLease) {
  auto a = server(true);
  auto b = server(true);
  constexpr std::uint32_t kLease = 2;  // etcd's shortest
  ASSERT_EQ(a->send(agents_.registration("web-1", kLease)), wire::rcode::kNoError);
  ASSERT_TRUE(eventually([&] { return b->find("web-1").has_value() && in_etcd("web-1"); }));
  const std::int64_t before = revision();

  // Heartbeats every 600 ms (under a third of the lease), to B only, until A has let go of
  // the instance and for a lease more.
  const Clock::time_point failover = Clock::now();
  Clock::time_point let_go{};
  bool missing = false;
  while (let_go == Clock::time_point{} || Clock::now() - let_go < std::chrono::seconds(kLease)) {
    ASSERT_LT(seconds_since(failover), 3 * kLease) << "A never let go of the instance";
    ASSERT_EQ(b->send(agents_.registration("web-1", kLease)), wire::rcode::kNoError);
    const Clock::time_point next = Clock::now() + 600ms;
    while (Clock::now() < next) {
      missing = missing || !a->find("web-1") || !b->find("web-1") || !in_etcd("web-1");
      if (let_go == Clock::time_point{} && !a->tracks("web-1")) let_go = Clock::now();
      std::this_thread::sleep_for(50ms);
    }
  }
  EXPECT_FALSE(missing) << "the instance left a registry or etcd while its agent heartbeated B";
  std::printf("A let go of the instance %.1f s after its agent moved to B\n",
              std::chrono::duration<double>(let_go - failover).count());
  EXPECT_TRUE(b->tracks("web-1"));
  EXPECT_EQ(a->answered(), 1u);
  EXPECT_EQ(b->answered(), 1u);
  EXPECT_EQ(revision(), before);
  EXPECT_EQ(b->etcd().status().writes, 0u);
  EXPECT_EQ(b->etcd().status().lease_grants, 0u);
  EXPECT_GE(b->etcd().status().keep_alives_sent, 1u);

  // The agent stops.
  const Clock::time_point stopped = Clock::now();
  ASSERT_TRUE(eventually([&] { return !a->find("web-1") && !b->find("web-1"); }, 6s));
  std::printf("after the last heartbeat the instance left both servers in %.1f s\n",
              seconds_since(stopped));
  EXPECT_FALSE(in_etcd("web-1"));
}

// What A tracks is replaced only by the record of a later UPDATE than A accepted.
TEST_F(ClusterReceiverTest, AnOlderRecordDoesNotReplaceWhatTheServerTracks) {
  auto a = server();
  ASSERT_EQ(a->send(agents_.registration("web-1", 10)), wire::rcode::kNoError);
  // Written: the record as A wrote it (A learns it once etcd has answered the put).
  std::optional<backend::DynamicInstance> own;
  ASSERT_TRUE(eventually([&] { return (own = a->etcd().record("web", "web-1")).has_value(); }));
  const std::uint64_t accepted = ReplayGuard::from_bytes(own->replay).time();
  ASSERT_NE(accepted, 0u);
  const auto record_at = [&](std::uint64_t time_signed) {
    backend::DynamicInstance record = *own;
    record.instance.weight = 9;
    ReplayGuard guard;
    const std::vector<std::uint8_t> mac{1, 2, 3, 4};
    guard.accept(time_signed, mac);
    record.replay = guard.to_bytes();
    return std::vector<backend::SharedChange>{backend::SharedUpsert{record}};
  };

  EXPECT_EQ(a->apply_shared(record_at(accepted - 5)), 0u);  // an older UPDATE's record
  EXPECT_EQ(a->apply_shared(record_at(accepted)), 0u);      // as old as A's own
  EXPECT_EQ(a->find("web-1")->weight, 5);
  EXPECT_TRUE(a->tracks("web-1"));

  // A later one: its agent heartbeats another server now.
  EXPECT_EQ(a->apply_shared(record_at(accepted + 5)), 1u);
  EXPECT_EQ(a->find("web-1")->weight, 9);
  EXPECT_FALSE(a->tracks("web-1"));
}

// The replay guard is the cluster's: a recorded UPDATE that A accepted, sent to B after a
// later one was written, is refused there as it would be at A; it must not undo the later
// change anywhere.
TEST_F(ClusterReceiverTest, AnUpdateReplayedAtAnotherServerIsRefused) {
  auto a = server();
  auto b = server();
  const std::vector<std::uint8_t> passing = agents_.registration("web-1", 10);
  ASSERT_EQ(a->send(passing), wire::rcode::kNoError);
  ASSERT_EQ(a->send(agents_.registration("web-1", 10, Health::critical)), wire::rcode::kNoError);
  ASSERT_TRUE(eventually([&] {
    const auto at_b = b->find("web-1");
    return at_b && at_b->health == Health::critical;
  }));
  const std::int64_t before = revision();

  EXPECT_EQ(b->send(passing), wire::rcode::kNotAuth);  // BADTIME, as a replay at A is
  EXPECT_EQ(b->counters().replayed.load(), 1u);
  EXPECT_EQ(b->find("web-1")->health, Health::critical);
  EXPECT_FALSE(b->tracks("web-1"));
  EXPECT_EQ(b->etcd().status().queued_writes + b->etcd().status().writes, 0u);
  EXPECT_EQ(revision(), before);
  // The recorded deregistration of an earlier life of the instance, likewise.
  const std::vector<std::uint8_t> deletion = agents_.deregistration("web-1");
  ASSERT_EQ(a->send(deletion), wire::rcode::kNoError);
  ASSERT_EQ(a->send(agents_.registration("web-1", 10)), wire::rcode::kNoError);
  ASSERT_TRUE(eventually([&] {
    const auto at_b = b->find("web-1");
    return at_b && at_b->health == Health::passing;
  }));
  EXPECT_EQ(b->send(deletion), wire::rcode::kNotAuth);
  EXPECT_TRUE(b->find("web-1").has_value());
  EXPECT_TRUE(in_etcd("web-1"));
}

// Flap damping works per cluster: an instance that flaps at A is held out of B's answers
// too, and when its agent moves to B, B goes on with its penalty instead of starting clean.
TEST_F(ClusterReceiverTest, FlapDampingHoldsOnEveryServerAndThroughAFailover) {
  auto a = server();
  auto b = server();
  for (int flap = 0; flap < 4; ++flap) {
    ASSERT_EQ(a->send(agents_.registration("web-1", 60, Health::passing)), wire::rcode::kNoError);
    ASSERT_EQ(a->send(agents_.registration("web-1", 60, Health::critical)), wire::rcode::kNoError);
  }
  ASSERT_EQ(a->send(agents_.registration("web-1", 60, Health::passing)), wire::rcode::kNoError);
  const auto critical_at = [](Server& server) {
    const auto instance = server.find("web-1");
    return instance && instance->health == Health::critical;
  };
  // Suppressed: reported passing, held out of the answers, at A and at B (once B has the
  // record of the last flap, not only of an earlier one).
  EXPECT_TRUE(critical_at(*a));
  ASSERT_TRUE(eventually([&] {
    const auto record = b->etcd().record("web", "web-1");
    return record && record->suppressed && critical_at(*b);
  }));
  EXPECT_EQ(a->answered(), 0u);
  EXPECT_EQ(b->answered(), 0u);

  // The agent moves to B, still reporting passing.
  ASSERT_EQ(b->send(agents_.registration("web-1", 60, Health::passing)), wire::rcode::kNoError);
  EXPECT_TRUE(b->tracks("web-1"));
  EXPECT_TRUE(critical_at(*b));
  EXPECT_EQ(b->answered(), 0u);
  EXPECT_TRUE(critical_at(*a));
}

// A deregistration at A reaches B as a tombstone with the guard that deleted the instance:
// the recorded registration, replayed at B, cannot bring it back for every server.
TEST_F(ClusterReceiverTest,
       ARegistrationReplayedAfterItsDeregistrationIsRefusedElsewhere) {
  auto a = server();
  auto b = server();
  const std::vector<std::uint8_t> registration = agents_.registration("web-1", 10);
  ASSERT_EQ(a->send(registration), wire::rcode::kNoError);
  ASSERT_TRUE(eventually([&] { return b->find("web-1").has_value(); }));
  ASSERT_EQ(a->send(agents_.deregistration("web-1")), wire::rcode::kNoError);
  ASSERT_TRUE(eventually([&] { return !b->find("web-1"); }));
  EXPECT_EQ(a->send(registration), wire::rcode::kNotAuth);
  EXPECT_EQ(b->send(registration), wire::rcode::kNotAuth);
  EXPECT_FALSE(b->find("web-1").has_value());
}

// etcd loses the key of an instance whose agent heartbeats A (here deleted by hand; in
// production a lease etcd expired while A could not renew it): A writes it again.
TEST_F(ClusterReceiverTest, ARemovalOfAnInstanceHeartbeatedHereIsUndone) {
  auto a = server(true);
  constexpr std::uint32_t kLease = 3;
  ASSERT_EQ(a->send(agents_.registration("web-1", kLease)), wire::rcode::kNoError);
  ASSERT_TRUE(eventually([&] { return in_etcd("web-1"); }));
  // Heartbeats every 500 ms while `done` is false, at most `timeout`; false when it stayed so.
  bool missing = false;
  const auto heartbeat_until = [&](const std::function<bool()>& done,
                                   std::chrono::milliseconds timeout) {
    const auto give_up = Clock::now() + timeout;
    while (Clock::now() < give_up) {
      if (a->send(agents_.registration("web-1", kLease)) != wire::rcode::kNoError) return false;
      for (const auto next = Clock::now() + 500ms; Clock::now() < next;) {
        missing = missing || !a->find("web-1");
        if (done()) return true;
        std::this_thread::sleep_for(20ms);
      }
    }
    return done();
  };
  // The renewals reach A's registry thread and etcd.
  ASSERT_TRUE(heartbeat_until([&] { return a->etcd().status().keep_alives_sent >= 1; }, 3s));
  const std::uint64_t writes = a->etcd().status().writes;

  const Clock::time_point deleted = Clock::now();
  ASSERT_EQ(etcd_.etcdctl("del " + key_of("web-1")), 0);
  // Written again when the watch reports the removal, not registered anew by the agent's
  // next heartbeat: none is sent meanwhile.
  const auto written = [&] { return a->etcd().status().writes > writes && in_etcd("web-1"); };
  EXPECT_TRUE(eventually([&] {
    missing = missing || !a->find("web-1");
    return written();
  }, 1s));
  if (written()) {
    std::printf("deleted from etcd, written again by A after %.0f ms\n",
                1000 * seconds_since(deleted));
  }
  EXPECT_FALSE(missing) << "the instance left A's registry";
  // And the heartbeats go on renewing it.
  EXPECT_FALSE(heartbeat_until([&] { return !in_etcd("web-1"); }, 2s));
  EXPECT_FALSE(missing) << "the instance left A's registry";
  EXPECT_EQ(a->answered(), 1u);
  EXPECT_TRUE(a->tracks("web-1"));
}

// The self-preservation tests: kStay instances stay-N and kGone gone-N, of which the gone-N
// are removed from etcd at once.
constexpr int kStay = 4;
constexpr int kGone = 16;

ReceiverSettings preserving() {
  ReceiverSettings out = testing::ReceiverRig::receiver_settings(std::chrono::seconds(600));
  out.leases.preservation_threshold = 0.5;
  out.leases.preservation_window = std::chrono::seconds(15);
  out.leases.preservation_min_instances = 10;
  out.leases.preservation_max = std::chrono::seconds(30);  // the settle rule ends it first
  out.tick = std::chrono::milliseconds(100);
  return out;
}

// Registers the stay-N and gone-N at `at`, leases of 30 s (no renewal is needed while the
// test runs); false when one is refused.
bool register_all(Server& at, Agents& agents) {
  for (int i = 1; i <= kStay + kGone; ++i) {
    const std::string id =
        i <= kStay ? "stay-" + std::to_string(i) : "gone-" + std::to_string(i - kStay);
    if (at.send(agents.registration(id, 30)) != wire::rcode::kNoError) return false;
  }
  return true;
}

// The gone-N still in `server`'s registry.
std::vector<std::string> gone_still_in(Server& server) {
  std::vector<std::string> out;
  for (int i = 1; i <= kGone; ++i) {
    const std::string id = "gone-" + std::to_string(i);
    if (server.find(id)) out.push_back(id);
  }
  return out;
}

TEST_F(ClusterReceiverTest, AMassRemovalIsHeldUntilItSettles) {
  auto a = server(false, preserving());
  auto b = server(true, preserving());
  ASSERT_TRUE(register_all(*a, agents_));
  ASSERT_TRUE(eventually([&] { return b->instances() == kStay + kGone; }));
  const std::uint64_t events = b->etcd().status().watch_events;

  // Most keys go at once, as when etcd expires the leases of a server cut off from it.
  ASSERT_EQ(etcd_.etcdctl("del --prefix " + key_of("gone-")), 0);
  ASSERT_TRUE(eventually([&] { return b->etcd().status().watch_events >= events + kGone; }));
  std::vector<std::string> held = gone_still_in(*b);
  std::printf("of %d instances removed from etcd at once, B holds %zu\n", kGone, held.size());
  // Removals past the threshold (half of the instances there were) are held: the last
  // kGone - (kStay + kGone) / 2 of them.
  ASSERT_EQ(held.size(), static_cast<std::size_t>(kGone - (kStay + kGone) / 2));
  for (int i = 1; i <= kStay; ++i) EXPECT_TRUE(b->find("stay-" + std::to_string(i)));

  // Three agents register again (here at B): written, no longer held.
  const std::vector<std::string> back(held.begin(), held.begin() + 3);
  for (const std::string& id : back) {
    ASSERT_EQ(b->send(agents_.registration(id, 30)), wire::rcode::kNoError);
  }
  ASSERT_TRUE(eventually([&] {
    for (const std::string& id : back) {
      if (!in_etcd(id)) return false;
    }
    return true;
  }));
  // The settle rule: at most the threshold still held and 2 s without a new hold; then the
  // rest leave, the ones written again stay.
  const Clock::time_point settling = Clock::now();
  ASSERT_TRUE(eventually([&] { return gone_still_in(*b).size() == back.size(); }, 6s))
      << gone_still_in(*b).size() << " still in B's registry";
  std::printf("the rest left B %.1f s after the last ones were written again\n",
              seconds_since(settling));
  EXPECT_EQ(gone_still_in(*b), (std::vector<std::string>(held.begin(), held.begin() + 3)));
  EXPECT_EQ(b->instances(), static_cast<std::size_t>(kStay) + back.size());
  EXPECT_EQ(b->answered(), static_cast<std::size_t>(kStay) + back.size());
}

// A held its own instances through the same mass removal (their agents had not heartbeated
// since registering). Agents that heartbeat A again must bring theirs back into etcd, so that
// the other servers release them ("its server reconnected"); the others leave A's answers
// too when A's hold settles, as they leave B's.
TEST_F(ClusterReceiverTest, AHeldInstanceHeartbeatedAgainIsWrittenAgain) {
  auto a = server(true, preserving());
  auto b = server(true, preserving());
  ASSERT_TRUE(register_all(*a, agents_));
  ASSERT_TRUE(eventually([&] { return b->instances() == kStay + kGone; }));
  const std::uint64_t events = a->etcd().status().watch_events;
  ASSERT_EQ(etcd_.etcdctl("del --prefix " + key_of("gone-")), 0);
  ASSERT_TRUE(eventually([&] { return a->etcd().status().watch_events >= events + kGone; }));
  const std::vector<std::string> held = gone_still_in(*a);  // in A's answers still
  ASSERT_GE(held.size(), 3u);
  const std::vector<std::string> back(held.begin(), held.begin() + 3);

  // Their agents heartbeat A (the same registration, signed anew).
  const auto written = [&] {
    for (const std::string& id : back) {
      if (!in_etcd(id)) return false;
    }
    return true;
  };
  const auto give_up = Clock::now() + 4s;
  while (!written() && Clock::now() < give_up) {
    for (const std::string& id : back) {
      ASSERT_EQ(a->send(agents_.registration(id, 30)), wire::rcode::kNoError);
    }
    eventually(written, 500ms);
  }
  EXPECT_TRUE(written()) << "heartbeated at A, yet not written back to etcd";
  for (const std::string& id : back) EXPECT_TRUE(a->tracks(id));
  // B releases them, and after the settle rule only the others leave, B and A.
  EXPECT_TRUE(eventually([&] { return gone_still_in(*b) == back; }, 6s))
      << gone_still_in(*b).size() << " gone-N in B's registry";
  EXPECT_TRUE(eventually([&] { return gone_still_in(*a) == back; }, 6s))
      << gone_still_in(*a).size() << " gone-N in A's registry";
}

}  // namespace
}  // namespace signpost::health
