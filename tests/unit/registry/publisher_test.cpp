// The registry thread: coalesced publishes, serials, sharing, rejected changes.
#include "registry/publisher.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <vector>

#include "tests/unit/support/test_registry.hpp"
#include "tests/unit/support/test_zone.hpp"

namespace signpost::registry {
namespace {

using testing::instance;

Publisher::Settings settings() {
  Publisher::Settings s;
  s.build = testing::registry_settings();
  s.apex.domain = s.build.domain;
  s.apex.serial = 100;
  s.batch_delay = std::chrono::milliseconds(20);
  return s;
}

TEST(Publisher, FirstSnapshotIsReadyAtOnce) {
  Publisher publisher(settings(), {testing::example_zone()}, nullptr, nullptr);
  const SnapshotPtr snapshot = publisher.current();
  ASSERT_NE(snapshot, nullptr);
  ASSERT_NE(snapshot->registry_zone(), nullptr);
  EXPECT_EQ(snapshot->registry_zone()->serial(), 100u);
  EXPECT_EQ(snapshot->zones().size(), 2u);
}

TEST(Publisher, CoalescesABurstIntoOnePublishWithAHigherSerial) {
  std::atomic<int> delivered{0};
  Publisher publisher(settings(), {}, [&](SnapshotPtr) { ++delivered; }, nullptr);
  const int before = delivered.load();
  publisher.start();
  for (int i = 0; i < 20; ++i) {
    publisher.post([i](Store& s) { s.put_instance(instance("web", "w" + std::to_string(i), "n", 1)); });
  }
  publisher.apply([](Store&) {});
  EXPECT_EQ(delivered.load() - before, 1);
  const SnapshotPtr now = publisher.current();
  EXPECT_EQ(now->registry_zone()->serial(), 101u);
  EXPECT_EQ(now->registry()->find_service("web")->instance_count, 20u);
  // A renewal that changes nothing publishes nothing.
  publisher.apply([](Store& s) { s.put_instance(instance("web", "w1", "n", 1)); });
  EXPECT_EQ(delivered.load() - before, 1);
  publisher.stop();
}

// A lease tick waits for the registry thread with apply; stopped first (as a test's fixture
// may stop it), the publisher must not leave that waiter hanging.
TEST(Publisher, ApplyAfterStopReturnsWithoutRunningTheChange) {
  Publisher publisher(settings(), {}, nullptr, nullptr);
  publisher.start();
  publisher.stop();
  bool ran = false;
  publisher.apply([&](Store&) { ran = true; });
  EXPECT_FALSE(ran);
}

TEST(Publisher, RejectedChangeThrowsToTheCallerAndKeepsData) {
  Publisher publisher(settings(), {}, nullptr, nullptr);
  publisher.start();
  publisher.apply([](Store& s) { s.put_instance(instance("web", "w1", "n", 1)); });
  EXPECT_THROW(publisher.apply([](Store& s) { s.put_instance(instance("web", "", "n", 1)); }),
               RegistryError);
  EXPECT_NE(publisher.current()->registry()->find_service("web"), nullptr);
  publisher.stop();
}

TEST(Publisher, ConflictingZonesAreRejectedOnReplace) {
  Publisher publisher(settings(), {testing::example_zone()}, nullptr, nullptr);
  publisher.start();
  EXPECT_THROW(publisher.replace_zones({testing::example_zone(), testing::example_zone()}),
               dns::zone::ZoneError);
  EXPECT_EQ(publisher.current()->zones().size(), 2u);
  publisher.replace_zones({});
  EXPECT_EQ(publisher.current()->zones().size(), 1u);
  publisher.stop();
}

TEST(Publisher, ApexFromAZoneFileGetsTheRegistrySerial) {
  dns::zone::ZoneBuilder b(testing::wire_name("svc.internal."));
  b.add(testing::wire_name("svc.internal."), 6, 60, testing::soa_rdata("svc.internal.", 1, 30));
  b.add(testing::wire_name("static.svc.internal."), 1, 60, testing::a_rdata(192, 0, 2, 7));
  Publisher publisher(settings(), {b.build()}, nullptr, nullptr);
  const auto snapshot = publisher.current();
  EXPECT_EQ(snapshot->zones().size(), 1u);
  EXPECT_EQ(snapshot->registry_zone()->serial(), 100u);
  EXPECT_NE(snapshot->registry_zone()->find(testing::wire_name("static.svc.internal.")), nullptr);
}

}  // namespace
}  // namespace signpost::registry
