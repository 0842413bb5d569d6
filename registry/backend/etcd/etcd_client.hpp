// A client of etcd's v3 gRPC API: reads, writes, guarded transactions, leases and watches.
//
// Design. The client holds one gRPC channel per endpoint and sends each request to the
// endpoint that last answered; when that one cannot be reached (no connection within the
// dial timeout, a refused connection, or gRPC's "unavailable") it moves on to the next, round
// the list, until the request's deadline. So a request takes at most its deadline, whatever
// the endpoints do, and its error names the endpoint that failed ("etcd 127.0.0.1:2379:
// unavailable: ...", every endpoint's reason when all failed). "unavailable" almost always
// means the request never reached etcd; when a connection breaks mid-request it may have been
// applied, and a guarded write sent again then reports that its compare failed: re-read to
// tell. Channels reconnect by themselves with a short backoff (100 ms to 1 s) so a restarted
// member is used again within a second. Requests are blocking calls that may be made from any
// thread at once; nothing here runs a thread of its own except a watch and a keep-alive stream
// (EtcdKeepAliveStream, one reader thread per stream): each EtcdWatch runs
// one thread that holds the watch stream, calls back on it, and re-creates the stream after a
// break (on the next endpoint, with a doubling backoff) from the revision after the last event
// it delivered, so its owner sees every change once and in order. Keys and values are bytes in
// std::string. With a user configured, the client authenticates per endpoint and sends etcd's
// token as the "token" metadata, authenticating again when etcd refuses an expired one. etcd
// 3.4's API over gRPC; nothing here uses the HTTP/JSON gateway.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "registry/backend/etcd/etcd_error.hpp"
#include "registry/backend/etcd/etcd_keep_alive.hpp"
#include "registry/backend/etcd/etcd_types.hpp"
#include "registry/backend/etcd/etcd_watch.hpp"

namespace signpost::registry::etcd {

class EtcdConnection;

/// A client of one etcd cluster. Every function may be called from any thread at once; each
/// blocks until etcd answers or its deadline passes, allocates, and throws EtcdError on
/// failure. `timeout` 0 means the options' request_timeout.
class EtcdClient {
 public:
  using Timeout = std::chrono::milliseconds;
  static constexpr Timeout kDefaultTimeout{0};

  /// Sets up a channel per endpoint without connecting. Throws EtcdError (invalid argument)
  /// with no endpoint.
  explicit EtcdClient(EtcdOptions options);
  ~EtcdClient();
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  /// Keys in [key, range_end), or `key` alone with an empty range_end (KV.Range), sorted by
  /// key, with the revision they were read at.
  RangeResult range(const std::string& key, const std::string& range_end = {},
                    Timeout timeout = kDefaultTimeout);
  /// At most `limit` keys (0: all) of [key, range_end), sorted by key, as the store was at
  /// `revision` (0: now; the result's revision says which): a page of a large read, whose
  /// next page starts after the last key and reads at the first page's revision. Throws
  /// EtcdError (other) when `revision` was compacted.
  RangeResult range_page(const std::string& key, const std::string& range_end,
                         std::int64_t limit, std::int64_t revision,
                         Timeout timeout = kDefaultTimeout);
  /// Every key starting with `prefix` (a range up to prefix_range_end(prefix)).
  RangeResult get_prefix(const std::string& prefix, Timeout timeout = kDefaultTimeout);

  /// Writes `key` (KV.Put), attached to `lease` unless 0. Returns the new revision.
  std::int64_t put(const std::string& key, const std::string& value, std::int64_t lease = 0,
                   Timeout timeout = kDefaultTimeout);
  /// Deletes `key` (KV.DeleteRange); returns how many keys went (0 or 1).
  std::int64_t remove(const std::string& key, Timeout timeout = kDefaultTimeout);
  /// Deletes every key starting with `prefix`; returns how many went.
  std::int64_t remove_prefix(const std::string& prefix, Timeout timeout = kDefaultTimeout);

  /// Runs `success` when every compare holds, else `failure`, atomically (KV.Txn).
  TxnResult txn(const std::vector<Compare>& compares, const std::vector<TxnOp>& success,
                const std::vector<TxnOp>& failure = {}, Timeout timeout = kDefaultTimeout);
  /// Writes `key` only if its mod_revision is still `expected_mod_revision` (0: only if the
  /// key does not exist). Returns whether it wrote: the guarded write of a single writer.
  bool compare_and_put(const std::string& key, std::int64_t expected_mod_revision,
                       const std::string& value, std::int64_t lease = 0,
                       Timeout timeout = kDefaultTimeout);

  /// Grants a lease of `ttl_seconds` (Lease.LeaseGrant); etcd may raise a TTL below its
  /// minimum.
  Lease grant_lease(std::int64_t ttl_seconds, Timeout timeout = kDefaultTimeout);
  /// Revokes the lease and deletes its keys (Lease.LeaseRevoke). Throws not_found when the
  /// lease is unknown.
  void revoke_lease(std::int64_t id, Timeout timeout = kDefaultTimeout);
  /// Renews the lease once over a Lease.LeaseKeepAlive stream; returns its TTL in seconds.
  /// Throws not_found when the lease already expired.
  std::int64_t keep_alive(std::int64_t id, Timeout timeout = kDefaultTimeout);
  /// The lease's remaining TTL in seconds, -1 when it is unknown (Lease.LeaseTimeToLive).
  std::int64_t lease_time_to_live(std::int64_t id, Timeout timeout = kDefaultTimeout);

  /// Opens a long-lived Lease.LeaseKeepAlive stream on the first endpoint that accepts a
  /// connection; see EtcdKeepAliveStream. Blocks at most a dial timeout per endpoint; throws
  /// EtcdError when none can be reached.
  std::unique_ptr<EtcdKeepAliveStream> open_keep_alive(EtcdKeepAliveStream::Callback callback);

  /// Starts a watch of every key under `prefix` from `start_revision` (inclusive; 0: from
  /// now) on a thread of its own; see EtcdWatch. Returns at once.
  std::unique_ptr<EtcdWatch> watch(const std::string& prefix, std::int64_t start_revision,
                                   EtcdWatch::Callback callback, bool prev_kv = false);

  /// "host:port" of the endpoint requests go to first: the last one that answered.
  const std::string& preferred_endpoint() const;

 private:
  std::shared_ptr<EtcdConnection> connection_;
};

}  // namespace signpost::registry::etcd
