// Pre-encoded answers of one service and of one node.
#include "registry/service_records.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <map>
#include <memory_resource>
#include <set>
#include <type_traits>

#include "dns/wire/reader.hpp"
#include "dns/wire/types.hpp"

namespace signpost::registry {

namespace {

namespace rrtype = dns::wire::rrtype;
using dns::wire::RRset;

// Effective weights are the configured weight times this, so that warning fractions stay
// integral (0.25 of weight 1 is 250).
constexpr std::uint32_t kWeightScale = 1000;

// The fixed part of a record after its owner: TYPE, CLASS, TTL, RDLENGTH (RFC 1035 §4.1.3).
constexpr std::size_t kFixedSize = 10;

// Octets on the stack for one build's scratch: enough for a service of a few dozen
// instances; a larger one goes on to the heap.
constexpr std::size_t kScratchSize = 48 * 1024;

struct Eligible {
  const Instance* instance;
  std::uint32_t weight;  // effective
  std::uint32_t index;   // in ServiceRecords::instances
};

std::string label(std::string_view text) {
  std::string out(1, static_cast<char>(text.size()));
  out.append(text);
  return out;
}

// Appends the wire name <node>.node.<domain> to `out` (octets or characters).
template <typename Out>
void append_node_name(Out& out, std::string_view node, const BuildSettings& settings) {
  constexpr std::string_view kNode("\4node", 5);
  out.push_back(static_cast<typename Out::value_type>(node.size()));
  out.insert(out.end(), node.begin(), node.end());
  out.insert(out.end(), kNode.begin(), kNode.end());
  out.insert(out.end(), settings.domain.begin(), settings.domain.end());
}

std::span<const std::uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// Appends one IN-class record to `wire` and returns where it starts.
template <typename Octets>
RecordAt encode(Octets& wire, std::uint16_t type, std::uint32_t ttl,
                std::span<const std::uint8_t> rdata) {
  const auto at = static_cast<RecordAt>(wire.size());
  std::uint8_t fixed[kFixedSize];
  dns::wire::store_u16(fixed, type);
  dns::wire::store_u16(fixed + 2, dns::wire::rrclass::kIn);
  dns::wire::store_u32(fixed + 4, ttl);
  dns::wire::store_u16(fixed + 8, static_cast<std::uint16_t>(rdata.size()));
  wire.insert(wire.end(), fixed, fixed + kFixedSize);
  wire.insert(wire.end(), rdata.begin(), rdata.end());
  return at;
}

std::pmr::vector<Eligible> eligible_instances(std::span<const Instance* const> instances,
                                              const BuildSettings& settings,
                                              std::pmr::memory_resource* scratch) {
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
  std::pmr::vector<Eligible> out(scratch);
  out.reserve(candidates);
  for (const Instance* i : instances) {
    if (i->weight == 0 || (i->health == Health::critical && !panic)) continue;
    const std::uint32_t scale = i->health == Health::warning ? warning_scale : kWeightScale;
    const std::uint32_t weight = i->weight * scale;
    if (weight > 0) out.push_back({i, weight, 0});
  }
  std::sort(out.begin(), out.end(), [](const Eligible& a, const Eligible& b) {
    return a.instance->id < b.instance->id;
  });
  for (std::size_t k = 0; k < out.size(); ++k) out[k].index = static_cast<std::uint32_t>(k);
  return out;
}

// `ttl`, lowered to the smallest cap of the instances (heartbeat leases).
std::uint32_t capped_ttl(std::uint32_t ttl, std::span<const Instance* const> instances) {
  for (const Instance* i : instances) {
    if (i->max_ttl != 0) ttl = std::min(ttl, i->max_ttl);
  }
  return ttl;
}

// Builds a service's records into `out`; the steps share the offsets of what they encoded.
//
// Design. A change rebuilds its service on the publisher thread between heartbeats, with
// the CPU's caches cold and a heap fragmented by 100,000 instances: each small allocation
// there cost as much as the encoding it served. So every temporary (the maps from address
// and node to record, the groups' arrays, the wire itself until its size is known) comes
// from `scratch`, a monotonic arena that starts on the stack, and the records keep exact-
// size copies.
class ServiceBuilder {
 public:
  ServiceBuilder(ServiceRecords& out, const BuildSettings& settings,
                 std::pmr::memory_resource* scratch)
      : out_(out),
        settings_(settings),
        scratch_(scratch),
        wire_(scratch),
        glue_(scratch),
        a_(scratch),
        aaaa_(scratch),
        by_node_(scratch),
        glue_by_node_(scratch) {}

  void encode_addresses(std::span<const Eligible> eligible);
  void encode_instances(std::span<const Eligible> eligible, std::span<const Instance* const> all);
  RecordGroup build_group(std::span<const Eligible* const> members) const;
  // Copies the encoded records and the glue into `out`, each at its exact size.
  void finish();

 private:
  using OctetVector = std::pmr::vector<std::uint8_t>;
  std::uint32_t glue_of(const std::string& node);
  template <typename Address>
  void add_address(std::pmr::vector<RecordAt>& records, std::pmr::vector<std::uint32_t>& weights,
                   std::pmr::map<Address, std::size_t>& seen, const Address& address,
                   std::uint32_t weight) const;
  void srv_rdata(const Instance& instance, OctetVector& rdata) const;
  static void txt_rdata(const Instance& instance, OctetVector& rdata);

  ServiceRecords& out_;
  const BuildSettings& settings_;
  std::pmr::memory_resource* scratch_;
  OctetVector wire_;
  std::pmr::vector<Glue> glue_;
  std::pmr::map<Ipv4, RecordAt> a_;
  std::pmr::map<Ipv6, RecordAt> aaaa_;
  std::pmr::map<std::string_view, std::pmr::vector<const Instance*>> by_node_;  // every instance
  std::pmr::map<std::string_view, std::uint32_t> glue_by_node_;
};

// One A and one AAAA record per distinct address an answer can carry (each instance's
// first), so that every group refers to the same records.
void ServiceBuilder::encode_addresses(std::span<const Eligible> eligible) {
  for (const Eligible& e : eligible) {
    const Instance& i = *e.instance;
    if (i.ipv4.empty() || a_.contains(i.ipv4.front())) continue;
    a_.emplace(i.ipv4.front(), encode(wire_, rrtype::kA, out_.ttl, i.ipv4.front()));
  }
  for (const Eligible& e : eligible) {
    const Instance& i = *e.instance;
    if (i.ipv6.empty() || aaaa_.contains(i.ipv6.front())) continue;
    aaaa_.emplace(i.ipv6.front(), encode(wire_, rrtype::kAaaa, out_.ttl, i.ipv6.front()));
  }
}

// PRIORITY, WEIGHT, PORT and the uncompressed target <node>.node.<domain> (RFC 2782).
void ServiceBuilder::srv_rdata(const Instance& instance, OctetVector& rdata) const {
  rdata.resize(6);
  dns::wire::store_u16(rdata.data(), instance.priority);
  dns::wire::store_u16(rdata.data() + 2, instance.weight);
  dns::wire::store_u16(rdata.data() + 4, instance.port);
  append_node_name(rdata, instance.node, settings_);
}

// RFC 6763 §6: one key=value per character-string, each cut at 255 octets; an empty TXT
// is one empty string.
void ServiceBuilder::txt_rdata(const Instance& instance, OctetVector& rdata) {
  rdata.clear();
  std::size_t start = 0;
  const auto open = [&] {
    start = rdata.size();
    rdata.push_back(0);
  };
  const auto put = [&](std::string_view text) {
    const std::size_t room = 255 - (rdata.size() - start - 1);
    const std::string_view kept = text.substr(0, std::min(room, text.size()));
    rdata.insert(rdata.end(), kept.begin(), kept.end());
    rdata[start] = static_cast<std::uint8_t>(rdata.size() - start - 1);
  };
  if (!instance.tags.empty()) {
    open();
    put("tags=");
    for (std::size_t k = 0; k < instance.tags.size(); ++k) {
      if (k != 0) put(",");
      put(instance.tags[k]);
    }
  }
  for (const auto& [key, value] : instance.meta) {
    open();
    put(key);
    put("=");
    put(value);
  }
  if (rdata.empty()) rdata.push_back(0);
}

// The glue of `node`: the addresses of every instance of the service on it (as the node's
// own records have them: all addresses, sorted, TTL capped by those instances' leases).
std::uint32_t ServiceBuilder::glue_of(const std::string& node) {
  const auto [it, added] = glue_by_node_.try_emplace(node, static_cast<std::uint32_t>(glue_.size()));
  if (!added) return it->second;
  const std::pmr::vector<const Instance*>& on_node = by_node_.at(node);
  std::pmr::set<Ipv4> v4(scratch_);
  std::pmr::set<Ipv6> v6(scratch_);
  for (const Instance* i : on_node) {
    v4.insert(i->ipv4.begin(), i->ipv4.end());
    v6.insert(i->ipv6.begin(), i->ipv6.end());
  }
  const std::uint32_t ttl = capped_ttl(settings_.ttl, on_node);
  Glue glue;
  glue.first = static_cast<RecordAt>(wire_.size());
  for (const Ipv4& a : v4) encode(wire_, rrtype::kA, ttl, a);
  for (const Ipv6& a : v6) encode(wire_, rrtype::kAaaa, ttl, a);
  glue.a_count = static_cast<std::uint32_t>(v4.size());
  glue.aaaa_count = static_cast<std::uint32_t>(v6.size());
  glue.octets = static_cast<std::uint32_t>(wire_.size() - glue.first + 2 * (v4.size() + v6.size()));
  glue_.push_back(glue);
  return it->second;
}

// Each eligible instance's SRV (shared by every SRV answer), its glue, PTR and TXT. The SRV
// records come first and together: they are what SRV answers read.
void ServiceBuilder::encode_instances(std::span<const Eligible> eligible,
                                      std::span<const Instance* const> all) {
  for (const Instance* i : all) by_node_[i->node].push_back(i);
  out_.instances.resize(eligible.size());
  OctetVector rdata(scratch_);
  for (const Eligible& e : eligible) {
    srv_rdata(*e.instance, rdata);
    out_.instances[e.index].srv = encode(wire_, rrtype::kSrv, out_.ttl, rdata);
  }
  for (const Eligible& e : eligible) out_.instances[e.index].glue = glue_of(e.instance->node);
  for (const Eligible& e : eligible) {
    // Only the instance's label: the rest of its name is the PTR's owner, which answers
    // point to (ResponseWriter::put_children).
    const std::string id = label(e.instance->id);
    out_.instances[e.index].ptr = encode(wire_, rrtype::kPtr, out_.ttl, bytes(id));
  }
  // Instances with the same tags and metadata (most often none) share one TXT record.
  std::pmr::map<OctetVector, RecordAt> txt_records(scratch_);
  for (const Eligible& e : eligible) {
    txt_rdata(*e.instance, rdata);
    auto it = txt_records.find(rdata);
    if (it == txt_records.end()) {
      it = txt_records.emplace(rdata, encode(wire_, rrtype::kTxt, out_.ttl, rdata)).first;
    }
    out_.instances[e.index].txt = it->second;
  }
}

void ServiceBuilder::finish() {
  out_.wire.assign(wire_.begin(), wire_.end());
  out_.glue.assign(glue_.begin(), glue_.end());
}

// Adds one address record per distinct address; instances sharing an address share its
// record and add up their weights (an RRset has no duplicates, RFC 2181 §5).
template <typename Address>
void ServiceBuilder::add_address(std::pmr::vector<RecordAt>& records,
                                 std::pmr::vector<std::uint32_t>& weights,
                                 std::pmr::map<Address, std::size_t>& seen, const Address& address,
                                 std::uint32_t weight) const {
  const auto [it, added] = seen.emplace(address, records.size());
  if (added) {
    if constexpr (std::is_same_v<Address, Ipv4>) {
      records.push_back(a_.at(address));
    } else {
      records.push_back(aaaa_.at(address));
    }
    weights.push_back(weight);
  } else {
    // Saturate rather than wrap when many instances share one address.
    const std::uint64_t sum = std::uint64_t{weights[it->second]} + weight;
    weights[it->second] = static_cast<std::uint32_t>(std::min<std::uint64_t>(sum, UINT32_MAX));
  }
}

RecordGroup ServiceBuilder::build_group(std::span<const Eligible* const> members) const {
  std::pmr::vector<RecordAt> a(scratch_);
  std::pmr::vector<RecordAt> aaaa(scratch_);
  std::pmr::vector<std::uint32_t> a_weights(scratch_);
  std::pmr::vector<std::uint32_t> aaaa_weights(scratch_);
  std::pmr::map<Ipv4, std::size_t> seen4(scratch_);
  std::pmr::map<Ipv6, std::size_t> seen6(scratch_);
  for (const Eligible* e : members) {
    const Instance& i = *e->instance;
    if (!i.ipv4.empty()) add_address(a, a_weights, seen4, i.ipv4.front(), e->weight);
    if (!i.ipv6.empty()) add_address(aaaa, aaaa_weights, seen6, i.ipv6.front(), e->weight);
  }
  // SRV: priorities ascending (RFC 2782); the order inside a group is drawn per answer.
  std::pmr::vector<const Eligible*> by_priority(members.begin(), members.end(), scratch_);
  std::stable_sort(by_priority.begin(), by_priority.end(), [](const Eligible* x, const Eligible* y) {
    return x->instance->priority < y->instance->priority;
  });
  std::pmr::vector<std::uint32_t> srv(scratch_);
  std::pmr::vector<std::uint32_t> srv_weights(scratch_);
  std::pmr::vector<std::uint32_t> srv_groups(scratch_);
  for (std::size_t k = 0; k < by_priority.size(); ++k) {
    const Instance& i = *by_priority[k]->instance;
    if (k == 0 || i.priority != by_priority[k - 1]->instance->priority) {
      srv_groups.push_back(static_cast<std::uint32_t>(k));
    }
    srv.push_back(by_priority[k]->index);
    srv_weights.push_back(by_priority[k]->weight);
  }
  srv_groups.push_back(static_cast<std::uint32_t>(by_priority.size()));
  RecordGroup group;
  group.a_count = static_cast<std::uint32_t>(a.size());
  group.aaaa_count = static_cast<std::uint32_t>(aaaa.size());
  group.srv_count = static_cast<std::uint32_t>(srv.size());
  group.table.reserve(2 * group.record_count() + srv_groups.size());
  for (const auto* part : {&a, &aaaa, &srv, &a_weights, &aaaa_weights, &srv_weights, &srv_groups}) {
    group.table.insert(group.table.end(), part->begin(), part->end());
  }
  group.round_robin.assign(group.record_count() * settings_.round_robin_rows, 0);
  return group;
}

}  // namespace

const InstanceRecords* ServiceRecords::find_instance(std::string_view id) const noexcept {
  // Instances are sorted by id; an id is the first label of its PTR's RDATA.
  const auto id_of = [this](const InstanceRecords& i) {
    const std::uint8_t* rdata = wire.data() + i.ptr + kFixedSize;
    return std::string_view(reinterpret_cast<const char*>(rdata + 1), rdata[0]);
  };
  const auto it = std::lower_bound(instances.begin(), instances.end(), id,
                                   [&](const InstanceRecords& i, std::string_view key) {
                                     return id_of(i) < key;
                                   });
  return it != instances.end() && id_of(*it) == id ? &*it : nullptr;
}

const RecordGroup* ServiceRecords::find_tag(std::string_view tag) const noexcept {
  const auto it = std::lower_bound(by_tag.begin(), by_tag.end(), tag,
                                   [](const TagGroup& g, std::string_view key) { return g.tag < key; });
  return it != by_tag.end() && it->tag == tag ? &it->group : nullptr;
}

std::string_view ServiceRecords::target(const InstanceRecords& instance) const noexcept {
  // SRV RDATA: PRIORITY, WEIGHT, PORT, then the uncompressed target (RFC 2782).
  const auto srv = record(instance.srv).subspan(kFixedSize + 6);
  return {reinterpret_cast<const char*>(srv.data()), srv.size()};
}

std::string node_name(std::string_view node, const BuildSettings& settings) {
  std::string out;
  append_node_name(out, node, settings);
  return out;
}

std::string service_type_name(std::string_view service, Protocol protocol,
                              const BuildSettings& settings) {
  return label("_" + std::string(service)) + label("_" + std::string(to_string(protocol))) +
         settings.domain;
}

std::shared_ptr<const ServiceRecords> build_service_records(
    const Service& service, std::span<const Instance* const> instances,
    const BuildSettings& settings) {
  std::array<std::byte, kScratchSize> buffer;
  std::pmr::monotonic_buffer_resource scratch(buffer.data(), buffer.size());
  auto records = std::make_shared<ServiceRecords>();
  records->name = service.name;
  records->protocol = service.protocol;
  records->ttl = capped_ttl(service.ttl.value_or(settings.ttl), instances);
  records->answer_limit = service.answer_limit.value_or(settings.answer_limit);
  records->instance_count = instances.size();
  const std::pmr::vector<Eligible> eligible = eligible_instances(instances, settings, &scratch);
  ServiceBuilder builder(*records, settings, &scratch);
  builder.encode_addresses(eligible);
  builder.encode_instances(eligible, instances);
  builder.finish();
  std::pmr::vector<const Eligible*> all(&scratch);
  all.reserve(eligible.size());
  for (const Eligible& e : eligible) all.push_back(&e);
  records->all = builder.build_group(all);
  // Every tag any instance carries is a name; it answers with its eligible instances.
  std::pmr::set<std::string_view> tags(service.tags.begin(), service.tags.end(), &scratch);
  for (const Instance* i : instances) tags.insert(i->tags.begin(), i->tags.end());
  records->by_tag.reserve(tags.size());
  std::pmr::vector<const Eligible*> members(&scratch);
  for (const std::string_view tag : tags) {
    const bool service_wide = std::binary_search(service.tags.begin(), service.tags.end(), tag);
    members.clear();
    for (const Eligible& e : eligible) {
      const auto& t = e.instance->tags;
      if (service_wide || std::binary_search(t.begin(), t.end(), tag)) members.push_back(&e);
    }
    records->by_tag.push_back(TagGroup{std::string(tag), builder.build_group(members)});
  }
  return records;
}

std::shared_ptr<const NodeRecords> build_node_records(std::span<const Instance* const> instances,
                                                      const BuildSettings& settings) {
  auto records = std::make_shared<NodeRecords>();
  std::set<Ipv4> v4;
  std::set<Ipv6> v6;
  for (const Instance* i : instances) {
    v4.insert(i->ipv4.begin(), i->ipv4.end());
    v6.insert(i->ipv6.begin(), i->ipv6.end());
  }
  const std::uint32_t ttl = capped_ttl(settings.ttl, instances);
  records->wire.reserve(v4.size() * NodeRecords::kARecord + v6.size() * NodeRecords::kAaaaRecord);
  for (const Ipv4& a : v4) encode(records->wire, rrtype::kA, ttl, a);
  for (const Ipv6& a : v6) encode(records->wire, rrtype::kAaaa, ttl, a);
  records->a_count = static_cast<std::uint32_t>(v4.size());
  records->aaaa_count = static_cast<std::uint32_t>(v6.size());
  return records;
}

}  // namespace signpost::registry
