// /metrics over real components: a worker answering real queries on loopback, a publisher,
// a heartbeat receiver; the values counted, and promtool's check of the whole text.
#include "dns/daemon/server_metrics.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "dns/wire/types.hpp"
#include "dns/xfr/transfer_policy.hpp"
#include "dns/xfr/transfer_server.hpp"
#include "tests/unit/support/test_receiver.hpp"
#include "tests/unit/support/test_registry.hpp"
#include "tests/unit/support/test_zone.hpp"

namespace signpost::dns::daemon {
namespace {

using Bytes = std::vector<std::uint8_t>;
namespace rrtype = wire::rrtype;

constexpr int kWaitMs = 5000;

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, kWaitMs) == 1;
}

// Sends `query` over UDP and returns the response's rcode, or -1 when none came.
int udp_rcode(std::uint16_t port, const Bytes& query) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  const sockaddr_in to = loopback(port);
  ::sendto(fd, query.data(), query.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to);
  std::uint8_t answer[4096];
  const ssize_t n = readable(fd) ? ::recv(fd, answer, sizeof answer, 0) : -1;
  ::close(fd);
  return n >= 12 ? (answer[3] & 0x0f) : -1;
}

// Opens a TCP connection, sends `query` framed and reads the response; returns the open
// socket (the caller closes it) and sets `rcode`, -1 when no response came.
int tcp_query(std::uint16_t port, const Bytes& query, int& rcode) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  const sockaddr_in to = loopback(port);
  rcode = -1;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) return fd;
  Bytes framed{static_cast<std::uint8_t>(query.size() >> 8), static_cast<std::uint8_t>(query.size())};
  framed.insert(framed.end(), query.begin(), query.end());
  ::send(fd, framed.data(), framed.size(), 0);
  std::uint8_t answer[8192];
  std::size_t got = 0;
  while (got < 14 && readable(fd)) {
    const ssize_t n = ::recv(fd, answer + got, sizeof answer - got, 0);
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  if (got >= 14) rcode = answer[5] & 0x0f;
  return fd;
}

// An UPDATE for svc.internal. without TSIG: the receiver refuses it for its signature.
Bytes unsigned_update() {
  Bytes message{0x12, 0x34, 0x28, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};  // opcode UPDATE, ZOCOUNT 1
  const std::string zone = testing::wire_name("svc.internal.");
  message.insert(message.end(), zone.begin(), zone.end());
  message.insert(message.end(), {0, 6, 0, 1});  // SOA IN
  return message;
}

// The value of the sample written exactly as `series` (name and labels), or nullopt.
std::optional<double> sample_value(const std::string& text, const std::string& series) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return std::nullopt;
}

class ServerMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rig_.publisher.apply([](registry::Store& store) {
      store.put_instance(testing::instance("web", "w1", "n1", 1));
      store.put_instance(testing::instance("web", "w2", "n2", 2));
      store.put_instance(testing::instance("db", "d1", "n3", 3));
      store.set_health("web", "w2", registry::Health::critical);
    });
    net::WorkerSettings settings;
    settings.seed = 7;
    workers_.push_back(std::make_unique<net::Worker>(
        settings, rig_.publisher.current(), limit_, [](registry::SnapshotPtr) {},
        [](const std::string&) {}));
    net::ListenEndpoint endpoint{"127.0.0.1", 0};
    port_ = net::reserve_port(endpoint);
    endpoint.port = port_;
    workers_[0]->listen(endpoint);
    workers_[0]->start();
  }
  void TearDown() override {
    for (auto& worker : workers_) worker->stop();
  }

  // render_metrics on the registry thread, as the server calls it.
  std::string render(const xfr::TransferCounters* transfers = nullptr) {
    std::string text;
    rig_.publisher.apply([&](registry::Store& store) {
      MetricsSources sources;
      sources.workers = &workers_;
      sources.tcp_limit = &limit_;
      sources.receiver = &rig_.receiver;
      sources.publisher = &rig_.publisher;
      sources.store = &store;
      sources.transfers = transfers;
      sources.uptime_seconds = 12.5;
      text = render_metrics(sources);
    });
    return text;
  }

  testing::ReceiverRig rig_{std::vector<health::TsigKey>{}};
  net::ConnectionLimit limit_{100, 100};
  std::vector<std::unique_ptr<net::Worker>> workers_;
  std::uint16_t port_ = 0;
};

TEST_F(ServerMetricsTest, CountsAnswersByQtypeRcodeAndTransport) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(udp_rcode(port_, testing::make_query("web.svc.internal.", rrtype::kA)), 0);
  }
  ASSERT_EQ(udp_rcode(port_, testing::make_query("nope.svc.internal.", rrtype::kA)), 3);
  ASSERT_EQ(udp_rcode(port_, testing::make_query("web.svc.internal.", rrtype::kMx)), 0);
  ASSERT_EQ(udp_rcode(port_, testing::make_query("elsewhere.test.", rrtype::kAaaa)), 5);
  int rcode = -1;
  const int open = tcp_query(port_, testing::make_query("_web._tcp.svc.internal.", rrtype::kSrv), rcode);
  ASSERT_EQ(rcode, 0);

  const std::string text = render();
  ::close(open);
  const auto queries = [&](const char* qtype, const char* code, const char* transport) {
    return sample_value(text, std::string("signpost_dns_queries_total{qtype=\"") + qtype +
                                  "\",rcode=\"" + code + "\",transport=\"" + transport + "\"}");
  };
  EXPECT_EQ(queries("A", "NOERROR", "udp"), 3);
  EXPECT_EQ(queries("A", "NXDOMAIN", "udp"), 1);
  EXPECT_EQ(queries("other", "NOERROR", "udp"), 1);  // MX
  EXPECT_EQ(queries("AAAA", "REFUSED", "udp"), 1);
  EXPECT_EQ(queries("SRV", "NOERROR", "tcp"), 1);
  EXPECT_EQ(queries("A", "NOERROR", "tcp"), 0);  // every combination is written, zeros too
  EXPECT_EQ(sample_value(text, "signpost_dns_dropped_total"), 0);
  EXPECT_EQ(sample_value(text, "signpost_dns_udp_received_total"), 6);
  EXPECT_EQ(sample_value(text, "signpost_tcp_connections_total"), 1);
  EXPECT_EQ(sample_value(text, "signpost_tcp_connections"), 1);  // still open while rendered
}

TEST_F(ServerMetricsTest, CountsRegistryPublishesAndUpdates) {
  ASSERT_FALSE(rig_.receiver.process(unsigned_update()).empty());
  const std::string text = render();
  EXPECT_EQ(sample_value(text, "signpost_instances{service=\"web\",health=\"passing\"}"), 1);
  EXPECT_EQ(sample_value(text, "signpost_instances{service=\"web\",health=\"critical\"}"), 1);
  // A service's passing series is always there; warning and critical while some instance is.
  EXPECT_EQ(sample_value(text, "signpost_instances{service=\"db\",health=\"passing\"}"), 1);
  EXPECT_EQ(sample_value(text, "signpost_instances{service=\"db\",health=\"warning\"}"),
            std::nullopt);
  EXPECT_EQ(sample_value(text, "signpost_services"), 2);
  const registry::Publisher::PublishStats stats = rig_.publisher.publish_stats();
  ASSERT_GE(stats.publishes, 2u);  // the first snapshot and the test's instances
  EXPECT_EQ(sample_value(text, "signpost_snapshot_publishes_total"), stats.publishes);
  EXPECT_EQ(sample_value(text, "signpost_snapshot_publish_duration_seconds_count"),
            stats.publishes);
  EXPECT_EQ(sample_value(text, "signpost_snapshot_publish_duration_seconds_bucket{le=\"+Inf\"}"),
            stats.publishes);
  EXPECT_GT(*sample_value(text, "signpost_snapshot_publish_duration_seconds_sum"), 0);
  EXPECT_EQ(sample_value(text, "signpost_registry_serial"),
            rig_.publisher.current()->registry_zone()->serial());
  EXPECT_EQ(sample_value(text, "signpost_updates_total{result=\"rejected\"}"), 1);
  EXPECT_EQ(sample_value(text, "signpost_updates_total{result=\"accepted\"}"), 0);
  EXPECT_EQ(sample_value(text, "signpost_update_rejections_total{reason=\"bad_signature\"}"), 1);
  EXPECT_EQ(sample_value(text, "signpost_self_preservation_active"), 0);
  EXPECT_EQ(sample_value(text, "signpost_backend_info{kind=\"memory\"}"), 1);
  EXPECT_EQ(sample_value(text, "signpost_uptime_seconds"), 12.5);
  EXPECT_EQ(sample_value(text, "signpost_build_info{version=\"" SIGNPOST_VERSION "\"}"), 1);
}

// A real transfer service answers an allowed AXFR, one from another address and an IXFR
// without its SOA; each lands in its type and result. Without [[transfer]] the families
// are there, at 0.
TEST_F(ServerMetricsTest, CountsTransfersByTypeAndResult) {
  const std::string none = render();
  EXPECT_EQ(sample_value(none, "signpost_transfers_total{type=\"axfr\",result=\"ok\"}"), 0);
  EXPECT_EQ(sample_value(none, "signpost_notify_sent_total"), 0);
  EXPECT_EQ(sample_value(none, "signpost_notify_failed_total"), 0);
  xfr::TransferPolicy policy;
  policy.zone = testing::wire_name("svc.internal.");
  policy.zone_text = "svc.internal.";
  policy.allow.push_back(*xfr::parse_prefix("127.0.0.0/8"));
  xfr::TransferSettings settings;
  settings.policies.push_back(policy);
  xfr::TransferServer server(settings, [](const std::string&) {});
  server.published(rig_.publisher.current());
  const Bytes axfr = testing::make_query("svc.internal.", rrtype::kAxfr);
  EXPECT_FALSE(server.respond(axfr, "127.0.0.1").empty());
  EXPECT_FALSE(server.respond(axfr, "127.0.0.1").empty());
  EXPECT_FALSE(server.respond(axfr, "192.0.2.1").empty());
  EXPECT_FALSE(server.respond(testing::make_query("svc.internal.", rrtype::kIxfr), "127.0.0.1")
                   .empty());
  const xfr::TransferCounters counters = server.counters();
  const std::string text = render(&counters);
  const auto transfers = [&](const std::string& type, const std::string& result) {
    return sample_value(text, "signpost_transfers_total{type=\"" + type + "\",result=\"" +
                                  result + "\"}");
  };
  EXPECT_EQ(transfers("axfr", "ok"), 2);
  EXPECT_EQ(transfers("axfr", "refused"), 1);
  EXPECT_EQ(transfers("axfr", "notauth"), 0);
  EXPECT_EQ(transfers("ixfr", "formerr"), 1);
  EXPECT_EQ(transfers("ixfr", "ok"), 0);
  EXPECT_EQ(sample_value(text, "signpost_notify_sent_total"), 0);  // no notify targets
}

// promtool (Debian's prometheus package) parses and lints the whole text: names, types,
// _total on counters, HELP, histogram shape.
TEST_F(ServerMetricsTest, PromtoolAcceptsTheText) {
  const char* promtool = "/usr/bin/promtool";
  // The test tools include it (.ci/setup --test); without it this test fails, not skips.
  ASSERT_TRUE(std::filesystem::exists(promtool))
      << promtool << " is missing: install Debian's prometheus (.ci/setup --test)";
  ASSERT_EQ(udp_rcode(port_, testing::make_query("web.svc.internal.", rrtype::kA)), 0);
  const std::filesystem::path file = std::filesystem::temp_directory_path() /
                                     ("signpost_metrics_" + std::to_string(::getpid()) + ".txt");
  std::ofstream(file) << render();
  const std::string command = std::string(promtool) + " check metrics < " + file.string() + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) output += buffer;
  const int status = ::pclose(pipe);
  std::filesystem::remove(file);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << output;
  EXPECT_EQ(output, "");
}

}  // namespace
}  // namespace signpost::dns::daemon
