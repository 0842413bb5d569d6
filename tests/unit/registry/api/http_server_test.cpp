// The HTTP API over real loopback sockets: every endpoint's answer, authorization and the
// error statuses.
#include "registry/api/http_server.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

#include <boost/json/serialize.hpp>

#include "registry/api/bearer_tokens.hpp"
#include "tests/unit/registry/api/http_server_fixture.hpp"

namespace signpost::testing {
namespace {

namespace json = boost::json;
using registry::api::HttpServer;
using registry::api::HttpSettings;

class HttpApiTest : public HttpServerFixture {
 protected:
  void SetUp() override { start(); }
};

std::string header(const HttpResponse& response, std::string_view name) {
  return std::string(response[name]);
}

TEST_F(HttpApiTest, ServicesListsSummariesInNameOrder) {
  const auto response = request("GET", "/v1/services");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 200u);
  EXPECT_EQ(header(*response, "Content-Type"), "application/json");
  EXPECT_EQ(header(*response, "X-Signpost-Index"), "100");
  EXPECT_EQ(json_body(*response), json::parse(R"({"serial":100,"services":[
              {"name":"db","protocol":"tcp","port":5432,"tags":[],
               "counts":{"total":1,"passing":1,"warning":0,"critical":0,"drained":0}},
              {"name":"web","protocol":"tcp","port":8080,"tags":[],
               "counts":{"total":2,"passing":1,"warning":1,"critical":0,"drained":0}}]})"));
}

TEST_F(HttpApiTest, ServiceShowsItsInstances) {
  const auto response = request("GET", "/v1/services/web");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 200u);
  EXPECT_EQ(header(*response, "X-Signpost-Index"), "100");
  const json::value body = json_body(*response);
  EXPECT_EQ(body.at("serial"), 100);
  EXPECT_EQ(body.at("ttl"), 5);
  EXPECT_TRUE(body.at("answer_limit").is_null());
  EXPECT_EQ(body.at("counts").at("total"), 2);
  ASSERT_EQ(body.at("instances").as_array().size(), 2u);
  EXPECT_EQ(body.at("instances").at(0), json::parse(R"({"id":"a","service":"web","node":"host1",
      "addresses":["10.0.0.1","fd00::1"],"port":8080,"priority":0,"weight":2,
      "weight_override":null,"effective_weight":2,"health":"passing","reported_health":"passing",
      "source":"update","tags":["blue"],"meta":{"version":"1.2"},"lease_seconds":30,
      "lease_remaining":12.5,"flap":{"state":"stable","penalty":0},"drained":false})"));
  // Numbers read as people write them, not as 1.25E1.
  EXPECT_NE(response->body().find("\"lease_remaining\":12.5,"), std::string::npos)
      << response->body();
}

TEST_F(HttpApiTest, ServiceNamesAreDecodedAndLowerCased) {
  for (const char* target : {"/v1/services/WEB", "/v1/services/%77eb", "/v1/services/We%42"}) {
    const auto response = request("GET", target);
    ASSERT_TRUE(response) << target;
    EXPECT_EQ(response->result_int(), 200u) << target;
    EXPECT_EQ(json_body(*response).at("name"), "web") << target;
  }
}

TEST_F(HttpApiTest, UnknownOrInvalidServiceNames) {
  const auto unknown = request("GET", "/v1/services/nope");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->result_int(), 404u);
  EXPECT_EQ(json_body(*unknown), json::parse(R"({"error":"no such service: nope"})"));
  EXPECT_EQ(header(*unknown, "X-Signpost-Index"), "100");
  for (const char* target : {"/v1/services/web_1", "/v1/services/-web", "/v1/services/a%2Fb",
                             "/v1/services/%zz", "/v1/services/%00"}) {
    const auto response = request("GET", target);
    ASSERT_TRUE(response) << target;
    EXPECT_EQ(response->result_int(), 400u) << target;
    EXPECT_TRUE(json_body(*response).at("error").is_string()) << target;
  }
}

TEST_F(HttpApiTest, NodesAndStatus) {
  const auto nodes = request("GET", "/v1/nodes");
  ASSERT_TRUE(nodes);
  EXPECT_EQ(json_body(*nodes), json::parse(R"({"serial":100,"nodes":[
      {"name":"host1","addresses":["10.0.0.1","fd00::1"],"instances":2,"services":["db","web"]},
      {"name":"host2","addresses":["10.0.0.2"],"instances":1,"services":["web"]}]})"));
  const auto status = request("GET", "/v1/status");
  ASSERT_TRUE(status);
  EXPECT_EQ(header(*status, "X-Signpost-Index"), "100");
  EXPECT_EQ(json_body(*status), json::parse(R"({"version":"0.1.0","serial":100,
      "uptime_seconds":61.25,"services":2,"instances":3,"nodes":2,
      "instances_by_source":{"static":1,"update":1,"api":1},
      "instances_by_health":{"passing":2,"warning":1,"critical":0},"drained":0,
      "self_preservation":{"active":false,"held":0},
      "backend":{"kind":"memory","healthy":true,"detail":"/var/lib/signpost/state"}})"));
}

TEST_F(HttpApiTest, MetricsInPrometheusTextFormat) {
  const auto response = request("GET", "/metrics");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 200u);
  EXPECT_EQ(header(*response, "Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(response->body(), "# TYPE signpost_queries_total counter\nsignpost_queries_total 7\n");
}

TEST_F(HttpApiTest, StatusPageIsSelfContained) {
  const auto response = request("GET", "/");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 200u);
  EXPECT_EQ(header(*response, "Content-Type"), "text/html; charset=utf-8");
  const std::string policy = header(*response, "Content-Security-Policy");
  EXPECT_NE(policy.find("default-src 'self'"), std::string::npos) << policy;
  EXPECT_NE(policy.find("connect-src 'self'"), std::string::npos) << policy;
  EXPECT_NE(response->body().find("<title>Signpost</title>"), std::string::npos);
}

TEST_F(HttpApiTest, UnknownPathsAndMethods) {
  for (const char* target : {"/v2/services", "/v1/services/web/instances", "/v1/services/",
                             "/v1/services/web/instances/a/flip", "/index.html"}) {
    const auto response = request("GET", target);
    ASSERT_TRUE(response) << target;
    EXPECT_EQ(response->result_int(), 404u) << target;
  }
  const auto post = request("POST", "/v1/services", "", "{}");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->result_int(), 405u);
  EXPECT_EQ(header(*post, "Allow"), "GET");
  const auto get_drain = request("GET", "/v1/services/web/instances/a/drain");
  ASSERT_TRUE(get_drain);
  EXPECT_EQ(get_drain->result_int(), 405u);
  EXPECT_EQ(header(*get_drain, "Allow"), "PUT");
  const auto put_instance = request("PUT", "/v1/services/web/instances/a", bearer());
  ASSERT_TRUE(put_instance);
  EXPECT_EQ(header(*put_instance, "Allow"), "DELETE");
}

TEST_F(HttpApiTest, WritesNeedAValidBearerToken) {
  const auto missing = request("PUT", "/v1/services/web/instances/a/drain");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->result_int(), 401u);
  EXPECT_EQ(header(*missing, "WWW-Authenticate"), "Bearer");
  for (const char* malformed : {"Authorization: Basic dXNlcjpwYXNz\r\n",
                                "Authorization: Bearer\r\n", "Authorization: Bearer a b\r\n"}) {
    const auto response = request("PUT", "/v1/services/web/instances/a/drain", malformed);
    ASSERT_TRUE(response);
    EXPECT_EQ(response->result_int(), 401u) << malformed;
    EXPECT_EQ(header(*response, "WWW-Authenticate"), "Bearer");
  }
  for (const std::string wrong : {"s3cret-tokem", "s3cret-token2", "s3cret"}) {
    const auto response = request("PUT", "/v1/services/web/instances/a/drain", bearer(wrong));
    ASSERT_TRUE(response);
    EXPECT_EQ(response->result_int(), 403u) << wrong;
  }
  EXPECT_TRUE(backend_.writes().empty());
}

TEST_F(HttpApiTest, DrainNamesTheTokenAndAddressAsActor) {
  const auto response = request("PUT", "/v1/services/WEB/instances/a/drain",
                                "authorization: bearer " + kTestToken + "\r\n");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 200u);
  const json::value body = json_body(*response);
  EXPECT_EQ(body.at("serial"), 101);
  EXPECT_EQ(body.at("instance").at("id"), "a");
  EXPECT_EQ(body.at("instance").at("drained"), true);
  const auto writes = backend_.writes();
  ASSERT_EQ(writes.size(), 1u);
  EXPECT_EQ(writes[0].first, "drain web/a");
  EXPECT_EQ(writes[0].second.who, registry::api::token_id(kTestToken));
  EXPECT_EQ(writes[0].second.address, "127.0.0.1");
  const auto undrain = request("PUT", "/v1/services/web/instances/a/undrain", bearer());
  ASSERT_TRUE(undrain);
  EXPECT_EQ(json_body(*undrain).at("instance").at("drained"), false);
}

TEST_F(HttpApiTest, WeightTakesANumberOrNull) {
  const std::string target = "/v1/services/web/instances/a/weight";
  const auto set = request("PUT", target, bearer(), R"({"weight": 7})");
  ASSERT_TRUE(set);
  EXPECT_EQ(set->result_int(), 200u);
  EXPECT_EQ(json_body(*set).at("instance").at("weight_override"), 7);
  const auto reset = request("PUT", target, bearer(), R"({"weight": null})");
  ASSERT_TRUE(reset);
  EXPECT_EQ(reset->result_int(), 200u);
  EXPECT_TRUE(json_body(*reset).at("instance").at("weight_override").is_null());
  for (const char* bad : {R"({"weight": 65536})", R"({"weight": -1})", R"({"weight": 1.5})",
                          R"({"weight": "3"})", R"({"weight": 3)", R"({})", "", "[1]"}) {
    const auto response = request("PUT", target, bearer(), bad);
    ASSERT_TRUE(response) << bad;
    EXPECT_EQ(response->result_int(), 400u) << bad;
  }
  EXPECT_EQ(backend_.writes().size(), 2u);
}

TEST_F(HttpApiTest, DeregisterAndItsConflicts) {
  const auto gone = request("DELETE", "/v1/services/web/instances/a", bearer());
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->result_int(), 200u);
  EXPECT_EQ(json_body(*gone),
            json::parse(R"({"serial":101,"deregistered":{"service":"web","id":"a"}})"));
  const auto again = request("DELETE", "/v1/services/web/instances/a", bearer());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->result_int(), 404u);
  EXPECT_EQ(json_body(*again).at("error"), "no such instance: web/a");
  const auto fixed = request("DELETE", "/v1/services/web/instances/b", bearer());
  ASSERT_TRUE(fixed);
  EXPECT_EQ(fixed->result_int(), 409u);
  backend_.set_backend_down(true);
  const auto down = request("PUT", "/v1/services/db/instances/c/drain", bearer());
  ASSERT_TRUE(down);
  EXPECT_EQ(down->result_int(), 503u);
  EXPECT_EQ(json_body(*down).at("error"), "etcd is unreachable");
}

TEST(HttpServerWritesDisabled, EveryWriteIsRefused) {
  TestApiBackend backend;
  HttpSettings settings;
  settings.listen = {{"127.0.0.1", 0}};
  HttpServer server(settings, backend, nullptr);
  server.start();
  HttpTestClient client(server.bound().front());
  const auto response = client.request("PUT", "/v1/services/web/instances/a/drain",
                                       "Authorization: Bearer anything\r\n");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 403u);
  EXPECT_EQ(json_body(*response).at("error"), "writes are disabled: set http.token_file");
  EXPECT_TRUE(backend.writes().empty());
}

TEST(HttpServerStart, BindsFreePortsAndNamesAnAddressItCannotUse) {
  TestApiBackend backend;
  HttpSettings settings;
  settings.listen = {{"127.0.0.1", 0}, {"127.0.0.2", 0}};
  HttpServer first(settings, backend, nullptr);
  first.start();
  ASSERT_EQ(first.bound().size(), 2u);
  EXPECT_NE(first.bound()[0].port(), 0);
  EXPECT_EQ(first.bound()[1].address().to_string(), "127.0.0.2");
  const std::uint16_t taken = first.bound()[0].port();
  settings.listen = {{"127.0.0.1", taken}};
  HttpServer second(settings, backend, nullptr);
  try {
    second.start();
    FAIL() << "bound a port already in use";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("127.0.0.1:" + std::to_string(taken)),
              std::string::npos)
        << error.what();
  }
  settings.listen = {{"localhost", 0}};
  HttpServer third(settings, backend, nullptr);
  EXPECT_THROW(third.start(), std::runtime_error);
  first.stop();
  first.stop();  // idempotent
}

}  // namespace
}  // namespace signpost::testing
