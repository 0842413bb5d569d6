// The etcd client against a real etcd: reads and writes, guarded transactions, leases, dial
// failures and failover.
#include "registry/backend/etcd/etcd_client.hpp"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "tests/unit/registry/backend/etcd/etcd_server.hpp"

namespace signpost::registry::etcd {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class EtcdClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.start();
    client_ = std::make_unique<EtcdClient>(options({server_.endpoint()}));
  }

  static EtcdOptions options(std::vector<std::string> endpoints) {
    EtcdOptions options;
    options.endpoints = std::move(endpoints);
    options.dial_timeout = 300ms;
    options.request_timeout = 3s;
    return options;
  }

  static std::string dead_endpoint() {
    return "127.0.0.1:" + std::to_string(test::free_loopback_port());
  }

  test::EtcdServer server_;
  std::unique_ptr<EtcdClient> client_;
};

TEST_F(EtcdClientTest, PutsReadsPrefixesAndRemoves) {
  const std::int64_t first = client_->put("svc/web/1", "a");
  const std::int64_t second = client_->put("svc/web/2", "b");
  client_->put("svc/webber/1", "c");
  EXPECT_EQ(second, first + 1);

  const RangeResult one = client_->range("svc/web/1");
  ASSERT_EQ(one.kvs.size(), 1u);
  EXPECT_EQ(one.kvs[0].value, "a");
  EXPECT_EQ(one.kvs[0].mod_revision, first);
  EXPECT_EQ(one.kvs[0].version, 1);
  EXPECT_GE(one.revision, second);

  const RangeResult web = client_->get_prefix("svc/web/");
  ASSERT_EQ(web.kvs.size(), 2u);
  EXPECT_EQ(web.kvs[0].key, "svc/web/1");
  EXPECT_EQ(web.kvs[1].key, "svc/web/2");

  EXPECT_EQ(client_->remove("svc/web/1"), 1);
  EXPECT_EQ(client_->remove("svc/web/1"), 0);
  EXPECT_TRUE(client_->range("svc/web/1").kvs.empty());
  EXPECT_EQ(client_->remove_prefix("svc/web"), 2);
  EXPECT_TRUE(client_->get_prefix("svc/").kvs.empty());
}

TEST(EtcdClientValuesTest, PrefixRangeEndFollowsEtcdsConvention) {
  EXPECT_EQ(prefix_range_end("a/"), "a0");
  EXPECT_EQ(prefix_range_end(std::string("a\xff", 2)), "b");
  EXPECT_EQ(prefix_range_end(""), std::string(1, '\0'));
}

TEST(EtcdClientValuesTest, ErrorNamesTheEndpointAndTheReason) {
  const EtcdError error(EtcdErrc::deadline_exceeded, "10.0.0.1:2379", "no answer");
  EXPECT_STREQ(error.what(), "etcd 10.0.0.1:2379: deadline exceeded: no answer");
  EXPECT_EQ(error.endpoint(), "10.0.0.1:2379");
  EXPECT_THROW(EtcdClient(EtcdOptions{}), EtcdError);
}

TEST_F(EtcdClientTest, CompareAndPutWritesOnlyOverTheExpectedRevision) {
  EXPECT_TRUE(client_->compare_and_put("lock", 0, "mine"));
  EXPECT_FALSE(client_->compare_and_put("lock", 0, "theirs"));  // exists now
  const std::int64_t revision = client_->range("lock").kvs.at(0).mod_revision;
  EXPECT_TRUE(client_->compare_and_put("lock", revision, "mine again"));
  EXPECT_FALSE(client_->compare_and_put("lock", revision, "stale"));
  EXPECT_EQ(client_->range("lock").kvs.at(0).value, "mine again");
}

TEST_F(EtcdClientTest, TxnRunsTheBranchItsComparesChoose) {
  client_->put("config", "v1");
  Compare by_value;
  by_value.key = "config";
  by_value.target = Compare::Target::value;
  by_value.value = "v2";
  const TxnResult failed = client_->txn({by_value}, {TxnOp::put("config", "v3")},
                                        {TxnOp::range("config"), TxnOp::put("seen", "yes")});
  EXPECT_FALSE(failed.succeeded);
  ASSERT_EQ(failed.ranges.size(), 1u);
  ASSERT_EQ(failed.ranges[0].size(), 1u);
  EXPECT_EQ(failed.ranges[0][0].value, "v1");
  EXPECT_EQ(client_->range("seen").kvs.size(), 1u);

  Compare by_version;
  by_version.key = "config";
  by_version.target = Compare::Target::version;
  by_version.number = 1;
  const TxnResult succeeded =
      client_->txn({by_version}, {TxnOp::put("config", "v2"), TxnOp::remove("seen")});
  EXPECT_TRUE(succeeded.succeeded);
  EXPECT_EQ(client_->range("config").kvs.at(0).value, "v2");
  EXPECT_TRUE(client_->range("seen").kvs.empty());
}

TEST_F(EtcdClientTest, KeyGoesWhenItsLeaseExpires) {
  const Lease lease = client_->grant_lease(1);
  EXPECT_GT(lease.id, 0);
  client_->put("instance/1", "up", lease.id);
  EXPECT_EQ(client_->range("instance/1").kvs.at(0).lease, lease.id);
  const auto give_up = Clock::now() + 6s;
  while (!client_->range("instance/1").kvs.empty() && Clock::now() < give_up) {
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(client_->range("instance/1").kvs.empty());
  EXPECT_EQ(client_->lease_time_to_live(lease.id), -1);
  try {
    client_->keep_alive(lease.id);
    FAIL() << "renewed an expired lease";
  } catch (const EtcdError& error) {
    EXPECT_EQ(error.code(), EtcdErrc::not_found) << error.what();
  }
}

TEST_F(EtcdClientTest, KeepAliveKeepsTheKeyAndRevokeRemovesIt) {
  const Lease lease = client_->grant_lease(1);
  client_->put("instance/2", "up", lease.id);
  const auto until = Clock::now() + 2500ms;
  while (Clock::now() < until) {
    EXPECT_GE(client_->keep_alive(lease.id), 1);
    std::this_thread::sleep_for(250ms);
  }
  EXPECT_EQ(client_->range("instance/2").kvs.size(), 1u);
  EXPECT_GE(client_->lease_time_to_live(lease.id), 0);
  client_->revoke_lease(lease.id);
  EXPECT_TRUE(client_->range("instance/2").kvs.empty());
  try {
    client_->revoke_lease(lease.id);
    FAIL() << "revoked a lease twice";
  } catch (const EtcdError& error) {
    EXPECT_EQ(error.code(), EtcdErrc::not_found) << error.what();
  }
}

TEST_F(EtcdClientTest, RangePagesReadOnePrefixAtOneRevision) {
  for (int i = 0; i < 10; ++i) client_->put("page/" + std::to_string(i), std::to_string(i));
  const RangeResult first = client_->range_page("page/", prefix_range_end("page/"), 4, 0);
  ASSERT_EQ(first.kvs.size(), 4u);
  EXPECT_TRUE(first.more);
  client_->put("page/9", "changed after the first page");
  const RangeResult rest = client_->range_page(first.kvs.back().key + '\0',
                                               prefix_range_end("page/"), 0, first.revision);
  ASSERT_EQ(rest.kvs.size(), 6u);
  EXPECT_FALSE(rest.more);
  EXPECT_EQ(rest.kvs.front().key, "page/4");
  EXPECT_EQ(rest.kvs.back().value, "9");  // as of the first page's revision
  EXPECT_GT(rest.revision, first.revision);  // the header says the store's revision now
}

TEST_F(EtcdClientTest, KeepAliveStreamRenewsManyLeasesAndNamesUnknownOnes) {
  std::mutex mutex;
  std::map<std::int64_t, std::int64_t> answers;  // lease -> last TTL
  auto stream = client_->open_keep_alive([&](std::int64_t lease, std::int64_t ttl) {
    std::lock_guard lock(mutex);
    answers[lease] = ttl;
  });
  std::vector<std::int64_t> leases;
  for (int i = 0; i < 3; ++i) {
    leases.push_back(client_->grant_lease(1).id);
    client_->put("kept/" + std::to_string(i), "up", leases.back());
  }
  const Lease revoked = client_->grant_lease(5);
  client_->revoke_lease(revoked.id);
  const auto until = Clock::now() + 2500ms;
  while (Clock::now() < until) {
    ASSERT_TRUE(stream->send(leases));
    std::this_thread::sleep_for(250ms);
  }
  const std::vector<std::int64_t> unknown{revoked.id};
  ASSERT_TRUE(stream->send(unknown));
  // Wait for etcd's answer about the revoked lease rather than for a fixed time.
  for (const auto give_up = Clock::now() + 5s; Clock::now() < give_up;) {
    {
      std::lock_guard lock(mutex);
      if (answers.contains(revoked.id)) break;
    }
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(client_->get_prefix("kept/").kvs.size(), 3u);
  {
    std::lock_guard lock(mutex);
    for (const std::int64_t lease : leases) EXPECT_GE(answers[lease], 1);
    ASSERT_TRUE(answers.contains(revoked.id));
    EXPECT_LE(answers[revoked.id], 0);
  }
  server_.kill();
  EXPECT_TRUE([&] {
    for (const auto give_up = Clock::now() + 5s; Clock::now() < give_up;) {
      if (stream->broken()) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }());
  EXPECT_FALSE(stream->send(leases));
  stream->close();
  EXPECT_NE(stream->error().find("etcd " + server_.endpoint()), std::string::npos) << stream->error();
}

TEST_F(EtcdClientTest, DeadEndpointFailsWithinTheDialTimeoutNamingIt) {
  const std::string dead = dead_endpoint();
  EtcdClient client(options({dead}));
  const auto started = Clock::now();
  try {
    client.range("anything");
    FAIL() << "read from a dead endpoint";
  } catch (const EtcdError& error) {
    EXPECT_EQ(error.code(), EtcdErrc::unavailable);
    EXPECT_EQ(error.endpoint(), dead);
    EXPECT_NE(std::string(error.what()).find("etcd " + dead + ": unavailable: "), std::string::npos)
        << error.what();
  }
  EXPECT_LT(Clock::now() - started, 300ms + 500ms);
}

TEST_F(EtcdClientTest, SilentEndpointFailsAtTheDialTimeout) {
  // Listens but never accepts: TCP connects and HTTP/2 never starts, as with a hung member.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(fd, 16), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const std::string silent = "127.0.0.1:" + std::to_string(ntohs(address.sin_port));
  EtcdClient client(options({silent}));
  const auto started = Clock::now();
  try {
    client.put("k", "v");
    FAIL() << "wrote to a silent endpoint";
  } catch (const EtcdError& error) {
    EXPECT_EQ(error.code(), EtcdErrc::unavailable);
    EXPECT_NE(std::string(error.what()).find("etcd " + silent + ": unavailable: no connection within"),
              std::string::npos)
        << error.what();
  }
  const auto elapsed = Clock::now() - started;
  EXPECT_GE(elapsed, 250ms);
  EXPECT_LT(elapsed, 300ms + 500ms);
  ::close(fd);
}

TEST_F(EtcdClientTest, RequestDeadlineBoundsTheFailoverRound) {
  EtcdClient client(options({dead_endpoint(), dead_endpoint(), dead_endpoint()}));
  const auto started = Clock::now();
  EXPECT_THROW(client.range("k", {}, 200ms), EtcdError);
  EXPECT_LT(Clock::now() - started, 200ms + 500ms);
}

TEST_F(EtcdClientTest, FailsOverToTheNextEndpoint) {
  EtcdClient client(options({dead_endpoint(), server_.endpoint()}));
  client.put("failover", "ok");
  EXPECT_EQ(client.preferred_endpoint(), server_.endpoint());
  EXPECT_EQ(client.range("failover").kvs.at(0).value, "ok");
}

TEST_F(EtcdClientTest, AllEndpointsDeadNamesEachOne) {
  const std::string first = dead_endpoint();
  const std::string second = dead_endpoint();
  EtcdClient client(options({first, second}));
  try {
    client.range("k");
    FAIL() << "read with every endpoint dead";
  } catch (const EtcdError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("etcd " + first + ": unavailable"), std::string::npos) << message;
    EXPECT_NE(message.find("; etcd " + second + ": unavailable"), std::string::npos) << message;
  }
}

TEST_F(EtcdClientTest, AuthenticatesWithUserAndPassword) {
  ASSERT_EQ(server_.etcdctl("user add root --new-user-password=secret"), 0);
  ASSERT_EQ(server_.etcdctl("auth enable"), 0);
  EtcdOptions with_user = options({server_.endpoint()});
  with_user.user = "root";
  with_user.password = "secret";
  EtcdClient client(with_user);
  client.put("guarded", "yes");
  EXPECT_EQ(client.range("guarded").kvs.at(0).value, "yes");

  with_user.password = "wrong";
  EtcdClient refused(with_user);
  try {
    refused.range("guarded");
    FAIL() << "read with a wrong password";
  } catch (const EtcdError& error) {
    EXPECT_NE(std::string(error.what()).find("authenticating as root"), std::string::npos)
        << error.what();
  }
  // Without a token etcd refuses (once auth is on, an anonymous user has no permission).
  EXPECT_THROW(client_->range("guarded"), EtcdError);
}

}  // namespace
}  // namespace signpost::registry::etcd
