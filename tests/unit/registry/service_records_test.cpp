// A service's pre-encoded records: each encoded once and shared by the groups that answer
// with it, instance and tag lookups, and the glue linked to every SRV record.
#include "registry/service_records.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "dns/wire/types.hpp"
#include "tests/unit/support/test_registry.hpp"
#include "tests/unit/support/test_zone.hpp"

namespace signpost::registry {
namespace {

using testing::instance;

std::shared_ptr<const ServiceRecords> build(const Service& service, const std::vector<Instance>& instances) {
  std::vector<const Instance*> pointers;
  for (const Instance& i : instances) pointers.push_back(&i);
  return build_service_records(service, pointers, testing::registry_settings());
}

Service named(const std::string& name) {
  Service s;
  s.name = name;
  return s;
}

std::uint16_t type_of(const ServiceRecords& r, RecordAt at) {
  const auto record = r.record(at);
  return static_cast<std::uint16_t>(record[0] << 8 | record[1]);
}

TEST(ServiceRecords, TagsShareTheServicesRecords) {
  std::vector<Instance> instances = {instance("web", "b", "n1", 2), instance("web", "a", "n1", 1),
                                     instance("web", "ab", "n2", 3, 1, true)};
  const auto plain = build(named("web"), instances);
  Service with_tags = named("web");
  with_tags.tags = {"blue", "green"};  // service-wide: every instance carries them
  const auto tagged = build(with_tags, instances);
  // Two tags add offsets and weights, not records.
  EXPECT_EQ(tagged->wire.size(), plain->wire.size());
  ASSERT_EQ(tagged->by_tag.size(), 2u);
  const RecordGroup* blue = tagged->find_tag("blue");
  ASSERT_NE(blue, nullptr);
  EXPECT_TRUE(std::ranges::equal(blue->a(), tagged->all.a()));
  EXPECT_TRUE(std::ranges::equal(blue->srv(), tagged->all.srv()));
  EXPECT_EQ(tagged->find_tag("red"), nullptr);
  EXPECT_EQ(tagged->find_tag("gree"), nullptr);
  for (const RecordAt at : tagged->all.a()) EXPECT_EQ(type_of(*tagged, at), dns::wire::rrtype::kA);
  ASSERT_EQ(tagged->all.aaaa().size(), 1u);
  EXPECT_EQ(type_of(*tagged, tagged->all.aaaa()[0]), dns::wire::rrtype::kAaaa);
}

TEST(ServiceRecords, InstancesAreFoundByIdAmongTheEligible) {
  std::vector<Instance> instances = {instance("web", "b", "n1", 2), instance("web", "a", "n1", 1),
                                     instance("web", "ab", "n2", 3), instance("web", "c", "n3", 4, 0)};
  const auto records = build(named("web"), instances);
  ASSERT_EQ(records->instances.size(), 3u);  // c is drained
  for (const char* id : {"a", "ab", "b"}) {
    const InstanceRecords* found = records->find_instance(id);
    ASSERT_NE(found, nullptr) << id;
    EXPECT_EQ(type_of(*records, found->srv), dns::wire::rrtype::kSrv);
    EXPECT_EQ(type_of(*records, found->txt), dns::wire::rrtype::kTxt);
    EXPECT_EQ(type_of(*records, found->ptr), dns::wire::rrtype::kPtr);
  }
  EXPECT_EQ(records->find_instance("c"), nullptr);
  EXPECT_EQ(records->find_instance("aa"), nullptr);
  EXPECT_EQ(records->find_instance(""), nullptr);
  EXPECT_EQ(records->target(*records->find_instance("ab")), testing::wire_name("n2.node.svc.internal."));
}

// The TXT RDATA of an instance, as character-strings.
std::vector<std::string> txt_strings(const ServiceRecords& r, const InstanceRecords& instance) {
  const auto record = r.record(instance.txt);
  std::vector<std::string> out;
  for (std::size_t at = 10; at < record.size(); at += 1 + record[at]) {
    out.emplace_back(reinterpret_cast<const char*>(record.data() + at + 1), record[at]);
  }
  return out;
}

TEST(ServiceRecords, TxtCarriesTagsAndMetadataCutAt255Octets) {
  auto tagged = instance("web", "a", "n1", 1);
  tagged.tags = {"blue", "canary"};
  tagged.meta = {{"version", "2"}, {"long", std::string(300, 'x')}};
  auto same = tagged;
  same.id = "b";
  same.ipv4 = {{10, 0, 0, 2}};
  const auto plain = instance("web", "c", "n2", 3);
  const auto records = build(named("web"), {tagged, same, plain});
  const InstanceRecords& a = *records->find_instance("a");
  EXPECT_EQ(txt_strings(*records, a),
            (std::vector<std::string>{"tags=blue,canary", "version=2", "long=" + std::string(250, 'x')}));
  EXPECT_EQ(records->find_instance("b")->txt, a.txt);  // the same TXT is one record
  // No tags and no metadata: one empty character-string (RFC 6763 §6.1).
  EXPECT_EQ(txt_strings(*records, *records->find_instance("c")), std::vector<std::string>{""});
}

TEST(ServiceRecords, AServiceLargerThanTheStackScratchIsBuiltWhole) {
  std::vector<Instance> instances;
  for (int k = 0; k < 3000; ++k) {
    auto i = instance("web", "i" + std::to_string(k), "n" + std::to_string(k % 700),
                      static_cast<std::uint8_t>(k % 250), static_cast<std::uint16_t>(1 + k % 9));
    i.ipv4.front()[2] = static_cast<std::uint8_t>(k / 250);
    instances.push_back(std::move(i));
  }
  const auto records = build(named("web"), instances);
  EXPECT_EQ(records->instances.size(), 3000u);
  EXPECT_EQ(records->all.a_count, 3000u);
  EXPECT_EQ(records->glue.size(), 700u);
  const InstanceRecords* last = records->find_instance("i2999");
  ASSERT_NE(last, nullptr);
  EXPECT_EQ(records->target(*last), testing::wire_name("n199.node.svc.internal."));
  EXPECT_EQ(records->glue[last->glue].a_count, 5u);  // 2999 % 700 = 199: five instances there
}

TEST(ServiceRecords, GlueHoldsEveryAddressOfTheServiceOnTheTargetNode) {
  auto both = instance("web", "a", "n1", 7, 1, true);
  both.ipv4.push_back({10, 0, 0, 3});
  auto critical = instance("web", "b", "n1", 5);
  critical.health = Health::critical;
  critical.max_ttl = 2;  // a heartbeat lease caps the glue's TTL too
  std::vector<Instance> instances = {both, critical, instance("web", "c", "n2", 9)};
  const auto records = build(named("web"), instances);
  ASSERT_EQ(records->instances.size(), 2u);
  ASSERT_EQ(records->glue.size(), 2u);
  const Glue& n1 = records->glue[records->find_instance("a")->glue];
  // 10.0.0.3, 10.0.0.5 (critical, but on the node) and 10.0.0.7, sorted; then fd00::7.
  ASSERT_EQ(n1.a_count, 3u);
  ASSERT_EQ(n1.aaaa_count, 1u);
  const std::vector<std::uint8_t> expected_last = {3, 5, 7};
  for (std::size_t i = 0; i < n1.a_count; ++i) {
    const auto record = records->record(static_cast<RecordAt>(n1.first + i * 14));
    ASSERT_EQ(record.size(), 14u);
    EXPECT_EQ(record[13], expected_last[i]);
    EXPECT_EQ(record[7], 2);  // TTL 2
  }
  const auto aaaa = records->record(static_cast<RecordAt>(n1.first + 3 * 14));
  EXPECT_EQ(aaaa.size(), 26u);
  EXPECT_EQ(n1.octets, 3u * (2 + 14) + (2 + 26));
  const Glue& n2 = records->glue[records->find_instance("c")->glue];
  EXPECT_EQ(n2.a_count, 1u);
  EXPECT_EQ(n2.aaaa_count, 0u);
}

TEST(ServiceRecords, SrvRecordsAreSortedByPriorityAndLinkedToTheirInstances) {
  auto low = instance("mq", "z", "n1", 1);
  low.priority = 10;
  auto high = instance("mq", "y", "n2", 2);
  high.priority = 20;
  std::vector<Instance> instances = {high, low, instance("mq", "x", "n3", 3)};
  const auto records = build(named("mq"), instances);
  const RecordGroup& all = records->all;
  ASSERT_EQ(all.srv().size(), 3u);
  EXPECT_TRUE(std::ranges::equal(all.srv_groups(), std::vector<std::uint32_t>{0, 1, 2, 3}));
  // Priorities 0 (x), 10 (z), 20 (y); instances are indexed by id: x 0, y 1, z 2.
  EXPECT_TRUE(std::ranges::equal(all.srv(), std::vector<std::uint32_t>{0, 2, 1}));
}

}  // namespace
}  // namespace signpost::registry
