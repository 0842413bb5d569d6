// The http check: an HTTP/1.1 GET (RFC 9112) whose status line decides the health.
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include "health/agent/socket_run.hpp"

namespace signpost::health::agent {

namespace asio = boost::asio;

namespace {

// Longest status line we read; a server that sends more without a line end is not HTTP.
constexpr std::size_t kMaxStatusLine = 8192;

// The status code of "HTTP/1.1 200 OK", or -1 when the line is not a status line (RFC 9112
// §4: HTTP-version SP 3DIGIT SP reason).
int status_of(std::string_view line) {
  if (line.size() < 12 || line.substr(0, 5) != "HTTP/" || line[8] != ' ') return -1;
  int status = 0;
  for (std::size_t i = 9; i < 12; ++i) {
    if (line[i] < '0' || line[i] > '9') return -1;
    status = status * 10 + (line[i] - '0');
  }
  if (line.size() > 12 && line[12] != ' ') return -1;
  return status;
}

class HttpRun final : public SocketRun {
 public:
  HttpRun(asio::io_context& io, const HttpTarget& target, std::chrono::milliseconds timeout,
          CheckDone done)
      : SocketRun(io, target.host, target.port, timeout, std::move(done)),
        response_(kMaxStatusLine) {
    const bool v6 = target.host.find(':') != std::string::npos;
    const std::string host = v6 ? "[" + target.host + "]" : target.host;
    request_ = "GET " + target.path + " HTTP/1.1\r\nHost: " + host +
               (target.port == 80 ? "" : ":" + std::to_string(target.port)) +
               "\r\nUser-Agent: signpost-agent/" SIGNPOST_VERSION
               "\r\nAccept: */*\r\nConnection: close\r\n\r\n";
  }

 private:
  void on_connected() override {
    auto self = std::static_pointer_cast<HttpRun>(shared_from_this());
    asio::async_write(socket(), asio::buffer(request_),
                      [self](const boost::system::error_code& error, std::size_t) {
                        if (self->finished()) return;
                        if (error) {
                          self->finish({registry::Health::critical,
                                        "sending to " + self->where() + ": " + error.message()});
                          return;
                        }
                        self->do_read_status();
                      });
  }

  void do_read_status() {
    auto self = std::static_pointer_cast<HttpRun>(shared_from_this());
    asio::async_read_until(socket(), response_, "\r\n",
                           [self](const boost::system::error_code& error, std::size_t length) {
                             self->on_status(error, length);
                           });
  }

  void on_status(const boost::system::error_code& error, std::size_t length) {
    if (finished()) return;
    if (error) {
      const std::string why = error == asio::error::not_found ? "no status line"
                              : error == asio::error::eof
                                  ? "connection closed before the status line"
                                  : error.message();
      finish({registry::Health::critical, "reading from " + where() + ": " + why});
      return;
    }
    std::string line(
        asio::buffers_begin(response_.data()),
        asio::buffers_begin(response_.data()) + static_cast<std::ptrdiff_t>(length - 2));
    const int status = status_of(line);
    if (status < 0) {
      finish({registry::Health::critical, "not an HTTP status line: " + line.substr(0, 80)});
      return;
    }
    finish({http_status_health(status), line.substr(0, 200)});
  }

  std::string request_;
  asio::streambuf response_;
};

}  // namespace

std::shared_ptr<CheckRun> start_http_check(asio::io_context& io, const CheckConfig& check,
                                           CheckDone done) {
  auto run =
      std::make_shared<HttpRun>(io, parse_http_url(check.target), check.timeout, std::move(done));
  run->start();
  return run;
}

}  // namespace signpost::health::agent
