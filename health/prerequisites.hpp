// RFC 2136 prerequisites, checked against the whole registry.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "health/protocol/update_request.hpp"
#include "registry/store.hpp"

namespace signpost::health {

/// Checks an UPDATE's prerequisite section (RFC 2136 §3.2) against every instance in
/// `store`, static and registered alike, for the registry zone `domain` (lower-case wire).
/// Returns NOERROR or the rcode of the first prerequisite that fails (FORMERR, NOTZONE,
/// NXDOMAIN, YXDOMAIN, NXRRSET, YXRRSET). Each prerequisite costs in proportion to the
/// records at its name, and a value-dependent one whose record count differs from the
/// RRset's fails without building it, so no UPDATE can make the registry thread scan the
/// registry. Registry thread (reads the store); allocates.
std::uint16_t check_prerequisites(const std::vector<UpdateRecord>& prerequisites,
                                  std::string_view domain, const registry::Store& store);

}  // namespace signpost::health
