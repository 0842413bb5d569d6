// Tables for the CLI's default output.
#include "registry/cli/output_format.hpp"

#include <boost/json.hpp>
#include <cmath>
#include <cstdio>

#include "registry/cli/table.hpp"

namespace signpost::registry::cli {
namespace {

namespace json = boost::json;

// A field of an object, or null when the server left it out (an older server): the table
// then shows "-" instead of failing.
const json::value& field(const json::value& object, const char* key) {
  static const json::value kMissing;
  const auto* found = object.is_object() ? object.as_object().if_contains(key) : nullptr;
  return found == nullptr ? kMissing : *found;
}

bool flag(const json::value& value) { return value.is_bool() && value.get_bool(); }

std::string text(const json::value& object, const char* key) {
  return cell_text(field(object, key));
}

/// Seconds with one decimal: "12.5s".
std::string seconds(const json::value& value) {
  if (value.is_null()) return "-";
  if (!value.is_number()) return cell_text(value);
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1fs", json::value_to<double>(value));
  return buffer;
}

std::string lease_text(const json::value& instance) {
  const auto& total = field(instance, "lease_seconds");
  if (total.is_null()) return "-";
  return seconds(field(instance, "lease_remaining")) + "/" + seconds(total);
}

std::string health_text(const json::value& instance) {
  const std::string health = text(instance, "health");
  const auto& object = instance.as_object();
  const auto reported = object.if_contains("reported_health");
  if (reported != nullptr && reported->is_string() && cell_text(*reported) != health) {
    return health + " (reported " + cell_text(*reported) + ")";
  }
  return health;
}

std::string weight_text(const json::value& instance) {
  const auto& override_weight = field(instance, "weight_override");
  if (override_weight.is_null()) return text(instance, "weight");
  return cell_text(override_weight) + " (set; registered " + text(instance, "weight") + ")";
}

std::string flap_text(const json::value& instance) {
  const auto& flap = field(instance, "flap");
  const std::string state = text(flap, "state");
  if (state == "stable") return state;
  const auto& penalty = field(flap, "penalty");
  if (!penalty.is_number()) return state;
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, " %.2f", json::value_to<double>(penalty));
  return state + buffer;
}

}  // namespace

std::string cell_text(const json::value& value) {
  switch (value.kind()) {
    case json::kind::null: return "-";
    case json::kind::bool_: return value.get_bool() ? "yes" : "no";
    case json::kind::int64: return std::to_string(value.get_int64());
    case json::kind::uint64: return std::to_string(value.get_uint64());
    case json::kind::double_: {
      const double number = value.get_double();
      char buffer[32];
      if (number == std::floor(number) && std::fabs(number) < 1e15) {
        std::snprintf(buffer, sizeof buffer, "%.0f", number);
      } else {
        std::snprintf(buffer, sizeof buffer, "%g", number);
      }
      return buffer;
    }
    case json::kind::string: return std::string(value.get_string());
    case json::kind::array: {
      std::string out;
      for (const auto& item : value.get_array()) out += (out.empty() ? "" : ",") + cell_text(item);
      return out.empty() ? "-" : out;
    }
    case json::kind::object: return json::serialize(value);
  }
  return "";
}

std::string format_services(const json::value& body) {
  Table table({"SERVICE", "PROTO", "PORT", "INSTANCES", "PASSING", "WARNING", "CRITICAL",
               "DRAINED", "TAGS"});
  for (std::size_t column = 2; column <= 7; ++column) table.align_right(column);
  for (const auto& service : field(body, "services").as_array()) {
    const auto& counts = field(service, "counts");
    table.add_row({text(service, "name"), text(service, "protocol"), text(service, "port"),
                   text(counts, "total"), text(counts, "passing"), text(counts, "warning"),
                   text(counts, "critical"), text(counts, "drained"), text(service, "tags")});
  }
  if (table.rows() == 0) return "no services (serial " + text(body, "serial") + ")\n";
  return table.render();
}

std::string format_service(const json::value& body) {
  std::string out = text(body, "name") + "  " + text(body, "protocol") + "/" +
                    text(body, "port") + "  tags " + text(body, "tags") + "  ttl " +
                    text(body, "ttl") + "  answer limit " + text(body, "answer_limit") +
                    "  serial " + text(body, "serial") + "\n";
  Table table({"ID", "NODE", "ADDRESSES", "PORT", "PRIO", "WEIGHT", "EFFECTIVE", "HEALTH",
               "LEASE", "FLAP", "SOURCE", "DRAINED"});
  table.align_right(3);
  table.align_right(4);
  table.align_right(6);
  for (const auto& instance : field(body, "instances").as_array()) {
    table.add_row({text(instance, "id"), text(instance, "node"), text(instance, "addresses"),
                   text(instance, "port"), text(instance, "priority"), weight_text(instance),
                   text(instance, "effective_weight"), health_text(instance),
                   lease_text(instance), flap_text(instance), text(instance, "source"),
                   flag(field(instance, "drained")) ? "drained" : ""});
  }
  if (table.rows() == 0) return out + "no instances\n";
  return out + table.render();
}

std::string format_status(const json::value& body) {
  Table table({"", ""});
  const auto add = [&](const std::string& key, const std::string& value) {
    table.add_row({key, value});
  };
  add("version", text(body, "version"));
  add("serial", text(body, "serial"));
  add("uptime", seconds(field(body, "uptime_seconds")));
  add("services", text(body, "services"));
  add("instances", text(body, "instances"));
  add("nodes", text(body, "nodes"));
  const auto& by_source = field(body, "instances_by_source");
  add("by source", "static " + text(by_source, "static") + ", update " +
                       text(by_source, "update") + ", api " + text(by_source, "api"));
  const auto& by_health = field(body, "instances_by_health");
  add("by health", "passing " + text(by_health, "passing") + ", warning " +
                       text(by_health, "warning") + ", critical " + text(by_health, "critical"));
  add("drained", text(body, "drained"));
  const auto& preservation = field(body, "self_preservation");
  add("self-preservation", flag(field(preservation, "active"))
                               ? "active, holding " + text(preservation, "held")
                               : "off");
  const auto& backend = field(body, "backend");
  add("backend", text(backend, "kind") + (flag(field(backend, "healthy")) ? " (healthy)"
                                                                              : " (DOWN)") +
                     " " + text(backend, "detail"));
  return table.render(false);
}

std::string format_write(const std::string& command, const json::value& body) {
  const std::string serial = " (serial " + text(body, "serial") + ")";
  if (command == "deregister") {
    const auto& gone = field(body, "deregistered");
    return text(gone, "service") + "/" + text(gone, "id") + " deregistered" + serial + "\n";
  }
  const auto& instance = field(body, "instance");
  const std::string who = text(instance, "service") + "/" + text(instance, "id");
  if (command == "weight") {
    return who + " weight " + weight_text(instance) + ", effective " +
           text(instance, "effective_weight") + serial + "\n";
  }
  return who + (flag(field(instance, "drained")) ? " drained" : " undrained") + ", effective weight " +
         text(instance, "effective_weight") + serial + "\n";
}

std::string format_resolution(const Resolution& resolution) {
  if (!resolution.srv) {
    Table table({"TYPE", "ADDRESS", "TTL"});
    table.align_right(2);
    for (const auto& address : resolution.addresses) {
      table.add_row({address.type, address.address, std::to_string(address.ttl)});
    }
    return table.render();
  }
  Table table({"PRIORITY", "WEIGHT", "PORT", "TARGET", "ADDRESSES"});
  for (std::size_t column = 0; column < 3; ++column) table.align_right(column);
  for (const auto& answer : resolution.records) {
    std::string addresses;
    for (const auto& address : answer.addresses) {
      addresses += (addresses.empty() ? "" : ",") + address.address;
    }
    table.add_row({std::to_string(answer.record.priority), std::to_string(answer.record.weight),
                   std::to_string(answer.record.port), answer.record.target,
                   addresses.empty() ? "-" : addresses});
  }
  return table.render();
}

json::value resolution_json(const Resolution& resolution) {
  const auto addresses_json = [](const std::vector<AddressAnswer>& addresses) {
    json::array out;
    for (const auto& address : addresses) {
      out.push_back({{"type", address.type}, {"address", address.address}, {"ttl", address.ttl}});
    }
    return out;
  };
  json::object out{{"name", resolution.name},
                   {"type", resolution.srv ? "SRV" : "A/AAAA"},
                   {"rcode", resolution.rcode}};
  if (!resolution.srv) {
    out["addresses"] = addresses_json(resolution.addresses);
    return out;
  }
  json::array records;
  for (const auto& answer : resolution.records) {
    records.push_back({{"priority", answer.record.priority},
                       {"weight", answer.record.weight},
                       {"port", answer.record.port},
                       {"target", answer.record.target},
                       {"addresses", addresses_json(answer.addresses)}});
  }
  out["srv"] = std::move(records);
  return out;
}

}  // namespace signpost::registry::cli
