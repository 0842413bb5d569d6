// Builds immutable zones from records.
#include <algorithm>
#include <cstring>

#include "dns/wire/name.hpp"
#include "dns/wire/reader.hpp"
#include "dns/wire/types.hpp"
#include "dns/zone/zone.hpp"

namespace signpost::dns::zone {

namespace {

namespace rrtype = wire::rrtype;

std::string lower(std::string_view wire_name) {
  std::string out(wire_name);
  wire::fold_name({reinterpret_cast<std::uint8_t*>(out.data()), out.size()});
  return out;
}

// The key of a record in ZoneBuilder::records_: lower-case owner, type, RDATA. The owner is
// a whole wire name, so where it ends (and the type begins) is never in doubt.
std::string record_key(std::string_view owner, std::uint16_t type,
                       std::span<const std::uint8_t> rdata) {
  std::string key(owner);
  key.push_back(static_cast<char>(type >> 8));
  key.push_back(static_cast<char>(type));
  key.append(reinterpret_cast<const char*>(rdata.data()), rdata.size());
  return key;
}

// All records of an RRset share one TTL (RFC 2181 §5.2).
void apply_ttl(RRset& rrset) {
  for (std::size_t i = 0; i < rrset.size(); ++i) {
    wire::store_u32(rrset.wire.data() + rrset.offsets[i] + 4, rrset.ttl);
  }
}

}  // namespace

ZoneBuilder::ZoneBuilder(std::string_view origin) : zone_(std::make_unique<Zone>()) {
  zone_->origin_ = lower(origin);
  zone_->origin_labels_ = wire::count_labels(zone_->origin_);
  zone_->nodes_.try_emplace(zone_->origin_);
}

void ZoneBuilder::add(std::string_view owner, std::uint16_t type, std::uint32_t ttl,
                      std::span<const std::uint8_t> rdata) {
  const std::string key = lower(owner);
  if (!wire::is_at_or_below(key, zone_->origin_)) {
    throw ZoneError("record " + wire::name_to_text(owner) + " is outside zone " +
                    wire::name_to_text(zone_->origin_));
  }
  if (rdata.size() > 65535) throw ZoneError("record data of " + wire::name_to_text(owner) + " is too long");
  // Every name between the owner and the apex exists, possibly as an empty non-terminal.
  for (std::size_t i = 0; i < key.size() && key.size() - i > zone_->origin_.size();
       i += static_cast<std::uint8_t>(key[i]) + 1u) {
    zone_->nodes_.try_emplace(key.substr(i));
  }
  Node& node = zone_->nodes_[key];
  auto it = std::lower_bound(node.rrsets.begin(), node.rrsets.end(), type,
                             [](const RRset& r, std::uint16_t t) { return r.type < t; });
  if (it == node.rrsets.end() || it->type != type) {
    it = node.rrsets.insert(it, RRset{});
    it->type = type;
    it->ttl = ttl;
  }
  // Duplicates are dropped (RFC 2181 §5).
  if (!records_.insert(record_key(key, type, rdata)).second) return;
  it->ttl = std::min(it->ttl, ttl);
  append_record(*it, ttl, rdata);
}

std::shared_ptr<const Zone> ZoneBuilder::build() {
  Zone& zone = *zone_;
  const std::string origin_text = wire::name_to_text(zone.origin_);
  Node& apex = zone.nodes_[zone.origin_];
  const RRset* soa = apex.find(rrtype::kSoa);
  if (soa == nullptr) throw ZoneError("zone " + origin_text + " has no SOA record at its apex");
  if (soa->size() != 1) throw ZoneError("zone " + origin_text + " has more than one SOA record");
  if (soa->rdata(0).size() < 22) throw ZoneError("zone " + origin_text + " has a malformed SOA");
  for (auto& [key, node] : zone.nodes_) {
    for (RRset& rrset : node.rrsets) apply_ttl(rrset);
    if (node.find(rrtype::kCname) != nullptr && node.rrsets.size() > 1) {
      throw ZoneError("CNAME and other data at " + wire::name_to_text(key) + " (RFC 1034 §3.6.2)");
    }
    if (key.size() >= 2 && key[0] == 1 && key[1] == '*') zone.has_wildcards_ = true;
    if (&node != &apex && node.find(rrtype::kNs) != nullptr) {
      node.delegation = true;
      zone.has_delegations_ = true;
    }
  }
  zone.apex_ = &apex;
  zone.soa_ = soa;
  const auto rdata = soa->rdata(0);
  const std::uint32_t minimum = wire::load_u32(rdata.data() + rdata.size() - 4);
  zone.negative_ttl_ = std::min(soa->ttl, minimum);
  return std::shared_ptr<const Zone>(zone_.release());
}

}  // namespace signpost::dns::zone
