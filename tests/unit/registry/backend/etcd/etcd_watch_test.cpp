// The etcd watch against a real etcd: events in order from a start revision, resumption
// after etcd is killed and restarted, compaction, and a prompt stop.
#include "registry/backend/etcd/etcd_watch.hpp"

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "registry/backend/etcd/etcd_client.hpp"
#include "tests/unit/registry/backend/etcd/etcd_server.hpp"

namespace signpost::registry::etcd {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Kind = WatchNotice::Kind;

// Keeps every notice a watch hands over, and lets the test thread wait for one.
class Recorder {
 public:
  EtcdWatch::Callback callback() {
    return [this](const WatchNotice& notice) {
      std::lock_guard lock(mutex_);
      notices_.push_back(notice);
      changed_.notify_all();
    };
  }

  // Waits (at most `timeout`) until `done` holds over the notices so far.
  bool wait(const std::function<bool(const std::vector<WatchNotice>&)>& done,
            std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return done(notices_); });
  }

  bool wait_for_events(std::size_t count) {
    return wait([count](const std::vector<WatchNotice>& notices) {
      return events_of(notices).size() >= count;
    });
  }

  bool wait_for_kind(Kind kind, std::size_t count = 1) {
    return wait([kind, count](const std::vector<WatchNotice>& notices) {
      std::size_t seen = 0;
      for (const WatchNotice& notice : notices) seen += notice.kind == kind ? 1 : 0;
      return seen >= count;
    });
  }

  std::vector<WatchNotice> notices() {
    std::lock_guard lock(mutex_);
    return notices_;
  }

  std::vector<WatchEvent> events() {
    std::lock_guard lock(mutex_);
    return events_of(notices_);
  }

 private:
  static std::vector<WatchEvent> events_of(const std::vector<WatchNotice>& notices) {
    std::vector<WatchEvent> events;
    for (const WatchNotice& notice : notices) {
      events.insert(events.end(), notice.events.begin(), notice.events.end());
    }
    return events;
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<WatchNotice> notices_;
};

class EtcdWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.start();
    client_ = std::make_unique<EtcdClient>(server_.client_options(5s));
  }

  test::EtcdServer server_;
  std::unique_ptr<EtcdClient> client_;
  Recorder recorder_;
};

TEST_F(EtcdWatchTest, SeesPutsAndDeletesInOrderFromTheStartRevision) {
  const std::int64_t start = client_->put("svc/a", "1");
  client_->put("svc/b", "2");
  client_->put("other/x", "not watched");
  client_->remove("svc/a");
  auto watch = client_->watch("svc/", start, recorder_.callback(), true);
  ASSERT_TRUE(recorder_.wait_for_events(3));
  client_->put("svc/c", "3");
  ASSERT_TRUE(recorder_.wait_for_events(4));

  const std::vector<WatchEvent> events = recorder_.events();
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].type, WatchEvent::Type::put);
  EXPECT_EQ(events[0].kv.key, "svc/a");
  EXPECT_EQ(events[0].kv.mod_revision, start);
  EXPECT_EQ(events[1].kv.key, "svc/b");
  EXPECT_EQ(events[1].kv.mod_revision, start + 1);
  EXPECT_EQ(events[2].type, WatchEvent::Type::remove);
  EXPECT_EQ(events[2].kv.key, "svc/a");
  EXPECT_EQ(events[2].kv.mod_revision, start + 3);
  ASSERT_TRUE(events[2].has_prev_kv);
  EXPECT_EQ(events[2].prev_kv.value, "1");
  EXPECT_EQ(events[3].kv.key, "svc/c");
  EXPECT_EQ(events[3].kv.value, "3");
  EXPECT_EQ(watch->next_revision(), events[3].kv.mod_revision + 1);
  const std::vector<WatchNotice> notices = recorder_.notices();
  ASSERT_FALSE(notices.empty());
  EXPECT_EQ(notices.front().kind, Kind::created);
  EXPECT_EQ(notices.front().revision, start - 1);
}

TEST_F(EtcdWatchTest, FromNowStartsAfterTheCurrentRevision) {
  const std::int64_t before = client_->put("svc/old", "x");
  auto watch = client_->watch("svc/", 0, recorder_.callback());
  ASSERT_TRUE(recorder_.wait_for_kind(Kind::created));
  EXPECT_EQ(recorder_.notices().front().revision, before);
  client_->put("svc/new", "y");
  ASSERT_TRUE(recorder_.wait_for_events(1));
  EXPECT_EQ(recorder_.events().at(0).kv.key, "svc/new");
}

TEST_F(EtcdWatchTest, ResumesAfterEtcdIsKilledWithoutLosingAnEvent) {
  const std::int64_t start = client_->put("svc/1", "before");
  auto watch = client_->watch("svc/", start, recorder_.callback());
  ASSERT_TRUE(recorder_.wait_for_events(1));

  server_.kill();
  ASSERT_TRUE(recorder_.wait_for_kind(Kind::broken));
  const WatchNotice broken = recorder_.notices().back();
  EXPECT_NE(broken.message.find("etcd " + server_.endpoint()), std::string::npos) << broken.message;
  EXPECT_EQ(broken.revision, start + 1);

  server_.start();
  // Written as soon as etcd is back, very likely before the watch is re-created: it must
  // still arrive, from the revision the watch resumes at.
  client_->put("svc/2", "after");
  client_->put("svc/3", "after");
  ASSERT_TRUE(recorder_.wait_for_events(3));
  ASSERT_TRUE(recorder_.wait_for_kind(Kind::created, 2));

  const std::vector<WatchEvent> events = recorder_.events();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].kv.key, "svc/1");
  EXPECT_EQ(events[1].kv.key, "svc/2");
  EXPECT_EQ(events[2].kv.key, "svc/3");
  EXPECT_EQ(events[1].kv.mod_revision, start + 1);
  EXPECT_EQ(events[2].kv.mod_revision, start + 2);
}

TEST_F(EtcdWatchTest, ReportsACompactedStartRevisionAndEnds) {
  const std::int64_t start = client_->put("svc/k", "1");
  client_->put("svc/k", "2");
  const std::int64_t last = client_->put("svc/k", "3");
  ASSERT_EQ(server_.etcdctl("compact " + std::to_string(last)), 0);
  auto watch = client_->watch("svc/", start, recorder_.callback());
  ASSERT_TRUE(recorder_.wait_for_kind(Kind::compacted));
  const WatchNotice compacted = recorder_.notices().back();
  EXPECT_EQ(compacted.kind, Kind::compacted);
  EXPECT_EQ(compacted.revision, last);
  EXPECT_TRUE(recorder_.events().empty());
  const auto give_up = Clock::now() + 2s;
  while (!watch->ended() && Clock::now() < give_up) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(watch->ended());
}

TEST_F(EtcdWatchTest, StopsPromptlyWhileStreamingAndWhileEtcdIsDown) {
  auto streaming = client_->watch("svc/", 0, recorder_.callback());
  ASSERT_TRUE(recorder_.wait_for_kind(Kind::created));
  auto started = Clock::now();
  streaming->stop();
  EXPECT_LT(Clock::now() - started, 500ms);

  server_.kill();
  Recorder down;
  auto retrying = client_->watch("svc/", 0, down.callback());
  ASSERT_TRUE(down.wait_for_kind(Kind::broken, 2));
  started = Clock::now();
  retrying->stop();
  EXPECT_LT(Clock::now() - started, 500ms);
  const std::size_t seen = down.notices().size();
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(down.notices().size(), seen);
}

TEST_F(EtcdWatchTest, FailsOverToTheNextEndpoint) {
  EtcdOptions options;
  options.endpoints = {"127.0.0.1:" + std::to_string(test::free_loopback_port()),
                       server_.endpoint()};
  options.dial_timeout = 300ms;
  EtcdClient client(options);
  auto watch = client.watch("svc/", 0, recorder_.callback());
  ASSERT_TRUE(recorder_.wait_for_kind(Kind::created));
  client.put("svc/x", "1");
  ASSERT_TRUE(recorder_.wait_for_events(1));
  EXPECT_EQ(recorder_.events().at(0).kv.key, "svc/x");
}

TEST_F(EtcdWatchTest, ReportsAWatchEtcdCancelsAsABreakAndStillStops) {
  // A user who may read only other/: etcd accepts the stream but cancels the watch of svc/.
  for (const char* command :
       {"user add root --new-user-password=secret", "user add reader --new-user-password=pw",
        "role add readers", "role grant-permission readers read other/ --prefix=true",
        "user grant-role reader readers", "auth enable"}) {
    ASSERT_EQ(server_.etcdctl(command), 0) << command;
  }
  EtcdOptions options;
  options.endpoints = {server_.endpoint()};
  options.user = "reader";
  options.password = "pw";
  EtcdClient reader(options);
  auto watch = reader.watch("svc/", 0, recorder_.callback());
  ASSERT_TRUE(recorder_.wait_for_kind(Kind::broken));
  const WatchNotice broken = recorder_.notices().back();
  EXPECT_NE(broken.message.find("watch canceled"), std::string::npos) << broken.message;
  EXPECT_NE(broken.message.find("permission denied"), std::string::npos) << broken.message;
  const auto started = Clock::now();
  watch->stop();
  EXPECT_LT(Clock::now() - started, 500ms);
}

}  // namespace
}  // namespace signpost::registry::etcd
