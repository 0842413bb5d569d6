// Pre-encoded answers of one service and of one node.
#include "registry/service_records.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "dns/wire/reader.hpp"
#include "dns/wire/types.hpp"

namespace signpost::registry {

namespace {

namespace rrtype = dns::wire::rrtype;
using dns::zone::RRset;

// Effective weights are the configured weight times this, so that warning fractions stay
// integral (0.25 of weight 1 is 250).
constexpr std::uint32_t kWeightScale = 1000;

struct Eligible {
  const Instance* instance;
  std::uint32_t weight;  // effective
};

std::string label(std::string_view text) {
  std::string out(1, static_cast<char>(text.size()));
  out.append(text);
  return out;
}

std::span<const std::uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

RRset typed(std::uint16_t type) {
  RRset rrset;
  rrset.type = type;
  return rrset;
}

std::vector<Eligible> eligible_instances(std::span<const Instance* const> instances,
                                         const BuildSettings& settings) {
  std::size_t candidates = 0;
  std::size_t healthy = 0;
  for (const Instance* i : instances) {
    if (i->weight == 0) continue;  // drained
    ++candidates;
    if (i->health != Health::critical) ++healthy;
  }
  // Panic mode: too few healthy instances left, so hand out all of them (as load
  // balancers do) rather than overload the few.
  const bool panic = settings.panic_threshold > 0 && candidates > 0 &&
                     static_cast<double>(healthy) < settings.panic_threshold * static_cast<double>(candidates);
  const auto warning_scale =
      static_cast<std::uint32_t>(std::lround(settings.warning_weight * kWeightScale));
  std::vector<Eligible> out;
  for (const Instance* i : instances) {
    if (i->weight == 0 || (i->health == Health::critical && !panic)) continue;
    const std::uint32_t scale = i->health == Health::warning ? warning_scale : kWeightScale;
    const std::uint32_t weight = i->weight * scale;
    if (weight > 0) out.push_back({i, weight});
  }
  std::sort(out.begin(), out.end(), [](const Eligible& a, const Eligible& b) {
    return a.instance->id < b.instance->id;
  });
  return out;
}

// Adds one address record per distinct address; instances sharing an address share its
// record and add up their weights (an RRset has no duplicates, RFC 2181 §5).
template <typename Address>
void add_address(RRset& rrset, std::vector<std::uint32_t>& weights,
                 std::map<Address, std::size_t>& seen, const Address& address,
                 std::uint32_t weight, std::uint32_t ttl) {
  const auto [it, added] = seen.emplace(address, rrset.size());
  if (added) {
    dns::zone::append_record(rrset, ttl, address);
    weights.push_back(weight);
  } else {
    // Saturate rather than wrap when many instances share one address.
    const std::uint64_t sum = std::uint64_t{weights[it->second]} + weight;
    weights[it->second] = static_cast<std::uint32_t>(std::min<std::uint64_t>(sum, UINT32_MAX));
  }
}

std::vector<std::uint8_t> srv_rdata(const Instance& instance, const BuildSettings& settings) {
  std::vector<std::uint8_t> rdata(6);
  dns::wire::store_u16(rdata.data(), instance.priority);
  dns::wire::store_u16(rdata.data() + 2, instance.weight);
  dns::wire::store_u16(rdata.data() + 4, instance.port);
  const std::string target = node_name(instance.node, settings);
  rdata.insert(rdata.end(), target.begin(), target.end());
  return rdata;
}

RecordGroup build_group(const std::vector<const Eligible*>& members, std::uint32_t ttl,
                        const BuildSettings& settings) {
  RecordGroup group;
  group.a = typed(rrtype::kA);
  group.aaaa = typed(rrtype::kAaaa);
  group.srv = typed(rrtype::kSrv);
  std::map<Ipv4, std::size_t> seen4;
  std::map<Ipv6, std::size_t> seen6;
  for (const Eligible* e : members) {
    const Instance& i = *e->instance;
    if (!i.ipv4.empty()) add_address(group.a, group.a_weights, seen4, i.ipv4.front(), e->weight, ttl);
    if (!i.ipv6.empty()) add_address(group.aaaa, group.aaaa_weights, seen6, i.ipv6.front(), e->weight, ttl);
  }
  // SRV: priorities ascending (RFC 2782); the order inside a group is drawn per answer.
  std::vector<const Eligible*> by_priority = members;
  std::stable_sort(by_priority.begin(), by_priority.end(), [](const Eligible* a, const Eligible* b) {
    return a->instance->priority < b->instance->priority;
  });
  for (std::size_t k = 0; k < by_priority.size(); ++k) {
    const Instance& i = *by_priority[k]->instance;
    if (k == 0 || i.priority != by_priority[k - 1]->instance->priority) {
      group.srv_groups.push_back(static_cast<std::uint32_t>(k));
    }
    dns::zone::append_record(group.srv, ttl, srv_rdata(i, settings));
    group.srv_weights.push_back(by_priority[k]->weight);
  }
  group.srv_groups.push_back(static_cast<std::uint32_t>(by_priority.size()));
  const std::size_t records = group.a.size() + group.aaaa.size() + group.srv.size();
  group.round_robin.assign(records * settings.workers, 0);
  return group;
}

std::vector<std::uint8_t> txt_rdata(const Instance& instance) {
  // RFC 6763 §6: one key=value per character-string; an empty TXT is one empty string.
  std::vector<std::string> strings;
  if (!instance.tags.empty()) {
    std::string tags = "tags=";
    for (std::size_t k = 0; k < instance.tags.size(); ++k) {
      tags += (k == 0 ? "" : ",") + instance.tags[k];
    }
    strings.push_back(tags.substr(0, 255));
  }
  for (const auto& [key, value] : instance.meta) strings.push_back((key + "=" + value).substr(0, 255));
  std::vector<std::uint8_t> rdata;
  if (strings.empty()) rdata.push_back(0);
  for (const std::string& s : strings) {
    rdata.push_back(static_cast<std::uint8_t>(s.size()));
    rdata.insert(rdata.end(), s.begin(), s.end());
  }
  return rdata;
}

void add_instances(ServiceRecords& records, const std::vector<Eligible>& eligible,
                   const Service& service, const BuildSettings& settings) {
  records.ptr = typed(rrtype::kPtr);
  for (const Eligible& e : eligible) {
    const Instance& i = *e.instance;
    const std::string name = instance_name(i, service.protocol, settings);
    dns::zone::append_record(records.ptr, records.ttl, bytes(name));
    InstanceRecords& own = records.instances[i.id];
    own.srv = typed(rrtype::kSrv);
    own.txt = typed(rrtype::kTxt);
    dns::zone::append_record(own.srv, records.ttl, srv_rdata(i, settings));
    dns::zone::append_record(own.txt, records.ttl, txt_rdata(i));
  }
}

// `ttl`, lowered to the smallest cap of the instances (heartbeat leases).
std::uint32_t capped_ttl(std::uint32_t ttl, std::span<const Instance* const> instances) {
  for (const Instance* i : instances) {
    if (i->max_ttl != 0) ttl = std::min(ttl, i->max_ttl);
  }
  return ttl;
}

}  // namespace

std::string node_name(std::string_view node, const BuildSettings& settings) {
  return label(node) + std::string("\4node", 5) + settings.domain;
}

std::string instance_name(const Instance& instance, Protocol protocol,
                          const BuildSettings& settings) {
  return label(instance.id) + service_type_name(instance.service, protocol, settings);
}

std::string service_type_name(std::string_view service, Protocol protocol,
                              const BuildSettings& settings) {
  return label("_" + std::string(service)) + label("_" + std::string(to_string(protocol))) +
         settings.domain;
}

std::shared_ptr<const ServiceRecords> build_service_records(
    const Service& service, std::span<const Instance* const> instances,
    const BuildSettings& settings) {
  auto records = std::make_shared<ServiceRecords>();
  records->name = service.name;
  records->protocol = service.protocol;
  records->ttl = capped_ttl(service.ttl.value_or(settings.ttl), instances);
  records->answer_limit = service.answer_limit.value_or(settings.answer_limit);
  records->instance_count = instances.size();
  const std::vector<Eligible> eligible = eligible_instances(instances, settings);
  std::vector<const Eligible*> all;
  for (const Eligible& e : eligible) all.push_back(&e);
  records->all = build_group(all, records->ttl, settings);
  // Every tag any instance carries is a name; it answers with its eligible instances.
  std::set<std::string> tags(service.tags.begin(), service.tags.end());
  for (const Instance* i : instances) tags.insert(i->tags.begin(), i->tags.end());
  for (const std::string& tag : tags) {
    const bool service_wide = std::binary_search(service.tags.begin(), service.tags.end(), tag);
    std::vector<const Eligible*> members;
    for (const Eligible& e : eligible) {
      const auto& t = e.instance->tags;
      if (service_wide || std::binary_search(t.begin(), t.end(), tag)) members.push_back(&e);
    }
    records->by_tag.emplace(tag, build_group(members, records->ttl, settings));
  }
  add_instances(*records, eligible, service, settings);
  return records;
}

std::shared_ptr<const NodeRecords> build_node_records(std::span<const Instance* const> instances,
                                                      const BuildSettings& settings) {
  auto records = std::make_shared<NodeRecords>();
  records->a = typed(rrtype::kA);
  records->aaaa = typed(rrtype::kAaaa);
  std::set<Ipv4> v4;
  std::set<Ipv6> v6;
  for (const Instance* i : instances) {
    v4.insert(i->ipv4.begin(), i->ipv4.end());
    v6.insert(i->ipv6.begin(), i->ipv6.end());
  }
  const std::uint32_t ttl = capped_ttl(settings.ttl, instances);
  for (const Ipv4& a : v4) dns::zone::append_record(records->a, ttl, a);
  for (const Ipv6& a : v6) dns::zone::append_record(records->aaaa, ttl, a);
  return records;
}

}  // namespace signpost::registry
