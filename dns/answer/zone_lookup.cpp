// Static zone lookup (RFC 1034 §4.3.2): zone cuts, CNAME chains, wildcards, negatives.
#include <array>
#include <cstring>

#include "dns/answer/answer_state.hpp"

namespace signpost::dns::answer {

namespace {

namespace rrtype = wire::rrtype;
namespace rcode = wire::rcode;
using zone::Node;
using wire::RRset;
using zone::Zone;

constexpr std::size_t kMaxChain = 8;  // CNAMEs followed before giving up

// A name in wire form held on the stack: CNAME targets, wildcard names.
struct NameBuffer {
  std::array<char, wire::kMaxNameLength> bytes;  // the first `length` are set
  std::size_t length = 0;
  std::string_view view() const noexcept { return {bytes.data(), length}; }
};

class ZoneLookup {
 public:
  explicit ZoneLookup(AnswerState& state) noexcept : state_(state) {}
  void step(const Zone& zone, std::string_view name, Owner& owner, std::size_t depth) noexcept;

 private:
  const Node* find_cut(const Zone& zone, std::string_view name, std::string_view& cut) const noexcept;
  const Node* find_wildcard(const Zone& zone, std::string_view name) noexcept;
  void answer_node(const Zone& zone, const Node& node, Owner& owner, std::size_t depth) noexcept;
  void follow_cname(const RRset& cname, std::size_t depth) noexcept;
  void referral(std::string_view cut, const Node& node) noexcept;

  AnswerState& state_;
  std::array<NameBuffer, kMaxChain> targets_;
  NameBuffer wildcard_;
};

// The topmost zone cut at or above `name` and below the apex (RFC 1034 §4.3.2 step 3b).
const Node* ZoneLookup::find_cut(const Zone& zone, std::string_view name,
                                 std::string_view& cut) const noexcept {
  if (!zone.has_delegations()) return nullptr;
  const Node* found = nullptr;
  std::size_t i = 0;
  // Walk from the name up towards the apex; the last cut seen is the topmost.
  for (std::size_t left = wire::count_labels(name); left > zone.origin_labels(); --left) {
    const std::string_view suffix = name.substr(i);
    const Node* node = zone.find(suffix);
    if (node != nullptr && node->delegation) {
      found = node;
      cut = suffix;
    }
    i += static_cast<std::uint8_t>(name[i]) + 1u;
  }
  return found;
}

// RFC 4592 §3.3.1: the closest encloser's "*" child, if it exists.
const Node* ZoneLookup::find_wildcard(const Zone& zone, std::string_view name) noexcept {
  if (!zone.has_wildcards()) return nullptr;
  std::size_t i = static_cast<std::uint8_t>(name[0]) + 1u;
  while (i < name.size()) {
    const std::string_view encloser = name.substr(i);
    if (zone.find(encloser) != nullptr) {
      if (encloser.size() + 2 > wire::kMaxNameLength) return nullptr;
      wildcard_.bytes[0] = 1;
      wildcard_.bytes[1] = '*';
      std::memcpy(wildcard_.bytes.data() + 2, encloser.data(), encloser.size());
      wildcard_.length = encloser.size() + 2;
      return zone.find(wildcard_.view());
    }
    if (encloser.size() <= zone.origin().size()) break;
    i += static_cast<std::uint8_t>(name[i]) + 1u;
  }
  return nullptr;
}

void ZoneLookup::step(const Zone& zone, std::string_view name, Owner& owner,
                      std::size_t depth) noexcept {
  std::string_view cut;
  const Node* cut_node = find_cut(zone, name, cut);
  // A DS query at the cut itself is answered from the parent's side (RFC 4035 §3.1.4.1).
  if (cut_node != nullptr && !(state_.query.qtype == rrtype::kDs && cut == name)) {
    return referral(cut, *cut_node);
  }
  const Node* node = zone.find(name);
  if (node == nullptr) node = find_wildcard(zone, name);
  if (node == nullptr) return state_.negative(zone, rcode::kNxDomain);
  answer_node(zone, *node, owner, depth);
}

void ZoneLookup::answer_node(const Zone& zone, const Node& node, Owner& owner,
                             std::size_t depth) noexcept {
  if (node.empty()) return state_.negative(zone, rcode::kNoError);  // RFC 8020
  const std::uint16_t qtype = state_.query.qtype;
  // RFC 8482 §4.2: ANY gets one RRset that exists at the name.
  const RRset* rrset = qtype == rrtype::kAny ? &node.rrsets.front() : node.find(qtype);
  if (rrset != nullptr) {
    if (state_.put(Section::answer, owner, *rrset)) state_.add_additional(*rrset);
    return;
  }
  const RRset* cname = node.find(rrtype::kCname);
  if (cname == nullptr) return state_.negative(zone, rcode::kNoError);
  if (!state_.put(Section::answer, owner, *cname)) return;
  follow_cname(*cname, depth);
}

// RFC 1034 §4.3.2 step 3a: restart at the CNAME's target, which now stands in the message.
void ZoneLookup::follow_cname(const RRset& cname, std::size_t depth) noexcept {
  if (depth + 1 >= kMaxChain) return;  // a long chain ends with what we have
  NameBuffer& target = targets_[depth];
  const auto rdata = cname.rdata(0);
  target.length = rdata.size();
  std::memcpy(target.bytes.data(), rdata.data(), rdata.size());
  wire::fold_name({reinterpret_cast<std::uint8_t*>(target.bytes.data()), target.length});
  const std::size_t at = state_.writer.last_rdata_offset();
  Owner next{target.view(), static_cast<std::uint16_t>(at <= 0x3FFF ? at : 0)};
  const Zone* next_zone = state_.snapshot.find_zone(target.view());
  if (next_zone == nullptr) return;  // the resolver follows it from here
  // A chain may lead into the registry zone: its names answer from the registry.
  if (next_zone == state_.snapshot.registry_zone() &&
      lookup_registry(state_, *next_zone, target.view(), next)) {
    return;
  }
  step(*next_zone, target.view(), next, depth + 1);
}

void ZoneLookup::referral(std::string_view cut, const Node& node) noexcept {
  // A referral is not authoritative data (RFC 1034 §4.3.2 step 3b).
  if (state_.writer.count(Section::answer) == 0) state_.authoritative = false;
  const RRset* ns = node.find(rrtype::kNs);
  Owner owner{cut, 0};
  if (state_.put(Section::authority, owner, *ns)) state_.add_additional(*ns);
}

}  // namespace

void lookup_zone(AnswerState& state, const Zone& zone, std::string_view name, Owner& owner) noexcept {
  ZoneLookup lookup(state);
  lookup.step(zone, name, owner, 0);
}

}  // namespace signpost::dns::answer
