// Queries signed with TSIG (RFC 8945): verified, answered, and the answer signed.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "dns/answer/message_handlers.hpp"
#include "health/protocol/tsig.hpp"

namespace signpost::health {

/// Answers the queries that the DNS workers leave to their signed path: the TSIG is checked
/// (RFC 8945 §5.2: key, MAC, time, truncation); a good one gets the normal answer, with room
/// held back so that the signed response still fits, signed over the request's MAC (§5.3);
/// a bad one gets NOTAUTH with the TSIG error, unsigned for BADKEY and BADSIG, signed for
/// BADTIME and BADTRUNC (§5.3.2); a TSIG that cannot be read gets FORMERR.
/// Shared by every worker. A TsigSigner's HMAC contexts serve one thread at a time, so the
/// handler keeps kSigners of them, each under its own lock, and an answering thread uses
/// the one of its row (AnswerContext::worker): threads on different rows never wait for
/// each other, and no lock is held while the answer is written.
class TsigQueryHandler : public dns::answer::SignedQueryHandler {
 public:
  /// Wall clock in seconds since the epoch.
  using WallClock = std::function<std::uint64_t()>;

  /// Control thread; throws KeyError for unusable keys. No keys: every signed query gets
  /// BADKEY.
  explicit TsigQueryHandler(std::vector<TsigKey> keys, WallClock wall_clock = {});

  /// See dns::answer::SignedQueryHandler. Any worker thread; takes its row's lock twice;
  /// allocates a copy of the query; returns 0 (no response) when memory runs out.
  std::size_t handle(std::span<const std::uint8_t> query, std::span<std::uint8_t> out,
                     dns::answer::Transport transport, const registry::Snapshot& snapshot,
                     dns::answer::AnswerContext& context) noexcept override;

  /// Signers kept, one per answering row modulo this (rows: dns::net::answer_rows).
  static constexpr std::size_t kSigners = 16;

 private:
  // One signer and the lock its HMAC contexts are used under.
  struct Signer {
    explicit Signer(std::vector<TsigKey> keys) : signer(std::move(keys)) {}
    TsigSigner signer;
    std::mutex mutex;
  };

  std::size_t answer_verified(std::span<const std::uint8_t> query, const TsigCheck& check,
                              const TsigSigner& signer, std::span<std::uint8_t> out,
                              dns::answer::Transport transport,
                              const registry::Snapshot& snapshot,
                              dns::answer::AnswerContext& context);

  std::vector<std::unique_ptr<Signer>> signers_;  // kSigners, the same keys in each
  WallClock wall_clock_;
};

}  // namespace signpost::health
