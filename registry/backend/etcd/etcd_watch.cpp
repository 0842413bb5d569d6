// The watch thread: one Watch stream at a time, re-created after every break.
#include "registry/backend/etcd/etcd_watch.hpp"

#include <algorithm>

#include "etcd_connection.hpp"

namespace signpost::registry::etcd {

namespace {

using namespace std::chrono_literals;
using Clock = EtcdConnection::Clock;

constexpr std::chrono::milliseconds kMinBackoff = 100ms;
constexpr std::chrono::milliseconds kMaxBackoff = 2000ms;

std::string describe(const std::string& address, EtcdErrc code, const std::string& detail) {
  return "etcd " + address + ": " + std::string(to_string(code)) + ": " + detail;
}

WatchNotice events_notice(const etcdserverpb::WatchResponse& response) {
  WatchNotice notice;
  notice.kind = WatchNotice::Kind::events;
  notice.revision = response.header().revision();
  notice.events.reserve(static_cast<std::size_t>(response.events_size()));
  for (const mvccpb::Event& event : response.events()) {
    WatchEvent& out = notice.events.emplace_back();
    out.type = event.type() == mvccpb::Event::DELETE ? WatchEvent::Type::remove
                                                      : WatchEvent::Type::put;
    out.kv = from_message(event.kv());
    out.has_prev_kv = event.has_prev_kv();
    if (out.has_prev_kv) out.prev_kv = from_message(event.prev_kv());
  }
  return notice;
}

}  // namespace

EtcdWatch::EtcdWatch(std::shared_ptr<EtcdConnection> connection, std::string prefix,
                     std::int64_t start_revision, bool prev_kv, Callback callback)
    : connection_(std::move(connection)),
      prefix_(std::move(prefix)),
      prev_kv_(prev_kv),
      callback_(std::move(callback)),
      next_revision_(start_revision) {
  thread_ = std::thread([this] { run(); });
}

EtcdWatch::~EtcdWatch() {
  stop();
}

void EtcdWatch::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_.store(true);
    if (context_ != nullptr) context_->TryCancel();
  }
  wake_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void EtcdWatch::run() {
  std::chrono::milliseconds backoff = kMinBackoff;
  std::size_t index = connection_->preferred();
  while (!stopping_.load()) {
    std::string message;
    bool established = false;
    const Outcome outcome = watch_once(index, message, established);
    if (outcome == Outcome::compacted) ended_.store(true);
    if (outcome != Outcome::broken) return;
    WatchNotice notice;
    notice.kind = WatchNotice::Kind::broken;
    notice.revision = next_revision_.load();
    notice.message = std::move(message);
    notify(notice);
    // A stream that worked before breaking is retried at once (after the shortest wait);
    // repeated failures back off so a dead cluster is not hammered.
    if (established) backoff = kMinBackoff;
    if (!pause(backoff)) return;
    backoff = std::min(backoff * 2, kMaxBackoff);
    index = (index + 1) % connection_->size();
  }
}

bool EtcdWatch::pause(std::chrono::milliseconds backoff) {
  std::unique_lock lock(mutex_);
  return !wake_.wait_for(lock, backoff, [this] { return stopping_.load(); });
}

void EtcdWatch::notify(const WatchNotice& notice) {
  if (!stopping_.load()) callback_(notice);
}

EtcdWatch::Outcome EtcdWatch::watch_once(std::size_t index, std::string& message,
                                         bool& established) {
  EtcdConnection::Endpoint& endpoint = connection_->endpoint(index);
  const EtcdConnection::Dial dialed =
      connection_->dial(index, Clock::time_point::max(), &stopping_);
  if (stopping_.load()) return Outcome::stopped;
  if (!dialed.connected) {
    message = describe(endpoint.address, dialed.code, dialed.detail);
    return Outcome::broken;
  }
  grpc::ClientContext context;
  try {
    connection_->prepare(context, index, Clock::time_point::max());
  } catch (const EtcdError& error) {
    message = error.what();
    return Outcome::broken;
  }
  {
    std::lock_guard lock(mutex_);
    if (stopping_.load()) return Outcome::stopped;
    context_ = &context;
  }
  std::unique_ptr<Stream> stream = endpoint.watch->Watch(&context);
  etcdserverpb::WatchRequest request;
  etcdserverpb::WatchCreateRequest& create = *request.mutable_create_request();
  create.set_key(prefix_);
  create.set_range_end(prefix_range_end(prefix_));
  create.set_start_revision(next_revision_.load());
  create.set_prev_kv(prev_kv_);
  Outcome outcome = Outcome::broken;
  if (stream->Write(request)) {
    outcome = read_responses(*stream, endpoint.address, message, established);
  }
  // A stream we leave while etcd keeps it open (compaction, a watch etcd canceled) is
  // canceled here, or Finish() would wait for etcd to close it.
  if (outcome != Outcome::broken || !message.empty()) context.TryCancel();
  const grpc::Status status = stream->Finish();
  {
    std::lock_guard lock(mutex_);
    context_ = nullptr;
  }
  if (stopping_.load()) return Outcome::stopped;
  if (outcome == Outcome::broken && message.empty()) {
    message = describe(endpoint.address, EtcdConnection::code_of(status),
                       "watch stream ended: " + status.error_message());
  }
  return outcome;
}

EtcdWatch::Outcome EtcdWatch::read_responses(Stream& stream, const std::string& address,
                                             std::string& message, bool& established) {
  etcdserverpb::WatchResponse response;
  while (stream.Read(&response)) {
    if (response.compact_revision() != 0) {
      WatchNotice notice;
      notice.kind = WatchNotice::Kind::compacted;
      notice.revision = response.compact_revision();
      notice.message = "revision " + std::to_string(next_revision_.load()) +
                       " was compacted; the oldest kept is " +
                       std::to_string(response.compact_revision());
      notify(notice);
      return Outcome::compacted;
    }
    if (response.canceled()) {
      // Canceled by etcd for another reason (permission, auth): a broken stream.
      message = describe(address, EtcdErrc::other, "watch canceled: " + response.cancel_reason());
      return Outcome::broken;
    }
    if (response.created()) {
      established = true;
      // "From now" becomes a definite revision, so a re-created stream resumes after it.
      if (next_revision_.load() == 0) next_revision_.store(response.header().revision() + 1);
      WatchNotice notice;
      notice.kind = WatchNotice::Kind::created;
      notice.revision = next_revision_.load() - 1;
      notify(notice);
    }
    if (response.events_size() == 0) continue;
    WatchNotice notice = events_notice(response);
    next_revision_.store(notice.events.back().kv.mod_revision + 1);
    notify(notice);
  }
  return Outcome::broken;
}

}  // namespace signpost::registry::etcd
