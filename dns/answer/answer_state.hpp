// State shared by the lookup stages of one answer: where to write, what was added.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "dns/answer/query.hpp"
#include "dns/answer/responder.hpp"
#include "dns/answer/response_writer.hpp"
#include "dns/wire/types.hpp"
#include "registry/snapshot.hpp"

namespace signpost::dns::answer {

/// One answer in progress. Per query, on the stack; noexcept; no allocation.
class AnswerState {
 public:
  AnswerState(const registry::Snapshot& from, const Query& asked, ResponseWriter& into,
              AnswerContext& worker) noexcept
      : snapshot(from), query(asked), writer(into), context(worker) {}

  /// Writes a whole RRset; sets TC when it does not fit (RFC 2181 §9).
  bool put(Section section, Owner& owner, const wire::RRset& rrset) noexcept;
  /// NXDOMAIN or NODATA with the zone's SOA, TTL min(SOA TTL, MINIMUM) (RFC 2308 §3, §5).
  void negative(const zone::Zone& zone, std::uint16_t code) noexcept;
  /// Adds the A/AAAA of every target of `rrset` that is served here (additional section).
  void add_additional(const wire::RRset& rrset) noexcept;
  /// Remembers `name` as already in the additional section; false when it was there.
  bool first_additional(std::string_view name) noexcept;

  const registry::Snapshot& snapshot;
  const Query& query;
  ResponseWriter& writer;
  AnswerContext& context;
  std::uint16_t rcode = wire::rcode::kNoError;
  bool authoritative = true;
  bool truncated = false;

 private:
  void add_addresses(std::string_view target) noexcept;

  // Names, as plain pointer and size: an answer state lives per query, and only the first
  // `added_count_` entries are ever read, so the table is left uninitialized.
  struct Added {
    const char* data;
    std::size_t size;
  };
  static constexpr std::size_t kMaxAdditional = 64;
  std::array<Added, kMaxAdditional> added_;
  std::size_t added_count_ = 0;
};

/// Answers `name` (lower-case wire, written in the message as `owner`) from a static zone
/// (RFC 1034 §4.3.2: cuts, CNAME chains, wildcards, negatives).
void lookup_zone(AnswerState& state, const zone::Zone& zone, std::string_view name,
                 Owner& owner) noexcept;

/// Answers `name` when the registry owns it (DESIGN.md "DNS names"); `zone` is the
/// registry zone. Returns false when it is not a registry name, so the zone lookup goes on.
bool lookup_registry(AnswerState& state, const zone::Zone& zone, std::string_view name,
                     Owner& owner) noexcept;

}  // namespace signpost::dns::answer
