// The keep-alive stream: opened on the first endpoint that connects, read on its own thread.
#include "registry/backend/etcd/etcd_keep_alive.hpp"

#include "etcd_connection.hpp"

namespace signpost::registry::etcd {

namespace {

using Clock = EtcdConnection::Clock;

}  // namespace

EtcdKeepAliveStream::EtcdKeepAliveStream(std::shared_ptr<EtcdConnection> connection,
                                         Callback callback)
    : connection_(std::move(connection)), callback_(std::move(callback)) {
  std::string failures;
  EtcdErrc last_code = EtcdErrc::unavailable;
  const std::size_t first = connection_->preferred();
  for (std::size_t n = 0; n < connection_->size(); ++n) {
    const std::size_t index = (first + n) % connection_->size();
    EtcdConnection::Endpoint& endpoint = connection_->endpoint(index);
    const EtcdConnection::Dial dialed =
        connection_->dial(index, Clock::now() + connection_->options().dial_timeout, nullptr);
    if (!dialed.connected) {
      last_code = dialed.code;
      if (!failures.empty()) failures += "; ";
      failures += "etcd " + endpoint.address + ": " + std::string(to_string(dialed.code)) + ": " +
                  dialed.detail;
      continue;
    }
    context_ = std::make_unique<grpc::ClientContext>();
    connection_->prepare(*context_, index, Clock::time_point::max());  // a stream: no deadline
    address_ = endpoint.address;
    stream_ = endpoint.lease->LeaseKeepAlive(context_.get());
    reader_ = std::thread([this] { read_answers(); });
    return;
  }
  throw EtcdError::with_message(last_code, connection_->endpoint(first).address,
                                "lease keep-alive stream: " + failures);
}

EtcdKeepAliveStream::~EtcdKeepAliveStream() { close(); }

bool EtcdKeepAliveStream::send(std::span<const std::int64_t> leases) {
  etcdserverpb::LeaseKeepAliveRequest request;
  for (std::size_t i = 0; i < leases.size(); ++i) {
    if (broken_.load()) return false;
    request.set_id(leases[i]);
    // Every write but the last may wait in gRPC's buffer: a batch leaves in few packets.
    grpc::WriteOptions options;
    if (i + 1 < leases.size()) options.set_buffer_hint();
    if (!stream_->Write(request, options)) {
      broken_.store(true);  // close() reads why
      return false;
    }
  }
  return !broken_.load();
}

void EtcdKeepAliveStream::read_answers() {
  etcdserverpb::LeaseKeepAliveResponse response;
  while (stream_->Read(&response)) callback_(response.id(), response.ttl());
  broken_.store(true);  // close() reads why
}

void EtcdKeepAliveStream::set_error(const std::string& message) {
  std::lock_guard lock(error_mutex_);
  if (error_.empty()) error_ = message;
}

std::string EtcdKeepAliveStream::error() const {
  std::lock_guard lock(error_mutex_);
  return error_;
}

void EtcdKeepAliveStream::close() {
  if (closed_) return;
  closed_ = true;
  const bool was_broken = broken_.exchange(true);
  context_->TryCancel();
  if (reader_.joinable()) reader_.join();
  const grpc::Status status = stream_->Finish();
  if (!was_broken) {
    set_error("etcd " + address_ + ": lease keep-alive stream closed");
  } else if (status.ok()) {
    set_error("etcd " + address_ + ": etcd ended the lease keep-alive stream");
  } else {
    set_error("etcd " + address_ + ": " + std::string(to_string(EtcdConnection::code_of(status))) +
              ": lease keep-alive stream: " + status.error_message());
  }
}

}  // namespace signpost::registry::etcd
