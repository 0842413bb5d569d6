// Collecting a zone's records for transfer, the registry's included.
#include "dns/xfr/zone_content.hpp"

#include <algorithm>

#include "dns/wire/reader.hpp"
#include "dns/wire/types.hpp"
#include "registry/service_records.hpp"

namespace signpost::dns::xfr {

namespace {

namespace rrtype = wire::rrtype;
using registry::RecordGroup;
using registry::ServiceRecords;

std::string label_wire(std::string_view label) {
  std::string out(1, static_cast<char>(label.size()));
  out.append(label);
  return out;
}

// `record` is an encoded record as it follows its owner (type, class, TTL, RDLENGTH, RDATA).
void add(std::vector<std::string>& out, std::string_view owner,
         std::span<const std::uint8_t> record) {
  std::string rr(owner);
  rr.append(reinterpret_cast<const char*>(record.data()), record.size());
  out.push_back(std::move(rr));
}

void add_group(std::vector<std::string>& out, const std::string& owner,
               const ServiceRecords& service, const RecordGroup& group) {
  for (const auto at : group.a()) add(out, owner, service.record(at));
  for (const auto at : group.aaaa()) add(out, owner, service.record(at));
  for (const auto index : group.srv()) add(out, owner, service.record(service.instances[index].srv));
}

// The DNS-SD names of a service: _<service>._<proto> SRV and PTR, each instance's SRV and
// TXT. A PTR is stored with only the instance's label as RDATA (its owner completes it,
// see ServiceRecords), so the whole name is written out here.
void add_service_type(std::vector<std::string>& out, const std::string& type_owner,
                      const ServiceRecords& service) {
  for (const auto index : service.all.srv()) {
    add(out, type_owner, service.record(service.instances[index].srv));
  }
  for (const auto& instance : service.instances) {
    const auto ptr = service.record(instance.ptr);
    const std::size_t label_size = 1 + std::size_t{ptr[10]};
    std::string rr(type_owner);
    rr.append(reinterpret_cast<const char*>(ptr.data()), 8);  // type, class, TTL
    const std::size_t rdlength = label_size + type_owner.size();
    rr.push_back(static_cast<char>(rdlength >> 8));
    rr.push_back(static_cast<char>(rdlength));
    const std::string_view label(reinterpret_cast<const char*>(ptr.data()) + 10, label_size);
    rr.append(label);
    rr.append(type_owner);
    out.push_back(std::move(rr));
    const std::string instance_owner = std::string(label) + type_owner;
    add(out, instance_owner, service.record(instance.srv));
    add(out, instance_owner, service.record(instance.txt));
  }
}

void add_registry(std::vector<std::string>& out, const registry::RegistryView& view) {
  const registry::BuildSettings& settings = view.settings();
  const std::string& domain = settings.domain;
  view.for_each_service([&](const auto& key, const ServiceRecords& service) {
    const std::string owner = label_wire(key) + domain;
    add_group(out, owner, service, service.all);
    for (const auto& tag : service.by_tag) add_group(out, label_wire(tag.tag) + owner, service, tag.group);
    add_service_type(out, registry::service_type_name(key, service.protocol, settings), service);
  });
  view.for_each_node([&](const auto& key, const registry::NodeRecords& node) {
    const std::string owner = registry::node_name(key, settings);
    for (std::size_t i = 0; i < node.a_count; ++i) add(out, owner, node.a(i));
    for (std::size_t i = 0; i < node.aaaa_count; ++i) add(out, owner, node.aaaa(i));
  });
  const wire::RRset& types = view.service_types();
  const std::string types_owner = std::string("\x09_services\x07_dns-sd\x04_udp", 23) + domain;
  for (std::size_t i = 0; i < types.size(); ++i) add(out, types_owner, types.record(i));
}

}  // namespace

std::size_t ZoneContent::octets() const noexcept {
  std::size_t sum = soa.size();
  for (const std::string& record : records) sum += record.size();
  return sum;
}

std::uint32_t soa_serial(const std::string& soa_record) noexcept {
  // The RDATA ends with SERIAL, REFRESH, RETRY, EXPIRE, MINIMUM (RFC 1035 §3.3.13).
  if (soa_record.size() < 20) return 0;
  return wire::load_u32(reinterpret_cast<const std::uint8_t*>(soa_record.data()) +
                        soa_record.size() - 20);
}

ZoneContent collect_zone(const registry::Snapshot& snapshot, const zone::Zone& zone) {
  ZoneContent content;
  content.zone = zone.origin();
  zone.for_each_node([&](std::string_view owner, const zone::Node& node) {
    for (const wire::RRset& rrset : node.rrsets) {
      for (std::size_t i = 0; i < rrset.size(); ++i) {
        if (rrset.type == rrtype::kSoa && owner == zone.origin()) {
          content.soa = std::string(owner);
          content.soa.append(reinterpret_cast<const char*>(rrset.record(i).data()),
                             rrset.record(i).size());
          continue;
        }
        add(content.records, owner, rrset.record(i));
      }
    }
  });
  if (&zone == snapshot.registry_zone() && snapshot.registry() != nullptr) {
    add_registry(content.records, *snapshot.registry());
  }
  std::sort(content.records.begin(), content.records.end());
  content.records.erase(std::unique(content.records.begin(), content.records.end()),
                        content.records.end());
  content.serial = soa_serial(content.soa);
  return content;
}

}  // namespace signpost::dns::xfr
