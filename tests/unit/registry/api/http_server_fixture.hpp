// A running HttpServer on loopback over a TestApiBackend, for the API server's tests.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "registry/api/http_server.hpp"
#include "tests/unit/registry/api/http_test_client.hpp"
#include "tests/unit/support/test_api_backend.hpp"

namespace signpost::testing {

inline const std::string kTestToken = "s3cret-token";

/// Starts a server with `kTestToken` (unless told otherwise) on 127.0.0.1, a free port.
class HttpServerFixture : public ::testing::Test {
 protected:
  static registry::api::HttpSettings default_settings() {
    registry::api::HttpSettings settings;
    settings.listen = {{"127.0.0.1", 0}};
    settings.tokens = {"another-token", kTestToken};
    return settings;
  }

  void start(registry::api::HttpSettings settings = default_settings()) {
    server_ = std::make_unique<registry::api::HttpServer>(
        std::move(settings), backend_, [this](LogLevel, const std::string& line) {
          const std::lock_guard lock(log_mutex_);
          log_.push_back(line);
        });
    server_->start();
    endpoint_ = server_->bound().front();
  }

  std::unique_ptr<HttpTestClient> connect() const {
    return std::make_unique<HttpTestClient>(endpoint_);
  }

  /// One request on a connection of its own.
  std::optional<HttpResponse> request(std::string_view method, std::string_view target,
                                      std::string_view headers = "",
                                      std::string_view body = "") const {
    return connect()->request(method, target, headers, body);
  }

  static std::string bearer(const std::string& token = kTestToken) {
    return "Authorization: Bearer " + token + "\r\n";
  }

  TestApiBackend backend_;  // first: outlives the server
  std::unique_ptr<registry::api::HttpServer> server_;
  boost::asio::ip::tcp::endpoint endpoint_;
  std::mutex log_mutex_;
  std::vector<std::string> log_;
};

}  // namespace signpost::testing
