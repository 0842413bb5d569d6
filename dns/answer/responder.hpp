// The answer function: one query in, one response out, from a snapshot.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "dns/answer/order.hpp"
#include "registry/snapshot.hpp"

namespace signpost::dns::answer {

/// How the query arrived; decides the size limit (RFC 1035 §4.2, RFC 6891 §6.2.5, RFC 7766).
enum class Transport : std::uint8_t { udp, tcp };

/// How registry answers are ordered (`dns.order`).
enum class OrderMode : std::uint8_t { weighted, round_robin };

/// Fixed settings of the answer path, taken from `[dns]` at start-up.
struct AnswerOptions {
  std::uint16_t udp_payload = 1232;  // our EDNS payload size
  OrderMode order = OrderMode::weighted;
};

/// Per-thread counters: plain integers, owned and written by one answering thread.
struct AnswerCounters {
  std::uint64_t queries = 0;
  std::uint64_t dropped = 0;
  std::uint64_t noerror = 0;
  std::uint64_t nxdomain = 0;
  std::uint64_t formerr = 0;
  std::uint64_t notimp = 0;
  std::uint64_t refused = 0;
  std::uint64_t badvers = 0;
  std::uint64_t truncated = 0;
  std::uint64_t signed_queries = 0;  // carried TSIG (RFC 8945): left to the signed path
  std::uint64_t notauth = 0;         // signed queries whose TSIG failed (RFC 8945 §5.2)

  AnswerCounters& operator+=(const AnswerCounters& other) noexcept;
};

/// What one answering thread keeps between queries: options, counters, its random generator
/// and the ordering scratch, all allocated once here. Owned and used by that thread.
class AnswerContext {
 public:
  /// `worker` is the thread's row of round-robin state; `seed` 0 picks a random seed,
  /// otherwise the generator is seeded from seed and row so orders are reproducible.
  AnswerContext(const AnswerOptions& options, std::size_t worker, std::uint64_t seed);
  AnswerContext(const AnswerContext&) = delete;
  AnswerContext& operator=(const AnswerContext&) = delete;

  AnswerOptions options;
  AnswerCounters counters;
  Random random;
  OrderScratch scratch;
  std::size_t worker;
  std::span<std::uint16_t> order;  // one answer's record order
  /// Set by answer_query when it returned 0 because the query carries a TSIG record (RFC
  /// 8945): the caller hands it to its signed path. Read it only right after that call.
  bool signed_query = false;

 private:
  std::vector<std::uint64_t> weights_;
  std::vector<std::uint16_t> indexes_;
  std::vector<double> keys_;
  std::vector<std::uint16_t> order_;
};

/// Before a batch of queries is answered: starts loading, for each query that names a
/// registry service (`<service>.<domain>` or `_<service>._<proto>.<domain>`), what its
/// answer will read: the shard slot, the service's records, their record group and wire.
/// Each step is one pass over the batch, so that the batch's cache misses overlap instead of
/// each answer waiting for its own in turn. A hint: no answer changes. The worker's thread;
/// noexcept; no allocation.
void prefetch_answers(const registry::Snapshot& snapshot,
                      std::span<const std::span<const std::uint8_t>> queries) noexcept;

/// Answers the DNS message in `query` from `snapshot`, writing the response into `out`
/// (at least 65,535 octets for TCP; at least the EDNS payload size for UDP). Returns the
/// response length, or 0 when the message must be dropped (shorter than a header, or a
/// response) or when it carries a TSIG record: then `context.signed_query` is set and the
/// caller's signed path verifies it and calls here again with the TSIG taken off. The
/// response leaves `reserve` octets of its size limit free, for a record the caller appends
/// (the signed path's TSIG, RFC 8945 §5.3); what does not fit then sets TC as usual.
/// Validation follows the ladder in query.hpp; lookup follows RFC 1034 §4.3.2 for static
/// zones and DESIGN.md's names for the registry.
/// The worker that owns `context`; noexcept; never allocates, locks or logs.
std::size_t answer_query(const registry::Snapshot& snapshot, std::span<const std::uint8_t> query,
                         std::span<std::uint8_t> out, Transport transport,
                         AnswerContext& context, std::size_t reserve = 0) noexcept;

/// Writes into `out` the response to `query` that carries nothing but `rcode`: the header,
/// the question echoed, OPT when the query had EDNS, and `reserve` octets of the size limit
/// left free, as answer_query. For a caller that decided the rcode itself (a TSIG error:
/// NOTAUTH, or FORMERR, RFC 8945 §5.2). Returns the length, 0 when the message must be
/// dropped. The worker that owns `context`; noexcept; no allocation.
std::size_t answer_error(std::span<const std::uint8_t> query, std::span<std::uint8_t> out,
                         Transport transport, std::uint16_t rcode, AnswerContext& context,
                         std::size_t reserve = 0) noexcept;

}  // namespace signpost::dns::answer
