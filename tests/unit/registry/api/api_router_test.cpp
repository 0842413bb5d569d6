// The router alone, without sockets: which requests become watches, and what it answers at
// once.
#include "registry/api/api_router.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "tests/unit/support/test_api_backend.hpp"

namespace signpost::registry::api {
namespace {

using namespace std::chrono_literals;
namespace http = boost::beast::http;

class ApiRouterTest : public ::testing::Test {
 protected:
  // Routes a request; the answer, or nullopt when it became a watch (then `watch` is set).
  std::optional<ApiResponse> route(http::verb method, const std::string& target,
                                   const std::string& authorization = "") {
    ApiRequest request;
    request.method = method;
    request.target = target;
    request.authorization = authorization;
    std::optional<ApiResponse> answer;
    watch = router.route(request, [&](ApiResponse response) { answer = std::move(response); });
    EXPECT_NE(answer.has_value(), watch.has_value()) << "exactly one of answer and watch";
    return answer;
  }

  testing::TestApiBackend backend{false};  // replies inline
  ApiRouter router{backend, {"token"}, 120s};
  std::optional<WatchQuery> watch;
};

TEST_F(ApiRouterTest, AWatchOfTheCurrentIndexIsHandedBack) {
  EXPECT_FALSE(route(http::verb::get, "/v1/watch?index=100&wait=30s"));
  ASSERT_TRUE(watch);
  EXPECT_EQ(watch->index, 100u);
  EXPECT_EQ(watch->wait, 30s);
  EXPECT_FALSE(route(http::verb::get, "/v1/watch?index=100"));
  EXPECT_EQ(watch->wait, 60s);  // the default
  EXPECT_FALSE(route(http::verb::get, "/v1/watch?index=100&wait=9999"));
  EXPECT_EQ(watch->wait, 120s);  // cut to max_wait
  const auto other = route(http::verb::get, "/v1/watch?index=7");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->body, R"({"index":100})");
  EXPECT_EQ(other->header("X-Signpost-Index"), "100");
}

TEST_F(ApiRouterTest, EveryGetAnswerCarriesTheIndexAndNoWriteAnswerDoes) {
  for (const char* target :
       {"/", "/metrics", "/v1/services", "/v1/services/nope", "/nope", "/v1/status"}) {
    const auto answer = route(http::verb::get, target);
    ASSERT_TRUE(answer) << target;
    EXPECT_EQ(answer->header("X-Signpost-Index"), "100") << target;
  }
  const auto write = route(http::verb::put, "/v1/services/web/instances/a/drain", "Bearer token");
  ASSERT_TRUE(write);
  EXPECT_EQ(write->status, 200u);
  EXPECT_EQ(write->header("X-Signpost-Index"), "");
}

TEST_F(ApiRouterTest, UnknownMethodsAre405) {
  const auto answer = route(http::verb::unknown, "/v1/services");
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 405u);
  EXPECT_EQ(answer->header("Allow"), "GET");
}

// Found by fuzz_http_request: the error named the service as it came, and bytes that are not
// UTF-8 made the answer something other than JSON.
TEST_F(ApiRouterTest, AnErrorNamingBadBytesIsStillJson) {
  const auto answer = route(http::verb::get, "/v1/services/W\xDB\xCC" "5b");
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 400u);
  boost::system::error_code error;
  const boost::json::value body = boost::json::parse(answer->body, error);
  ASSERT_FALSE(error) << answer->body;
  EXPECT_TRUE(body.at("error").is_string());
}

}  // namespace
}  // namespace signpost::registry::api
