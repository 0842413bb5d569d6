// The etcd client's channels and failover loop.
#include "etcd_connection.hpp"

#include <algorithm>
#include <cstdint>

namespace signpost::registry::etcd {

namespace {

using namespace std::chrono_literals;

// gRPC's reconnect backoff starts at 1 s and grows to 120 s; etcd members come back within
// seconds of a restart, and a client that waits two minutes to notice serves stale data.
// gRPC's "minimum reconnect backoff" is in fact the deadline of one connection attempt (TCP
// and HTTP/2 handshake): twice the dial timeout, so a slow endpoint gets all of the dial
// timeout and it is dial() that gives up first, saying so.
grpc::ChannelArguments channel_arguments(std::chrono::milliseconds dial_timeout) {
  grpc::ChannelArguments arguments;
  arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  arguments.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS,
                   static_cast<int>(std::max<std::int64_t>(2 * dial_timeout.count(), 100)));
  arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  // A watch can be silent for hours: pings find a dead peer behind a silent network. etcd
  // refuses pings more often than every 5 s (--grpc-keepalive-min-time), hence 10 s.
  arguments.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  arguments.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  arguments.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // Each client owns its connections, so two clients of one process fail independently.
  arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return arguments;
}

std::string milliseconds_text(std::chrono::milliseconds duration) {
  return std::to_string(duration.count()) + " ms";
}

}  // namespace

EtcdConnection::EtcdConnection(EtcdOptions options) : options_(std::move(options)) {
  if (options_.endpoints.empty()) {
    throw EtcdError::with_message(EtcdErrc::invalid_argument, "", "etcd: no endpoint configured");
  }
  for (const std::string& address : options_.endpoints) {
    Endpoint endpoint;
    endpoint.address = address;
    endpoint.channel = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(),
                                                 channel_arguments(options_.dial_timeout));
    endpoint.kv = etcdserverpb::KV::NewStub(endpoint.channel);
    endpoint.watch = etcdserverpb::Watch::NewStub(endpoint.channel);
    endpoint.lease = etcdserverpb::Lease::NewStub(endpoint.channel);
    endpoint.auth = etcdserverpb::Auth::NewStub(endpoint.channel);
    endpoints_.push_back(std::move(endpoint));
  }
  tokens_.resize(endpoints_.size());
}

EtcdConnection::Dial EtcdConnection::dial(std::size_t index, Clock::time_point deadline,
                                          const std::atomic<bool>* stop) {
  grpc::Channel& channel = *endpoints_[index].channel;
  const Clock::time_point until = std::min(deadline, Clock::now() + options_.dial_timeout);
  // A channel already failing is waited on (it retries by itself after its backoff); one
  // seen idle or connecting and then failing has just been refused: no point waiting more.
  bool attempted = false;
  for (;;) {
    const grpc_connectivity_state state = channel.GetState(true);
    if (state == GRPC_CHANNEL_READY) return {true, EtcdErrc::unavailable, {}};
    if (state == GRPC_CHANNEL_IDLE || state == GRPC_CHANNEL_CONNECTING) attempted = true;
    if (state == GRPC_CHANNEL_SHUTDOWN || (state == GRPC_CHANNEL_TRANSIENT_FAILURE && attempted)) {
      return {false, EtcdErrc::unavailable, "connection failed (refused or reset)"};
    }
    const Clock::time_point now = Clock::now();
    if (stop != nullptr && stop->load()) return {false, EtcdErrc::canceled, "stopped"};
    if (now >= until) {
      if (until == deadline) {
        return {false, EtcdErrc::deadline_exceeded, "deadline passed while connecting"};
      }
      return {false, EtcdErrc::unavailable, "no connection within the dial timeout of " +
                                                milliseconds_text(options_.dial_timeout)};
    }
    channel.WaitForStateChange(state, to_system(std::min(until, now + 100ms)));
  }
}

void EtcdConnection::prepare(grpc::ClientContext& context, std::size_t index,
                             Clock::time_point deadline) {
  if (deadline != Clock::time_point::max()) context.set_deadline(to_system(deadline));
  if (options_.user.empty()) return;
  context.AddMetadata("token", token(index, deadline));
}

std::string EtcdConnection::token(std::size_t index, Clock::time_point deadline) {
  {
    std::lock_guard lock(tokens_mutex_);
    if (!tokens_[index].empty()) return tokens_[index];
  }
  Endpoint& endpoint = endpoints_[index];
  grpc::ClientContext context;
  // A watch has no deadline; its authentication still must not wait forever.
  context.set_deadline(to_system(std::min(deadline, Clock::now() + options_.request_timeout)));
  etcdserverpb::AuthenticateRequest request;
  request.set_name(options_.user);
  request.set_password(options_.password);
  etcdserverpb::AuthenticateResponse response;
  const grpc::Status status = endpoint.auth->Authenticate(&context, request, &response);
  if (!status.ok()) {
    throw EtcdError(code_of(status), endpoint.address,
                    "authenticating as " + options_.user + ": " + status.error_message());
  }
  std::lock_guard lock(tokens_mutex_);
  tokens_[index] = response.token();
  return tokens_[index];
}

void EtcdConnection::forget_token(std::size_t index) {
  std::lock_guard lock(tokens_mutex_);
  tokens_[index].clear();
}

grpc::Status EtcdConnection::attempt(
    std::size_t index, Clock::time_point deadline,
    const std::function<grpc::Status(Endpoint&, grpc::ClientContext&)>& call) {
  grpc::Status status;
  // A token expires (etcd's simple tokens after 5 minutes idle): authenticate once more.
  for (int round = 0; round < 2; ++round) {
    grpc::ClientContext context;
    prepare(context, index, deadline);
    status = call(endpoints_[index], context);
    if (status.error_code() != grpc::StatusCode::UNAUTHENTICATED || options_.user.empty()) break;
    forget_token(index);
  }
  return status;
}

void EtcdConnection::run_erased(
    Clock::time_point deadline,
    const std::function<grpc::Status(Endpoint&, grpc::ClientContext&)>& call) {
  std::string failures;
  EtcdErrc last_code = EtcdErrc::unavailable;
  std::string last_address;
  const std::size_t first = preferred();
  for (std::size_t n = 0; n < endpoints_.size() && last_code != EtcdErrc::deadline_exceeded; ++n) {
    const std::size_t index = (first + n) % endpoints_.size();
    const std::string& address = endpoints_[index].address;
    Dial dialed = dial(index, deadline, nullptr);
    grpc::Status status;
    if (dialed.connected) {
      status = attempt(index, deadline, call);
      if (status.ok()) {
        preferred_.store(index, std::memory_order_relaxed);
        return;
      }
      dialed.code = code_of(status);
      dialed.detail = status.error_message();
      // Only a request that never reached etcd is safe to send again elsewhere; etcd
      // answers "unavailable" for those (and when it has no leader).
      if (dialed.code != EtcdErrc::unavailable) throw EtcdError(dialed.code, address, dialed.detail);
    }
    last_code = dialed.code;
    last_address = address;
    if (!failures.empty()) failures += "; ";
    failures += "etcd " + address + ": " + std::string(to_string(dialed.code)) + ": " + dialed.detail;
  }
  throw EtcdError::with_message(last_code, last_address, failures);
}

EtcdErrc EtcdConnection::code_of(const grpc::Status& status) noexcept {
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE: return EtcdErrc::unavailable;
    case grpc::StatusCode::DEADLINE_EXCEEDED: return EtcdErrc::deadline_exceeded;
    case grpc::StatusCode::UNAUTHENTICATED: return EtcdErrc::unauthenticated;
    case grpc::StatusCode::PERMISSION_DENIED: return EtcdErrc::permission_denied;
    case grpc::StatusCode::INVALID_ARGUMENT: return EtcdErrc::invalid_argument;
    case grpc::StatusCode::NOT_FOUND: return EtcdErrc::not_found;
    case grpc::StatusCode::CANCELLED: return EtcdErrc::canceled;
    default: return EtcdErrc::other;
  }
}

std::chrono::system_clock::time_point EtcdConnection::to_system(Clock::time_point deadline) noexcept {
  const auto left = deadline - Clock::now();
  return std::chrono::system_clock::now() +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(left);
}

KeyValue from_message(const mvccpb::KeyValue& message) {
  KeyValue kv;
  kv.key = message.key();
  kv.value = message.value();
  kv.create_revision = message.create_revision();
  kv.mod_revision = message.mod_revision();
  kv.version = message.version();
  kv.lease = message.lease();
  return kv;
}

}  // namespace signpost::registry::etcd
