// A watch of a key prefix in etcd: a thread that holds the Watch stream and calls back with
// each batch of events, re-creating the stream after a break without losing an event.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "registry/backend/etcd/etcd_types.hpp"

namespace grpc {
class ClientContext;
template <class W, class R>
class ClientReaderWriter;
}  // namespace grpc
namespace etcdserverpb {
class WatchRequest;
class WatchResponse;
}  // namespace etcdserverpb

namespace signpost::registry::etcd {

class EtcdConnection;

/// One watch (etcdserverpb.Watch, one stream per watch), made by EtcdClient::watch. The
/// callback runs on the watch's thread, one notice at a time: `created` each time the stream
/// is (re-)established, `events` in revision order, `broken` when the stream is lost (the
/// watch then waits 100 ms, doubling to 2 s, and tries the next endpoint), and `compacted`,
/// after which the watch has ended. The callback must not throw; it may call stop().
class EtcdWatch {
 public:
  using Callback = std::function<void(const WatchNotice&)>;

  /// Stops the watch (see stop()).
  ~EtcdWatch();
  EtcdWatch(const EtcdWatch&) = delete;
  EtcdWatch& operator=(const EtcdWatch&) = delete;

  /// Cancels the stream and joins the thread: returns within ~100 ms, after which the
  /// callback is not called again. Idempotent; from any thread but the watch's own, where it
  /// only asks the thread to end.
  void stop();

  /// True once the watch has ended by itself (compaction). Any thread.
  bool ended() const noexcept { return ended_.load(); }

  /// The revision the watch resumes from after a break: one past the last it delivered.
  /// Any thread.
  std::int64_t next_revision() const noexcept { return next_revision_.load(); }

 private:
  friend class EtcdClient;
  enum class Outcome { stopped, compacted, broken };
  using Stream = grpc::ClientReaderWriter<etcdserverpb::WatchRequest, etcdserverpb::WatchResponse>;

  EtcdWatch(std::shared_ptr<EtcdConnection> connection, std::string prefix,
            std::int64_t start_revision, bool prev_kv, Callback callback);
  void run();
  Outcome watch_once(std::size_t index, std::string& message, bool& established);
  Outcome read_responses(Stream& stream, const std::string& address, std::string& message,
                         bool& established);
  bool pause(std::chrono::milliseconds backoff);
  void notify(const WatchNotice& notice);

  std::shared_ptr<EtcdConnection> connection_;
  std::string prefix_;
  bool prev_kv_;
  Callback callback_;
  std::atomic<std::int64_t> next_revision_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> ended_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  grpc::ClientContext* context_ = nullptr;  // the live stream's, guarded by mutex_
  std::thread thread_;
};

}  // namespace signpost::registry::etcd
