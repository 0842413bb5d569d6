// The etcd client's channels, one per endpoint, and the failover loop every request runs in.
// Private to the client (it names gRPC and the generated API); not an exported header.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "etcd/proto/rpc.grpc.pb.h"
#include "registry/backend/etcd/etcd_error.hpp"
#include "registry/backend/etcd/etcd_types.hpp"

namespace signpost::registry::etcd {

/// The endpoints, their channels and stubs, and the auth tokens. Shared by the client and its
/// watches; every function may be called from any thread.
class EtcdConnection {
 public:
  using Clock = std::chrono::steady_clock;

  /// One member: its "host:port", channel and the stubs of the services the client calls.
  struct Endpoint {
    std::string address;
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<etcdserverpb::KV::Stub> kv;
    std::unique_ptr<etcdserverpb::Watch::Stub> watch;
    std::unique_ptr<etcdserverpb::Lease::Stub> lease;
    std::unique_ptr<etcdserverpb::Auth::Stub> auth;
  };

  /// The outcome of waiting for an endpoint's connection.
  struct Dial {
    bool connected = false;
    EtcdErrc code = EtcdErrc::unavailable;
    std::string detail;
  };

  /// Creates a channel per endpoint; nothing connects yet. Throws EtcdError (invalid
  /// argument) when there is no endpoint. Allocates.
  explicit EtcdConnection(EtcdOptions options);

  /// The options the connection was made with. Any thread; no allocation.
  const EtcdOptions& options() const noexcept { return options_; }
  /// How many endpoints there are (at least one). Any thread; no allocation.
  std::size_t size() const noexcept { return endpoints_.size(); }
  /// Endpoint `index` (< size()); its stubs may be used from any thread. No allocation.
  Endpoint& endpoint(std::size_t index) noexcept { return endpoints_[index]; }
  /// The endpoint the last successful request went to: where the next one starts. Any
  /// thread; no allocation.
  std::size_t preferred() const noexcept { return preferred_.load(std::memory_order_relaxed); }

  /// Waits until endpoint `index` is connected, at most the dial timeout and never past
  /// `deadline`; gives up at once when a fresh attempt fails, and when `*stop` turns true
  /// (polled every 100 ms). Blocks; no allocation unless it fails.
  Dial dial(std::size_t index, Clock::time_point deadline, const std::atomic<bool>* stop);

  /// Sets the deadline (none for Clock::time_point::max()) and, with a user configured, the
  /// auth token, authenticating first when the endpoint has none. Throws EtcdError.
  void prepare(grpc::ClientContext& context, std::size_t index, Clock::time_point deadline);

  /// Runs `call(Endpoint&, grpc::ClientContext&) -> grpc::Status` on the preferred endpoint,
  /// then on each next one while the endpoint is unavailable, until `deadline`. Throws
  /// EtcdError naming the endpoint (or every endpoint tried). Blocks; allocates.
  template <class Call>
  void run(Clock::time_point deadline, Call&& call);

  /// The error kind of a gRPC status. Any thread; no allocation.
  static EtcdErrc code_of(const grpc::Status& status) noexcept;
  /// A steady-clock deadline as the system-clock time gRPC takes. Any thread; no allocation.
  static std::chrono::system_clock::time_point to_system(Clock::time_point deadline) noexcept;

 private:
  grpc::Status attempt(std::size_t index, Clock::time_point deadline,
                       const std::function<grpc::Status(Endpoint&, grpc::ClientContext&)>& call);
  void run_erased(Clock::time_point deadline,
                  const std::function<grpc::Status(Endpoint&, grpc::ClientContext&)>& call);
  std::string token(std::size_t index, Clock::time_point deadline);
  void forget_token(std::size_t index);

  EtcdOptions options_;
  std::vector<Endpoint> endpoints_;
  std::atomic<std::size_t> preferred_{0};
  std::mutex tokens_mutex_;
  std::vector<std::string> tokens_;  // one per endpoint; empty until authenticated
};

/// A key-value pair from the API's message. Any thread; allocates.
KeyValue from_message(const mvccpb::KeyValue& message);

template <class Call>
void EtcdConnection::run(Clock::time_point deadline, Call&& call) {
  run_erased(deadline, std::function<grpc::Status(Endpoint&, grpc::ClientContext&)>(
                           std::forward<Call>(call)));
}

}  // namespace signpost::registry::etcd
