// The bounded journal of a zone's changes.
#include "dns/xfr/zone_journal.hpp"

namespace signpost::dns::xfr {

bool ZoneJournal::record(std::shared_ptr<const ZoneContent> next) {
  if (latest_ && latest_->serial == next->serial) {
    latest_ = std::move(next);  // same serial: nothing a secondary could ask for changed
    return false;
  }
  if (latest_) {
    diffs_.push_back(diff_zones(*latest_, *next));
    octets_ += diffs_.back().octets();
  }
  latest_ = std::move(next);
  while (!diffs_.empty() && (diffs_.size() > max_diffs_ || octets_ > max_octets_)) {
    octets_ -= diffs_.front().octets();
    diffs_.pop_front();
  }
  return true;
}

std::vector<const ZoneDiff*> ZoneJournal::changes_since(std::uint32_t serial) const {
  std::vector<const ZoneDiff*> chain;
  for (std::size_t i = 0; i < diffs_.size(); ++i) {
    if (diffs_[i].from_serial() != serial) continue;
    for (std::size_t j = i; j < diffs_.size(); ++j) chain.push_back(&diffs_[j]);
    return chain;
  }
  return chain;
}

}  // namespace signpost::dns::xfr
