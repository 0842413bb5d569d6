// Reading an UPDATE's records as registrations and deregistrations.
#include "health/update_plan.hpp"

#include <algorithm>
#include <map>
#include <optional>

#include "dns/wire/name.hpp"
#include "dns/wire/reader.hpp"
#include "dns/wire/types.hpp"

namespace signpost::health {

namespace {

namespace wire = dns::wire;
using registry::Instance;

// The labels of `owner` above `domain`, as text (owner is lower-case wire below domain).
std::vector<std::string> relative_labels(std::string_view owner, std::string_view domain) {
  std::vector<std::string> labels;
  std::size_t at = 0;
  while (at + domain.size() < owner.size()) {
    const std::size_t length = static_cast<std::uint8_t>(owner[at]);
    labels.emplace_back(owner.substr(at + 1, length));
    at += 1 + length;
  }
  return labels;
}

struct Draft {
  Registration registration;
  bool registered = false;  // an SRV (or a TXT on a known instance) was added
  bool removed = false;
};

struct Planner {
  const UpdateRequest& request;
  std::string_view domain;
  const RegisteredInstances& registered;
  UpdatePlan plan;
  std::map<InstanceKey, Draft> drafts;
  std::map<std::string, std::pair<std::vector<registry::Ipv4>, std::vector<registry::Ipv6>>> nodes;

  bool refuse(std::uint16_t rcode, std::string reason) {
    plan.rcode = rcode;
    plan.reason = std::move(reason);
    return false;
  }

  // The draft for an instance, starting from what is registered unless it was deleted.
  Draft& draft(const NameParts& parts) {
    const InstanceKey key{parts.service, parts.id};
    auto [it, created] = drafts.try_emplace(key);
    if (created) {
      Registration& registration = it->second.registration;
      if (auto known = registered.find(key)) registration.instance = std::move(*known);
      registration.instance.id = parts.id;
      registration.instance.service = parts.service;
      registration.instance.source = registry::Source::heartbeat;
      registration.protocol = parts.protocol;
    }
    return it->second;
  }

  bool add_srv(const UpdateRecord& record, const NameParts& parts) {
    if (record.rdata.size() < 7 || record.target.empty()) {
      return refuse(wire::rcode::kFormErr, "SRV without rdata in an add");
    }
    const NameParts target = classify_name(record.target, domain);
    if (!wire::is_at_or_below(record.target, domain) || target.kind != NameKind::node) {
      return refuse(wire::rcode::kRefused, "SRV target " + wire::name_to_text(record.target) +
                                               " is not a <node>.node name of the zone");
    }
    Draft& entry = draft(parts);
    Instance& instance = entry.registration.instance;
    instance.priority = wire::load_u16(record.rdata.data());
    instance.weight = wire::load_u16(record.rdata.data() + 2);
    instance.port = wire::load_u16(record.rdata.data() + 4);
    if (instance.node != target.node) {
      instance.ipv4.clear();
      instance.ipv6.clear();
    }
    instance.node = target.node;
    entry.registered = true;
    entry.removed = false;
    return true;
  }

  bool add_txt(const UpdateRecord& record, const NameParts& parts) {
    Draft& entry = draft(parts);
    Instance& instance = entry.registration.instance;
    instance.health = registry::Health::passing;
    instance.tags.clear();
    instance.meta.clear();
    std::size_t at = 0;
    while (at < record.rdata.size()) {
      const std::size_t length = record.rdata[at];
      if (at + 1 + length > record.rdata.size()) {
        return refuse(wire::rcode::kFormErr, "TXT rdata runs past its end");
      }
      const std::string item(record.rdata.begin() + static_cast<std::ptrdiff_t>(at + 1),
                             record.rdata.begin() + static_cast<std::ptrdiff_t>(at + 1 + length));
      at += 1 + length;
      if (!read_txt_item(item, instance)) return false;
    }
    if (!entry.registered && instance.port == 0) {
      return refuse(wire::rcode::kRefused, "TXT for unknown instance " + parts.id + "." +
                                               parts.service + " comes without its SRV");
    }
    entry.registered = true;
    entry.removed = false;
    return true;
  }

  bool read_txt_item(const std::string& item, Instance& instance) {
    if (item.empty()) return true;
    const std::size_t equals = item.find('=');
    const std::string key = item.substr(0, equals);
    const std::string value = equals == std::string::npos ? "" : item.substr(equals + 1);
    if (key == "health") {
      const auto health = registry::parse_health(value);
      if (!health) return refuse(wire::rcode::kRefused, "health=" + value + " is not passing, warning or critical");
      instance.health = *health;
    } else if (key == "tags") {
      std::size_t start = 0;
      while (start <= value.size() && !value.empty()) {
        const std::size_t comma = std::min(value.find(',', start), value.size());
        if (comma > start) instance.tags.push_back(value.substr(start, comma - start));
        start = comma + 1;
      }
    } else {
      instance.meta.emplace_back(key, value);
    }
    return true;
  }

  bool add_address(const UpdateRecord& record, const NameParts& parts) {
    auto& [ipv4, ipv6] = nodes[parts.node];
    if (record.type == wire::rrtype::kA && record.rdata.size() == 4) {
      registry::Ipv4 address;
      std::copy(record.rdata.begin(), record.rdata.end(), address.begin());
      ipv4.push_back(address);
    } else if (record.type == wire::rrtype::kAaaa && record.rdata.size() == 16) {
      registry::Ipv6 address;
      std::copy(record.rdata.begin(), record.rdata.end(), address.begin());
      ipv6.push_back(address);
    } else {
      return refuse(wire::rcode::kFormErr, "address record of the wrong length");
    }
    return true;
  }

  bool add(const UpdateRecord& record, const NameParts& parts) {
    plan.min_ttl = plan.min_ttl == 0 ? record.ttl : std::min(plan.min_ttl, record.ttl);
    if (parts.kind == NameKind::instance && record.type == wire::rrtype::kSrv) return add_srv(record, parts);
    if (parts.kind == NameKind::instance && record.type == wire::rrtype::kTxt) return add_txt(record, parts);
    if (parts.kind == NameKind::node &&
        (record.type == wire::rrtype::kA || record.type == wire::rrtype::kAaaa)) {
      return add_address(record, parts);
    }
    if (parts.kind == NameKind::service_type && record.type == wire::rrtype::kPtr) {
      const NameParts target = classify_name(record.target, domain);
      if (target.kind == NameKind::instance && target.service == parts.service &&
          target.protocol == parts.protocol) {
        return true;  // the browse record follows from the instance itself
      }
      return refuse(wire::rcode::kRefused, "PTR at " + wire::name_to_text(record.owner) +
                                               " must point to an instance of that service");
    }
    return refuse(wire::rcode::kRefused,
                  "the registry holds no type " + std::to_string(record.type) + " record at " +
                      wire::name_to_text(record.owner));
  }

  void remove(const NameParts& parts) {
    Draft& entry = draft(parts);
    entry.registered = false;
    entry.removed = true;
  }

  // Deletes (class ANY: RRset or every RRset; class NONE: one record), RFC 2136 §2.5.2-4.
  void erase(const UpdateRecord& record, const NameParts& parts) {
    const bool whole_name = record.type == wire::rrtype::kAny;
    if (parts.kind == NameKind::instance && (whole_name || record.type == wire::rrtype::kSrv)) {
      remove(parts);
    } else if (parts.kind == NameKind::service_type && record.type == wire::rrtype::kPtr &&
               record.rrclass == wire::rrclass::kNone) {
      const NameParts target = classify_name(record.target, domain);
      if (target.kind == NameKind::instance) remove(target);
    }
    // Other deletes (node addresses, TXT alone) change nothing the registry keeps apart.
  }

  bool finish() {
    for (auto& [key, entry] : drafts) {
      if (entry.removed) {
        plan.removals.push_back(key);
        continue;
      }
      if (!entry.registered) continue;
      Instance& instance = entry.registration.instance;
      if (const auto found = nodes.find(instance.node); found != nodes.end()) {
        instance.ipv4 = found->second.first;
        instance.ipv6 = found->second.second;
      } else if (instance.ipv4.empty() && instance.ipv6.empty()) {
        if (const auto other = registered.on_node(instance.node)) {
          instance.ipv4 = other->ipv4;
          instance.ipv6 = other->ipv6;
        }
      }
      try {
        registry::validate(instance);
      } catch (const registry::RegistryError& e) {
        return refuse(wire::rcode::kRefused, "instance " + key.id + " of " + key.service + ": " + e.what());
      }
      plan.registrations.push_back(std::move(entry.registration));
    }
    return true;
  }
};

void put_txt_string(std::vector<std::uint8_t>& out, const std::string& text) {
  const std::size_t length = std::min<std::size_t>(text.size(), 255);
  out.push_back(static_cast<std::uint8_t>(length));
  out.insert(out.end(), text.begin(), text.begin() + static_cast<std::ptrdiff_t>(length));
}

}  // namespace

NameParts classify_name(std::string_view owner, std::string_view domain) {
  NameParts parts;
  const std::vector<std::string> labels = relative_labels(owner, domain);
  const auto service_labels = [&](std::size_t first) {
    if (labels[first].size() < 2 || labels[first][0] != '_' || labels[first + 1].empty() ||
        labels[first + 1][0] != '_') {
      return false;
    }
    const auto protocol = registry::parse_protocol(std::string_view(labels[first + 1]).substr(1));
    if (!protocol) return false;
    parts.service = labels[first].substr(1);
    parts.protocol = *protocol;
    return true;
  };
  if (labels.size() == 3 && labels[0][0] != '_' && service_labels(1)) {
    parts.kind = NameKind::instance;
    parts.id = labels[0];
  } else if (labels.size() == 2 && service_labels(0)) {
    parts.kind = NameKind::service_type;
  } else if (labels.size() == 2 && labels[1] == "node") {
    parts.kind = NameKind::node;
    parts.node = labels[0];
  }
  return parts;
}

UpdatePlan plan_update(const UpdateRequest& request, std::string_view domain,
                       const RegisteredInstances& registered) {
  Planner planner{request, domain, registered, {}, {}, {}};
  for (const UpdateRecord& record : request.updates) {
    if (!wire::is_at_or_below(record.owner, domain)) {
      planner.refuse(wire::rcode::kNotZone, wire::name_to_text(record.owner) + " is outside the zone");
      return planner.plan;
    }
    const NameParts parts = classify_name(record.owner, domain);
    try {
      if (record.rrclass == wire::rrclass::kAny || record.rrclass == wire::rrclass::kNone) {
        // Deletes carry TTL 0 and, for class ANY, no rdata (RFC 2136 §3.4.1.3).
        if (record.ttl != 0 || (record.rrclass == wire::rrclass::kAny && !record.rdata.empty())) {
          planner.refuse(wire::rcode::kFormErr, "a delete with TTL or rdata");
          return planner.plan;
        }
        planner.erase(record, parts);
      } else if (!planner.add(record, parts)) {
        return planner.plan;
      }
    } catch (const registry::RegistryError& e) {
      planner.refuse(wire::rcode::kRefused, e.what());
      return planner.plan;
    }
  }
  planner.finish();
  return planner.plan;
}

std::vector<std::uint8_t> encode_instance_txt(const Instance& instance) {
  std::vector<std::uint8_t> out;
  put_txt_string(out, "health=" + std::string(registry::to_string(instance.health)));
  if (!instance.tags.empty()) {
    std::string tags = "tags=";
    for (std::size_t i = 0; i < instance.tags.size(); ++i) tags += (i ? "," : "") + instance.tags[i];
    put_txt_string(out, tags);
  }
  for (const auto& [key, value] : instance.meta) put_txt_string(out, key + "=" + value);
  return out;
}

}  // namespace signpost::health
