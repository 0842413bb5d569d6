// The etcd client's plain values: options, key-values, compares, transaction steps, watch
// events. No gRPC or protobuf type appears here, so users of the client need neither.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace signpost::registry::etcd {

/// How to reach etcd.
struct EtcdOptions {
  /// "host:port" of each member, tried in order; a failed one hands over to the next.
  std::vector<std::string> endpoints;
  /// How long one endpoint may take to accept a connection before the next is tried.
  std::chrono::milliseconds dial_timeout{1000};
  /// The deadline of a request whose caller gives none, failovers included.
  std::chrono::milliseconds request_timeout{5000};
  /// When set, the client authenticates with etcd's Auth service and sends the token.
  std::string user;
  std::string password;
};

/// One key as etcd stores it (mvccpb.KeyValue).
struct KeyValue {
  std::string key;
  std::string value;
  std::int64_t create_revision = 0;
  std::int64_t mod_revision = 0;
  std::int64_t version = 0;  // 1 when created; every write adds one
  std::int64_t lease = 0;    // 0: none
};

/// What a range read found, and the store's revision it was read at (header.revision).
struct RangeResult {
  std::vector<KeyValue> kvs;
  std::int64_t revision = 0;
  bool more = false;  // a limited read left keys out: read on after the last key
};

/// One guard of a transaction (etcdserverpb.Compare). A key that does not exist has
/// version, create_revision and mod_revision 0, so `mod_revision == 0` means "absent".
struct Compare {
  enum class Target { version, create_revision, mod_revision, value };
  enum class Result { equal, not_equal, greater, less };
  std::string key;
  Target target = Target::mod_revision;
  Result result = Result::equal;
  std::int64_t number = 0;  // for version and the revisions
  std::string value;        // for Target::value
};

/// One step of a transaction's branch (etcdserverpb.RequestOp): put, delete or read.
struct TxnOp {
  enum class Kind { put, remove, range };
  Kind kind = Kind::put;
  std::string key;
  std::string value;      // put
  std::int64_t lease = 0; // put
  std::string range_end;  // remove and range: [key, range_end); empty means key alone

  /// The three kinds, spelled at the call site. Any thread; allocates.
  static TxnOp put(std::string key, std::string value, std::int64_t lease = 0);
  static TxnOp remove(std::string key, std::string range_end = {});
  static TxnOp range(std::string key, std::string range_end = {});
};

/// A transaction's outcome: which branch ran, the revision, and what its range steps read
/// (one entry per range step of that branch, in order).
struct TxnResult {
  bool succeeded = false;
  std::int64_t revision = 0;
  std::vector<std::vector<KeyValue>> ranges;
};

/// A granted lease: its id and the TTL etcd chose, in seconds.
struct Lease {
  std::int64_t id = 0;
  std::int64_t ttl = 0;
};

/// One change seen by a watch (mvccpb.Event). A deletion's kv holds the key and the
/// revision of the deletion in mod_revision; prev_kv is set when the watch asked for it.
struct WatchEvent {
  enum class Type { put, remove };
  Type type = Type::put;
  KeyValue kv;
  bool has_prev_kv = false;
  KeyValue prev_kv;
};

/// What a watch hands its callback.
struct WatchNotice {
  enum class Kind {
    /// The watch is (again) established; `revision` is the last revision already covered:
    /// events follow from revision + 1.
    created,
    /// `events`, in revision order; `revision` is the store's revision when they were sent.
    events,
    /// The stream broke (`message` says where and why); the watch reconnects by itself and
    /// resumes after the last revision delivered, so no event is lost or repeated.
    broken,
    /// The revision to resume from was compacted away: `revision` is the compact revision.
    /// Events were lost; the watch has ended, and its owner must read the prefix again and
    /// start a new watch from that read's revision + 1.
    compacted,
  };
  Kind kind = Kind::events;
  std::int64_t revision = 0;
  std::vector<WatchEvent> events;
  std::string message;
};

/// The end of the range holding every key that starts with `prefix` ("a/" -> "a0"): the
/// prefix with its last byte below 0xff raised by one; "\0" (every key) when there is none.
/// Any thread; allocates.
std::string prefix_range_end(const std::string& prefix);

}  // namespace signpost::registry::etcd
