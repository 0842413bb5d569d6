// Queries signed with TSIG (RFC 8945): verified, answered, and the answer signed.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <vector>

#include "dns/net/worker.hpp"
#include "health/tsig.hpp"

namespace signpost::health {

/// Answers the queries that the DNS workers leave to their signed path: the TSIG is checked
/// (RFC 8945 §5.2: key, MAC, time, truncation); a good one gets the normal answer, with room
/// held back so that the signed response still fits, signed over the request's MAC (§5.3);
/// a bad one gets NOTAUTH with the TSIG error, unsigned for BADKEY and BADSIG, signed for
/// BADTIME and BADTRUNC (§5.3.2); a TSIG that cannot be read gets FORMERR.
/// Shared by every worker: the HMAC contexts are used under one lock, held only for the
/// verification and the signing, never for the answer.
class TsigQueryHandler : public dns::net::SignedQueryHandler {
 public:
  /// Wall clock in seconds since the epoch.
  using WallClock = std::function<std::uint64_t()>;

  /// Control thread; throws KeyError for unusable keys. No keys: every signed query gets
  /// BADKEY.
  explicit TsigQueryHandler(std::vector<TsigKey> keys, WallClock wall_clock = {});

  /// See dns::net::SignedQueryHandler. Any worker thread; takes the lock twice; allocates a
  /// copy of the query; returns 0 (no response) when memory runs out.
  std::size_t handle(std::span<const std::uint8_t> query, std::span<std::uint8_t> out,
                     dns::answer::Transport transport, const registry::Snapshot& snapshot,
                     dns::answer::AnswerContext& context) noexcept override;

 private:
  std::size_t answer_verified(std::span<const std::uint8_t> query, const TsigCheck& check,
                              std::span<std::uint8_t> out, dns::answer::Transport transport,
                              const registry::Snapshot& snapshot,
                              dns::answer::AnswerContext& context);

  TsigSigner signer_;
  WallClock wall_clock_;
  std::mutex mutex_;  // the signer's HMAC contexts, one user at a time
};

}  // namespace signpost::health
