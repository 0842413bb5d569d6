// What goes back to a client whose query was forwarded: the upstream's answer made the
// answer to the client's own query, or a SERVFAIL when there is none.
//
// Design. c-ares sends the client's query as it came, under an ID of its own, so the
// upstream's answer differs from the response the client waits for in its ID and, since a
// resolver may answer the question in another letter case, in the question's case (0x20
// clients check it, RFC 1035 §7.3). Both are put back from the client's query: the question
// only once it is the same question, compared without regard to case (RFC 4343 §3). The
// answer's records are passed on as they are. An answer larger than the client may take over
// UDP (c-ares already retried a truncated one over TCP) becomes the header and question with
// TC set, so the client retries over TCP (RFC 1035 §4.2.1, RFC 7766 §5); records are not cut,
// since a partial RRset must not be sent (RFC 2181 §9).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "dns/answer/responder.hpp"

namespace signpost::dns::forward {

/// The most octets a response to `query` may take over `transport`: 65,535 over TCP; over UDP
/// the client's EDNS payload size capped at `udp_payload`, or 512 without EDNS (RFC 6891
/// §6.2.5: sizes below 512 count as 512). 0 when `query` is not a query that parses.
/// Any thread; noexcept; no allocation.
std::size_t response_limit(std::span<const std::uint8_t> query, answer::Transport transport,
                           std::uint16_t udp_payload) noexcept;

/// Writes into `out` (at least 65,535 octets) the response to the client's `query` made from
/// the upstream's `answer`: the client's ID and question octets, RA set, TC (and no records)
/// when it exceeds response_limit. Returns its length; 0 when `answer` is not a response to
/// the same question (malformed, QR clear, another question), so the caller sends SERVFAIL.
/// Any thread; noexcept; no allocation.
std::size_t restore_response(std::span<const std::uint8_t> query,
                             std::span<const std::uint8_t> answer, answer::Transport transport,
                             std::uint16_t udp_payload, std::span<std::uint8_t> out) noexcept;

/// Writes into `out` (at least 512 octets) the response to `query` that carries nothing but
/// `rcode` (SERVFAIL when no upstream answered in time, RFC 1035 §4.1.1), with RA set and
/// OPT when the query had EDNS. Returns its length, 0 when `query` does not parse far enough
/// to be answered. Any thread; noexcept; no allocation.
std::size_t failure_response(std::span<const std::uint8_t> query, std::uint16_t rcode,
                             std::uint16_t udp_payload, std::span<std::uint8_t> out) noexcept;

}  // namespace signpost::dns::forward
