// Loads RFC 1035 master files with ldns into pre-encoded zones.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "dns/zone/zone.hpp"

namespace signpost::dns::zone {

/// Loads one master file. The origin is the file's $ORIGIN, else its name without
/// ".zone" (e.g. "example.com.zone" is example.com.). Throws ZoneError naming
/// "file:line: reason" on any error. Control plane; allocates.
std::shared_ptr<const Zone> load_zone_file(const std::string& path);

/// Loads every "*.zone" file in `directory`, in name order. A missing directory is an
/// error; an empty one loads nothing. Throws ZoneError.
std::vector<std::shared_ptr<const Zone>> load_zone_directory(const std::string& directory);

}  // namespace signpost::dns::zone
