// Registry names (DESIGN.md "DNS names"): services, tags, SRV and DNS-SD names, nodes.
// Every address and SRV answer is ordered per query by weight (order.hpp).
#include <algorithm>
#include <array>
#include <bitset>

#include "dns/answer/answer_state.hpp"
#include "dns/answer/order.hpp"
#include "dns/answer/rendezvous.hpp"

namespace signpost::dns::answer {

namespace {

namespace rrtype = wire::rrtype;
namespace rcode = wire::rcode;
using registry::Glue;
using registry::InstanceRecords;
using registry::NodeRecords;
using registry::RecordAt;
using registry::RecordGroup;
using registry::ServiceRecords;
using wire::RRset;
using zone::Zone;

constexpr std::size_t kMaxRelativeLabels = 4;
constexpr std::size_t kMaxGlueNodes = 64;
constexpr std::uint16_t kEdeOther = 0;  // RFC 8914 §4.1
// Encoded sizes after the owner: 10 fixed octets and the address.
constexpr std::size_t kARecordSize = 10 + 4;
constexpr std::size_t kAaaaRecordSize = 10 + 16;

// Where the target of the SRV record just written stands: after PRIORITY, WEIGHT and PORT,
// uncompressed (RFC 2782). 0 when a compression pointer cannot reach it.
std::uint16_t srv_target_offset(const ResponseWriter& writer) noexcept {
  const std::size_t at = writer.last_rdata_offset() + 6;
  return static_cast<std::uint16_t>(at <= 0x3FFF ? at : 0);
}

// The labels of a name below the registry domain, leftmost first, without length octets.
struct Relative {
  std::array<std::string_view, kMaxRelativeLabels> labels{};
  std::size_t count = 0;
};

bool split_relative(std::string_view name, std::size_t origin_size, Relative& out) noexcept {
  std::size_t i = 0;
  while (i + origin_size < name.size()) {
    if (out.count == kMaxRelativeLabels) return false;
    const std::size_t length = static_cast<std::uint8_t>(name[i]);
    out.labels[out.count++] = name.substr(i + 1, length);
    i += length + 1;
  }
  return true;
}

bool is_protocol_label(std::string_view label, registry::Protocol protocol) noexcept {
  return label == (protocol == registry::Protocol::tcp ? "_tcp" : "_udp");
}

class RegistryLookup {
 public:
  RegistryLookup(AnswerState& state, const Zone& zone, const registry::RegistryView& view,
                 Owner& owner) noexcept
      : s_(state), zone_(zone), view_(view), owner_(owner) {}

  bool run(const Relative& name) noexcept;

 private:
  bool one_label(std::string_view label) noexcept;
  bool two_labels(std::string_view first, std::string_view second) noexcept;
  bool three_labels(const Relative& name) noexcept;
  void answer_group(const ServiceRecords& service, const RecordGroup& group) noexcept;
  void answer_service_type(const ServiceRecords& service) noexcept;
  void answer_node(const NodeRecords& node) noexcept;
  void answer_addresses(const ServiceRecords& service, const RecordGroup& group,
                        std::span<const RecordAt> records, std::span<const std::uint32_t> weights,
                        std::size_t state_offset) noexcept;
  bool answer_client_prefix(const ServiceRecords& service, std::span<const RecordAt> records,
                            std::span<const std::uint32_t> weights) noexcept;
  void answer_srv(const ServiceRecords& service, const RecordGroup& group) noexcept;
  bool srv_records_fit(const ServiceRecords& service, const RecordGroup& group, std::size_t k,
                       std::size_t room) const noexcept;
  void answer_instance(const ServiceRecords& service, const InstanceRecords& instance) noexcept;
  void put_glue(const ServiceRecords& service, const InstanceRecords& instance,
                std::uint16_t target_offset) noexcept;
  std::size_t order_srv(const ServiceRecords& service, const RecordGroup& group) noexcept;
  std::size_t order(std::span<const std::uint32_t> weights, std::size_t limit, const RecordGroup& group,
                    std::size_t state_offset, std::span<std::uint16_t> out) noexcept;
  void put_whole(const RRset& rrset) noexcept;
  // A service whose answer_limit is 0 promises the whole RRset in each answer. When it does
  // not fit in UDP, fewer records would let a resolver cache a part as the whole, which not
  // even its clients' TCP queries could then get past: TC sends the resolver to TCP instead
  // (RFC 2181 §9). A limited service's answer is a chosen subset anyway.
  static bool whole_rrset_promised(const ServiceRecords& service) noexcept {
    return service.answer_limit == 0;
  }
  void nodata() noexcept { s_.negative(zone_, rcode::kNoError); }
  void no_healthy(const ServiceRecords& service) noexcept;

  AnswerState& s_;
  const Zone& zone_;
  const registry::RegistryView& view_;
  Owner& owner_;
};

bool RegistryLookup::run(const Relative& name) noexcept {
  switch (name.count) {
    case 1: return one_label(name.labels[0]);
    case 2: return two_labels(name.labels[0], name.labels[1]);
    case 3: return three_labels(name);
    default: return false;
  }
}

bool RegistryLookup::one_label(std::string_view label) noexcept {
  if (label == "_tcp" || label == "_udp" || label == "node") {
    nodata();  // empty non-terminals above SRV, DNS-SD and node names (RFC 8020)
    return true;
  }
  const ServiceRecords* service = view_.find_service(label);
  if (service == nullptr) return false;
  answer_group(*service, service->all);
  return true;
}

bool RegistryLookup::two_labels(std::string_view first, std::string_view second) noexcept {
  if (second == "node") {
    const NodeRecords* node = view_.find_node(first);
    if (node == nullptr) return false;
    answer_node(*node);
    return true;
  }
  if (first == "_dns-sd" && second == "_udp") {
    nodata();
    return true;
  }
  if (first.size() > 1 && first[0] == '_') {
    // _<service>._<proto>: RFC 2782 SRV and the DNS-SD browse PTR (RFC 6763 §4).
    const ServiceRecords* service = view_.find_service(first.substr(1));
    if (service == nullptr || !is_protocol_label(second, service->protocol)) return false;
    answer_service_type(*service);
    return true;
  }
  const ServiceRecords* service = view_.find_service(second);
  if (service == nullptr) return false;
  const RecordGroup* tag = service->find_tag(first);
  if (tag == nullptr) return false;
  answer_group(*service, *tag);
  return true;
}

bool RegistryLookup::three_labels(const Relative& name) noexcept {
  const auto& l = name.labels;
  if (l[0] == "_services" && l[1] == "_dns-sd" && l[2] == "_udp") {
    // Service type enumeration (RFC 6763 §9).
    if (s_.query.qtype == rrtype::kPtr || s_.query.qtype == rrtype::kAny) {
      if (view_.service_types().size() > 0) return put_whole(view_.service_types()), true;
    }
    nodata();
    return true;
  }
  if (l[1].size() < 2 || l[1][0] != '_') return false;
  const ServiceRecords* service = view_.find_service(l[1].substr(1));
  if (service == nullptr || !is_protocol_label(l[2], service->protocol)) return false;
  const InstanceRecords* instance = service->find_instance(l[0]);
  if (instance == nullptr) return false;
  answer_instance(*service, *instance);
  return true;
}

void RegistryLookup::answer_instance(const ServiceRecords& service,
                                     const InstanceRecords& instance) noexcept {
  const std::uint16_t qtype = s_.query.qtype;
  const bool srv = qtype == rrtype::kSrv || qtype == rrtype::kAny;
  if (!srv && qtype != rrtype::kTxt) return nodata();
  if (!s_.writer.put_record(Section::answer, owner_, service.record(srv ? instance.srv : instance.txt))) {
    s_.truncated = true;  // no partial RRset (RFC 2181 §9)
    return;
  }
  if (srv) put_glue(service, instance, srv_target_offset(s_.writer));
}

void RegistryLookup::put_whole(const RRset& rrset) noexcept { s_.put(Section::answer, owner_, rrset); }

void RegistryLookup::no_healthy(const ServiceRecords& service) noexcept {
  nodata();
  s_.writer.set_extended_error(kEdeOther, "no healthy instance of service ", service.name);
}

void RegistryLookup::answer_group(const ServiceRecords& service, const RecordGroup& group) noexcept {
  std::uint16_t qtype = s_.query.qtype;
  const bool wanted = qtype == rrtype::kA || qtype == rrtype::kAaaa || qtype == rrtype::kSrv ||
                      qtype == rrtype::kAny;
  if (!wanted) return nodata();
  if (group.empty()) return no_healthy(service);
  if (qtype == rrtype::kAny) qtype = !group.a().empty() ? rrtype::kA : rrtype::kAaaa;  // RFC 8482
  if (qtype == rrtype::kA) {
    answer_addresses(service, group, group.a(), group.a_weights(), 0);
  } else if (qtype == rrtype::kAaaa) {
    answer_addresses(service, group, group.aaaa(), group.aaaa_weights(), group.a_count);
  } else {
    answer_srv(service, group);
  }
}

void RegistryLookup::answer_service_type(const ServiceRecords& service) noexcept {
  const std::uint16_t qtype = s_.query.qtype;
  if (qtype == rrtype::kPtr) {
    // DNS-SD browse: one PTR per eligible instance, as one RRset (RFC 6763 §4.1).
    const auto& instances = service.instances;
    if (instances.empty()) return no_healthy(service);
    const auto ptr = [&](std::size_t i) { return service.record(instances[i].ptr); };
    if (!s_.writer.put_children(Section::answer, owner_, instances.size(), ptr)) s_.truncated = true;
    return;
  }
  if (qtype != rrtype::kSrv && qtype != rrtype::kAny) return nodata();
  if (service.all.srv_count == 0) return no_healthy(service);
  answer_srv(service, service.all);
}

void RegistryLookup::answer_node(const NodeRecords& node) noexcept {
  const std::uint16_t qtype = s_.query.qtype;
  bool ok = true;
  if ((qtype == rrtype::kA || qtype == rrtype::kAny) && node.a_count != 0) {
    ok = s_.writer.put_each(Section::answer, owner_, node.a_count, [&node](std::size_t i) { return node.a(i); });
  } else if ((qtype == rrtype::kAaaa || qtype == rrtype::kAny) && node.aaaa_count != 0) {
    ok = s_.writer.put_each(Section::answer, owner_, node.aaaa_count,
                            [&node](std::size_t i) { return node.aaaa(i); });
  } else {
    return nodata();
  }
  if (!ok) s_.truncated = true;  // no partial RRset (RFC 2181 §9)
}

// Orders `weights` into `out`: a weighted random permutation, or in round-robin mode the
// smooth round-robin pick first and the rest after it in turn.
std::size_t RegistryLookup::order(std::span<const std::uint32_t> weights, std::size_t limit,
                                  const RecordGroup& group, std::size_t state_offset,
                                  std::span<std::uint16_t> out) noexcept {
  AnswerContext& c = s_.context;
  const std::size_t n = weights.size();
  const std::size_t records = group.record_count();
  const std::size_t row = c.worker * records + state_offset;
  if (c.options.order == OrderMode::round_robin && row + n <= group.round_robin.size()) {
    std::size_t k = limit == 0 ? n : std::min(limit, n);
    k = std::min(k, out.size());
    const std::size_t first =
        smooth_round_robin(weights, {group.round_robin.data() + row, n});
    for (std::size_t i = 0; i < k; ++i) out[i] = static_cast<std::uint16_t>((first + i) % n);
    return k;
  }
  return weighted_order(weights, limit, c.random, c.scratch, out);
}

void RegistryLookup::answer_addresses(const ServiceRecords& service, const RecordGroup& group,
                                      std::span<const RecordAt> records,
                                      std::span<const std::uint32_t> weights,
                                      std::size_t state_offset) noexcept {
  if (records.empty()) return nodata();
  if (answer_client_prefix(service, records, weights)) return;
  const std::size_t k = order(weights, service.answer_limit, group, state_offset, s_.context.order);
  // As many records as fit, in the weighted order; TC only when not even one fits, or when
  // the service hands out all its records (see whole_rrset_promised). All of them usually
  // fit, so they are tried as one set first.
  const auto record = [&](std::size_t i) { return service.record(records[s_.context.order[i]]); };
  if (s_.writer.put_each(Section::answer, owner_, k, record)) return;
  std::size_t written = 0;
  while (written < k && s_.writer.put_record(Section::answer, owner_, record(written))) ++written;
  if (written == 0 || whole_rrset_promised(service)) s_.truncated = true;
}

// With a client prefix (ECS, RFC 7871), the one address rendezvous hashing gives that
// prefix (rendezvous.hpp), at the scope it was chosen for. A resolver caches it per prefix
// and its rotation cannot reorder one record, so the prefixes' shares follow the weights.
// A source prefix of 0 asks for an answer that suits every client: the usual order then.
bool RegistryLookup::answer_client_prefix(const ServiceRecords& service,
                                          std::span<const RecordAt> records,
                                          std::span<const std::uint32_t> weights) noexcept {
  const ClientSubnet& subnet = s_.query.client_subnet;
  if (!subnet.present || subnet.source_prefix == 0) return false;
  const std::uint8_t scope = client_subnet_scope(subnet);
  const std::uint64_t key = client_prefix_key(subnet, scope);
  const std::size_t chosen = rendezvous_choice(key, weights, [&](std::size_t i) {
    return service.record(records[i]).subspan(10);  // the address: RDATA after 10 fixed octets
  });
  s_.writer.set_client_subnet_scope(scope);
  if (!s_.writer.put_record(Section::answer, owner_, service.record(records[chosen]))) s_.truncated = true;
  return true;
}

// SRV: priority groups ascending, weighted order inside each, `answer_limit` overall.
std::size_t RegistryLookup::order_srv(const ServiceRecords& service, const RecordGroup& group) noexcept {
  const std::span<std::uint16_t> out = s_.context.order;
  const std::size_t n = group.srv_count;
  const std::size_t limit = service.answer_limit == 0 ? n : std::min<std::size_t>(service.answer_limit, n);
  const std::size_t base = std::size_t{group.a_count} + group.aaaa_count;
  std::size_t total = 0;
  const auto groups = group.srv_groups();
  for (std::size_t g = 0; g + 1 < groups.size() && total < limit; ++g) {
    const std::size_t start = groups[g];
    const std::size_t end = groups[g + 1];
    const auto weights = group.srv_weights().subspan(start, end - start);
    const std::size_t k = order(weights, limit - total, group, base + start, out.subspan(total));
    for (std::size_t i = total; i < total + k; ++i) out[i] = static_cast<std::uint16_t>(out[i] + start);
    total += k;
  }
  return total;
}

// SRV answers carry their targets' addresses in the additional section, once per target.
// Each SRV record links to its target's glue, whose size is known, so fitting the answer
// needs no lookup. When records and glue do not all fit, fewer records go out, in the same
// order; TC only if none fits (for a service without a limit: all records, or TC). The
// registry answer is the first to add to the additional section, so only its own targets
// can repeat.
void RegistryLookup::answer_srv(const ServiceRecords& service, const RecordGroup& group) noexcept {
  struct Chosen {
    std::uint32_t glue;      // index into service.glue
    std::uint32_t instance;  // the first instance with it, whose SRV record is ...
    std::uint32_t record;    // ... the record-th of the answer
    std::uint16_t offset;    // where its target then stands in the message, 0 = not yet
  };
  std::array<Chosen, kMaxGlueNodes> glue;  // the first glue_count are set
  std::size_t glue_count = 0;
  const std::size_t k = order_srv(service, group);
  const auto order_of = s_.context.order;
  const std::size_t room = s_.writer.room();
  std::size_t used = 0;
  std::size_t m = 0;
  // Bit (glue index mod 64) is set once a glue entry with such an index is chosen, so that
  // the list is searched only when the bit is set (most targets are new).
  std::uint64_t maybe_known = 0;
  for (; m < k; ++m) {
    const std::uint32_t index = group.srv()[order_of[m]];
    const InstanceRecords& instance = service.instances[index];
    const std::uint64_t bit = std::uint64_t{1} << (instance.glue % 64);
    bool known = false;
    if ((maybe_known & bit) != 0) {
      for (std::size_t g = 0; g < glue_count && !known; ++g) known = glue[g].glue == instance.glue;
    }
    maybe_known |= bit;
    const bool add = !known && glue_count < kMaxGlueNodes;
    const std::size_t size = 2 + service.record(instance.srv).size() +
                             (add ? service.glue[instance.glue].octets : 0);
    if (used + size > room) break;
    used += size;
    if (add) glue[glue_count++] = Chosen{instance.glue, index, static_cast<std::uint32_t>(m), 0};
  }
  // Every SRV record with the glue that still fits, or TC when the records do not fit.
  if (m < k && whole_rrset_promised(service)) m = srv_records_fit(service, group, k, room) ? k : 0;
  if (m == 0) {
    s_.truncated = true;
    return;
  }
  // Records go out in the order they were fitted, so glue entries meet their first
  // record in turn.
  std::size_t next = 0;
  for (std::size_t i = 0; i < m; ++i) {
    const InstanceRecords& instance = service.instances[group.srv()[order_of[i]]];
    if (!s_.writer.put_record(Section::answer, owner_, service.record(instance.srv))) break;
    if (next < glue_count && glue[next].record == i) glue[next++].offset = srv_target_offset(s_.writer);
  }
  for (std::size_t g = 0; g < glue_count; ++g) {
    put_glue(service, service.instances[glue[g].instance], glue[g].offset);
  }
}

// Whether the first k SRV records of the chosen order fit in `room` without their glue.
bool RegistryLookup::srv_records_fit(const ServiceRecords& service, const RecordGroup& group,
                                     std::size_t k, std::size_t room) const noexcept {
  std::size_t size = 0;
  for (std::size_t i = 0; i < k && size <= room; ++i) {
    const InstanceRecords& instance = service.instances[group.srv()[s_.context.order[i]]];
    size += 2 + service.record(instance.srv).size();  // the owner is a 2-octet pointer
  }
  return size <= room;
}

// The A and AAAA of an instance's SRV target, owned by the target where it stands in the
// SRV RDATA (`target_offset`, or 0 to write the name). Each set that does not fit is left
// out, without TC (RFC 2181 §9).
void RegistryLookup::put_glue(const ServiceRecords& service, const InstanceRecords& instance,
                              std::uint16_t target_offset) noexcept {
  const Glue& glue = service.glue[instance.glue];
  Owner owner{service.target(instance), target_offset};
  // The records are back to back and of fixed size: A records, then AAAA records.
  const std::span<const std::uint8_t> wire(service.wire);
  const std::size_t aaaa = glue.first + glue.a_count * kARecordSize;
  s_.writer.put_each(Section::additional, owner, glue.a_count, [&](std::size_t i) {
    return wire.subspan(glue.first + i * kARecordSize, kARecordSize);
  });
  s_.writer.put_each(Section::additional, owner, glue.aaaa_count, [&](std::size_t i) {
    return wire.subspan(aaaa + i * kAaaaRecordSize, kAaaaRecordSize);
  });
}

}  // namespace

bool lookup_registry(AnswerState& state, const Zone& zone, std::string_view name,
                     Owner& owner) noexcept {
  const registry::RegistryView* view = state.snapshot.registry();
  if (view == nullptr || zone.find(name) != nullptr) return false;  // static names first
  Relative relative;
  if (!split_relative(name, zone.origin().size(), relative)) return false;
  RegistryLookup lookup(state, zone, *view, owner);
  return lookup.run(relative);
}

namespace {

// Octets of a service's wire that its answers read first: the address records, which come
// first, or for SRV questions also the SRV records and their glue after them.
constexpr std::size_t kAddressOctets = 256;
constexpr std::size_t kSrvOctets = 768;

// The service a query's first label names, lower-cased into `folded`, or empty; whether
// it is an SRV-form name (`_<service>`) goes into `srv`. Only for hints: the question is
// not checked further.
std::string_view service_label(std::span<const std::uint8_t> query,
                               std::array<char, wire::kMaxLabelLength>& folded, bool& srv) noexcept {
  if (query.size() < wire::kHeaderSize + 1) return {};
  std::size_t length = query[wire::kHeaderSize];
  std::size_t at = wire::kHeaderSize + 1;
  if (length == 0 || length > wire::kMaxLabelLength || at + length > query.size()) return {};
  srv = query[at] == '_';
  if (srv) {
    ++at;
    --length;
  }
  for (std::size_t i = 0; i < length; ++i) {
    const char c = static_cast<char>(query[at + i]);
    folded[i] = c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c;
  }
  return {folded.data(), length};
}

}  // namespace

void prefetch_answers(const registry::Snapshot& snapshot,
                      std::span<const std::span<const std::uint8_t>> queries) noexcept {
  const registry::RegistryView* view = snapshot.registry();
  if (view == nullptr) return;
  constexpr std::size_t kMax = 64;
  std::array<const void*, kMax> slots{};
  std::array<const registry::ServiceRecords*, kMax> services{};
  std::bitset<kMax> srv;
  const std::size_t n = std::min(queries.size(), kMax);
  std::array<char, wire::kMaxLabelLength> folded;
  for (std::size_t i = 0; i < n; ++i) {
    bool is_srv = false;
    const std::string_view label = service_label(queries[i], folded, is_srv);
    if (!label.empty()) slots[i] = view->prefetch_service(label);
    srv[i] = is_srv;
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (slots[i] == nullptr) continue;
    services[i] = registry::RegistryView::service_hint(slots[i]);
    if (services[i] == nullptr) continue;
    registry::ServiceRecords::prefetch_bytes(services[i], sizeof(registry::ServiceRecords));
  }
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (services[i] != nullptr) sum += services[i]->touch(srv[i] ? kSrvOctets : kAddressOctets, srv[i]);
  }
  // The loads are the point, not the sum: keep the compiler from dropping them.
  asm volatile("" : : "r"(sum));
}

}  // namespace signpost::dns::answer
