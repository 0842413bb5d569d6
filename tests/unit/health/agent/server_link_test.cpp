// Requests to one server over UDP and TCP, against a loopback fake server.
#include "health/agent/server_link.hpp"

#include <gtest/gtest.h>

#include "fake_server.hpp"
#include "health/agent/update_message.hpp"

namespace signpost::health::agent {
namespace {

using namespace testing;
using std::chrono::milliseconds;

InstanceRecords instance(std::size_t meta_entries = 0) {
  InstanceRecords out;
  out.domain = "svc.internal.";
  out.id = "web-1";
  out.service = "web";
  out.node = "host-1";
  out.addresses = {"127.0.0.10"};
  out.port = 8080;
  for (std::size_t i = 0; i < meta_entries; ++i) {
    out.meta.emplace_back("key" + std::to_string(i), std::string(40, 'v'));
  }
  return out;
}

constexpr ExchangeLimits kQuick{milliseconds(100), 3};

TEST(ServerLink, UdpExchange) {
  boost::asio::io_context io;
  FakeServer server(io, [](const auto&, bool) { return Answer{.lease = 7}; });
  auto link = std::make_shared<ServerLink>(io, server.address());
  link->open();
  const SignedUpdate request = encode_registration(instance(), 10, test_key(), 501);
  std::optional<Exchange> result;
  link->send(request.wire, kQuick, [&](Exchange exchange) { result = std::move(exchange); });
  EXPECT_TRUE(link->pending(501));
  ASSERT_TRUE(run_until(io, [&] { return result.has_value(); }));
  EXPECT_TRUE(result->answered);
  EXPECT_FALSE(link->pending(501));
  ASSERT_EQ(server.requests.size(), 1u);
  EXPECT_EQ(server.requests[0], request.wire);
  EXPECT_FALSE(server.over_tcp[0]);
  const UpdateReply reply = parse_update_reply(result->reply, request, test_key(),
                                               static_cast<std::uint64_t>(std::time(nullptr)));
  EXPECT_TRUE(reply.accepted()) << reply.describe();
  EXPECT_EQ(reply.lease, 7u);
}

TEST(ServerLink, RetransmitsLostDatagrams) {
  boost::asio::io_context io;
  int seen = 0;
  FakeServer server(io, [&](const auto&, bool) { return Answer{.drop = ++seen < 3}; });
  auto link = std::make_shared<ServerLink>(io, server.address());
  link->open();
  const SignedUpdate request = encode_registration(instance(), 10, test_key(), 502);
  std::optional<Exchange> result;
  link->send(request.wire, kQuick, [&](Exchange exchange) { result = std::move(exchange); });
  ASSERT_TRUE(run_until(io, [&] { return result.has_value(); }));
  EXPECT_TRUE(result->answered);
  EXPECT_EQ(server.requests.size(), 3u);
  for (const auto& sent : server.requests) EXPECT_EQ(sent, request.wire);
}

TEST(ServerLink, GivesUpAfterEveryAttempt) {
  boost::asio::io_context io;
  FakeServer server(io, [](const auto&, bool) { return Answer{.drop = true}; });
  auto link = std::make_shared<ServerLink>(io, server.address());
  link->open();
  std::optional<Exchange> result;
  link->send(encode_registration(instance(), 10, test_key(), 503).wire, kQuick,
             [&](Exchange exchange) { result = std::move(exchange); });
  ASSERT_TRUE(run_until(io, [&] { return result.has_value(); }));
  EXPECT_FALSE(result->answered);
  EXPECT_EQ(result->failure, "no reply");
  EXPECT_EQ(server.requests.size(), 3u);
}

TEST(ServerLink, LargeMessagesGoOverTcp) {
  boost::asio::io_context io;
  FakeServer server(io, [](const auto&, bool) { return Answer{.lease = 9}; });
  auto link = std::make_shared<ServerLink>(io, server.address());
  link->open();
  const SignedUpdate request = encode_registration(instance(40), 10, test_key(), 504);
  ASSERT_GT(request.wire.size(), ServerLink::kMaxUdpMessage);
  std::optional<Exchange> result;
  link->send(request.wire, kQuick, [&](Exchange exchange) { result = std::move(exchange); });
  ASSERT_TRUE(run_until(io, [&] { return result.has_value(); }));
  ASSERT_TRUE(result->answered) << result->failure;
  ASSERT_EQ(server.over_tcp, std::vector<bool>{true});
  EXPECT_EQ(server.requests[0], request.wire);
  const UpdateReply reply = parse_update_reply(result->reply, request, test_key(),
                                               static_cast<std::uint64_t>(std::time(nullptr)));
  EXPECT_TRUE(reply.accepted()) << reply.describe();
}

TEST(ServerLink, TruncatedReplyIsRetriedOverTcp) {
  boost::asio::io_context io;
  FakeServer server(io, [](const auto&, bool) { return Answer{.lease = 9, .truncate = true}; });
  auto link = std::make_shared<ServerLink>(io, server.address());
  link->open();
  const SignedUpdate request = encode_registration(instance(), 10, test_key(), 505);
  std::optional<Exchange> result;
  link->send(request.wire, kQuick, [&](Exchange exchange) { result = std::move(exchange); });
  ASSERT_TRUE(run_until(io, [&] { return result.has_value(); }));
  ASSERT_TRUE(result->answered) << result->failure;
  EXPECT_EQ(server.over_tcp, (std::vector<bool>{false, true}));
  EXPECT_EQ((result->reply[2] & 0x02), 0);  // the TCP reply, not the truncated one
}

TEST(ServerLink, CancelledRequestNeverCallsBack) {
  boost::asio::io_context io;
  FakeServer server(io, [](const auto&, bool) { return Answer{}; });
  auto link = std::make_shared<ServerLink>(io, server.address());
  link->open();
  bool called = false;
  link->send(encode_registration(instance(), 10, test_key(), 506).wire, kQuick,
             [&](Exchange) { called = true; });
  link->cancel(506);
  EXPECT_FALSE(link->pending(506));
  // The reply arrives (loopback delivers it as it is sent) and is ignored.
  ASSERT_TRUE(run_until(io, [&] { return server.requests.size() == 1; }));
  for (int i = 0; i < 3; ++i) {
    io.restart();
    io.poll();
  }
  EXPECT_FALSE(called);
}

}  // namespace
}  // namespace signpost::health::agent
