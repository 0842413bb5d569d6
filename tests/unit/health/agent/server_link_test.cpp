// Requests to one server over UDP and TCP, against a loopback fake server; every
// transmission built and signed anew, as the server refuses a replayed one.
#include "health/agent/server_link.hpp"

#include <gtest/gtest.h>

#include "tests/unit/support/test_receiver.hpp"

#include <ctime>
#include <set>

#include "fake_server.hpp"
#include "health/agent/update_message.hpp"
#include "health/heartbeat_receiver.hpp"
#include "registry/publisher.hpp"

namespace signpost::health::agent {
namespace {

using namespace testing;
using std::chrono::milliseconds;

std::uint64_t now() { return static_cast<std::uint64_t>(std::time(nullptr)); }

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

// A registration built anew for every transmission; `sent` keeps each one.
ServerLink::Encode registration(std::vector<SignedUpdate>& sent, std::size_t meta_entries = 0) {
  return [&sent, meta_entries](std::uint16_t id) {
    sent.push_back(encode_registration(instance(meta_entries), 10, test_key(), id));
    return sent.back().wire;
  };
}

const SignedUpdate& answered(const std::vector<SignedUpdate>& sent, const Exchange& exchange) {
  for (const SignedUpdate& update : sent) {
    if (update.id == exchange.id) return update;
  }
  ADD_FAILURE() << "no transmission has id " << exchange.id;
  return sent.back();
}

constexpr ExchangeLimits kQuick{milliseconds(100), 3};

TEST(ServerLink, UdpExchange) {
  boost::asio::io_context io;
  FakeServer server(io, [](const auto&, bool) { return Answer{.lease = 7}; });
  auto link = std::make_shared<ServerLink>(io, server.address(), 1);
  link->open();
  std::vector<SignedUpdate> sent;
  std::optional<Exchange> result;
  const auto request = link->send(registration(sent), kQuick,
                                  [&](Exchange exchange) { result = std::move(exchange); });
  ASSERT_TRUE(request.has_value());
  EXPECT_TRUE(link->pending(*request));
  ASSERT_TRUE(run_until(io, [&] { return result.has_value(); }));
  EXPECT_TRUE(result->answered);
  EXPECT_FALSE(link->pending(*request));
  ASSERT_EQ(server.requests.size(), 1u);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(server.requests[0], sent[0].wire);
  EXPECT_EQ(result->id, sent[0].id);
  EXPECT_FALSE(server.over_tcp[0]);
  const UpdateReply reply = parse_update_reply(result->reply, sent[0], test_key(), now());
  EXPECT_TRUE(reply.accepted()) << reply.describe();
  EXPECT_EQ(reply.lease, 7u);
}

// Each retry is a new message: new id, signed again, so a new MAC (RFC 8945 §4.3), which a
// server that saw the first (and lost its reply) does not take for a replay.
TEST(ServerLink, EachRetryIsSignedAnew) {
  boost::asio::io_context io;
  int seen = 0;
  FakeServer server(io, [&](const auto&, bool) { return Answer{.drop = ++seen < 3}; });
  auto link = std::make_shared<ServerLink>(io, server.address(), 2);
  link->open();
  std::vector<SignedUpdate> sent;
  std::optional<Exchange> result;
  link->send(registration(sent), kQuick, [&](Exchange exchange) { result = std::move(exchange); });
  ASSERT_TRUE(run_until(io, [&] { return result.has_value(); }));
  EXPECT_TRUE(result->answered);
  ASSERT_EQ(server.requests.size(), 3u);
  ASSERT_EQ(sent.size(), 3u);
  const TsigSigner verifier({make_tsig_key("agent-key", "hmac-sha256", kSecret, {})});
  std::set<std::uint16_t> ids;
  std::set<std::vector<std::uint8_t>> macs;
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(server.requests[i], sent[i].wire);
    ids.insert(sent[i].id);
    macs.insert(sent[i].mac);
    EXPECT_EQ(verifier.verify(server.requests[i], now()).status, TsigCheck::Status::ok);
  }
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_EQ(macs.size(), 3u);
  EXPECT_EQ(result->id, sent[2].id);
  EXPECT_TRUE(parse_update_reply(result->reply, answered(sent, *result), test_key(), now())
                  .accepted());
}

TEST(ServerLink, GivesUpAfterEveryAttempt) {
  boost::asio::io_context io;
  FakeServer server(io, [](const auto&, bool) { return Answer{.drop = true}; });
  auto link = std::make_shared<ServerLink>(io, server.address(), 3);
  link->open();
  std::vector<SignedUpdate> sent;
  std::optional<Exchange> result;
  link->send(registration(sent), kQuick, [&](Exchange exchange) { result = std::move(exchange); });
  ASSERT_TRUE(run_until(io, [&] { return result.has_value(); }));
  EXPECT_FALSE(result->answered);
  EXPECT_EQ(result->failure, "no reply");
  EXPECT_EQ(server.requests.size(), 3u);
}

TEST(ServerLink, NothingIsSentWhenTheMessageCannotBeBuilt) {
  boost::asio::io_context io;
  FakeServer server(io);
  auto link = std::make_shared<ServerLink>(io, server.address(), 4);
  link->open();
  bool called = false;
  const auto request = link->send([](std::uint16_t) { return std::vector<std::uint8_t>{}; },
                                  kQuick, [&](Exchange) { called = true; });
  EXPECT_FALSE(request.has_value());
  io.poll();
  EXPECT_FALSE(called);
  EXPECT_TRUE(server.requests.empty());
}

TEST(ServerLink, LargeMessagesGoOverTcp) {
  boost::asio::io_context io;
  FakeServer server(io, [](const auto&, bool) { return Answer{.lease = 9}; });
  auto link = std::make_shared<ServerLink>(io, server.address(), 5);
  link->open();
  std::vector<SignedUpdate> sent;
  std::optional<Exchange> result;
  link->send(registration(sent, 40), kQuick,
             [&](Exchange exchange) { result = std::move(exchange); });
  ASSERT_EQ(sent.size(), 1u);
  ASSERT_GT(sent[0].wire.size(), ServerLink::kMaxUdpMessage);
  ASSERT_TRUE(run_until(io, [&] { return result.has_value(); }));
  ASSERT_TRUE(result->answered) << result->failure;
  ASSERT_EQ(server.over_tcp, std::vector<bool>{true});
  EXPECT_EQ(server.requests[0], sent[0].wire);
  const UpdateReply reply = parse_update_reply(result->reply, answered(sent, *result), test_key(),
                                               now());
  EXPECT_TRUE(reply.accepted()) << reply.describe();
}

// The server answered TC to a message it may have applied: the TCP one is built anew too.
TEST(ServerLink, TruncatedReplyIsRetriedOverTcp) {
  boost::asio::io_context io;
  FakeServer server(io, [](const auto&, bool) { return Answer{.lease = 9, .truncate = true}; });
  auto link = std::make_shared<ServerLink>(io, server.address(), 6);
  link->open();
  std::vector<SignedUpdate> sent;
  std::optional<Exchange> result;
  link->send(registration(sent), kQuick, [&](Exchange exchange) { result = std::move(exchange); });
  ASSERT_TRUE(run_until(io, [&] { return result.has_value(); }));
  ASSERT_TRUE(result->answered) << result->failure;
  EXPECT_EQ(server.over_tcp, (std::vector<bool>{false, true}));
  EXPECT_EQ((result->reply[2] & 0x02), 0);  // the TCP reply, not the truncated one
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_NE(sent[0].mac, sent[1].mac);
  EXPECT_EQ(server.requests[1], sent[1].wire);
  EXPECT_EQ(result->id, sent[1].id);
  EXPECT_TRUE(parse_update_reply(result->reply, sent[1], test_key(), now()).accepted());
}

TEST(ServerLink, CancelledRequestNeverCallsBack) {
  boost::asio::io_context io;
  FakeServer server(io, [](const auto&, bool) { return Answer{}; });
  auto link = std::make_shared<ServerLink>(io, server.address(), 7);
  link->open();
  bool called = false;
  std::vector<SignedUpdate> sent;
  const auto request = link->send(registration(sent), kQuick, [&](Exchange) { called = true; });
  ASSERT_TRUE(request.has_value());
  link->cancel(*request);
  EXPECT_FALSE(link->pending(*request));
  // The reply arrives (loopback delivers it as it is sent) and is ignored.
  ASSERT_TRUE(run_until(io, [&] { return server.requests.size() == 1; }));
  for (int i = 0; i < 3; ++i) {
    io.restart();
    io.poll();
  }
  EXPECT_FALSE(called);
}

// The server's own receiver behind the fake server's sockets: it applies every UPDATE, and
// the first reply is lost on the way back. The retry must be accepted; sent again byte for
// byte, it would be refused as a replay (NOTAUTH, TSIG error BADTIME).
TEST(ServerLink, RetryAfterALostReplyIsAccepted) {
  signpost::testing::ReceiverRig rig({make_tsig_key("agent-key.", "hmac-sha256", kSecret, {})});
  auto& receiver = rig.receiver;

  boost::asio::io_context io;
  int seen = 0;
  FakeServer server(io, [&](const std::vector<std::uint8_t>& request, bool) {
    const std::vector<std::uint8_t> response = receiver.process(request);
    return Answer{.drop = ++seen == 1, .bytes = response};
  });
  auto link = std::make_shared<ServerLink>(io, server.address(), 8);
  link->open();
  std::vector<SignedUpdate> sent;
  std::optional<Exchange> result;
  link->send(registration(sent), kQuick, [&](Exchange exchange) { result = std::move(exchange); });
  ASSERT_TRUE(run_until(io, [&] { return result.has_value(); }));
  ASSERT_TRUE(result->answered) << result->failure;
  EXPECT_EQ(server.requests.size(), 2u);
  const UpdateReply reply =
      parse_update_reply(result->reply, answered(sent, *result), test_key(), now());
  EXPECT_TRUE(reply.accepted()) << reply.describe();
  EXPECT_EQ(reply.lease, 10u);
  EXPECT_EQ(receiver.counters().replayed.load(), 0u);
  receiver.stop();
}

}  // namespace
}  // namespace signpost::health::agent
