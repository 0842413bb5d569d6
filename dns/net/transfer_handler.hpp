// The interface through which TCP sessions hand zone transfer requests (AXFR, IXFR) to the
// transfer service (dns/xfr), which answers them off the worker threads.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace signpost::dns::net {

/// Sends a transfer's response: every message already framed with its two-octet length
/// (RFC 1035 §4.2.2), back to back; empty: send nothing. Called at most once, from any
/// thread; it keeps the session it writes to alive.
using TransferReply = std::function<void(std::vector<std::uint8_t> framed)>;

/// Answers AXFR and IXFR over TCP. A transfer may take many messages and much longer to
/// build than a query, so a session only copies the request and hands it here; the answer
/// comes back to the session's own thread, which writes it as the socket takes it, while
/// the worker answers everything else.
class TransferHandler {
 public:
  virtual ~TransferHandler() = default;
  /// Queues `message` (an AXFR or IXFR request, see xfr::is_transfer_query) from the client
  /// at `from` (numeric address text). Never blocks. Worker thread; allocates.
  virtual void handle_later(std::vector<std::uint8_t> message, std::string from,
                            TransferReply reply) = 0;
};

}  // namespace signpost::dns::net
