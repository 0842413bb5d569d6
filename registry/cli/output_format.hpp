// Human-readable text for what the API answered: aligned tables for services, one service's
// instances and the server's status. Pure functions of the JSON, so tests feed them bodies.
#pragma once

#include <boost/json/value.hpp>
#include <string>

#include "registry/cli/resolver.hpp"

namespace signpost::registry::cli {

/// A JSON scalar as a table cell: null "-", strings as they are, numbers without a needless
/// fraction (12, 2.5), booleans "yes"/"no", arrays joined with ",". Pure.
std::string cell_text(const boost::json::value& value);

/// GET /v1/services as a table: SERVICE PROTO PORT INSTANCES PASSING WARNING CRITICAL
/// DRAINED TAGS. Throws std::exception on a body without those fields. Pure.
std::string format_services(const boost::json::value& body);

/// GET /v1/services/{name}: a line about the service, then one row per instance with its
/// addresses, weights, health, lease, flap state and drain mark. Pure.
std::string format_service(const boost::json::value& body);

/// GET /v1/status as aligned "key  value" lines. Pure.
std::string format_status(const boost::json::value& body);

/// What a write answered, in one line ("web/a drained (serial 42)"). Pure.
std::string format_write(const std::string& command, const boost::json::value& body);

/// A resolve's answer: TYPE ADDRESS TTL rows, or PRIORITY WEIGHT PORT TARGET ADDRESSES. Pure.
std::string format_resolution(const Resolution& resolution);

/// A resolve's answer as JSON: {"name","type","rcode","addresses":[...]} or with "srv". Pure.
boost::json::value resolution_json(const Resolution& resolution);

}  // namespace signpost::registry::cli
