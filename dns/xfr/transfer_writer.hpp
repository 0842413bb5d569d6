// Zone transfer responses: records packed into as few messages as fit (RFC 5936 §2.2).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "dns/xfr/transfer_request.hpp"

namespace signpost::dns::xfr {

/// Packs whole RRs (as ZoneContent holds them) into response messages of up to 64 KiB less
/// `reserve` octets (room for the TSIG each message may carry), and hands each one, when
/// full or finished, to `sink`. Every message echoes the request's ID and opcode and sets
/// QR and AA; the first carries the question (RFC 5936 §2.2.1), later ones none. Names go
/// uncompressed. Control plane (the transfer thread); allocates.
class TransferWriter {
 public:
  /// Takes a finished message (header counts set); it may append to it (TSIG).
  using Sink = std::function<void(std::vector<std::uint8_t>& message)>;

  TransferWriter(const TransferRequest& request, std::size_t reserve, Sink sink);

  /// Appends one RR, starting a new message when it does not fit in this one.
  void add(std::string_view record);
  /// Sends the message being filled. Call once, after the last add.
  void finish();

  std::size_t messages() const noexcept { return messages_; }

 private:
  void start_message();
  void flush();

  const TransferRequest& request_;
  std::size_t limit_;
  Sink sink_;
  std::vector<std::uint8_t> message_;
  std::uint16_t answers_ = 0;
  std::size_t messages_ = 0;
};

/// A response that carries no records: the header with `rcode`, the question echoed when
/// it parsed (REFUSED, NOTAUTH, FORMERR, NOTIMP). Any thread; allocates.
std::vector<std::uint8_t> error_response(const TransferRequest& request, std::uint16_t rcode,
                                         bool with_question);

}  // namespace signpost::dns::xfr
