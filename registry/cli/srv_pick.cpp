// RFC 2782 target selection.
#include "registry/cli/srv_pick.hpp"

#include <algorithm>
#include <stdexcept>
#include <tuple>

namespace signpost::registry::cli {

std::size_t pick_srv(const std::vector<SrvTarget>& records, std::mt19937_64& random) {
  if (records.empty()) throw std::invalid_argument("no SRV records to pick from");
  const auto lowest = std::min_element(records.begin(), records.end(),
                                       [](const SrvTarget& a, const SrvTarget& b) {
                                         return a.priority < b.priority;
                                       })->priority;
  std::vector<std::size_t> group;
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (records[i].priority != lowest) continue;
    group.push_back(i);
    total += records[i].weight;
  }
  // Servers rotate their answers; walking the group in one fixed order makes a seed pick
  // the same target whatever order the records came in.
  std::sort(group.begin(), group.end(), [&records](std::size_t a, std::size_t b) {
    return std::tie(records[a].target, records[a].port, records[a].weight) <
           std::tie(records[b].target, records[b].port, records[b].weight);
  });
  if (total == 0) {
    std::uniform_int_distribution<std::size_t> any(0, group.size() - 1);
    return group[any(random)];
  }
  // A draw in [1, total] lands in exactly one positive weight's span of the running sum,
  // so each record is chosen with probability weight / total and weight 0 never.
  std::uniform_int_distribution<std::uint64_t> draw(1, total);
  const std::uint64_t point = draw(random);
  std::uint64_t running = 0;
  for (const std::size_t index : group) {
    running += records[index].weight;
    if (running >= point) return index;
  }
  return group.back();  // not reached: the running sum ends at total
}

}  // namespace signpost::registry::cli
