// The agent's DNS UPDATE messages, built and signed with the protocol library's UPDATE
// builder and TSIG code, the ones the server verifies with, and the reading of replies.
#include "health/agent/update_message.hpp"

#include <array>
#include <chrono>

#include "dns/wire/types.hpp"
#include "health/protocol/update_builder.hpp"
#include "health/protocol/update_response.hpp"

namespace signpost::health::agent {

namespace {

namespace wire = dns::wire;

constexpr std::uint16_t kUdpPayload = 1232;  // RFC 9715's safe EDNS payload size

std::uint64_t wall_seconds() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

// The key as the signer holds it; a key the config checks let through but TSIG cannot use
// (unknown algorithm, short secret) is an UpdateError.
TsigSigner signer_for(const KeyConfig& key) {
  try {
    return TsigSigner({make_tsig_key(key.name, key.algorithm, key.secret, {})});
  } catch (const KeyError& e) {
    throw UpdateError("cannot sign with key '" + key.name + "': " + e.what());
  }
}

void check(UpdateBuildError error, std::string_view what, std::string_view text) {
  if (error == UpdateBuildError::ok) return;
  throw UpdateError("cannot encode " + std::string(what) + " '" + std::string(text) +
                    "': " + std::string(to_string(error)));
}

// Adds one record to the update section; a failure is the builder's sticky error, which
// finish_signed() reports.
void add_update(UpdateBuilder& update, const std::string& owner, std::uint16_t type,
                std::uint16_t rrclass, std::uint32_t ttl, std::span<const std::uint8_t> rdata) {
  update.add(UpdateSection::update, owner, type, rrclass, ttl, rdata);
}

// "Delete all RRsets from a name": class ANY, type ANY, TTL 0, no rdata (RFC 2136 §2.5.3).
void add_delete_all(UpdateBuilder& update, const InstanceRecords& instance) {
  add_update(update, instance.instance_name(), wire::rrtype::kAny, wire::rrclass::kAny, 0, {});
}

// SRV, TXT, the node's A/AAAA and the browse PTR, each with TTL `ttl` (RFC 2136 §2.5.1).
void add_records(UpdateBuilder& update, const InstanceRecords& instance, std::uint32_t ttl) {
  const std::string owner = instance.instance_name();
  const std::string node = instance.node_name();
  std::vector<std::uint8_t> rdata;
  check(encode_srv_rdata(instance.priority, instance.weight, instance.port, node, rdata),
        "SRV target", node);
  add_update(update, owner, wire::rrtype::kSrv, wire::rrclass::kIn, ttl, rdata);
  rdata.clear();
  const std::vector<std::string> strings = instance.txt_strings();
  for (const std::string& text : strings) {
    if (text.size() > 255) check(UpdateBuildError::bad_string, "TXT string", text);
  }
  check(encode_txt_rdata(strings, rdata), "TXT of", owner);
  add_update(update, owner, wire::rrtype::kTxt, wire::rrclass::kIn, ttl, rdata);
  for (const std::string& address : instance.addresses) {
    rdata.clear();
    std::uint16_t type = 0;
    check(encode_address_rdata(address, type, rdata), "address", address);
    add_update(update, node, type, wire::rrclass::kIn, ttl, rdata);
  }
  rdata.clear();
  check(encode_name_rdata(owner, rdata), "name", owner);
  add_update(update, instance.service_type_name(), wire::rrtype::kPtr, wire::rrclass::kIn, ttl,
             rdata);
}

// Signs with the server's own TSIG code, so that what the agent signs and what the server
// verifies cannot drift apart: TSIG as the last record of the additional section (RFC 8945
// §4.2), at the current time.
SignedUpdate finish_signed(UpdateBuilder& update, const KeyConfig& key, std::uint16_t id) {
  const TsigSigner signer = signer_for(key);
  SignedRequest request;
  const UpdateBuildError error =
      update.finish(signer, signer.keys().front(), wall_seconds(), request);
  if (error != UpdateBuildError::ok) {
    const std::string& text = update.error_text();
    throw UpdateError("cannot encode the UPDATE" + (text.empty() ? "" : " at '" + text + "'") +
                      ": " + std::string(to_string(error)));
  }
  return SignedUpdate{std::move(request.wire), id, std::move(request.mac)};
}

// RFC 8945 §5.3: the reply's MAC covers the request's MAC, the reply and its TSIG
// variables; its time must be within the fudge.
void describe_signature(const TsigCheck& check, std::uint64_t now, UpdateReply& out) {
  out.tsig_error = check.tsig_error;
  switch (check.status) {
    case TsigCheck::Status::ok:
      out.signed_ok = true;
      return;
    case TsigCheck::Status::unsigned_message:
      out.problem = "reply is not signed";
      return;
    case TsigCheck::Status::bad_time: {
      const std::uint64_t skew =
          check.time_signed > now ? check.time_signed - now : now - check.time_signed;
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
  UpdateBuilder update(id, instance.domain);
  check(update.error(), "domain", instance.domain);
  add_delete_all(update, instance);
  add_records(update, instance, lease);
  update.set_lease(lease, kUdpPayload);
  return finish_signed(update, key, id);
}

SignedUpdate encode_deregistration(const InstanceRecords& instance, const KeyConfig& key,
                                   std::uint16_t id) {
  UpdateBuilder update(id, instance.domain);
  check(update.error(), "domain", instance.domain);
  add_delete_all(update, instance);
  // "Delete an RR from an RRset": class NONE, TTL 0 (RFC 2136 §2.5.4).
  const std::string owner = instance.instance_name();
  std::vector<std::uint8_t> rdata;
  check(encode_name_rdata(owner, rdata), "name", owner);
  add_update(update, instance.service_type_name(), wire::rrtype::kPtr, wire::rrclass::kNone, 0,
             rdata);
  return finish_signed(update, key, id);
}

UpdateReply parse_update_reply(std::span<const std::uint8_t> wire, const SignedUpdate& request,
                               const KeyConfig& key, std::uint64_t now) {
  UpdateReply out;
  std::optional<TsigSigner> signer;
  try {
    signer.emplace(std::vector<TsigKey>{make_tsig_key(key.name, key.algorithm, key.secret, {})});
  } catch (const KeyError& e) {
    out.problem = std::string("cannot verify the reply: ") + e.what();
    return out;
  }
  const UpdateResponse response =
      parse_update_response(wire, request.id, request.mac, *signer, now);
  switch (response.status) {
    case UpdateResponse::Status::malformed:
      out.problem = "reply is not a DNS message";
      return out;
    case UpdateResponse::Status::not_this_request:
      out.problem = "reply does not answer the UPDATE";
      return out;
    case UpdateResponse::Status::ok:
      break;
  }
  out.well_formed = true;
  out.rcode = response.rcode;
  out.lease = response.lease;
  describe_signature(response.tsig, now, out);
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
  if (rcode == wire::rcode::kNotAuth && tsig_error != 0) {
    out += " (" + rcode_name(tsig_error) + ")";
  }
  if (rcode == 0 && !signed_ok) out += ", but " + problem;
  return out;
}

}  // namespace signpost::health::agent
