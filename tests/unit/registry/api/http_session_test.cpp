// The API server's connections: limits, timeouts, keep-alive and pipelining, watches, and
// replies that arrive after their client or the server has gone.
#include "registry/api/http_session.hpp"

#include <gtest/gtest.h>

#include "tests/unit/registry/api/http_server_fixture.hpp"
#include "tests/unit/support/eventually.hpp"

namespace signpost::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class HttpSessionTest : public HttpServerFixture {};

TEST_F(HttpSessionTest, KeepAliveAndPipelinedRequestsAreAnsweredInOrder) {
  start();
  auto client = connect();
  ASSERT_TRUE(client->send(HttpTestClient::format("GET", "/v1/status") +
                           HttpTestClient::format("GET", "/nope") +
                           HttpTestClient::format("GET", "/v1/nodes")));
  const auto first = client->read();
  const auto second = client->read();
  const auto third = client->read();
  ASSERT_TRUE(first && second && third);
  EXPECT_EQ(first->result_int(), 200u);
  EXPECT_TRUE(json_body(*first).as_object().contains("uptime_seconds"));
  EXPECT_EQ(second->result_int(), 404u);
  EXPECT_TRUE(json_body(*third).as_object().contains("nodes"));
  EXPECT_TRUE(third->keep_alive());
  const auto fourth = client->request("GET", "/v1/services");  // the same connection, later
  ASSERT_TRUE(fourth);
  EXPECT_EQ(fourth->result_int(), 200u);
  const auto last = client->request("GET", "/v1/status", "Connection: close\r\n");
  ASSERT_TRUE(last);
  EXPECT_FALSE(last->keep_alive());
  EXPECT_TRUE(client->closed_by_server());
}

TEST_F(HttpSessionTest, OversizedHeadersAndBodiesAreRefused) {
  auto settings = default_settings();
  settings.max_header_bytes = 1024;
  settings.max_body_bytes = 100;
  start(settings);
  const auto headers = request("GET", "/v1/status", "X-Filler: " + std::string(2000, 'x') + "\r\n");
  ASSERT_TRUE(headers);
  EXPECT_EQ(headers->result_int(), 431u);
  auto client = connect();
  const auto body = client->request("PUT", "/v1/services/web/instances/a/weight", bearer(),
                                    R"({"weight": 1})" + std::string(200, ' '));
  ASSERT_TRUE(body);
  EXPECT_EQ(body->result_int(), 413u);
  EXPECT_TRUE(client->closed_by_server());
  // Within the limits the same request is fine.
  const auto fits =
      request("PUT", "/v1/services/web/instances/a/weight", bearer(), R"({"weight": 1})");
  ASSERT_TRUE(fits);
  EXPECT_EQ(fits->result_int(), 200u);
}

TEST_F(HttpSessionTest, MalformedRequestsGet400AndTheEnd) {
  start();
  for (const char* garbage : {"NOT HTTP\r\n\r\n", "GET /v1/status HTTP/1.1\r\nBad Header\r\n\r\n",
                              "GET /v1/status HTTP/1.1\r\nContent-Length: x\r\n\r\n"}) {
    auto client = connect();
    ASSERT_TRUE(client->send(garbage));
    const auto response = client->read();
    ASSERT_TRUE(response) << garbage;
    EXPECT_EQ(response->result_int(), 400u) << garbage;
    EXPECT_TRUE(client->closed_by_server()) << garbage;
  }
  // A request that reads well but means nothing is answered, and the connection goes on.
  auto client = connect();
  const auto relative = client->request("GET", "v1/status");
  ASSERT_TRUE(relative);
  EXPECT_EQ(relative->result_int(), 400u);
  const auto bad_weight =
      client->request("PUT", "/v1/services/web/instances/a/weight", bearer(), "{");
  ASSERT_TRUE(bad_weight);
  EXPECT_EQ(bad_weight->result_int(), 400u);
  const auto still = client->request("GET", "/v1/status");
  ASSERT_TRUE(still);
  EXPECT_EQ(still->result_int(), 200u);
}

TEST_F(HttpSessionTest, ASlowClientIsClosedWhileOthersAreAnswered) {
  auto settings = default_settings();
  settings.request_timeout = 300ms;
  start(settings);
  auto slow = connect();
  auto idle = connect();
  const auto began = Clock::now();
  ASSERT_TRUE(slow->send("GET /v1/status HTTP/1.1\r\nHo"));
  for (int i = 0; i < 3; ++i) {
    const auto response = request("GET", "/v1/status");
    ASSERT_TRUE(response);
    EXPECT_EQ(response->result_int(), 200u);
  }
  EXPECT_TRUE(slow->closed_by_server());
  EXPECT_TRUE(idle->closed_by_server());
  EXPECT_GE(Clock::now() - began, 250ms);
  EXPECT_FALSE(slow->read(100ms));  // closed without an answer
}

TEST_F(HttpSessionTest, ConnectionsBeyondTheLimitAreClosedAtOnce) {
  auto settings = default_settings();
  settings.max_connections = 2;
  start(settings);
  auto first = connect();
  auto second = connect();
  ASSERT_TRUE(first->request("GET", "/v1/status"));  // both are surely open now
  ASSERT_TRUE(second->request("GET", "/v1/status"));
  auto third = connect();
  third->send(HttpTestClient::format("GET", "/v1/status"));
  EXPECT_TRUE(third->closed_by_server());
  EXPECT_FALSE(third->read(100ms));
  EXPECT_TRUE(first->request("GET", "/v1/status"));  // the open ones go on
  first->close();
  EXPECT_TRUE(eventually([&] {
    const auto response = connect()->request("GET", "/v1/status");
    return response && response->result_int() == 200u;
  }));
}

TEST_F(HttpSessionTest, WatchAnswersAtOnceForAnOtherIndex) {
  start();
  for (const char* target : {"/v1/watch", "/v1/watch?index=0&wait=30", "/v1/watch?index=99&wait=30",
                             "/v1/watch?index=100&wait=0"}) {
    const auto response = request("GET", target);
    ASSERT_TRUE(response) << target;
    EXPECT_EQ(response->result_int(), 200u) << target;
    EXPECT_EQ(json_body(*response), boost::json::parse(R"({"index":100})")) << target;
    EXPECT_EQ(std::string((*response)["X-Signpost-Index"]), "100");
  }
  for (const char* bad : {"/v1/watch?index=x", "/v1/watch?index=-1", "/v1/watch?index=4294967296",
                          "/v1/watch?index=100&wait=soon"}) {
    const auto response = request("GET", bad);
    ASSERT_TRUE(response) << bad;
    EXPECT_EQ(response->result_int(), 400u) << bad;
  }
}

TEST_F(HttpSessionTest, WatchReturnsWhenTheSerialChanges) {
  start();
  auto client = connect();
  ASSERT_TRUE(client->send(HttpTestClient::format("GET", "/v1/watch?index=100&wait=60")));
  EXPECT_FALSE(client->read(200ms));  // still waiting
  server_->serial_changed(100);       // not a change for this watch
  EXPECT_FALSE(client->read(200ms));
  const std::uint32_t next = backend_.bump();
  server_->serial_changed(next);
  const auto response = client->read();
  ASSERT_TRUE(response);
  EXPECT_EQ(json_body(*response), boost::json::parse(R"({"index":101})"));
  EXPECT_EQ(std::string((*response)["X-Signpost-Index"]), "101");
  const auto after = client->request("GET", "/v1/status");  // the connection goes on
  ASSERT_TRUE(after);
  EXPECT_EQ(after->result_int(), 200u);
}

TEST_F(HttpSessionTest, WatchReturnsTheSameIndexAfterItsWait) {
  auto settings = default_settings();
  settings.max_wait = 1s;  // wait=600 is cut to this
  start(settings);
  auto client = connect();
  const auto began = Clock::now();
  // A request pipelined behind the watch is answered after it.
  ASSERT_TRUE(client->send(HttpTestClient::format("GET", "/v1/watch?index=100&wait=600") +
                           HttpTestClient::format("GET", "/v1/nodes")));
  const auto response = client->read(5s);
  ASSERT_TRUE(response);
  EXPECT_GE(Clock::now() - began, 900ms);
  EXPECT_EQ(json_body(*response), boost::json::parse(R"({"index":100})"));
  const auto nodes = client->read();
  ASSERT_TRUE(nodes);
  EXPECT_TRUE(json_body(*nodes).as_object().contains("nodes"));
}

TEST_F(HttpSessionTest, WatchesBeyondTheLimitGet503) {
  auto settings = default_settings();
  settings.max_watchers = 2;
  start(settings);
  auto first = connect();
  auto second = connect();
  ASSERT_TRUE(first->send(HttpTestClient::format("GET", "/v1/watch?index=100&wait=60")));
  ASSERT_TRUE(second->send(HttpTestClient::format("GET", "/v1/watch?index=100&wait=60")));
  // The server may read the third before the others; a third that got in waits one second
  // and is tried again.
  bool refused = false;
  for (int attempt = 0; attempt < 5 && !refused; ++attempt) {
    const auto third = request("GET", "/v1/watch?index=100&wait=1");
    ASSERT_TRUE(third);
    refused = third->result_int() == 503u;
  }
  EXPECT_TRUE(refused);
  server_->serial_changed(backend_.bump());
  const auto first_answer = first->read();
  const auto second_answer = second->read();
  ASSERT_TRUE(first_answer && second_answer);
  EXPECT_EQ(json_body(*first_answer).at("index"), 101);
  // Their places are free again.
  auto next = connect();
  ASSERT_TRUE(next->send(HttpTestClient::format("GET", "/v1/watch?index=101&wait=60")));
  EXPECT_FALSE(next->read(200ms));
  server_->serial_changed(backend_.bump());
  const auto next_answer = next->read();
  ASSERT_TRUE(next_answer);
  EXPECT_EQ(json_body(*next_answer).at("index"), 102);
}

TEST_F(HttpSessionTest, AWatcherThatGoesAwayFreesItsPlace) {
  auto settings = default_settings();
  settings.max_watchers = 1;
  start(settings);
  auto gone = connect();
  ASSERT_TRUE(gone->send(HttpTestClient::format("GET", "/v1/watch?index=100&wait=60")));
  EXPECT_FALSE(gone->read(200ms));
  gone->close();
  EXPECT_TRUE(eventually([&] {
    auto client = connect();
    if (!client->send(HttpTestClient::format("GET", "/v1/watch?index=100&wait=60"))) return false;
    if (client->read(100ms)) return false;  // refused: the place is still taken
    server_->serial_changed(backend_.bump());
    const auto answer = client->read();
    return answer && answer->result_int() == 200u;
  }));
}

TEST_F(HttpSessionTest, AReplyAfterTheClientClosedIsDropped) {
  start();
  backend_.hold();
  {
    auto client = connect();
    ASSERT_TRUE(client->send(HttpTestClient::format("GET", "/v1/services")));
    ASSERT_TRUE(eventually([&] { return backend_.queued() == 1; }));
  }  // closed before the reply
  backend_.release();
  EXPECT_TRUE(eventually([&] { return backend_.queued() == 0; }));
  const auto response = request("GET", "/v1/services");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 200u);
}

TEST_F(HttpSessionTest, AReplyAfterTheServerStoppedIsDropped) {
  start();
  backend_.hold();
  auto client = connect();
  ASSERT_TRUE(
      client->send(HttpTestClient::format("PUT", "/v1/services/web/instances/a/drain", bearer())));
  ASSERT_TRUE(eventually([&] { return backend_.queued() == 1; }));
  server_->stop();
  EXPECT_TRUE(client->closed_by_server());
  backend_.release();
  EXPECT_TRUE(eventually([&] { return backend_.queued() == 0; }));
  server_.reset();
  EXPECT_EQ(backend_.writes().size(), 1u);
}

}  // namespace
}  // namespace signpost::testing
