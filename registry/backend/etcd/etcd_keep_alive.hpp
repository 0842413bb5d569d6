// A long-lived Lease.LeaseKeepAlive stream: renewals of any number of leases written on one
// stream, answers read on a thread of its own.
//
// Design. etcd renews a lease when a LeaseKeepAliveRequest naming it arrives on a stream; the
// renewal is no Raft proposal (the leader's lessor only moves the lease's expiry), so it is
// the cheap way to keep thousands of leases alive. EtcdClient::keep_alive opens a stream per
// renewal, which costs an HTTP/2 stream set-up each time; this class keeps one stream open
// and lets its owner write as many renewals as it likes. The owner writes from one thread
// (send), a reader thread hands each answer to the callback. A stream that breaks (etcd
// killed, the connection lost) stays broken: the owner sees broken(), closes it and opens a
// new one, choosing its own backoff; nothing here retries, so the owner decides which renewals
// still matter after an outage.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>

namespace grpc {
class ClientContext;
template <class W, class R>
class ClientReaderWriter;
}  // namespace grpc
namespace etcdserverpb {
class LeaseKeepAliveRequest;
class LeaseKeepAliveResponse;
}  // namespace etcdserverpb

namespace signpost::registry::etcd {

class EtcdConnection;

/// One LeaseKeepAlive stream, made by EtcdClient::open_keep_alive. send() from one thread at
/// a time; broken(), error() from any thread; the callback runs on the stream's reader thread.
class EtcdKeepAliveStream {
 public:
  /// An answer: the lease and its new TTL in seconds; a TTL of 0 or less means etcd does not
  /// know the lease (it expired or was revoked). Must not throw.
  using Callback = std::function<void(std::int64_t lease, std::int64_t ttl)>;

  /// Closes the stream (see close()).
  ~EtcdKeepAliveStream();
  EtcdKeepAliveStream(const EtcdKeepAliveStream&) = delete;
  EtcdKeepAliveStream& operator=(const EtcdKeepAliveStream&) = delete;

  /// Writes one renewal per lease. Returns false, writing no more, once the stream is
  /// broken. The owner's thread; blocks only while gRPC's flow control holds the writes;
  /// allocates one request.
  bool send(std::span<const std::int64_t> leases);

  /// True once the stream has ended: etcd closed it, the connection broke, or close().
  bool broken() const noexcept { return broken_.load(); }

  /// Why the stream ended, "" while it lives. Any thread; allocates.
  std::string error() const;

  /// "host:port" of the endpoint the stream went to.
  const std::string& endpoint() const noexcept { return address_; }

  /// Cancels the stream and joins the reader thread; the callback is not called again.
  /// Idempotent. The owner's thread.
  void close();

 private:
  friend class EtcdClient;
  using Stream = grpc::ClientReaderWriter<etcdserverpb::LeaseKeepAliveRequest,
                                          etcdserverpb::LeaseKeepAliveResponse>;

  EtcdKeepAliveStream(std::shared_ptr<EtcdConnection> connection, Callback callback);
  void read_answers();
  void set_error(const std::string& message);

  std::shared_ptr<EtcdConnection> connection_;
  Callback callback_;
  std::string address_;
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<Stream> stream_;
  std::atomic<bool> broken_{false};
  bool closed_ = false;
  mutable std::mutex error_mutex_;
  std::string error_;
  std::thread reader_;
};

}  // namespace signpost::registry::etcd
