// The bounded journal of one zone's published changes, from which IXFR answers (RFC 1995).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "dns/xfr/zone_content.hpp"

namespace signpost::dns::xfr {

/// The latest version of a zone and the diffs that lead to it, oldest first. Bounded: past
/// `max_diffs` diffs or `max_octets` octets of them, the oldest are dropped, and a client
/// older than what is left gets the whole zone instead (RFC 1995 §4). Versions are recorded
/// as they are seen: several serials published between two looks make one diff.
/// Used by one thread (the transfer thread).
class ZoneJournal {
 public:
  ZoneJournal(std::size_t max_diffs, std::size_t max_octets)
      : max_diffs_(max_diffs), max_octets_(max_octets) {}

  /// Records `next` as the latest version, with the diff from the one before when its
  /// serial is another (diff_zones). Returns true when the serial changed. Allocates.
  bool record(std::shared_ptr<const ZoneContent> next);

  /// The latest version, or nullptr before the first.
  const std::shared_ptr<const ZoneContent>& latest() const noexcept { return latest_; }

  /// The diffs from `serial` to the latest version, oldest first, or an empty list when
  /// the journal does not reach back to `serial`. No allocation but the result.
  std::vector<const ZoneDiff*> changes_since(std::uint32_t serial) const;

  std::size_t diff_count() const noexcept { return diffs_.size(); }

 private:
  std::size_t max_diffs_;
  std::size_t max_octets_;
  std::size_t octets_ = 0;
  std::shared_ptr<const ZoneContent> latest_;
  std::deque<ZoneDiff> diffs_;
};

}  // namespace signpost::dns::xfr
