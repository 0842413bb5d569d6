// Zone versions and their diffs: the change read from what two snapshots do not share is
// the change between the whole zones, whatever the registry went through.
#include "dns/xfr/zone_content.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <iterator>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "dns/wire/types.hpp"
#include "dns/zone/zone.hpp"
#include "tests/unit/support/test_registry.hpp"
#include "tests/unit/support/test_zone.hpp"

namespace signpost::dns::xfr {
namespace {

using testing::TestRegistry;
using testing::instance;

// The registry zone of `registry` now, as the transfer thread sees it.
ZoneContent version_of(TestRegistry& registry) {
  const registry::SnapshotPtr snapshot = registry.publish();
  return zone_version(snapshot, *snapshot->registry_zone());
}

std::set<std::string> whole(const ZoneContent& version) {
  std::set<std::string> out;
  for_each_record(version, [&](const std::string& record) {
    EXPECT_TRUE(out.insert(record).second) << "a record visited twice";
  });
  return out;
}

std::vector<std::string> minus(const std::set<std::string>& a, const std::set<std::string>& b) {
  std::vector<std::string> out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

std::vector<std::string> sorted(std::vector<std::string> records) {
  std::sort(records.begin(), records.end());
  return records;
}

TEST(ZoneDiff, EqualsTheDifferenceOfTheWholeZonesThroughRandomChanges) {
  TestRegistry registry;
  std::mt19937 random(5);
  ZoneContent older = version_of(registry);
  std::set<std::string> older_records = whole(older);
  for (int round = 0; round < 60; ++round) {
    for (int op = 0; op < 1 + round % 7; ++op) {
      const std::string service = "s" + std::to_string(random() % 6);
      const std::string id = "i" + std::to_string(random() % 12);
      const std::string node = "n" + std::to_string(random() % 8);
      switch (random() % 4) {
        case 0: registry.store.remove_instance(service, id); break;
        case 1: {  // two instances may share a node and so an address: records repeat
          auto added = instance(service, id, node, static_cast<std::uint8_t>(random() % 5 + 1),
                                static_cast<std::uint16_t>(random() % 3), random() % 2 == 0);
          if (random() % 2 == 0) added.tags = {"t" + std::to_string(random() % 3)};
          registry.store.put_instance(added);
          break;
        }
        default:
          registry.store.put_instance(instance(service, id, node, static_cast<std::uint8_t>(random() % 5 + 1),
                                               static_cast<std::uint16_t>(1 + random() % 3)));
      }
    }
    const ZoneContent newer = version_of(registry);
    const std::set<std::string> newer_records = whole(newer);
    const ZoneDiff diff = diff_zones(older, newer);
    EXPECT_EQ(sorted(diff.deleted), minus(older_records, newer_records)) << "round " << round;
    EXPECT_EQ(sorted(diff.added), minus(newer_records, older_records)) << "round " << round;
    older = newer;
    older_records = newer_records;
  }
}

TEST(ZoneDiff, OneNewInstanceAmongThousandsIsItsOwnRecords) {
  TestRegistry registry;
  for (int i = 0; i < 3000; ++i) {
    registry.store.put_instance(instance("s" + std::to_string(i % 30), "i" + std::to_string(i),
                                         "n" + std::to_string(i), static_cast<std::uint8_t>(i % 250 + 1)));
  }
  const ZoneContent older = version_of(registry);
  registry.store.put_instance(instance("s7", "fresh", "fresh-node", 251));
  const ZoneContent newer = version_of(registry);
  const ZoneDiff diff = diff_zones(older, newer);
  EXPECT_TRUE(diff.deleted.empty());
  // A at s7 and at its node, SRV at s7 and _s7._tcp, PTR, the instance's SRV and TXT.
  EXPECT_EQ(diff.added.size(), 7u);
  EXPECT_EQ(whole(newer).size(), whole(older).size() + 7);
}

// static.test. with SOA `serial` and one A record per entry of `hosts`.
std::shared_ptr<const zone::Zone> static_zone(std::uint32_t serial, std::vector<std::uint8_t> hosts) {
  zone::ZoneBuilder builder(testing::wire_name("static.test."));
  builder.add(testing::wire_name("static.test."), wire::rrtype::kSoa, 60,
              testing::soa_rdata("static.test.", serial, 60));
  for (const std::uint8_t host : hosts) {
    builder.add(testing::wire_name("h.static.test."), wire::rrtype::kA, 60,
                testing::a_rdata(192, 0, 2, host));
  }
  return builder.build();
}

ZoneContent static_version(std::shared_ptr<const zone::Zone> zone) {
  auto snapshot = std::make_shared<const registry::Snapshot>(
      std::vector<std::shared_ptr<const zone::Zone>>{zone}, 1);
  return zone_version(snapshot, *zone);
}

TEST(ZoneDiff, StaticZoneReloadIsDiffedWhole) {
  const ZoneContent first = static_version(static_zone(1, {1, 2}));
  EXPECT_EQ(first.serial, 1u);
  EXPECT_EQ(whole(first).size(), 2u);  // the two A records; the SOA is kept apart
  const ZoneContent same = static_version(static_zone(2, {1, 2}));
  const ZoneDiff none = diff_zones(first, same);
  EXPECT_TRUE(none.deleted.empty() && none.added.empty());
  const ZoneContent changed = static_version(static_zone(3, {2, 3}));
  const ZoneDiff diff = diff_zones(same, changed);
  ASSERT_EQ(diff.deleted.size(), 1u);
  ASSERT_EQ(diff.added.size(), 1u);
  EXPECT_EQ(diff.deleted[0].back(), 1);  // 192.0.2.1 went, 192.0.2.3 came
  EXPECT_EQ(diff.added[0].back(), 3);
  EXPECT_EQ(diff.from_serial(), 2u);
}

}  // namespace
}  // namespace signpost::dns::xfr
