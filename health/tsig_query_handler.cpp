// Signed queries: verify, answer, sign.
#include "health/tsig_query_handler.hpp"

#include <chrono>

#include "dns/answer/responder.hpp"
#include "dns/wire/reader.hpp"
#include "dns/wire/types.hpp"

namespace signpost::health {

namespace {

namespace answer = dns::answer;
namespace wire = dns::wire;

std::uint64_t system_seconds() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

}  // namespace

TsigQueryHandler::TsigQueryHandler(std::vector<TsigKey> keys, WallClock wall_clock)
    : wall_clock_(wall_clock ? std::move(wall_clock) : WallClock(system_seconds)) {
  for (std::size_t i = 0; i < kSigners; ++i) signers_.push_back(std::make_unique<Signer>(keys));
}

std::size_t TsigQueryHandler::handle(std::span<const std::uint8_t> query,
                                     std::span<std::uint8_t> out, answer::Transport transport,
                                     const registry::Snapshot& snapshot,
                                     answer::AnswerContext& context) noexcept {
  try {
    const std::uint64_t now = wall_clock_();
    Signer& row = *signers_[context.worker % kSigners];
    TsigCheck check;
    {
      const std::lock_guard lock(row.mutex);
      check = row.signer.verify(query, now);
    }
    if (check.status == TsigCheck::Status::malformed ||
        check.status == TsigCheck::Status::unsigned_message) {
      // A TSIG that cannot be interpreted: FORMERR, and no TSIG to answer with (§5.2).
      return answer::answer_error(query, out, transport, wire::rcode::kFormErr, context);
    }
    const std::size_t length =
        answer_verified(query, check, row.signer, out, transport, snapshot, context);
    if (length == 0) return 0;
    const std::lock_guard lock(row.mutex);
    return row.signer.sign_response(out, length, check, check.error(), now);
  } catch (const std::exception&) {
    // Out of memory: no response, as for a datagram lost; the client retries.
    return 0;
  }
}

// The answer, or the NOTAUTH error, before its TSIG: room for that is held back, so that
// the signed response keeps to the size limit, with TC when the records did not all fit.
std::size_t TsigQueryHandler::answer_verified(std::span<const std::uint8_t> query,
                                              const TsigCheck& check, const TsigSigner& signer,
                                              std::span<std::uint8_t> out,
                                              answer::Transport transport,
                                              const registry::Snapshot& snapshot,
                                              answer::AnswerContext& context) {
  // The record's size needs no lock: it reads only what the signer never changes.
  const std::size_t reserve = signer.response_size(check, check.error());
  if (check.status != TsigCheck::Status::ok) {
    return answer::answer_error(query, out, transport, wire::rcode::kNotAuth, context, reserve);
  }
  // The query as it was before it was signed: without its TSIG, ARCOUNT one less (§4.3.1).
  std::vector<std::uint8_t> unsigned_query(query.begin(),
                                           query.begin() + static_cast<std::ptrdiff_t>(check.tsig_offset));
  std::uint8_t* arcount = unsigned_query.data() + 10;
  wire::store_u16(arcount, static_cast<std::uint16_t>(wire::load_u16(arcount) - 1));
  const std::size_t length =
      answer::answer_query(snapshot, unsigned_query, out, transport, context, reserve);
  if (length != 0 || !context.forward_query) return length;
  // A signed query is not forwarded: its answer must be signed with our key, which no
  // upstream holds. It is refused, signed, as it is with forwarding off.
  context.forward_query = false;
  return answer::answer_error(unsigned_query, out, transport, wire::rcode::kRefused, context,
                              reserve);
}

}  // namespace signpost::health
