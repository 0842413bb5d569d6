// One HTTP/1.1 connection to the API.
#include "registry/api/http_session.hpp"

#include <array>

#include <boost/asio/post.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

namespace signpost::registry::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

// Pipelined requests read ahead of the one being answered are held in the buffer; a
// client that sends more than a whole request's worth while it waits is not read further.
std::size_t buffer_limit(const HttpSettings& settings) {
  return settings.max_header_bytes + settings.max_body_bytes + 4096;
}

bool is_parse_error(const boost::system::error_code& error) {
  return error.category() == http::make_error_code(http::error::bad_target).category();
}

}  // namespace

HttpContext::HttpContext(HttpSettings settings_in, ApiBackend& backend, Log log_in,
                         asio::any_io_executor executor_in)
    : settings(std::move(settings_in)),
      router(backend, settings.tokens, settings.max_wait),
      log(std::move(log_in)),
      executor_(std::move(executor_in)) {}

void HttpContext::post(std::function<void()> handler) {
  const std::lock_guard lock(mutex_);
  if (open_) asio::post(executor_, std::move(handler));
}

void HttpContext::close_posts() {
  const std::lock_guard lock(mutex_);
  open_ = false;
}

HttpSession::HttpSession(asio::ip::tcp::socket socket, std::shared_ptr<HttpContext> context)
    : stream_(std::move(socket)),
      buffer_(buffer_limit(context->settings)),
      context_(std::move(context)),
      watch_timer_(stream_.get_executor()) {
  boost::system::error_code error;
  const auto remote = stream_.socket().remote_endpoint(error);
  if (!error) client_address_ = remote.address().to_string();
}

void HttpSession::start() {
  context_->sessions.emplace(this, shared_from_this());
  do_read();
}

void HttpSession::close() {
  if (closed_) return;
  closed_ = true;
  const std::shared_ptr<HttpSession> self = shared_from_this();  // outlives the erase below
  if (watch_) context_->watches.remove(*watch_);
  watch_.reset();
  watch_timer_.cancel();
  boost::system::error_code ignored;
  stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  stream_.close();
  context_->sessions.erase(this);
}

void HttpSession::do_read() {
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(context_->settings.max_header_bytes));
  parser_->body_limit(context_->settings.max_body_bytes);
  stream_.expires_after(context_->settings.request_timeout);
  http::async_read(stream_, buffer_, *parser_,
                   [self = shared_from_this()](const boost::system::error_code& error,
                                               std::size_t) { self->on_read(error); });
}

void HttpSession::on_read(const boost::system::error_code& error) {
  if (closed_) return;
  if (error == http::error::header_limit) return fail(431, "the request's headers are too large");
  if (error == http::error::body_limit) return fail(413, "the request's body is too large");
  if (error == http::error::buffer_overflow) return fail(431, "the request is too large");
  // A clean close between requests, a timeout (the stream has closed the socket), a reset,
  // or a request cut off: nothing to answer.
  if (error == http::error::end_of_stream || error == http::error::partial_message ||
      (error && !is_parse_error(error))) {
    return close();
  }
  if (error) return fail(400, "the request is not valid HTTP/1.1: " + error.message());
  handle_request();
}

void HttpSession::handle_request() {
  http::request<http::string_body>& request = parser_->get();
  version_ = request.version();
  keep_alive_ = request.keep_alive();
  ApiRequest api;
  api.method = request.method();
  api.target = std::string(request.target());
  api.authorization = std::string(request[http::field::authorization]);
  api.body = std::move(request.body());
  api.client_address = client_address_;
  parser_.reset();
  // The backend's reply may take a moment (the registry thread is busy): no timeout runs
  // while it is awaited, only while the client reads the answer.
  stream_.expires_never();
  if (const std::optional<WatchQuery> query = context_->router.route(api, make_respond())) {
    start_watch(*query);
  }
}

Respond HttpSession::make_respond() {
  // Only a weak reference crosses to the registry thread: the session table owns the
  // session, and a reply that arrives after it closed finds nothing and is dropped.
  return [context = context_, weak = weak_from_this()](ApiResponse response) {
    context->post([weak, answer = std::move(response)]() mutable {
      if (const std::shared_ptr<HttpSession> self = weak.lock()) self->send(std::move(answer));
    });
  };
}

void HttpSession::fail(unsigned status, std::string_view message) {
  // What follows an unreadable request cannot be found in the stream: answer, then end.
  keep_alive_ = false;
  send(ApiRouter::error_response(status, message));
}

void HttpSession::send(ApiResponse answer) {
  if (closed_) return;
  response_ = {};
  response_.version(version_);
  response_.result(answer.status);
  response_.set(http::field::content_type, answer.content_type);
  for (const auto& [name, value] : answer.headers) response_.set(name, value);
  response_.body() = std::move(answer.body);
  response_.keep_alive(keep_alive_);
  response_.prepare_payload();
  stream_.expires_after(context_->settings.request_timeout);
  http::async_write(stream_, response_,
                    [self = shared_from_this()](const boost::system::error_code& error,
                                                std::size_t) { self->on_write(error); });
}

void HttpSession::on_write(const boost::system::error_code& error) {
  if (closed_) return;
  if (error) return close();
  if (!keep_alive_) return do_linger();
  do_read();
}

void HttpSession::start_watch(const WatchQuery& query) {
  if (context_->watches.size() >= context_->settings.max_watchers) {
    ApiResponse answer =
        ApiRouter::error_response(503, "too many watches are waiting; try again later");
    answer.headers.emplace_back("Retry-After", "1");
    answer.headers.emplace_back("X-Signpost-Index", std::to_string(context_->router.serial()));
    return send(std::move(answer));
  }
  // The wake runs on this thread, from WatchList::serial_changed.
  watch_ = context_->watches.add(query.index, [weak = weak_from_this()](std::uint32_t serial) {
    if (const std::shared_ptr<HttpSession> self = weak.lock()) self->finish_watch(serial);
  });
  watch_timer_.expires_after(query.wait);
  watch_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& error) {
    if (!error) self->finish_watch(self->context_->router.serial());
  });
  do_watch_read();
}

void HttpSession::finish_watch(std::uint32_t serial) {
  if (!watch_ || closed_) return;
  context_->watches.remove(*watch_);
  watch_.reset();
  watch_timer_.cancel();
  if (!watch_reading_) return send(context_->router.watch_response(serial));
  // Its read must end before the answer is written and the next request read.
  watch_answer_ = context_->router.watch_response(serial);
  stream_.cancel();
}

void HttpSession::do_watch_read() {
  if (buffer_.size() + 1024 > buffer_.max_size()) return;  // read ahead enough; wait
  watch_reading_ = true;
  stream_.async_read_some(
      buffer_.prepare(1024),
      [self = shared_from_this()](const boost::system::error_code& error, std::size_t length) {
        self->on_watch_read(error, length);
      });
}

void HttpSession::on_watch_read(const boost::system::error_code& error, std::size_t length) {
  watch_reading_ = false;
  buffer_.commit(length);
  if (closed_) return;
  if (watch_answer_) {
    ApiResponse answer = std::move(*watch_answer_);
    watch_answer_.reset();
    return send(std::move(answer));
  }
  if (error) return close();  // the client went away: its watch goes with it
  do_watch_read();
}

void HttpSession::do_linger() {
  boost::system::error_code ignored;
  stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  stream_.expires_after(context_->settings.request_timeout);  // once: trickling cannot extend it
  linger_read();
}

void HttpSession::linger_read() {
  buffer_.clear();
  stream_.async_read_some(
      buffer_.prepare(1024),
      [self = shared_from_this()](const boost::system::error_code& error, std::size_t) {
        if (error || self->closed_) return self->close();
        self->linger_read();
      });
}

}  // namespace signpost::registry::api
