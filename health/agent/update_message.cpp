// The agent's DNS UPDATE messages, built with ldns and signed with health/tsig, and the
// reading of replies.
#include "health/agent/update_message.hpp"

#include <ldns/ldns.h>

#include <array>
#include <chrono>
#include <cstdlib>
#include <memory>

namespace signpost::health::agent {

namespace {

struct PktFree {
  void operator()(ldns_pkt* pkt) const { ldns_pkt_free(pkt); }
};
struct RrFree {
  void operator()(ldns_rr* rr) const { ldns_rr_free(rr); }
};
using Pkt = std::unique_ptr<ldns_pkt, PktFree>;
using Rr = std::unique_ptr<ldns_rr, RrFree>;

constexpr std::uint16_t kNotAuth = 9;
constexpr std::uint16_t kUdpPayload = 1232;  // RFC 9715's safe EDNS payload size

ldns_rdf* checked(ldns_rdf* rdf, std::string_view what, std::string_view text) {
  if (rdf == nullptr) {
    throw UpdateError("cannot encode " + std::string(what) + " '" + std::string(text) + "'");
  }
  return rdf;
}

ldns_rdf* name_rdf(const std::string& name) {
  return checked(ldns_dname_new_frm_str(name.c_str()), "name", name);
}

// An RR of the update section (RFC 2136 §2.5); the rdata is pushed by the caller.
Rr make_rr(const std::string& owner, ldns_rr_type type, ldns_rr_class rrclass, std::uint32_t ttl) {
  Rr rr(ldns_rr_new());
  ldns_rr_set_owner(rr.get(), name_rdf(owner));
  ldns_rr_set_type(rr.get(), type);
  ldns_rr_set_class(rr.get(), rrclass);
  ldns_rr_set_ttl(rr.get(), ttl);
  return rr;
}

void push(ldns_pkt* pkt, Rr rr, ldns_pkt_section section) {
  ldns_pkt_push_rr(pkt, section, rr.release());
}

// Header and zone section `<domain> SOA IN` (RFC 2136 §2.3).
Pkt new_update(const InstanceRecords& instance, std::uint16_t id) {
  Pkt pkt(ldns_pkt_new());
  ldns_pkt_set_id(pkt.get(), id);
  ldns_pkt_set_opcode(pkt.get(), LDNS_PACKET_UPDATE);
  Rr zone = make_rr(instance.domain, LDNS_RR_TYPE_SOA, LDNS_RR_CLASS_IN, 0);
  ldns_rr_set_question(zone.get(), true);
  push(pkt.get(), std::move(zone), LDNS_SECTION_QUESTION);
  return pkt;
}

// "Delete all RRsets from a name": class ANY, type ANY, TTL 0, no rdata (RFC 2136 §2.5.3).
void push_delete_all(ldns_pkt* pkt, const InstanceRecords& instance) {
  push(pkt, make_rr(instance.instance_name(), LDNS_RR_TYPE_ANY, LDNS_RR_CLASS_ANY, 0),
       LDNS_SECTION_AUTHORITY);
}

ldns_rdf* txt_string(const std::string& text) {
  std::vector<std::uint8_t> data;
  data.push_back(static_cast<std::uint8_t>(text.size()));
  data.insert(data.end(), text.begin(), text.end());
  return checked(ldns_rdf_new_frm_data(LDNS_RDF_TYPE_STR, data.size(), data.data()), "TXT string",
                 text);
}

void push_adds(ldns_pkt* pkt, const InstanceRecords& instance, std::uint32_t ttl) {
  const std::string owner = instance.instance_name();
  Rr srv = make_rr(owner, LDNS_RR_TYPE_SRV, LDNS_RR_CLASS_IN, ttl);
  for (const std::uint16_t field : {instance.priority, instance.weight, instance.port}) {
    ldns_rr_push_rdf(srv.get(), ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, field));
  }
  ldns_rr_push_rdf(srv.get(), name_rdf(instance.node_name()));
  push(pkt, std::move(srv), LDNS_SECTION_AUTHORITY);

  Rr txt = make_rr(owner, LDNS_RR_TYPE_TXT, LDNS_RR_CLASS_IN, ttl);
  for (const std::string& text : instance.txt_strings())
    ldns_rr_push_rdf(txt.get(), txt_string(text));
  push(pkt, std::move(txt), LDNS_SECTION_AUTHORITY);

  for (const std::string& address : instance.addresses) {
    const bool v6 = address.find(':') != std::string::npos;
    Rr rr = make_rr(instance.node_name(), v6 ? LDNS_RR_TYPE_AAAA : LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN,
                    ttl);
    ldns_rr_push_rdf(
        rr.get(),
        checked(ldns_rdf_new_frm_str(v6 ? LDNS_RDF_TYPE_AAAA : LDNS_RDF_TYPE_A, address.c_str()),
                "address", address));
    push(pkt, std::move(rr), LDNS_SECTION_AUTHORITY);
  }

  Rr ptr = make_rr(instance.service_type_name(), LDNS_RR_TYPE_PTR, LDNS_RR_CLASS_IN, ttl);
  ldns_rr_push_rdf(ptr.get(), name_rdf(owner));
  push(pkt, std::move(ptr), LDNS_SECTION_AUTHORITY);
}

// OPT with the 4-octet Update Lease option (RFC 9664 §4).
void set_lease_option(ldns_pkt* pkt, std::uint32_t lease) {
  const std::array<std::uint8_t, 4> data{
      static_cast<std::uint8_t>(lease >> 24), static_cast<std::uint8_t>(lease >> 16),
      static_cast<std::uint8_t>(lease >> 8), static_cast<std::uint8_t>(lease)};
  ldns_edns_option_list* list = ldns_edns_option_list_new();
  ldns_edns_option_list_push(
      list, ldns_edns_new_from_data(static_cast<ldns_edns_option_code>(kLeaseOption), data.size(),
                                    data.data()));
  ldns_pkt_set_edns_udp_size(pkt, kUdpPayload);
  ldns_pkt_set_edns_option_list(pkt, list);
}

std::uint64_t wall_seconds() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

// Renders the UPDATE, then signs it with the server's own TSIG code, so that what the agent
// signs and what the server verifies cannot drift apart: TSIG as the last record of the
// additional section (RFC 8945 §4.2).
SignedUpdate sign_and_render(ldns_pkt* pkt, const KeyConfig& key) {
  std::uint8_t* wire = nullptr;
  std::size_t size = 0;
  if (ldns_pkt2wire(&wire, pkt, &size) != LDNS_STATUS_OK) throw UpdateError("cannot render UPDATE");
  SignedUpdate out;
  out.wire.assign(wire, wire + size);
  std::free(wire);
  out.id = ldns_pkt_id(pkt);
  try {
    const TsigSigner signer({make_tsig_key(key.name, key.algorithm, key.secret, {})});
    out.mac = signer.sign_request(out.wire, signer.keys().front(), wall_seconds());
  } catch (const KeyError& e) {
    throw UpdateError("cannot sign with key '" + key.name + "': " + e.what());
  }
  return out;
}

// The granted lease: the first 4 octets of option 2 (RFC 9664 §4, 4- or 8-octet form).
std::optional<std::uint32_t> lease_of(ldns_pkt* pkt) {
  const ldns_edns_option_list* list = ldns_pkt_edns_get_option_list(pkt);
  if (list == nullptr) return std::nullopt;
  for (std::size_t i = 0; i < ldns_edns_option_list_get_count(list); ++i) {
    const ldns_edns_option* option = ldns_edns_option_list_get_option(list, i);
    const std::size_t size = ldns_edns_get_size(option);
    if (ldns_edns_get_code(option) != kLeaseOption || (size != 4 && size != 8)) continue;
    const std::uint8_t* data = ldns_edns_get_data(option);
    return (std::uint32_t{data[0]} << 24) | (std::uint32_t{data[1]} << 16) |
           (std::uint32_t{data[2]} << 8) | std::uint32_t{data[3]};
  }
  return std::nullopt;
}

// RFC 8945 §5.3: the reply's MAC covers the request's MAC, the reply and its TSIG
// variables; its time must be within the fudge. Checked with the server's TSIG code.
void verify_signature(std::span<const std::uint8_t> wire, const SignedUpdate& request,
                      const KeyConfig& key, std::uint64_t now, UpdateReply& out) {
  TsigCheck check;
  try {
    const TsigSigner signer({make_tsig_key(key.name, key.algorithm, key.secret, {})});
    check = signer.verify_response(wire, request.mac, now);
  } catch (const KeyError& e) {
    out.problem = std::string("cannot verify the reply: ") + e.what();
    return;
  }
  out.tsig_error = check.tsig_error;
  switch (check.status) {
    case TsigCheck::Status::ok:
      out.signed_ok = true;
      return;
    case TsigCheck::Status::unsigned_message:
      out.problem = "reply is not signed";
      return;
    case TsigCheck::Status::bad_time: {
      const std::uint64_t skew = check.time_signed > now ? check.time_signed - now : now - check.time_signed;
      out.problem = "reply signed " + std::to_string(skew) + " s away from our clock";
      return;
    }
    default:
      out.problem = "reply signature does not verify";
      return;
  }
}

}  // namespace

std::string InstanceRecords::instance_name() const { return id + "." + service_type_name(); }

std::string InstanceRecords::service_type_name() const {
  return "_" + service + (udp ? "._udp." : "._tcp.") + domain;
}

std::string InstanceRecords::node_name() const { return node + ".node." + domain; }

std::vector<std::string> InstanceRecords::txt_strings() const {
  std::vector<std::string> out{"health=" + std::string(registry::to_string(health))};
  if (!tags.empty()) {
    std::string text = "tags=";
    for (std::size_t i = 0; i < tags.size(); ++i) text += (i == 0 ? "" : ",") + tags[i];
    out.push_back(std::move(text));
  }
  for (const auto& [key, value] : meta) out.push_back(key + "=" + value);
  return out;
}

InstanceRecords make_instance_records(const AgentConfig& config, const ServiceConfig& service,
                                      registry::Health health) {
  InstanceRecords out;
  out.domain = config.domain;
  out.id = service.id;
  out.service = service.name;
  out.udp = service.udp;
  out.node = config.node;
  out.addresses = config.addresses;
  out.port = service.port;
  out.priority = service.priority;
  out.weight = service.weight;
  out.tags = service.tags;
  out.meta = service.meta;
  out.health = health;
  return out;
}

SignedUpdate encode_registration(const InstanceRecords& instance, std::uint32_t lease,
                                 const KeyConfig& key, std::uint16_t id) {
  Pkt pkt = new_update(instance, id);
  push_delete_all(pkt.get(), instance);
  push_adds(pkt.get(), instance, lease);
  set_lease_option(pkt.get(), lease);
  return sign_and_render(pkt.get(), key);
}

SignedUpdate encode_deregistration(const InstanceRecords& instance, const KeyConfig& key,
                                   std::uint16_t id) {
  Pkt pkt = new_update(instance, id);
  push_delete_all(pkt.get(), instance);
  // "Delete an RR from an RRset": class NONE, TTL 0 (RFC 2136 §2.5.4).
  Rr ptr = make_rr(instance.service_type_name(), LDNS_RR_TYPE_PTR, LDNS_RR_CLASS_NONE, 0);
  ldns_rr_push_rdf(ptr.get(), name_rdf(instance.instance_name()));
  push(pkt.get(), std::move(ptr), LDNS_SECTION_AUTHORITY);
  return sign_and_render(pkt.get(), key);
}

UpdateReply parse_update_reply(std::span<const std::uint8_t> wire, const SignedUpdate& request,
                               const KeyConfig& key, std::uint64_t now) {
  UpdateReply out;
  ldns_pkt* raw = nullptr;
  if (ldns_wire2pkt(&raw, wire.data(), wire.size()) != LDNS_STATUS_OK) {
    out.problem = "reply is not a DNS message";
    return out;
  }
  Pkt pkt(raw);
  if (ldns_pkt_id(raw) != request.id || !ldns_pkt_qr(raw) ||
      ldns_pkt_get_opcode(raw) != LDNS_PACKET_UPDATE) {
    out.problem = "reply does not answer the UPDATE";
    return out;
  }
  out.well_formed = true;
  out.rcode = static_cast<std::uint16_t>(ldns_pkt_get_rcode(raw) |
                                         (ldns_pkt_edns_extended_rcode(raw) << 4));
  out.lease = lease_of(raw);
  verify_signature(wire, request, key, now, out);
  return out;
}

std::string rcode_name(std::uint16_t rcode) {
  static constexpr std::array<std::string_view, 24> kNames{
      "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
      "NXRRSET", "NOTAUTH", "NOTZONE",  "RCODE11",  "RCODE12", "RCODE13", "RCODE14",  "RCODE15",
      "BADSIG",  "BADKEY",  "BADTIME",  "BADMODE",  "BADNAME", "BADALG",  "BADTRUNC", "BADCOOKIE"};
  if (rcode < kNames.size()) return std::string(kNames[rcode]);
  return "RCODE" + std::to_string(rcode);
}

std::string UpdateReply::describe() const {
  if (!well_formed) return problem;
  std::string out = rcode_name(rcode);
  if (rcode == kNotAuth && tsig_error != 0) out += " (" + rcode_name(tsig_error) + ")";
  if (rcode == 0 && !signed_ok) out += ", but " + problem;
  return out;
}

}  // namespace signpost::health::agent
