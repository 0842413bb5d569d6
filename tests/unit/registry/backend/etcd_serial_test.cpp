// The registry zone's serial kept in etcd, against a real etcd: written only upward (RFC 1982),
// by racing servers too, at most every 100 ms from the etcd registry's worker, read at start,
// and kept through an etcd outage.
#include "registry/backend/etcd_serial.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "registry/backend/etcd_registry.hpp"
#include "tests/unit/registry/backend/etcd/etcd_server.hpp"
#include "tests/unit/support/eventually.hpp"
#include "tests/unit/support/log_capture.hpp"

namespace signpost::registry::backend {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using signpost::testing::eventually;

constexpr char kKey[] = "/signpost/serial";

using signpost::testing::LogCapture;

class EtcdSerialTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.start();
    client_ = std::make_unique<etcd::EtcdClient>(options());
  }

  etcd::EtcdOptions options() const { return server_.client_options(); }

  // The key as etcd holds it: its value ("" when absent) and how often it was written.
  struct Stored {
    std::string value;
    std::int64_t version = 0;
  };
  Stored stored() {
    const etcd::RangeResult read = client_->range(kKey);
    if (read.kvs.empty()) return {};
    return {read.kvs[0].value, read.kvs[0].version};
  }

  std::unique_ptr<EtcdRegistry> registry(Log log = [](LogLevel, const std::string&) {}) {
    EtcdRegistrySettings settings;
    settings.etcd = options();
    settings.prefix = "/signpost/";
    return std::make_unique<EtcdRegistry>(settings, std::move(log));
  }

  test::EtcdServer server_;
  std::unique_ptr<etcd::EtcdClient> client_;
  LogCapture lines_;
};

TEST(EtcdSerialText, ParsesOnlyADecimalSerial) {
  EXPECT_EQ(EtcdSerial::parse("0"), 0u);
  EXPECT_EQ(EtcdSerial::parse("1765000000"), 1765000000u);
  EXPECT_EQ(EtcdSerial::parse("4294967295"), 4294967295u);
  EXPECT_EQ(EtcdSerial::parse(EtcdSerial::encode(123456789)), 123456789u);
  for (const char* bad : {"", "4294967296", "99999999999", "-1", "+1", " 1", "1 ", "12a", "0x10",
                          "00000000001"}) {
    EXPECT_FALSE(EtcdSerial::parse(bad)) << '"' << bad << '"';
  }
}

TEST_F(EtcdSerialTest, AnAbsentKeyReadsAsNoneAndTheFirstRaiseCreatesIt) {
  EtcdSerial serial(*client_, kKey, lines_.log());
  EXPECT_EQ(serial.read(), 0u);
  ASSERT_TRUE(serial.raise(1765000000));
  EXPECT_EQ(stored().value, "1765000000");
  EXPECT_EQ(serial.read(), 1765000000u);
}

TEST_F(EtcdSerialTest, ALowerOrEqualSerialIsNeverWritten) {
  EtcdSerial first(*client_, kKey, lines_.log());
  ASSERT_TRUE(first.raise(5000));
  // A second server, started later with a lower serial, knows nothing of the key yet.
  EtcdSerial second(*client_, kKey, lines_.log());
  EXPECT_TRUE(second.raise(4000));
  EXPECT_TRUE(second.raise(5000));
  EXPECT_TRUE(first.raise(4999));
  EXPECT_EQ(stored().value, "5000");
  EXPECT_EQ(stored().version, 1);  // written once
  ASSERT_TRUE(second.raise(5001));
  EXPECT_EQ(stored().value, "5001");
  EXPECT_TRUE(first.raise(5001));
  EXPECT_TRUE(first.raise(5000));
  EXPECT_EQ(stored().value, "5001");
  EXPECT_EQ(stored().version, 2);
}

TEST_F(EtcdSerialTest, SerialArithmeticCarriesTheKeyAcrossTheWrap) {
  EtcdSerial serial(*client_, kKey, lines_.log());
  ASSERT_TRUE(serial.raise(4294967000u));
  ASSERT_TRUE(serial.raise(500));  // 796 later in RFC 1982 arithmetic, though smaller
  EXPECT_EQ(stored().value, "500");
  EtcdSerial other(*client_, kKey, lines_.log());
  EXPECT_TRUE(other.raise(4294967200u));  // before 500 across the wrap: not written
  EXPECT_EQ(stored().value, "500");
}

TEST_F(EtcdSerialTest, ServersRacingLeaveTheHighestSerial) {
  constexpr int kServers = 4;
  constexpr std::uint32_t kEach = 40;
  std::vector<std::unique_ptr<EtcdSerial>> serials;
  for (int i = 0; i < kServers; ++i) {
    serials.push_back(std::make_unique<EtcdSerial>(*client_, kKey, lines_.log()));
  }
  std::vector<std::thread> threads;
  std::vector<int> lost(kServers, 0);
  for (int i = 0; i < kServers; ++i) {
    threads.emplace_back([&, i] {
      // Interleaved serials, so each server's next one is often below another's last.
      for (std::uint32_t n = 0; n < kEach; ++n) {
        if (!serials[i]->raise(10000 + n * kServers + static_cast<std::uint32_t>(i))) ++lost[i];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  const std::uint32_t highest = 10000 + (kEach - 1) * kServers + (kServers - 1);
  // A raise that kept losing may leave a lower serial than its own; the last server's last
  // raise is the highest of all, and only a greater one could have beaten it.
  EXPECT_EQ(stored().value, std::to_string(highest)) << "gave up: " << lost[kServers - 1];
  // Each write raised the key: no more writes than serials, whatever the interleaving.
  EXPECT_LE(stored().version, static_cast<std::int64_t>(kServers * kEach));
}

TEST_F(EtcdSerialTest, AValueNotWrittenByAServerIsLoggedAndWrittenOver) {
  client_->put(kKey, "not a serial");
  EtcdSerial serial(*client_, kKey, lines_.log());
  EXPECT_EQ(serial.read(), 0u);
  EXPECT_EQ(lines_.count("holds no serial"), 1u);
  ASSERT_TRUE(serial.raise(42));
  EXPECT_EQ(stored().value, "42");
}

TEST_F(EtcdSerialTest, TheRegistryWritesTheLatestNotedSerialAtMostEveryHundredMilliseconds) {
  auto writer = registry();
  EXPECT_EQ(writer->load().serial, 0u);
  // A burst of publishes, one every 2 ms (the batch delay) for 600 ms.
  const Clock::time_point start = Clock::now();
  std::uint32_t serial = 1765000000;
  for (; Clock::now() - start < 600ms; ++serial) {
    writer->note_serial(serial);
    std::this_thread::sleep_for(2ms);
  }
  const std::uint32_t last = serial - 1;
  const double elapsed_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  ASSERT_TRUE(eventually([&] { return stored().value == std::to_string(last); }));
  // 600 ms at one write per 100 ms: 7 writes, and one more for the serial noted last.
  const std::int64_t writes = stored().version;
  std::printf("%u serials noted in %.0f ms: %lld writes of %s\n", last - 1765000000 + 1, elapsed_ms,
              static_cast<long long>(writes), kKey);
  EXPECT_LE(writes, static_cast<std::int64_t>(elapsed_ms / 100) + 2);
  EXPECT_GE(writes, 2);
  // Nothing changed, nothing written.
  std::this_thread::sleep_for(300ms);  // three intervals in which a write would show
  EXPECT_EQ(stored().version, writes);
  // The next server starts from it.
  EXPECT_EQ(registry()->load().serial, last);
}

TEST_F(EtcdSerialTest, ASerialNotedWhileEtcdIsDownIsWrittenWhenItIsBack) {
  auto writer = registry();
  writer->load();
  writer->note_serial(1000);
  ASSERT_TRUE(eventually([&] { return stored().value == "1000"; }));
  server_.kill();
  writer->note_serial(2000);
  ASSERT_TRUE(eventually([&] { return !writer->status().connected; }));
  server_.start();
  EXPECT_TRUE(eventually([&] { return stored().value == "2000"; }, 10s));
}

TEST_F(EtcdSerialTest, ARegistryNeverLowersTheClustersSerial) {
  auto ahead = registry();
  ahead->note_serial(9000);
  ASSERT_TRUE(eventually([&] { return stored().value == "9000"; }));
  auto behind = registry();
  behind->note_serial(8000);
  behind->note_serial(8001);
  // Give the second server's worker the time to have written, had it written.
  ASSERT_TRUE(eventually([&] { return behind->status().connected; }));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(stored().value, "9000");
  EXPECT_EQ(stored().version, 1);
}

}  // namespace
}  // namespace signpost::registry::backend
