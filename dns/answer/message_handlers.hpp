// The interfaces through which the network code hands messages that are not plain queries
// (UPDATEs, TSIG-signed queries) to whoever holds the keys and the registry (health), and
// queries for names outside every served zone to the forwarder (dns/forward). They live
// here, below dns/net, health and dns/forward, so that those implement them without
// depending on the network layer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "dns/answer/responder.hpp"
#include "registry/snapshot.hpp"

namespace signpost::dns::answer {

/// Sends the response to an UPDATE that was handled later (empty: send nothing). Called at
/// most once, from any thread; it may outlive the worker (it keeps what it sends through).
using UpdateReply = std::function<void(std::vector<std::uint8_t> response)>;

/// Takes the messages that are not queries but DNS UPDATEs (RFC 2136) off the answer path.
/// Implemented by the heartbeat receiver; dns/net only moves the bytes. An UPDATE either is
/// answered at once, when that takes no waiting (a known renewal), or is copied and handed
/// to another thread, so that no amount of UPDATE work delays the queries behind it.
class UpdateHandler {
 public:
  virtual ~UpdateHandler() = default;
  /// Answers `message` at once when that needs no waiting: returns true with the response
  /// in `response` (empty: send nothing). False: it must go to handle_later. Worker thread;
  /// never blocks (it only tries a lock); may allocate.
  virtual bool try_handle(std::span<const std::uint8_t> message, Transport transport,
                          std::vector<std::uint8_t>& response) = 0;
  /// Queues `message` to be handled on another thread; `reply` gets its response there.
  /// `from` is the client's address as text, for the audit log. Never blocks: when too much
  /// is queued the UPDATE is dropped (`reply` is then destroyed on this thread without being
  /// called), as a datagram lost. Worker thread; allocates.
  virtual void handle_later(std::vector<std::uint8_t> message, Transport transport,
                            std::string from, UpdateReply reply) = 0;
};

/// Takes the queries that carry a TSIG record (RFC 8945) off the answer path, which only
/// notices the record (answer_query sets `context.signed_query`). Implemented where
/// the keys are (health); dns/net only moves the bytes.
class SignedQueryHandler {
 public:
  virtual ~SignedQueryHandler() = default;
  /// Verifies the TSIG of `query`, answers it from `snapshot` through answer_query
  /// (or answer_error for a TSIG error) into `out` with `context`, and signs the
  /// response (RFC 8945 §5.2, §5.3). Returns the response length, 0 to send nothing. The
  /// worker thread that owns `context`; may take a short lock and allocate (signed queries
  /// are few), never waits on I/O.
  virtual std::size_t handle(std::span<const std::uint8_t> query, std::span<std::uint8_t> out,
                             Transport transport, const registry::Snapshot& snapshot,
                             AnswerContext& context) noexcept = 0;
};

/// Takes the queries that answer_query left to be forwarded (`context.forward_query`: RD set,
/// a name outside every served zone, forwarding on) off the answer path, to upstream
/// resolvers. Implemented by dns/forward; dns/net only moves the bytes.
class Forwarder {
 public:
  virtual ~Forwarder() = default;
  /// Queues the copied `query` to be forwarded; `reply` is called exactly once with the
  /// response (the client's ID and question restored, RFC 1035 §7.3), or with nothing to
  /// send. When too many queries are in flight the query is dropped, as a datagram lost:
  /// `reply` is then called at once, on this thread, with nothing. Worker thread; never
  /// blocks on I/O (a short lock); allocates.
  virtual void forward(std::vector<std::uint8_t> query, Transport transport,
                       UpdateReply reply) = 0;
};

}  // namespace signpost::dns::answer
