// The heartbeat receiver end to end on one thread: UPDATE bytes in, registry changes and a
// signed response out. UPDATEs are built and signed with ldns.
#include "health/heartbeat_receiver.hpp"

#include <gtest/gtest.h>

#include <future>
#include <thread>
#include <ldns/ldns.h>

#include <cstdlib>
#include <ctime>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "dns/wire/types.hpp"
#include "tests/unit/support/test_receiver.hpp"

namespace signpost::health {
namespace {

constexpr const char* kSecret = "c2lnbnBvc3QgdGVzdCBrZXkgMDEyMzQ1Njc4OWFiY2RlZg==";
constexpr const char* kWrongSecret = "b3RoZXIgc2VjcmV0IDAxMjM0NTY3ODlhYmNkZWYwMTIzNDU=";

const std::vector<std::string> kRegisterWeb1 = {
    "web-1._web._tcp.svc.internal. 30 IN SRV 0 5 8080 host-1.node.svc.internal.",
    "web-1._web._tcp.svc.internal. 30 IN TXT \"health=passing\" \"tags=v1\" \"version=2\"",
    "host-1.node.svc.internal. 30 IN A 127.0.0.10",
    "_web._tcp.svc.internal. 30 IN PTR web-1._web._tcp.svc.internal.",
};

// A record from its presentation form; "owner ttl class type" without rdata (the deletes
// and prerequisites of RFC 2136 §2.4-2.5) is built field by field, as ldns's parser wants rdata.
ldns_rr* make_rr(const std::string& text) {
  ldns_rr* rr = nullptr;
  if (ldns_rr_new_frm_str(&rr, text.c_str(), 0, nullptr, nullptr) == LDNS_STATUS_OK) return rr;
  std::istringstream fields(text);
  std::string owner, rrclass, type;
  std::uint32_t ttl = 0;
  fields >> owner >> ttl >> rrclass >> type;
  rr = ldns_rr_new();
  ldns_rr_set_owner(rr, ldns_dname_new_frm_str(owner.c_str()));
  ldns_rr_set_ttl(rr, ttl);
  ldns_rr_set_class(rr, ldns_get_rr_class_by_name(rrclass.c_str()));
  ldns_rr_set_type(rr, ldns_get_rr_type_by_name(type.c_str()));
  EXPECT_NE(ldns_rr_get_type(rr), 0) << text;
  return rr;
}

constexpr const char* kDbSecret = "ZGIga2V5IHNlY3JldCAwMTIzNDU2Nzg5YWJjZGVmMDEyMw==";

// An UPDATE of svc.internal. with `updates` (presentation form), signed unless `secret` is
// null, with a new ID each time (so that no two are the same bytes, as a replay would be).
std::vector<std::uint8_t> make_update(const std::vector<std::string>& updates,
                                      const char* secret = kSecret,
                                      const std::vector<std::string>& prerequisites = {},
                                      const char* key_name = "agent-key.") {
  static std::uint16_t next_id = 777;
  const auto list = [](const std::vector<std::string>& texts) {
    ldns_rr_list* rrs = ldns_rr_list_new();
    for (const std::string& text : texts) ldns_rr_list_push_rr(rrs, make_rr(text));
    return rrs;
  };
  // The packet takes copies of the records.
  ldns_rr_list* prerequisite_list = list(prerequisites);
  ldns_rr_list* update_list = list(updates);
  ldns_pkt* packet = ldns_update_pkt_new(ldns_dname_new_frm_str("svc.internal."), LDNS_RR_CLASS_IN,
                                         prerequisite_list, update_list, nullptr);
  ldns_rr_list_deep_free(prerequisite_list);
  ldns_rr_list_deep_free(update_list);
  ldns_pkt_set_id(packet, next_id++);
  if (secret != nullptr) {
    EXPECT_EQ(ldns_pkt_tsig_sign(packet, key_name, secret, 300, "hmac-sha256.", nullptr),
              LDNS_STATUS_OK);
  }
  std::uint8_t* bytes = nullptr;
  std::size_t size = 0;
  EXPECT_EQ(ldns_pkt2wire(&bytes, packet, &size), LDNS_STATUS_OK);
  std::vector<std::uint8_t> out(bytes, bytes + size);
  std::free(bytes);
  ldns_pkt_free(packet);
  return out;
}

std::uint16_t rcode_of(const std::vector<std::uint8_t>& response) {
  return response.size() >= 4 ? response[3] & 0x0f : 0xffff;
}

class HeartbeatReceiverTest : public ::testing::Test {
 protected:
  HeartbeatReceiverTest()
      : publisher_(signpost::testing::ReceiverRig::publisher_settings(), {}, nullptr, nullptr),
        receiver_(receiver_settings(), keys(), publisher_, [](const std::string&) {}) {
    publisher_.start();
  }

  static ReceiverSettings receiver_settings() {
    ReceiverSettings out =
        signpost::testing::ReceiverRig::receiver_settings(std::chrono::seconds(600));
    out.max_instances = 4;
    return out;
  }
  static std::vector<TsigKey> keys() {
    std::vector<TsigKey> out;
    out.push_back(make_tsig_key("agent-key", "hmac-sha256", kSecret, {"web"}));
    out.push_back(make_tsig_key("db-key", "hmac-sha256", kDbSecret, {"db"}));
    out.back().max_instances = 2;
    return out;
  }

  // Waits until the registry thread has applied what was posted, then reads the instance.
  std::optional<registry::Instance> find(const std::string& service, const std::string& id) {
    std::optional<registry::Instance> out;
    publisher_.apply([&](registry::Store& store) {
      if (auto found = store.find_instance(service, id)) out = std::move(*found);
    });
    return out;
  }

  registry::Publisher publisher_;
  HeartbeatReceiver receiver_;
};

TEST_F(HeartbeatReceiverTest, RegistersRenewsAndDeregisters) {
  const auto request = make_update(kRegisterWeb1);
  const auto response = receiver_.process(request);
  ASSERT_GE(response.size(), 12u);
  EXPECT_EQ(rcode_of(response), dns::wire::rcode::kNoError);
  EXPECT_EQ(response[0] << 8 | response[1], request[0] << 8 | request[1]);
  EXPECT_EQ(response[2] & 0x80, 0x80);                  // QR
  EXPECT_EQ((response[2] >> 3) & 0x0f, 5);              // opcode UPDATE
  EXPECT_EQ(response[11], 1);                           // the TSIG record

  const auto instance = find("web", "web-1");
  ASSERT_TRUE(instance.has_value());
  EXPECT_EQ(instance->node, "host-1");
  EXPECT_EQ(instance->port, 8080);
  EXPECT_EQ(instance->weight, 5);
  ASSERT_EQ(instance->ipv4.size(), 1u);
  EXPECT_EQ(instance->ipv4[0], (registry::Ipv4{127, 0, 0, 10}));
  EXPECT_EQ(instance->tags, std::vector<std::string>{"v1"});
  ASSERT_EQ(instance->meta.size(), 1u);
  EXPECT_EQ(instance->meta[0].second, "2");
  EXPECT_EQ(instance->source, registry::Source::heartbeat);

  // The same UPDATE again is a renewal: nothing to publish.
  const std::uint64_t generation = publisher_.generation();
  EXPECT_EQ(rcode_of(receiver_.process(make_update(kRegisterWeb1))), dns::wire::rcode::kNoError);
  EXPECT_EQ(receiver_.counters().unchanged.load(), 1u);
  find("web", "web-1");
  EXPECT_EQ(publisher_.generation(), generation);

  // A health change in the TXT is published.
  std::vector<std::string> warning = kRegisterWeb1;
  warning[1] = "web-1._web._tcp.svc.internal. 30 IN TXT \"health=warning\"";
  EXPECT_EQ(rcode_of(receiver_.process(make_update(warning))), dns::wire::rcode::kNoError);
  EXPECT_EQ(find("web", "web-1")->health, registry::Health::warning);

  // Deleting the instance name deregisters it.
  EXPECT_EQ(rcode_of(receiver_.process(make_update({"web-1._web._tcp.svc.internal. 0 ANY ANY"}))),
            dns::wire::rcode::kNoError);
  EXPECT_FALSE(find("web", "web-1").has_value());
}

// An operator's drain (the HTTP API) outlasts the instance's heartbeats and is kept with it
// in the state a restart takes back; the API's deregistration keeps the replay guard, so the
// recorded UPDATE cannot bring the instance back.
TEST_F(HeartbeatReceiverTest, OverridesAreKeptWithTheInstanceAndDeregistrationGuardsReplays) {
  const auto registration = make_update(kRegisterWeb1);
  ASSERT_EQ(rcode_of(receiver_.process(registration)), dns::wire::rcode::kNoError);
  publisher_.apply([&](registry::Store& store) {
    ASSERT_TRUE(store.set_override("web", "web-1", {.drained = true, .weight = 9}));
    receiver_.override_changed({"web", "web-1"}, store);
  });
  // A heartbeat changes nothing of the override.
  ASSERT_EQ(rcode_of(receiver_.process(make_update(kRegisterWeb1))), dns::wire::rcode::kNoError);
  registry::backend::RegistryState state;
  publisher_.apply([&](registry::Store& store) {
    EXPECT_TRUE(store.override_of("web", "web-1").drained);
    state = receiver_.export_state(store);
  });
  ASSERT_EQ(state.instances.size(), 1u);
  EXPECT_TRUE(state.instances[0].drained);
  EXPECT_EQ(state.instances[0].weight_override, std::uint16_t{9});

  // A restarted server takes the override back with the instance.
  registry::Publisher restarted(signpost::testing::ReceiverRig::publisher_settings(), {}, nullptr,
                                nullptr);
  HeartbeatReceiver receiver(receiver_settings(), keys(), restarted, [](const std::string&) {});
  restarted.start();
  restarted.apply([&](registry::Store& store) {
    ASSERT_EQ(receiver.restore_state(state, store), 1u);
    EXPECT_EQ(store.override_of("web", "web-1"),
              (registry::InstanceOverride{.drained = true, .weight = 9}));
  });

  // Deregistered through the API: gone, and its recorded registration is refused as a replay.
  publisher_.apply([&](registry::Store& store) {
    EXPECT_TRUE(receiver_.deregister({"web", "web-1"}, store));
    EXPECT_FALSE(receiver_.deregister({"web", "web-1"}, store));
  });
  EXPECT_FALSE(find("web", "web-1").has_value());
  EXPECT_EQ(rcode_of(receiver_.process(registration)), dns::wire::rcode::kNotAuth);
  EXPECT_FALSE(find("web", "web-1").has_value());
  restarted.stop();
}

TEST_F(HeartbeatReceiverTest, RepeatedRenewalsFollowChangesInBetween) {
  std::vector<std::string> weight7 = kRegisterWeb1;
  weight7[0] = "web-1._web._tcp.svc.internal. 30 IN SRV 0 7 8080 host-1.node.svc.internal.";
  // Signed afresh each time, a second apart, as an agent's heartbeats are: only the TSIG
  // record and the ID differ (the receiver refuses a fifth UPDATE of one instance within a
  // second as a replay).
  const TsigSigner signer(keys());
  std::uint64_t signed_at = static_cast<std::uint64_t>(std::time(nullptr));
  const auto send = [&](const std::vector<std::string>& updates) {
    auto message = make_update(updates, nullptr);
    signer.sign_request(message, signer.keys()[0], ++signed_at);
    return rcode_of(receiver_.process(message));
  };
  ASSERT_EQ(send(kRegisterWeb1), dns::wire::rcode::kNoError);
  const auto unchanged_before = receiver_.counters().unchanged.load();
  for (int i = 0; i < 3; ++i) ASSERT_EQ(send(kRegisterWeb1), dns::wire::rcode::kNoError);
  EXPECT_EQ(receiver_.counters().unchanged.load(), unchanged_before + 3);
  // The registration went the whole way; the renewals after it were known as its repeats.
  EXPECT_EQ(receiver_.counters().repeated.load(), 3u);
  EXPECT_EQ(find("web", "web-1")->weight, 5);
  // A change, then the earlier UPDATE again: it must change the instance back, not merely
  // renew it as it did before.
  ASSERT_EQ(send(weight7), dns::wire::rcode::kNoError);
  EXPECT_EQ(find("web", "web-1")->weight, 7);
  ASSERT_EQ(send(kRegisterWeb1), dns::wire::rcode::kNoError);
  EXPECT_EQ(find("web", "web-1")->weight, 5);
  EXPECT_EQ(receiver_.counters().repeated.load(), 3u);
  // The UPDATE that changed it back is the one remembered now: its repeat is a renewal.
  ASSERT_EQ(send(kRegisterWeb1), dns::wire::rcode::kNoError);
  EXPECT_EQ(find("web", "web-1")->weight, 5);
  EXPECT_EQ(receiver_.counters().repeated.load(), 4u);
  // So is a change's repeat, which must not change the instance back either.
  ASSERT_EQ(send(weight7), dns::wire::rcode::kNoError);
  ASSERT_EQ(send(weight7), dns::wire::rcode::kNoError);
  EXPECT_EQ(find("web", "web-1")->weight, 7);
  EXPECT_EQ(receiver_.counters().repeated.load(), 5u);
  ASSERT_EQ(send(kRegisterWeb1), dns::wire::rcode::kNoError);
  EXPECT_EQ(find("web", "web-1")->weight, 5);
  EXPECT_EQ(receiver_.counters().repeated.load(), 5u);
  // Deregistered in between: the same renewal registers it again.
  ASSERT_EQ(send({"web-1._web._tcp.svc.internal. 0 ANY ANY"}), dns::wire::rcode::kNoError);
  EXPECT_FALSE(find("web", "web-1").has_value());
  ASSERT_EQ(send(kRegisterWeb1), dns::wire::rcode::kNoError);
  ASSERT_TRUE(find("web", "web-1").has_value());
  EXPECT_EQ(find("web", "web-1")->weight, 5);
  // A repeated renewal is still verified: a wrong key gets NOTAUTH.
  EXPECT_EQ(rcode_of(receiver_.process(make_update(kRegisterWeb1, kWrongSecret))),
            dns::wire::rcode::kNotAuth);
}

TEST_F(HeartbeatReceiverTest, RefusesWhatItMayNotDo) {
  EXPECT_EQ(rcode_of(receiver_.process(make_update(kRegisterWeb1, nullptr))),
            dns::wire::rcode::kRefused);
  EXPECT_EQ(rcode_of(receiver_.process(make_update(kRegisterWeb1, kWrongSecret))),
            dns::wire::rcode::kNotAuth);
  // The key may touch "web" only.
  std::vector<std::string> db = {
      "db-1._db._tcp.svc.internal. 30 IN SRV 0 1 5432 host-1.node.svc.internal.",
      "host-1.node.svc.internal. 30 IN A 127.0.0.10"};
  EXPECT_EQ(rcode_of(receiver_.process(make_update(db))), dns::wire::rcode::kRefused);
  // Records the registry cannot hold.
  EXPECT_EQ(rcode_of(receiver_.process(make_update({"www.svc.internal. 30 IN A 127.0.0.1"}))),
            dns::wire::rcode::kRefused);
  EXPECT_EQ(rcode_of(receiver_.process(make_update({"www.example.test. 30 IN A 127.0.0.1"}))),
            dns::wire::rcode::kNotZone);
  // An SRV whose node has no address anywhere.
  EXPECT_EQ(rcode_of(receiver_.process(make_update({kRegisterWeb1[0]}))), dns::wire::rcode::kRefused);
  EXPECT_FALSE(find("web", "web-1").has_value());
  EXPECT_FALSE(find("db", "db-1").has_value());
}

TEST_F(HeartbeatReceiverTest, PrerequisitesGateTheUpdate) {
  const std::string absent = "web-1._web._tcp.svc.internal. 0 NONE ANY";
  EXPECT_EQ(rcode_of(receiver_.process(make_update(kRegisterWeb1, kSecret, {absent}))),
            dns::wire::rcode::kNoError);
  EXPECT_EQ(rcode_of(receiver_.process(make_update(kRegisterWeb1, kSecret, {absent}))),
            dns::wire::rcode::kYxDomain);
  const std::string srv_exists = "web-1._web._tcp.svc.internal. 0 ANY SRV";
  EXPECT_EQ(rcode_of(receiver_.process(make_update(kRegisterWeb1, kSecret, {srv_exists}))),
            dns::wire::rcode::kNoError);
  const std::string exact = "_web._tcp.svc.internal. 0 IN PTR web-1._web._tcp.svc.internal.";
  EXPECT_EQ(rcode_of(receiver_.process(make_update(kRegisterWeb1, kSecret, {exact}))),
            dns::wire::rcode::kNoError);
  const std::string wrong = "host-1.node.svc.internal. 0 IN A 127.0.0.99";
  EXPECT_EQ(rcode_of(receiver_.process(make_update(kRegisterWeb1, kSecret, {wrong}))),
            dns::wire::rcode::kNxRrset);
  const std::string other = "web-9._web._tcp.svc.internal. 0 ANY ANY";
  EXPECT_EQ(rcode_of(receiver_.process(make_update(kRegisterWeb1, kSecret, {other}))),
            dns::wire::rcode::kNxDomain);
}

// An instance registered without addresses takes those of another instance on its node. The
// node index behind that follows an instance through a change that keeps its node (it keeps
// its place there) and a move to another node (it leaves the old one).
TEST_F(HeartbeatReceiverTest, NodeAddressesFollowAnInstanceThatChangesOrMoves) {
  const auto join = [&](const char* id, const char* node) {
    const std::string owner = std::string(id) + "._web._tcp.svc.internal.";
    return rcode_of(receiver_.process(make_update({
        owner + " 30 IN SRV 0 5 8080 " + node + ".node.svc.internal.",
        "_web._tcp.svc.internal. 30 IN PTR " + owner,
    })));
  };
  ASSERT_EQ(rcode_of(receiver_.process(make_update(kRegisterWeb1))), dns::wire::rcode::kNoError);
  std::vector<std::string> reweighted = kRegisterWeb1;
  reweighted[0] = "web-1._web._tcp.svc.internal. 30 IN SRV 0 9 8080 host-1.node.svc.internal.";
  ASSERT_EQ(rcode_of(receiver_.process(make_update(reweighted))), dns::wire::rcode::kNoError);
  ASSERT_EQ(find("web", "web-1")->weight, 9);
  ASSERT_EQ(join("web-2", "host-1"), dns::wire::rcode::kNoError);
  const registry::Ipv4 host1{127, 0, 0, 10};
  EXPECT_EQ(find("web", "web-2")->ipv4, std::vector<registry::Ipv4>{host1});

  // web-1 moves; web-2 is still on host-1, so remove it too: then nothing is left there.
  const std::vector<std::string> moved = {
      "web-1._web._tcp.svc.internal. 30 IN SRV 0 5 8080 host-2.node.svc.internal.",
      "host-2.node.svc.internal. 30 IN A 127.0.0.20",
  };
  ASSERT_EQ(rcode_of(receiver_.process(make_update(moved))), dns::wire::rcode::kNoError);
  EXPECT_EQ(find("web", "web-1")->node, "host-2");
  ASSERT_EQ(rcode_of(receiver_.process(
                make_update({"web-2._web._tcp.svc.internal. 0 ANY ANY"}))),
            dns::wire::rcode::kNoError);
  EXPECT_EQ(join("web-3", "host-1"), dns::wire::rcode::kRefused);  // no addresses to take
  ASSERT_EQ(join("web-4", "host-2"), dns::wire::rcode::kNoError);
  const registry::Ipv4 host2{127, 0, 0, 20};
  EXPECT_EQ(find("web", "web-4")->ipv4, std::vector<registry::Ipv4>{host2});
}

// A key allowed one service must not give another service's node an address: a client that
// follows _db._tcp's SRV target would go there.
TEST_F(HeartbeatReceiverTest, NodeAddressesNeedAKeyForEveryInstanceOnTheNode) {
  ASSERT_EQ(rcode_of(receiver_.process(make_update(
                {"db-1._db._tcp.svc.internal. 30 IN SRV 0 1 5432 db-host-1.node.svc.internal.",
                 "db-host-1.node.svc.internal. 30 IN A 127.0.0.5"},
                kDbSecret, {}, "db-key."))),
            dns::wire::rcode::kNoError);
  // The web key adds 6.6.6.6 to db-host-1: refused.
  EXPECT_EQ(rcode_of(receiver_.process(make_update(
                {"web-1._web._tcp.svc.internal. 30 IN SRV 0 1 80 db-host-1.node.svc.internal.",
                 "db-host-1.node.svc.internal. 30 IN A 6.6.6.6"}))),
            dns::wire::rcode::kRefused);
  EXPECT_FALSE(find("web", "web-1").has_value());
  EXPECT_EQ(find("db", "db-1")->ipv4, std::vector<registry::Ipv4>{(registry::Ipv4{127, 0, 0, 5})});
  std::vector<std::string> on_node;
  publisher_.apply([&](registry::Store& store) {
    store.visit_node("db-host-1", [&](const std::string& service, const registry::Instance& i) {
      on_node.push_back(service + "/" + i.id);
      for (const auto& address : i.ipv4) EXPECT_EQ(address, (registry::Ipv4{127, 0, 0, 5}));
      return true;
    });
  });
  EXPECT_EQ(on_node, std::vector<std::string>{"db/db-1"});
  // Joining the node with the address it has, or without one, adds nothing: allowed.
  EXPECT_EQ(rcode_of(receiver_.process(make_update(
                {"web-2._web._tcp.svc.internal. 30 IN SRV 0 1 80 db-host-1.node.svc.internal.",
                 "db-host-1.node.svc.internal. 30 IN A 127.0.0.5"}))),
            dns::wire::rcode::kNoError);
  EXPECT_EQ(rcode_of(receiver_.process(make_update(
                {"web-3._web._tcp.svc.internal. 30 IN SRV 0 1 80 db-host-1.node.svc.internal."}))),
            dns::wire::rcode::kNoError);
  // A node of its own services only, or a new one, takes any address.
  EXPECT_EQ(rcode_of(receiver_.process(make_update(kRegisterWeb1))), dns::wire::rcode::kNoError);
  std::vector<std::string> moved = kRegisterWeb1;
  moved[2] = "host-1.node.svc.internal. 30 IN A 127.0.0.11";
  EXPECT_EQ(rcode_of(receiver_.process(make_update(moved))), dns::wire::rcode::kNoError);
  EXPECT_EQ(find("web", "web-1")->ipv4, std::vector<registry::Ipv4>{(registry::Ipv4{127, 0, 0, 11})});
}

// Static registrations belong to the config: no UPDATE replaces or deletes one, and the
// prerequisites see them.
TEST_F(HeartbeatReceiverTest, StaticInstancesAreNotTheUpdatesToChange) {
  registry::Instance web1;
  web1.id = "web-1";
  web1.service = "web";
  web1.node = "static-1";
  web1.ipv4 = {registry::Ipv4{192, 0, 2, 21}};
  web1.port = 80;
  web1.weight = 3;
  publisher_.apply([&](registry::Store& store) {
    store.replace_source(registry::Source::config, {}, {web1});
  });
  EXPECT_EQ(rcode_of(receiver_.process(make_update(kRegisterWeb1))), dns::wire::rcode::kRefused);
  EXPECT_EQ(rcode_of(receiver_.process(make_update({"web-1._web._tcp.svc.internal. 0 ANY ANY"}))),
            dns::wire::rcode::kRefused);
  const auto kept = find("web", "web-1");
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(kept->source, registry::Source::config);
  EXPECT_EQ(kept->node, "static-1");
  EXPECT_EQ(kept->weight, 3);
  // Another instance may join; its prerequisites see the static one.
  std::vector<std::string> web2 = {
      "web-2._web._tcp.svc.internal. 30 IN SRV 0 5 8080 host-2.node.svc.internal.",
      "host-2.node.svc.internal. 30 IN A 127.0.0.20"};
  EXPECT_EQ(rcode_of(receiver_.process(make_update(
                web2, kSecret, {"web-1._web._tcp.svc.internal. 0 ANY SRV"}))),
            dns::wire::rcode::kNoError);
  EXPECT_EQ(rcode_of(receiver_.process(make_update(
                web2, kSecret, {"static-1.node.svc.internal. 0 IN A 192.0.2.21"}))),
            dns::wire::rcode::kNoError);
  EXPECT_EQ(rcode_of(receiver_.process(make_update(
                web2, kSecret, {"_web._tcp.svc.internal. 0 NONE PTR"}))),
            dns::wire::rcode::kYxRrset);
}

// The exact bytes of an UPDATE sent again later must not undo what came after them.
TEST_F(HeartbeatReceiverTest, ReplayedUpdatesAreRefused) {
  const auto registration = make_update(kRegisterWeb1);
  const auto deletion = make_update({"web-1._web._tcp.svc.internal. 0 ANY ANY"});
  ASSERT_EQ(rcode_of(receiver_.process(registration)), dns::wire::rcode::kNoError);
  ASSERT_EQ(rcode_of(receiver_.process(deletion)), dns::wire::rcode::kNoError);
  // The recorded registration again: refused (BADTIME), the instance stays deleted.
  const auto replayed = receiver_.process(registration);
  EXPECT_EQ(rcode_of(replayed), dns::wire::rcode::kNotAuth);
  EXPECT_FALSE(find("web", "web-1").has_value());
  EXPECT_EQ(receiver_.counters().replayed.load(), 1u);
  // Registered again with a new UPDATE, the recorded delete cannot take it out.
  ASSERT_EQ(rcode_of(receiver_.process(make_update(kRegisterWeb1))), dns::wire::rcode::kNoError);
  EXPECT_EQ(rcode_of(receiver_.process(deletion)), dns::wire::rcode::kNotAuth);
  EXPECT_TRUE(find("web", "web-1").has_value());
  // Nor can a renewal's bytes renew twice.
  const auto renewal = make_update(kRegisterWeb1);
  ASSERT_EQ(rcode_of(receiver_.process(renewal)), dns::wire::rcode::kNoError);
  EXPECT_EQ(rcode_of(receiver_.process(renewal)), dns::wire::rcode::kNotAuth);
  EXPECT_EQ(receiver_.counters().replayed.load(), 3u);
}

TEST_F(HeartbeatReceiverTest, QuotasRefuseNewInstancesOnly) {
  const auto db = [&](const std::string& id) {
    return rcode_of(receiver_.process(make_update(
        {id + "._db._tcp.svc.internal. 30 IN SRV 0 1 5432 db-host.node.svc.internal.",
         "db-host.node.svc.internal. 30 IN A 127.0.0.5"},
        kDbSecret, {}, "db-key.")));
  };
  // db-key may hold 2 instances.
  ASSERT_EQ(db("db-1"), dns::wire::rcode::kNoError);
  ASSERT_EQ(db("db-2"), dns::wire::rcode::kNoError);
  EXPECT_EQ(db("db-3"), dns::wire::rcode::kRefused);
  EXPECT_FALSE(find("db", "db-3").has_value());
  EXPECT_EQ(db("db-1"), dns::wire::rcode::kNoError);  // renewals go on
  ASSERT_EQ(rcode_of(receiver_.process(make_update({"db-2._db._tcp.svc.internal. 0 ANY ANY"},
                                                   kDbSecret, {}, "db-key."))),
            dns::wire::rcode::kNoError);
  EXPECT_EQ(db("db-3"), dns::wire::rcode::kNoError);  // room again
  // The registry holds at most 4 registered by UPDATE.
  const auto web = [&](const std::string& id, const std::string& node) {
    return rcode_of(receiver_.process(make_update(
        {id + "._web._tcp.svc.internal. 30 IN SRV 0 1 80 " + node + ".node.svc.internal.",
         node + ".node.svc.internal. 30 IN A 127.0.0.7"})));
  };
  ASSERT_EQ(web("web-1", "h1"), dns::wire::rcode::kNoError);
  ASSERT_EQ(web("web-2", "h2"), dns::wire::rcode::kNoError);
  EXPECT_EQ(web("web-3", "h3"), dns::wire::rcode::kRefused);
  EXPECT_EQ(receiver_.counters().over_quota.load(), 2u);
  EXPECT_TRUE(find("db", "db-1").has_value());
  EXPECT_TRUE(find("web", "web-2").has_value());
}

// Mutated UPDATEs signed after mutation get past TSIG into the UPDATE parser and planner:
// every one gets a well-formed response or none, and nothing crashes.
TEST_F(HeartbeatReceiverTest, SurvivesMutatedSignedUpdates) {
  const TsigSigner signer(keys());
  const std::vector<std::uint8_t> base = make_update(kRegisterWeb1, nullptr);
  std::mt19937 random(11);
  for (int i = 0; i < 10000; ++i) {
    std::vector<std::uint8_t> message = base;
    const int flips = 1 + static_cast<int>(random() % 4);
    for (int k = 0; k < flips; ++k) {
      message[12 + random() % (message.size() - 12)] = static_cast<std::uint8_t>(random());
    }
    if (random() % 10 == 0) message.resize(12 + random() % (message.size() - 12));
    signer.sign_request(message, signer.keys()[0], static_cast<std::uint64_t>(std::time(nullptr)));
    const auto response = receiver_.process(message);
    ASSERT_GE(response.size(), 12u);
    EXPECT_EQ(response[2] & 0x80, 0x80);
  }
  EXPECT_EQ(receiver_.counters().received.load(), 10000u);
}

}  // namespace
}  // namespace signpost::health

namespace signpost::health {
namespace {

// One writer: a worker answers a repeated renewal without the registry thread, even while
// that thread is busy (the lease is renewed at the next tick, there), and the renewal's
// replay is still refused.
TEST_F(HeartbeatReceiverTest, RepeatedRenewalIsAnsweredWhileTheRegistryThreadIsBusy) {
  const TsigSigner signer(keys());
  std::uint64_t signed_at = static_cast<std::uint64_t>(std::time(nullptr));
  const auto signed_update = [&] {
    auto message = make_update(kRegisterWeb1, nullptr);
    signer.sign_request(message, signer.keys()[0], ++signed_at);
    return message;
  };
  ASSERT_EQ(rcode_of(receiver_.process(signed_update())), dns::wire::rcode::kNoError);

  std::promise<void> release;
  std::promise<void> holding;
  std::thread busy([&] {
    publisher_.apply([&](registry::Store&) {
      holding.set_value();
      release.get_future().wait();
    });
  });
  holding.get_future().wait();
  const auto renewal = signed_update();
  std::vector<std::uint8_t> response;
  EXPECT_TRUE(receiver_.try_handle(renewal, dns::answer::Transport::udp, response));
  EXPECT_EQ(rcode_of(response), dns::wire::rcode::kNoError);
  EXPECT_EQ(receiver_.counters().repeated.load(), 1u);
  // Sent again, the same bytes are not taken: they go to the registry thread, which refuses
  // them as a replay.
  std::vector<std::uint8_t> again;
  EXPECT_FALSE(receiver_.try_handle(renewal, dns::answer::Transport::udp, again));
  release.set_value();
  busy.join();
  EXPECT_EQ(rcode_of(receiver_.process(renewal)), dns::wire::rcode::kNotAuth);
}

// Whoever holds one key cannot fill the queue to the registry thread: its UPDATEs take at
// most half, and another key's registration still gets in and is applied.
TEST(HeartbeatReceiverQueue, OneKeyTakesAtMostHalfTheQueue) {
  registry::Publisher publisher(signpost::testing::ReceiverRig::publisher_settings(), {}, nullptr,
                                nullptr);
  ReceiverSettings settings = signpost::testing::ReceiverRig::receiver_settings(std::chrono::seconds(600));
  settings.max_queued = 8;
  std::vector<TsigKey> keys;
  keys.push_back(make_tsig_key("agent-key", "hmac-sha256", kSecret, {"web"}));
  keys.push_back(make_tsig_key("db-key", "hmac-sha256", kDbSecret, {"db"}));
  HeartbeatReceiver receiver(settings, std::move(keys), publisher, [](const std::string&) {});
  publisher.start();
  // The registry thread waits until the queue has been offered everything.
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  publisher.post([gate](registry::Store&) { gate.wait(); });
  std::atomic<int> web_answered{0};
  for (int i = 0; i < 10; ++i) {
    const std::string id = "web-" + std::to_string(i);
    receiver.handle_later(
        make_update({id + "._web._tcp.svc.internal. 30 IN SRV 0 5 8080 host-1.node.svc.internal.",
                     "host-1.node.svc.internal. 30 IN A 127.0.0.10"}),
        dns::answer::Transport::udp, "127.0.0.1",
        [&](std::vector<std::uint8_t>) { ++web_answered; });
  }
  EXPECT_EQ(receiver.counters().dropped.load(), 6u);  // 4 of 10 queued: half of 8
  std::promise<std::uint16_t> db_answer;
  receiver.handle_later(
      make_update({"db-1._db._tcp.svc.internal. 30 IN SRV 0 1 5432 db-host.node.svc.internal.",
                   "db-host.node.svc.internal. 30 IN A 127.0.0.5"},
                  kDbSecret, {}, "db-key."),
      dns::answer::Transport::udp, "127.0.0.2",
      [&](std::vector<std::uint8_t> response) { db_answer.set_value(rcode_of(response)); });
  EXPECT_EQ(receiver.counters().dropped.load(), 6u);
  release.set_value();
  auto answered = db_answer.get_future();
  ASSERT_EQ(answered.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(answered.get(), dns::wire::rcode::kNoError);
  bool found = false;
  publisher.apply([&](registry::Store& store) { found = store.find_instance("db", "db-1").has_value(); });
  EXPECT_TRUE(found);
  EXPECT_EQ(web_answered.load(), 4);
  // Drained: the key's share is free again.
  receiver.handle_later(
      make_update({"web-x._web._tcp.svc.internal. 30 IN SRV 0 5 8080 host-1.node.svc.internal."}),
      dns::answer::Transport::udp, "127.0.0.1", [&](std::vector<std::uint8_t>) { ++web_answered; });
  publisher.apply([](registry::Store&) {});
  EXPECT_EQ(web_answered.load(), 5);
  EXPECT_EQ(receiver.counters().dropped.load(), 6u);
  receiver.stop();
  publisher.stop();
}

}  // namespace
}  // namespace signpost::health
