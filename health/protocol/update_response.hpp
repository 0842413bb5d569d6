// The server's response to a signed DNS UPDATE as its sender reads it: rcode, granted lease
// (RFC 9664) and the TSIG that must sign it over the request's MAC (RFC 8945 §5.3).
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "health/protocol/tsig.hpp"

namespace signpost::health {

/// What a response to an UPDATE said.
struct UpdateResponse {
  enum class Status : std::uint8_t {
    ok,
    malformed,         // not a DNS message: short header, sections that do not parse
    not_this_request,  // another id, QR clear, or another opcode than UPDATE
  };
  Status status = Status::malformed;
  std::uint16_t rcode = 0;             // the header's, with the OPT's upper bits (RFC 6891 §6.1.3)
  std::optional<std::uint32_t> lease;  // the lease granted (RFC 9664 §4)
  TsigCheck tsig;  // the response's TSIG checked over the request's MAC; its tsig_error is
                   // what the server found wrong with the request (RFC 8945 §5.3.2)
};

/// Reads `message`, the response to the UPDATE with id `request_id` that was signed with MAC
/// `request_mac`, and verifies its TSIG with `signer` at `now`, seconds since the epoch
/// (RFC 2136 §3.8, RFC 8945 §5.3, §5.4). The TSIG is checked only for status ok. Never
/// throws. The thread that owns `signer`; allocates.
UpdateResponse parse_update_response(std::span<const std::uint8_t> message,
                                     std::uint16_t request_id,
                                     std::span<const std::uint8_t> request_mac,
                                     const TsigSigner& signer, std::uint64_t now);

}  // namespace signpost::health
