// The etcd client's requests: each builds etcd's request message, runs it through the
// connection's failover loop and turns the answer into plain values.
#include "registry/backend/etcd/etcd_client.hpp"

#include "etcd_connection.hpp"

namespace signpost::registry::etcd {

namespace {

using Clock = EtcdConnection::Clock;

std::vector<KeyValue> from_messages(const google::protobuf::RepeatedPtrField<mvccpb::KeyValue>& kvs) {
  std::vector<KeyValue> out;
  out.reserve(static_cast<std::size_t>(kvs.size()));
  for (const mvccpb::KeyValue& kv : kvs) out.push_back(from_message(kv));
  return out;
}

void fill_compare(etcdserverpb::Compare& message, const Compare& compare) {
  using Target = Compare::Target;
  using Result = Compare::Result;
  message.set_key(compare.key);
  switch (compare.result) {
    case Result::equal: message.set_result(etcdserverpb::Compare::EQUAL); break;
    case Result::not_equal: message.set_result(etcdserverpb::Compare::NOT_EQUAL); break;
    case Result::greater: message.set_result(etcdserverpb::Compare::GREATER); break;
    case Result::less: message.set_result(etcdserverpb::Compare::LESS); break;
  }
  switch (compare.target) {
    case Target::version:
      message.set_target(etcdserverpb::Compare::VERSION);
      message.set_version(compare.number);
      break;
    case Target::create_revision:
      message.set_target(etcdserverpb::Compare::CREATE);
      message.set_create_revision(compare.number);
      break;
    case Target::mod_revision:
      message.set_target(etcdserverpb::Compare::MOD);
      message.set_mod_revision(compare.number);
      break;
    case Target::value:
      message.set_target(etcdserverpb::Compare::VALUE);
      message.set_value(compare.value);
      break;
  }
}

void fill_op(etcdserverpb::RequestOp& message, const TxnOp& op) {
  switch (op.kind) {
    case TxnOp::Kind::put: {
      etcdserverpb::PutRequest& put = *message.mutable_request_put();
      put.set_key(op.key);
      put.set_value(op.value);
      put.set_lease(op.lease);
      break;
    }
    case TxnOp::Kind::remove: {
      etcdserverpb::DeleteRangeRequest& remove = *message.mutable_request_delete_range();
      remove.set_key(op.key);
      remove.set_range_end(op.range_end);
      break;
    }
    case TxnOp::Kind::range: {
      etcdserverpb::RangeRequest& range = *message.mutable_request_range();
      range.set_key(op.key);
      range.set_range_end(op.range_end);
      break;
    }
  }
}

}  // namespace

TxnOp TxnOp::put(std::string key, std::string value, std::int64_t lease) {
  TxnOp op;
  op.kind = Kind::put;
  op.key = std::move(key);
  op.value = std::move(value);
  op.lease = lease;
  return op;
}

TxnOp TxnOp::remove(std::string key, std::string range_end) {
  TxnOp op;
  op.kind = Kind::remove;
  op.key = std::move(key);
  op.range_end = std::move(range_end);
  return op;
}

TxnOp TxnOp::range(std::string key, std::string range_end) {
  TxnOp op;
  op.kind = Kind::range;
  op.key = std::move(key);
  op.range_end = std::move(range_end);
  return op;
}

std::string prefix_range_end(const std::string& prefix) {
  // etcd's prefix convention (clientv3.GetPrefixRangeEnd): drop trailing 0xff bytes, then
  // raise the last byte; a prefix of only 0xff bytes (or none) ranges to the end, "\0".
  std::string end = prefix;
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

EtcdClient::EtcdClient(EtcdOptions options)
    : connection_(std::make_shared<EtcdConnection>(std::move(options))) {}

EtcdClient::~EtcdClient() = default;

namespace {

Clock::time_point deadline_of(const EtcdConnection& connection, EtcdClient::Timeout timeout) {
  return Clock::now() + (timeout.count() > 0 ? timeout : connection.options().request_timeout);
}

}  // namespace

RangeResult EtcdClient::range(const std::string& key, const std::string& range_end,
                              Timeout timeout) {
  etcdserverpb::RangeRequest request;
  request.set_key(key);
  request.set_range_end(range_end);
  etcdserverpb::RangeResponse response;
  connection_->run(deadline_of(*connection_, timeout),
                   [&](EtcdConnection::Endpoint& endpoint, grpc::ClientContext& context) {
                     return endpoint.kv->Range(&context, request, &response);
                   });
  return {from_messages(response.kvs()), response.header().revision(), response.more()};
}

RangeResult EtcdClient::range_page(const std::string& key, const std::string& range_end,
                                   std::int64_t limit, std::int64_t revision, Timeout timeout) {
  etcdserverpb::RangeRequest request;
  request.set_key(key);
  request.set_range_end(range_end);
  request.set_limit(limit);
  request.set_revision(revision);
  etcdserverpb::RangeResponse response;
  connection_->run(deadline_of(*connection_, timeout),
                   [&](EtcdConnection::Endpoint& endpoint, grpc::ClientContext& context) {
                     return endpoint.kv->Range(&context, request, &response);
                   });
  RangeResult result{from_messages(response.kvs()), response.header().revision(), response.more()};
  return result;
}

RangeResult EtcdClient::get_prefix(const std::string& prefix, Timeout timeout) {
  return range(prefix, prefix_range_end(prefix), timeout);
}

std::int64_t EtcdClient::put(const std::string& key, const std::string& value,
                             std::int64_t lease, Timeout timeout) {
  etcdserverpb::PutRequest request;
  request.set_key(key);
  request.set_value(value);
  request.set_lease(lease);
  etcdserverpb::PutResponse response;
  connection_->run(deadline_of(*connection_, timeout),
                   [&](EtcdConnection::Endpoint& endpoint, grpc::ClientContext& context) {
                     return endpoint.kv->Put(&context, request, &response);
                   });
  return response.header().revision();
}

std::int64_t EtcdClient::remove(const std::string& key, Timeout timeout) {
  etcdserverpb::DeleteRangeRequest request;
  request.set_key(key);
  etcdserverpb::DeleteRangeResponse response;
  connection_->run(deadline_of(*connection_, timeout),
                   [&](EtcdConnection::Endpoint& endpoint, grpc::ClientContext& context) {
                     return endpoint.kv->DeleteRange(&context, request, &response);
                   });
  return response.deleted();
}

std::int64_t EtcdClient::remove_prefix(const std::string& prefix, Timeout timeout) {
  etcdserverpb::DeleteRangeRequest request;
  request.set_key(prefix);
  request.set_range_end(prefix_range_end(prefix));
  etcdserverpb::DeleteRangeResponse response;
  connection_->run(deadline_of(*connection_, timeout),
                   [&](EtcdConnection::Endpoint& endpoint, grpc::ClientContext& context) {
                     return endpoint.kv->DeleteRange(&context, request, &response);
                   });
  return response.deleted();
}

TxnResult EtcdClient::txn(const std::vector<Compare>& compares, const std::vector<TxnOp>& success,
                          const std::vector<TxnOp>& failure, Timeout timeout) {
  etcdserverpb::TxnRequest request;
  for (const Compare& compare : compares) fill_compare(*request.add_compare(), compare);
  for (const TxnOp& op : success) fill_op(*request.add_success(), op);
  for (const TxnOp& op : failure) fill_op(*request.add_failure(), op);
  etcdserverpb::TxnResponse response;
  connection_->run(deadline_of(*connection_, timeout),
                   [&](EtcdConnection::Endpoint& endpoint, grpc::ClientContext& context) {
                     return endpoint.kv->Txn(&context, request, &response);
                   });
  TxnResult result;
  result.succeeded = response.succeeded();
  result.revision = response.header().revision();
  for (const etcdserverpb::ResponseOp& op : response.responses()) {
    if (op.has_response_range()) result.ranges.push_back(from_messages(op.response_range().kvs()));
  }
  return result;
}

bool EtcdClient::compare_and_put(const std::string& key, std::int64_t expected_mod_revision,
                                 const std::string& value, std::int64_t lease, Timeout timeout) {
  Compare guard;
  guard.key = key;
  guard.target = Compare::Target::mod_revision;
  guard.result = Compare::Result::equal;
  guard.number = expected_mod_revision;
  return txn({guard}, {TxnOp::put(key, value, lease)}, {}, timeout).succeeded;
}

Lease EtcdClient::grant_lease(std::int64_t ttl_seconds, Timeout timeout) {
  etcdserverpb::LeaseGrantRequest request;
  request.set_ttl(ttl_seconds);
  etcdserverpb::LeaseGrantResponse response;
  connection_->run(deadline_of(*connection_, timeout),
                   [&](EtcdConnection::Endpoint& endpoint, grpc::ClientContext& context) {
                     return endpoint.lease->LeaseGrant(&context, request, &response);
                   });
  if (!response.error().empty()) {
    throw EtcdError(EtcdErrc::other, preferred_endpoint(), "lease grant: " + response.error());
  }
  return {response.id(), response.ttl()};
}

void EtcdClient::revoke_lease(std::int64_t id, Timeout timeout) {
  etcdserverpb::LeaseRevokeRequest request;
  request.set_id(id);
  etcdserverpb::LeaseRevokeResponse response;
  connection_->run(deadline_of(*connection_, timeout),
                   [&](EtcdConnection::Endpoint& endpoint, grpc::ClientContext& context) {
                     return endpoint.lease->LeaseRevoke(&context, request, &response);
                   });
}

std::int64_t EtcdClient::keep_alive(std::int64_t id, Timeout timeout) {
  etcdserverpb::LeaseKeepAliveRequest request;
  request.set_id(id);
  etcdserverpb::LeaseKeepAliveResponse response;
  connection_->run(deadline_of(*connection_, timeout),
                   [&](EtcdConnection::Endpoint& endpoint, grpc::ClientContext& context) {
                     // One renewal: send, read the answer, close our side; etcd then ends
                     // the stream with OK.
                     auto stream = endpoint.lease->LeaseKeepAlive(&context);
                     if (stream->Write(request)) stream->Read(&response);
                     stream->WritesDone();
                     return stream->Finish();
                   });
  if (response.ttl() <= 0) {
    throw EtcdError(EtcdErrc::not_found, preferred_endpoint(),
                    "lease " + std::to_string(id) + " not found (expired or revoked)");
  }
  return response.ttl();
}

std::int64_t EtcdClient::lease_time_to_live(std::int64_t id, Timeout timeout) {
  etcdserverpb::LeaseTimeToLiveRequest request;
  request.set_id(id);
  etcdserverpb::LeaseTimeToLiveResponse response;
  connection_->run(deadline_of(*connection_, timeout),
                   [&](EtcdConnection::Endpoint& endpoint, grpc::ClientContext& context) {
                     return endpoint.lease->LeaseTimeToLive(&context, request, &response);
                   });
  return response.ttl();
}

std::unique_ptr<EtcdKeepAliveStream> EtcdClient::open_keep_alive(
    EtcdKeepAliveStream::Callback callback) {
  return std::unique_ptr<EtcdKeepAliveStream>(
      new EtcdKeepAliveStream(connection_, std::move(callback)));
}

std::unique_ptr<EtcdWatch> EtcdClient::watch(const std::string& prefix,
                                             std::int64_t start_revision,
                                             EtcdWatch::Callback callback, bool prev_kv) {
  return std::unique_ptr<EtcdWatch>(
      new EtcdWatch(connection_, prefix, start_revision, prev_kv, std::move(callback)));
}

const std::string& EtcdClient::preferred_endpoint() const {
  return connection_->endpoint(connection_->preferred()).address;
}

}  // namespace signpost::registry::etcd
