// The API's JSON: what each answer body holds, built from the backend's structs.
#pragma once

#include <cstdint>
#include <string>

#include <boost/json/value.hpp>

#include "registry/api/api_backend.hpp"

namespace signpost::registry::api {

/// {"name","protocol","port","tags","counts":{"total","passing","warning","critical","drained"}}.
/// Any thread; allocates.
boost::json::object service_summary_json(const ServiceSummary& summary);

/// The summary's fields plus "serial", "ttl", "answer_limit" and "instances".
boost::json::object service_json(const ServiceInfo& service, std::uint32_t serial);

/// One instance: {"id","service","node","addresses","port","priority","weight",
/// "weight_override","effective_weight","health","reported_health","source","tags","meta",
/// "lease_seconds","lease_remaining","flap":{"state","penalty"},"drained"}.
boost::json::object instance_json(const InstanceInfo& instance);

/// {"name","addresses","instances","services"}.
boost::json::object node_json(const NodeInfo& node);

/// GET /v1/status's body.
boost::json::object status_json(const StatusInfo& status);

/// The text of `value`, compact. Numbers that are not integers are written as their
/// shortest decimal form ("12.5", not Boost.JSON's "1.25E1"), so that people reading an
/// answer with curl see what they expect; bytes of a string that are not well-formed UTF-8
/// become U+FFFD, so that the text is always JSON (RFC 8259 §8.1). Any thread; allocates.
std::string to_json_text(const boost::json::value& value);

}  // namespace signpost::registry::api
