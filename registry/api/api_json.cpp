// The API's JSON bodies.
#include "registry/api/api_json.hpp"

#include <charconv>
#include <cmath>

#include <boost/json/serialize.hpp>

namespace signpost::registry::api {

namespace json = boost::json;

namespace {

json::array string_array(const std::vector<std::string>& items) {
  json::array out;
  out.reserve(items.size());
  for (const std::string& item : items) out.emplace_back(item);
  return out;
}

template <class T>
json::value optional_number(const std::optional<T>& number) {
  if (!number) return nullptr;
  return json::value(*number);
}

// Seconds to the millisecond: more digits would only be noise from the clock.
json::value seconds(const std::optional<double>& value) {
  if (!value) return nullptr;
  return std::round(*value * 1000) / 1000;
}

// Each key the spec promises is present, 0 when the backend counted none.
json::object counts(const std::map<std::string, std::size_t>& by,
                    std::initializer_list<const char*> keys) {
  json::object out;
  for (const char* key : keys) out[key] = 0;
  for (const auto& [key, count] : by) out[key] = count;
  return out;
}

// The length of the well-formed UTF-8 sequence at the start of `text` (RFC 3629 §4), or 0.
std::size_t utf8_sequence(std::string_view text) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(0);
  if (lead < 0x80) return 1;
  std::size_t length = 0;
  unsigned char low = 0x80;
  unsigned char high = 0xBF;  // the range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;   // no overlong forms
    if (lead == 0xED) high = 0x9F;  // no surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  if (text.size() < length || byte(1) < low || byte(1) > high) return 0;
  for (std::size_t i = 2; i < length; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xBF) return 0;
  }
  return length;
}

// JSON text must be UTF-8 (RFC 8259 §8.1), and Boost.JSON writes a string's bytes as they
// are: a name from a request or a TXT value from a heartbeat could break the answer. Each
// byte that does not start a well-formed sequence becomes U+FFFD.
void append_string(std::string& out, std::string_view text) {
  std::string valid;
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t length = utf8_sequence(text.substr(i));
    if (length == 0) {
      valid += "\xEF\xBF\xBD";
      ++i;
    } else {
      valid.append(text.substr(i, length));
      i += length;
    }
  }
  out += json::serialize(json::string_view(valid));
}

void append_double(std::string& out, double number) {
  if (!std::isfinite(number)) {
    out += "null";  // JSON has no infinity or NaN
    return;
  }
  char text[32];
  const auto result = std::to_chars(text, text + sizeof text, number);
  out.append(text, result.ptr);
}

void append_value(std::string& out, const json::value& value) {
  switch (value.kind()) {
    case json::kind::object: {
      out.push_back('{');
      bool first = true;
      for (const json::key_value_pair& member : value.get_object()) {
        if (!first) out.push_back(',');
        first = false;
        append_string(out, member.key());
        out.push_back(':');
        append_value(out, member.value());
      }
      out.push_back('}');
      return;
    }
    case json::kind::array: {
      out.push_back('[');
      bool first = true;
      for (const json::value& item : value.get_array()) {
        if (!first) out.push_back(',');
        first = false;
        append_value(out, item);
      }
      out.push_back(']');
      return;
    }
    case json::kind::double_:
      append_double(out, value.get_double());
      return;
    case json::kind::string:
      append_string(out, value.get_string());
      return;
    default:
      out += json::serialize(value);
  }
}

}  // namespace

json::object service_summary_json(const ServiceSummary& summary) {
  json::object out;
  out["name"] = summary.name;
  out["protocol"] = summary.protocol;
  out["port"] = optional_number(summary.port);
  out["tags"] = string_array(summary.tags);
  out["counts"] = json::object{{"total", summary.instances},
                               {"passing", summary.passing},
                               {"warning", summary.warning},
                               {"critical", summary.critical},
                               {"drained", summary.drained}};
  return out;
}

json::object service_json(const ServiceInfo& service, std::uint32_t serial) {
  json::object out = service_summary_json(service.summary);
  out["serial"] = serial;
  out["ttl"] = optional_number(service.ttl);
  out["answer_limit"] = optional_number(service.answer_limit);
  json::array instances;
  instances.reserve(service.instances.size());
  for (const InstanceInfo& instance : service.instances)
    instances.emplace_back(instance_json(instance));
  out["instances"] = std::move(instances);
  return out;
}

json::object instance_json(const InstanceInfo& instance) {
  json::object out;
  out["id"] = instance.id;
  out["service"] = instance.service;
  out["node"] = instance.node;
  out["addresses"] = string_array(instance.addresses);
  out["port"] = instance.port;
  out["priority"] = instance.priority;
  out["weight"] = instance.weight;
  out["weight_override"] = optional_number(instance.weight_override);
  out["effective_weight"] = instance.effective_weight;
  out["health"] = instance.health;
  out["reported_health"] = instance.reported_health;
  out["source"] = instance.source;
  out["tags"] = string_array(instance.tags);
  json::object meta;
  for (const auto& [key, value] : instance.meta) meta[key] = value;
  out["meta"] = std::move(meta);
  out["lease_seconds"] = seconds(instance.lease_seconds);
  out["lease_remaining"] = seconds(instance.lease_remaining);
  out["flap"] = json::object{{"state", instance.flap.state},
                             {"penalty", std::round(instance.flap.penalty * 1000) / 1000}};
  out["drained"] = instance.drained;
  return out;
}

json::object node_json(const NodeInfo& node) {
  return json::object{{"name", node.name},
                      {"addresses", string_array(node.addresses)},
                      {"instances", node.instances},
                      {"services", string_array(node.services)}};
}

json::object status_json(const StatusInfo& status) {
  json::object out;
  out["version"] = status.version;
  out["serial"] = status.serial;
  out["uptime_seconds"] = seconds(status.uptime_seconds);
  out["services"] = status.services;
  out["instances"] = status.instances;
  out["nodes"] = status.nodes;
  out["instances_by_source"] = counts(status.instances_by_source, {"static", "update", "api"});
  out["instances_by_health"] =
      counts(status.instances_by_health, {"passing", "warning", "critical"});
  out["drained"] = status.drained;
  out["self_preservation"] =
      json::object{{"active", status.self_preservation}, {"held", status.held}};
  out["backend"] = json::object{{"kind", status.backend},
                                {"healthy", status.backend_healthy},
                                {"detail", status.backend_detail}};
  return out;
}

std::string to_json_text(const json::value& value) {
  std::string out;
  append_value(out, value);
  return out;
}

}  // namespace signpost::registry::api
