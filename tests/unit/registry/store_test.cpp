// The store: validation, change tracking, and views that share what did not change.
#include "registry/store.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <map>
#include <string>
#include <vector>

#include "tests/unit/support/test_registry.hpp"

namespace signpost::registry {
namespace {

using testing::instance;

TEST(Model, LabelsAreValidatedAndLowerCased) {
  EXPECT_EQ(normalize_label("service name", "Web-API"), "web-api");
  EXPECT_THROW(normalize_label("service name", ""), RegistryError);
  EXPECT_THROW(normalize_label("service name", "has.dot"), RegistryError);
  EXPECT_THROW(normalize_label("service name", "-lead"), RegistryError);
  EXPECT_THROW(normalize_label("service name", std::string(64, 'a')), RegistryError);
  try {
    normalize_label("tag", "under_score");
    FAIL();
  } catch (const RegistryError& e) {
    EXPECT_NE(std::string(e.what()).find("tag 'under_score'"), std::string::npos);
  }
  Service reserved;
  reserved.name = "node";
  EXPECT_THROW(validate(reserved), RegistryError);
  Instance no_address = instance("web", "w1", "n1", 1);
  no_address.ipv4.clear();
  EXPECT_THROW(validate(no_address), RegistryError);
}

TEST(Model, AddressesParse) {
  Instance i;
  EXPECT_TRUE(parse_address("192.0.2.1", i));
  EXPECT_TRUE(parse_address("2001:db8::1", i));
  EXPECT_FALSE(parse_address("192.0.2.256", i));
  EXPECT_FALSE(parse_address("web", i));
  EXPECT_EQ(i.ipv4.size(), 1u);
  EXPECT_EQ(i.ipv6.size(), 1u);
}

TEST(Store, TracksChangesAndSkipsNoOps) {
  Store store(testing::registry_settings());
  EXPECT_TRUE(store.put_instance(instance("web", "w1", "n1", 1)));
  EXPECT_TRUE(store.dirty());
  auto view = store.build_view(RegistryView{});
  EXPECT_FALSE(store.dirty());
  EXPECT_FALSE(store.put_instance(instance("web", "w1", "n1", 1)));  // a renewal
  EXPECT_FALSE(store.dirty());
  EXPECT_TRUE(store.set_health("web", "w1", Health::warning));
  EXPECT_FALSE(store.set_health("web", "w1", Health::warning));
  EXPECT_EQ(store.instance_count(), 1u);
  EXPECT_TRUE(store.remove_instance("web", "w1"));
  EXPECT_FALSE(store.remove_instance("web", "w1"));
  view = store.build_view(*view);
  EXPECT_EQ(view->find_service("web"), nullptr);  // created by its instance, gone with it
  EXPECT_EQ(view->find_node("n1"), nullptr);
}

TEST(Store, CountsInstancesBySource) {
  Store store(testing::registry_settings());
  Instance dynamic = instance("web", "w1", "n1", 1);
  dynamic.source = Source::heartbeat;
  store.put_instance(dynamic);
  store.put_instance(instance("web", "w2", "n2", 2));
  EXPECT_EQ(store.count_of(Source::heartbeat), 1u);
  EXPECT_EQ(store.count_of(Source::config), 1u);
  dynamic.source = Source::config;  // the same instance, now from another source
  store.put_instance(dynamic);
  EXPECT_EQ(store.count_of(Source::heartbeat), 0u);
  EXPECT_EQ(store.count_of(Source::config), 2u);
  store.remove_instance("web", "w1");
  EXPECT_EQ(store.count_of(Source::config), 1u);
  store.replace_source(Source::config, {}, {});
  EXPECT_EQ(store.count_of(Source::config), 0u);
  EXPECT_EQ(store.instance_count(), 0u);
}

TEST(Store, ProtocolConflictIsAnError) {
  Store store(testing::registry_settings());
  store.put_instance(instance("dns", "d1", "n1", 1), Protocol::udp);
  Service tcp;
  tcp.name = "other";
  store.put_service(tcp);
  EXPECT_THROW(store.put_instance(instance("dns", "d2", "n1", 2), Protocol::tcp), RegistryError);
  EXPECT_NO_THROW(store.put_instance(instance("dns", "d2", "n1", 2)));  // joins as udp
  EXPECT_EQ(store.find_service("dns")->protocol, Protocol::udp);
  EXPECT_TRUE(store.find_instance("dns", "d2").has_value());
}

TEST(Store, ViewsShareUnchangedServices) {
  Store store(testing::registry_settings());
  for (int s = 0; s < 50; ++s) {
    store.put_instance(instance("svc" + std::to_string(s), "i", "n" + std::to_string(s), 1));
  }
  const auto first = store.build_view(RegistryView{});
  store.set_health("svc7", "i", Health::warning);
  const auto second = store.build_view(*first);
  EXPECT_EQ(first->find_service("svc8"), second->find_service("svc8"));
  EXPECT_NE(first->find_service("svc7"), second->find_service("svc7"));
  EXPECT_EQ(&first->service_types(), &second->service_types());  // no service added
  EXPECT_EQ(second->service_count(), 50u);
  EXPECT_EQ(second->service_types().size(), 50u);
}

// Services are kept hashed; what lists them must still come out in name order.
TEST(Store, ListingsAndServiceTypesAreInNameOrder) {
  Store store(testing::registry_settings());
  const std::vector<std::string> added = {"web", "api", "zeta", "db", "cache", "alpha", "mq"};
  for (const std::string& name : added) store.put_instance(instance(name, "i", "n", 1));
  std::vector<std::string> sorted = added;
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::string> listed;
  for (const auto& [service, instances] : store.list()) listed.push_back(service.name);
  EXPECT_EQ(listed, sorted);
  // _services._dns-sd._udp PTR: one _<service>._tcp.<domain> per service, in name order.
  const auto view = store.build_view(RegistryView{});
  const auto& types = view->service_types();
  std::vector<std::string> typed;
  for (std::size_t i = 0; i < types.size(); ++i) {
    const auto rdata = types.rdata(i);
    ASSERT_GE(rdata.size(), 2u);
    ASSERT_EQ(rdata[1], '_');
    typed.emplace_back(rdata.begin() + 2, rdata.begin() + 1 + rdata[0]);
  }
  EXPECT_EQ(typed, sorted);
}

TEST(Store, NodeRecordsAreKeptWhenTheirAddressesStayTheSame) {
  Store store(testing::registry_settings());
  store.put_instance(instance("web", "a", "n1", 1, 5));
  store.put_instance(instance("api", "b", "n1", 2));
  const auto first = store.build_view(RegistryView{});
  // A new weight and a new health rebuild the service, not the node.
  store.put_instance(instance("web", "a", "n1", 1, 9));
  store.set_health("api", "b", Health::critical);
  const auto second = store.build_view(*first);
  EXPECT_NE(first->find_service("web"), second->find_service("web"));
  EXPECT_EQ(first->find_node("n1"), second->find_node("n1"));
  // A new address replaces the node's records.
  store.put_instance(instance("web", "a", "n1", 3, 9));
  const auto third = store.build_view(*second);
  ASSERT_NE(third->find_node("n1"), nullptr);
  EXPECT_NE(second->find_node("n1"), third->find_node("n1"));
  EXPECT_EQ(third->find_node("n1")->a_count, 2u);
  EXPECT_EQ(third->find_node("n1")->a(0)[10 + 3], 2);  // 10.0.0.2 first, then 10.0.0.3
  EXPECT_EQ(third->find_node("n1")->a(1)[10 + 3], 3);
}

TEST(Store, ReplaceSourceSwapsConfigInstancesAndKeepsOthers) {
  Store store(testing::registry_settings());
  auto beat = instance("web", "dyn", "n1", 1);
  beat.source = Source::heartbeat;
  store.put_instance(beat);
  Service declared;
  declared.name = "db";
  store.replace_source(Source::config, {declared}, {instance("web", "static", "n2", 2)});
  auto view = store.build_view(RegistryView{});
  ASSERT_NE(view->find_service("db"), nullptr);
  EXPECT_EQ(view->find_service("web")->instance_count, 2u);
  store.replace_source(Source::config, {}, {});
  view = store.build_view(*view);
  EXPECT_EQ(view->find_service("db"), nullptr);
  EXPECT_EQ(view->find_service("web")->instance_count, 1u);
  EXPECT_TRUE(store.find_instance("web", "dyn").has_value());
  // A bad registration rejects the whole reload and changes nothing.
  auto bad = instance("web", "bad id!", "n3", 3);
  EXPECT_THROW(store.replace_source(Source::config, {}, {instance("web", "ok", "n2", 2), bad}),
               RegistryError);
  EXPECT_EQ(store.instance_count(), 1u);
}

TEST(Store, ReplaceSourceWithTheSameDataChangesNothing) {
  Store store(testing::registry_settings());
  Service declared;
  declared.name = "db";
  const auto load = [&] {
    store.replace_source(Source::config, {declared},
                         {instance("web", "a", "n1", 1), instance("web", "b", "n2", 2)});
  };
  load();
  auto view = store.build_view(RegistryView{});
  load();
  EXPECT_FALSE(store.dirty());
  // One weight changed: only that service and node are rebuilt.
  store.replace_source(Source::config, {declared},
                       {instance("web", "a", "n1", 5), instance("web", "b", "n2", 2)});
  EXPECT_TRUE(store.dirty());
  const auto next = store.build_view(*view);
  EXPECT_EQ(next->find_service("db"), view->find_service("db"));
  EXPECT_NE(next->find_service("web"), view->find_service("web"));
  EXPECT_EQ(next->find_node("n2"), view->find_node("n2"));
}

TEST(Store, KeepsEveryFieldOfAnInstance) {
  Store store(testing::registry_settings());
  Instance full = instance("web", "a", "n1", 1, 7, true);
  full.ipv4.push_back({192, 0, 2, 200});
  full.ipv6.push_back({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9});
  full.tags = {"blue", "canary"};
  full.meta = {{"version", "1.2.3"}, {"zone", std::string(200, 'z')}};
  full.priority = 3;
  full.health = Health::warning;
  full.source = Source::heartbeat;
  full.max_ttl = 10;
  store.put_instance(full);
  const auto found = store.find_instance("web", "a");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(*found, full);
  // The same instance again is no change; any one field different is.
  EXPECT_FALSE(store.put_instance(full));
  full.meta.back().second.back() = 'y';
  EXPECT_TRUE(store.put_instance(full));
  EXPECT_EQ(*store.find_instance("web", "a"), full);
  const auto listed = store.list();
  ASSERT_EQ(listed.size(), 1u);
  ASSERT_EQ(listed[0].second.size(), 1u);
  EXPECT_EQ(listed[0].second[0], full);
}

TEST(Store, NodeRecordsFollowInstancesAcrossNodes) {
  Store store(testing::registry_settings());
  store.put_instance(instance("web", "a", "n1", 1));
  store.put_instance(instance("api", "b", "n1", 2));
  store.put_instance(instance("web", "c", "n2", 3));
  auto view = store.build_view(RegistryView{});
  ASSERT_NE(view->find_node("n1"), nullptr);
  EXPECT_EQ(view->find_node("n1")->a_count, 2u);
  // "a" moves to n2: n1 keeps b's address only, n2 gets a's as well as c's.
  store.put_instance(instance("web", "a", "n2", 1));
  view = store.build_view(*view);
  EXPECT_EQ(view->find_node("n1")->a_count, 1u);
  EXPECT_EQ(view->find_node("n2")->a_count, 2u);
  // A node goes with its last instance, also after a move.
  store.remove_instance("api", "b");
  view = store.build_view(*view);
  EXPECT_EQ(view->find_node("n1"), nullptr);
  store.put_instance(instance("web", "c", "n3", 3));
  store.remove_instance("web", "a");
  view = store.build_view(*view);
  EXPECT_EQ(view->find_node("n2"), nullptr);
  ASSERT_NE(view->find_node("n3"), nullptr);
  EXPECT_EQ(view->find_node("n3")->a_count, 1u);
  EXPECT_EQ(store.instance_count(), 1u);
}

// The operator's overrides (the HTTP API's drain and weight) change what answers use and
// outlast the instance's registrations: a heartbeat that registers it again as it was, with
// its own weight, leaves a drained instance drained.
TEST(Store, OverridesOutlastRegistrationsAndGoWithTheInstance) {
  Store store(testing::registry_settings());
  store.put_instance(instance("web", "w1", "n1", 1, 3));
  store.put_instance(instance("web", "w2", "n2", 2, 1));
  auto view = store.build_view(RegistryView{});
  const auto weights = [&] {
    const ServiceRecords* web = view->find_service("web");
    const auto srv = web->all.srv_weights();
    return std::vector<std::uint32_t>(srv.begin(), srv.end());
  };
  ASSERT_EQ(view->find_service("web")->instances.size(), 2u);

  EXPECT_TRUE(store.set_override("web", "w1", {.drained = true, .weight = std::nullopt}));
  EXPECT_TRUE(store.dirty());
  view = store.build_view(*view);
  EXPECT_EQ(view->find_service("web")->instances.size(), 1u);  // w1 is handed out no more
  EXPECT_EQ(store.override_count(), 1u);
  EXPECT_EQ(store.drained_count(), 1u);

  // The agent's next registration, with its own weight, changes nothing of that.
  store.put_instance(instance("web", "w1", "n1", 1, 5));
  view = store.build_view(*view);
  EXPECT_EQ(view->find_service("web")->instances.size(), 1u);
  EXPECT_TRUE(store.override_of("web", "w1").drained);
  EXPECT_EQ(store.find_instance("web", "w1")->weight, 5);  // what it registered

  // Undrained with a weight of its own: answers use that weight, not the registered one.
  EXPECT_TRUE(store.set_override("web", "w1", {.drained = false, .weight = 7}));
  view = store.build_view(*view);
  ASSERT_EQ(view->find_service("web")->instances.size(), 2u);
  auto srv = weights();
  std::sort(srv.begin(), srv.end());
  EXPECT_EQ(srv.back() / std::max<std::uint32_t>(1, srv.front()), 7u);

  // Setting the same again is no change; an empty override removes it.
  store.build_view(*view);
  EXPECT_TRUE(store.set_override("web", "w1", {.drained = false, .weight = 7}));
  EXPECT_FALSE(store.dirty());
  EXPECT_TRUE(store.set_override("web", "w1", {}));
  EXPECT_EQ(store.override_count(), 0u);

  // An override goes with its instance: registered again later, it starts without one.
  store.set_override("web", "w2", {.drained = true, .weight = std::nullopt});
  EXPECT_EQ(store.drained_count(), 1u);
  EXPECT_TRUE(store.remove_instance("web", "w2"));
  EXPECT_EQ(store.override_count(), 0u);
  EXPECT_EQ(store.drained_count(), 0u);
  store.put_instance(instance("web", "w2", "n2", 2, 1));
  EXPECT_FALSE(store.override_of("web", "w2").drained);
  EXPECT_FALSE(store.set_override("web", "nobody", {.drained = true, .weight = std::nullopt}));
}

// The counts a status or a scrape reads are kept as instances change, not walked.
TEST(Store, KeepsCountsByHealthPerServiceAndInTotal) {
  Store store(testing::registry_settings());
  store.put_instance(instance("web", "w1", "n1", 1));
  store.put_instance(instance("web", "w2", "n2", 2));
  store.put_instance(instance("db", "d1", "n2", 3));
  store.set_health("web", "w2", Health::critical);
  Instance warning = instance("db", "d1", "n2", 3);
  warning.health = Health::warning;
  store.put_instance(warning);  // a registration that changes the health
  EXPECT_EQ(store.health_counts(), (std::array<std::size_t, 3>{1, 1, 1}));
  std::map<std::string, Store::HealthCounts> seen;
  store.visit_services([&](const Service& service, const Store::HealthCounts& counts) {
    seen[service.name] = counts;
  });
  EXPECT_EQ(seen["web"], (Store::HealthCounts{1, 0, 1}));
  EXPECT_EQ(seen["db"], (Store::HealthCounts{0, 1, 0}));
  EXPECT_EQ(store.node_count(), 2u);
  EXPECT_EQ(store.service_count(), 2u);
  store.remove_instance("web", "w2");
  store.remove_instance("db", "d1");
  EXPECT_EQ(store.health_counts(), (std::array<std::size_t, 3>{1, 0, 0}));
  EXPECT_EQ(store.node_count(), 1u);
}

}  // namespace
}  // namespace signpost::registry
