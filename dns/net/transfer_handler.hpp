// The interface through which TCP sessions hand zone transfer requests (AXFR, IXFR) to the
// transfer service (dns/xfr), which answers them off the worker threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
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
  /// Answers an IXFR that came over UDP, from `from`, into `out` at once (RFC 1995 §2): the
  /// SOA alone when the client is current, otherwise TC, so that it asks again over TCP;
  /// the same rules and TSIG as over TCP. Returns the length, 0 to send nothing. A UDP
  /// listener's thread; may take a short lock and allocate (such queries are few).
  virtual std::size_t answer_datagram(std::span<const std::uint8_t> query,
                                      std::span<std::uint8_t> out,
                                      const std::string& from) noexcept = 0;
};

}  // namespace signpost::dns::net
