// Reading a zone's records for transfer, the registry's included, and diffing versions.
#include "dns/xfr/zone_content.hpp"

#include <algorithm>
#include <iterator>

#include "dns/wire/reader.hpp"
#include "dns/wire/types.hpp"
#include "registry/service_records.hpp"

namespace signpost::dns::xfr {

namespace {

namespace rrtype = wire::rrtype;
using registry::NodeRecords;
using registry::RecordGroup;
using registry::RegistryView;
using registry::ServiceRecords;
using Records = std::vector<std::string>;

std::string label_wire(std::string_view label) {
  std::string out(1, static_cast<char>(label.size()));
  out.append(label);
  return out;
}

// `record` is an encoded record as it follows its owner (type, class, TTL, RDLENGTH, RDATA).
void add(Records& out, std::string_view owner, std::span<const std::uint8_t> record) {
  std::string rr(owner);
  rr.append(reinterpret_cast<const char*>(record.data()), record.size());
  out.push_back(std::move(rr));
}

// Sorted and without duplicates (two instances of a service may share an address), so
// that two sets diff by a merge.
void normalize(Records& records) {
  std::sort(records.begin(), records.end());
  records.erase(std::unique(records.begin(), records.end()), records.end());
}

void add_group(Records& out, const std::string& owner, const ServiceRecords& service,
               const RecordGroup& group) {
  for (const auto at : group.a()) add(out, owner, service.record(at));
  for (const auto at : group.aaaa()) add(out, owner, service.record(at));
  for (const auto index : group.srv()) add(out, owner, service.record(service.instances[index].srv));
}

// The DNS-SD names of a service: _<service>._<proto> SRV and PTR, each instance's SRV and
// TXT. A PTR is stored with only the instance's label as RDATA (its owner completes it,
// see ServiceRecords), so the whole name is written out here.
void add_service_type(Records& out, const std::string& type_owner, const ServiceRecords& service) {
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

// Every record one service owns (its names are its own: no other service or node writes
// under them), sorted; none when `service` is null.
Records service_records(const std::string& key, const ServiceRecords* service,
                        const registry::BuildSettings& settings) {
  Records out;
  if (service == nullptr) return out;
  const std::string owner = label_wire(key) + settings.domain;
  add_group(out, owner, *service, service->all);
  for (const auto& tag : service->by_tag) add_group(out, label_wire(tag.tag) + owner, *service, tag.group);
  add_service_type(out, registry::service_type_name(key, service->protocol, settings), *service);
  normalize(out);
  return out;
}

Records node_records(const std::string& key, const NodeRecords* node,
                     const registry::BuildSettings& settings) {
  Records out;
  if (node == nullptr) return out;
  const std::string owner = registry::node_name(key, settings);
  for (std::size_t i = 0; i < node->a_count; ++i) add(out, owner, node->a(i));
  for (std::size_t i = 0; i < node->aaaa_count; ++i) add(out, owner, node->aaaa(i));
  normalize(out);
  return out;
}

Records type_records(const RegistryView* view) {
  Records out;
  if (view == nullptr) return out;
  const wire::RRset& types = view->service_types();
  const std::string owner = std::string("\x09_services\x07_dns-sd\x04_udp", 23) + view->settings().domain;
  for (std::size_t i = 0; i < types.size(); ++i) add(out, owner, types.record(i));
  normalize(out);
  return out;
}

// The zone's own records (from its file or the registry's apex), but the apex SOA.
Records static_records(const zone::Zone* zone) {
  Records out;
  if (zone == nullptr) return out;
  zone->for_each_node([&](std::string_view owner, const zone::Node& node) {
    for (const wire::RRset& rrset : node.rrsets) {
      if (rrset.type == rrtype::kSoa && owner == zone->origin()) continue;
      for (std::size_t i = 0; i < rrset.size(); ++i) add(out, owner, rrset.record(i));
    }
  });
  normalize(out);
  return out;
}

// Every record of the registry, in groups, each group sorted.
void for_each_registry_group(const RegistryView& view, const std::function<void(Records&&)>& visit) {
  const registry::BuildSettings& settings = view.settings();
  view.for_each_service(
      [&](const std::string& key, const ServiceRecords& s) { visit(service_records(key, &s, settings)); });
  view.for_each_node(
      [&](const std::string& key, const NodeRecords& n) { visit(node_records(key, &n, settings)); });
  visit(type_records(&view));
}

Records all_registry_records(const RegistryView* view) {
  Records out;
  if (view == nullptr) return out;
  for_each_registry_group(*view, [&](Records&& group) {
    std::move(group.begin(), group.end(), std::back_inserter(out));
  });
  normalize(out);
  return out;
}

// Adds what `before` has and `after` lacks to the diff's deleted, and the reverse to its
// added; both sorted.
void diff_sets(const Records& before, const Records& after, ZoneDiff& diff) {
  std::set_difference(before.begin(), before.end(), after.begin(), after.end(),
                      std::back_inserter(diff.deleted));
  std::set_difference(after.begin(), after.end(), before.begin(), before.end(),
                      std::back_inserter(diff.added));
}

void diff_registry(const RegistryView* was, const RegistryView* now, ZoneDiff& diff) {
  if (was == now) return;
  if (was == nullptr || now == nullptr || was->settings() != now->settings()) {
    // A zone that became (or stopped being) the registry's, or new TTLs or domain: every
    // record may differ. Rare (a reload), so compared whole.
    diff_sets(all_registry_records(was), all_registry_records(now), diff);
    return;
  }
  const registry::BuildSettings& settings = now->settings();
  now->for_each_service_change(*was, [&](const std::string& key, const ServiceRecords* before,
                                         const ServiceRecords* after) {
    diff_sets(service_records(key, before, settings), service_records(key, after, settings), diff);
  });
  now->for_each_node_change(*was, [&](const std::string& key, const NodeRecords* before,
                                      const NodeRecords* after) {
    diff_sets(node_records(key, before, settings), node_records(key, after, settings), diff);
  });
  if (&was->service_types() != &now->service_types()) {
    diff_sets(type_records(was), type_records(now), diff);
  }
}

}  // namespace

std::uint32_t soa_serial(const std::string& soa_record) noexcept {
  // The RDATA ends with SERIAL, REFRESH, RETRY, EXPIRE, MINIMUM (RFC 1035 §3.3.13).
  if (soa_record.size() < 20) return 0;
  return wire::load_u32(reinterpret_cast<const std::uint8_t*>(soa_record.data()) +
                        soa_record.size() - 20);
}

std::uint32_t ZoneDiff::from_serial() const noexcept { return soa_serial(from_soa); }

std::size_t ZoneDiff::octets() const noexcept {
  std::size_t sum = from_soa.size() + to_soa.size();
  for (const std::string& record : deleted) sum += record.size();
  for (const std::string& record : added) sum += record.size();
  return sum;
}

ZoneContent zone_version(registry::SnapshotPtr snapshot, const zone::Zone& zone) {
  ZoneContent version;
  version.zone = zone.origin();
  version.source = &zone;
  if (&zone == snapshot->registry_zone()) version.registry = snapshot->registry();
  const auto soa = zone.soa().record(0);  // a zone always has its SOA (ZoneBuilder)
  version.soa = zone.origin();
  version.soa.append(reinterpret_cast<const char*>(soa.data()), soa.size());
  version.serial = soa_serial(version.soa);
  version.snapshot = std::move(snapshot);
  return version;
}

void for_each_record(const ZoneContent& version, const std::function<void(const std::string&)>& visit) {
  for (const std::string& record : static_records(version.source)) visit(record);
  if (version.registry == nullptr) return;
  for_each_registry_group(*version.registry, [&](Records&& group) {
    for (const std::string& record : group) visit(record);
  });
}

ZoneDiff diff_zones(const ZoneContent& older, const ZoneContent& newer) {
  ZoneDiff diff;
  diff.from_soa = older.soa;
  diff.to_soa = newer.soa;
  if (older.source != newer.source) {
    diff_sets(static_records(older.source), static_records(newer.source), diff);
  }
  diff_registry(older.registry, newer.registry, diff);
  return diff;
}

}  // namespace signpost::dns::xfr
