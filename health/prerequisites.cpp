// RFC 2136 §3.2 prerequisites against the registry store.
#include "health/prerequisites.hpp"

#include <algorithm>
#include <map>
#include <string>
#include <utility>

#include "dns/wire/name.hpp"
#include "dns/wire/reader.hpp"
#include "dns/wire/types.hpp"
#include "health/update_plan.hpp"

namespace signpost::health {

namespace {

namespace wire = dns::wire;
using Record = std::pair<std::uint16_t, std::vector<std::uint8_t>>;  // type, rdata
using RecordList = std::vector<Record>;

std::string label_wire(std::string_view label) {
  std::string out(1, static_cast<char>(label.size()));
  out += label;
  return out;
}

void put_u16(std::vector<std::uint8_t>& out, std::uint16_t value) {
  out.push_back(static_cast<std::uint8_t>(value >> 8));
  out.push_back(static_cast<std::uint8_t>(value));
}

std::vector<std::uint8_t> srv_rdata(const registry::Instance& instance, std::string_view domain) {
  std::vector<std::uint8_t> out;
  put_u16(out, instance.priority);
  put_u16(out, instance.weight);
  put_u16(out, instance.port);
  const std::string target = label_wire(instance.node) + label_wire("node") + std::string(domain);
  out.insert(out.end(), target.begin(), target.end());
  return out;
}

bool wanted(std::uint16_t type, std::uint16_t have) {
  return type == wire::rrtype::kAny || type == have;
}

// The records of the registry at one name, as an UPDATE's prerequisites see them.
class NameRecords {
 public:
  NameRecords(std::string_view owner, std::string_view domain, const registry::Store& store)
      : owner_(owner), domain_(domain), store_(store), parts_(classify_name(owner, domain)) {}

  // How many records of `type` (ANY: all) the name has; cheap where the store keeps counts.
  std::size_t count(std::uint16_t type) const {
    switch (parts_.kind) {
      case NameKind::instance:
        return matches_protocol() && store_.source_of(parts_.service, parts_.id)
                   ? wanted(type, wire::rrtype::kSrv) + wanted(type, wire::rrtype::kTxt)
                   : 0;
      case NameKind::service_type:
        return matches_protocol() && wanted(type, wire::rrtype::kPtr)
                   ? store_.service_size(parts_.service)
                   : 0;
      case NameKind::node:
        return records(type).size();
      case NameKind::other:
        return 0;
    }
    return 0;
  }

  // The records of `type` (ANY: all), each once.
  RecordList records(std::uint16_t type) const {
    RecordList out;
    if (parts_.kind == NameKind::instance && matches_protocol()) {
      if (const auto instance = store_.find_instance(parts_.service, parts_.id)) {
        if (wanted(type, wire::rrtype::kSrv)) out.emplace_back(wire::rrtype::kSrv, srv_rdata(*instance, domain_));
        if (wanted(type, wire::rrtype::kTxt)) out.emplace_back(wire::rrtype::kTxt, encode_instance_txt(*instance));
      }
    } else if (parts_.kind == NameKind::service_type && matches_protocol() &&
               wanted(type, wire::rrtype::kPtr)) {
      for (const std::string& id : store_.instance_ids(parts_.service)) {
        const std::string name = label_wire(id) + std::string(owner_);
        out.emplace_back(wire::rrtype::kPtr, std::vector<std::uint8_t>(name.begin(), name.end()));
      }
    } else if (parts_.kind == NameKind::node) {
      store_.visit_node(parts_.node, [&](const std::string&, const registry::Instance& instance) {
        if (wanted(type, wire::rrtype::kA)) {
          for (const auto& a : instance.ipv4) out.emplace_back(wire::rrtype::kA, std::vector<std::uint8_t>(a.begin(), a.end()));
        }
        if (wanted(type, wire::rrtype::kAaaa)) {
          for (const auto& a : instance.ipv6) out.emplace_back(wire::rrtype::kAaaa, std::vector<std::uint8_t>(a.begin(), a.end()));
        }
        return true;
      });
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }

 private:
  bool matches_protocol() const {
    const registry::Service* service = store_.find_service(parts_.service);
    return service != nullptr && service->protocol == parts_.protocol;
  }

  std::string_view owner_;
  std::string_view domain_;
  const registry::Store& store_;
  NameParts parts_;
};

}  // namespace

std::uint16_t check_prerequisites(const std::vector<UpdateRecord>& prerequisites,
                                  std::string_view domain, const registry::Store& store) {
  std::map<std::pair<std::string, std::uint16_t>, RecordList> listed;
  for (const UpdateRecord& record : prerequisites) {
    if (record.ttl != 0) return wire::rcode::kFormErr;
    if (!wire::is_at_or_below(record.owner, domain)) return wire::rcode::kNotZone;
    const bool any_type = record.type == wire::rrtype::kAny;
    if (record.rrclass == wire::rrclass::kAny || record.rrclass == wire::rrclass::kNone) {
      if (!record.rdata.empty()) return wire::rcode::kFormErr;
      const bool exists = NameRecords(record.owner, domain, store).count(record.type) != 0;
      if (record.rrclass == wire::rrclass::kAny && !exists) {
        return any_type ? wire::rcode::kNxDomain : wire::rcode::kNxRrset;  // §3.2.1
      }
      if (record.rrclass == wire::rrclass::kNone && exists) {
        return any_type ? wire::rcode::kYxDomain : wire::rcode::kYxRrset;  // §3.2.2
      }
      continue;
    }
    if (any_type) return wire::rcode::kFormErr;
    listed[{record.owner, record.type}].emplace_back(record.type, record.rdata);
  }
  // Value-dependent: the RRset must be exactly the records listed (§3.2.3). Their counts are
  // compared first, so that a long RRset is built only for as many records as were listed.
  for (auto& [where, records] : listed) {
    std::sort(records.begin(), records.end());
    records.erase(std::unique(records.begin(), records.end()), records.end());
    const NameRecords at(where.first, domain, store);
    if (at.count(where.second) != records.size()) return wire::rcode::kNxRrset;
    if (at.records(where.second) != records) return wire::rcode::kNxRrset;
  }
  return wire::rcode::kNoError;
}

}  // namespace signpost::health
