// The heartbeat receiver: UPDATE in, leases and registry changes, response out.
#include "health/heartbeat_receiver.hpp"

#include <pthread.h>
#include <algorithm>

#include <boost/asio/post.hpp>

#include "dns/wire/name.hpp"
#include "dns/wire/reader.hpp"
#include "dns/wire/types.hpp"

namespace signpost::health {

namespace {

namespace asio = boost::asio;
namespace wire = dns::wire;
using Clock = std::chrono::steady_clock;
using RecordList = std::vector<std::pair<std::uint16_t, std::vector<std::uint8_t>>>;

constexpr std::uint16_t kOurPayload = 1232;

std::uint64_t system_seconds() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

std::string domain_to_wire(const std::string& text) {
  std::string out;
  if (!wire::name_from_text(text, out)) throw KeyError("dns.domain is not a domain name: " + text);
  wire::fold_name({reinterpret_cast<std::uint8_t*>(out.data()), out.size()});
  return out;
}

std::string label_wire(std::string_view label) {
  std::string out(1, static_cast<char>(label.size()));
  out += label;
  return out;
}

void put_u16(std::vector<std::uint8_t>& out, std::uint16_t value) {
  out.push_back(static_cast<std::uint8_t>(value >> 8));
  out.push_back(static_cast<std::uint8_t>(value));
}

void put_u32(std::vector<std::uint8_t>& out, std::uint32_t value) {
  put_u16(out, static_cast<std::uint16_t>(value >> 16));
  put_u16(out, static_cast<std::uint16_t>(value));
}

// The names an instance's records live at, lower-case wire.
std::string instance_owner(const InstanceKey& key, registry::Protocol protocol,
                           const std::string& domain) {
  return label_wire(key.id) + label_wire("_" + key.service) +
         label_wire("_" + std::string(registry::to_string(protocol))) + domain;
}

std::vector<std::uint8_t> srv_rdata(const registry::Instance& instance, const std::string& domain) {
  std::vector<std::uint8_t> out;
  put_u16(out, instance.priority);
  put_u16(out, instance.weight);
  put_u16(out, instance.port);
  const std::string target = label_wire(instance.node) + label_wire("node") + domain;
  out.insert(out.end(), target.begin(), target.end());
  return out;
}

bool same_set(RecordList a, RecordList b) {
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  a.erase(std::unique(a.begin(), a.end()), a.end());
  b.erase(std::unique(b.begin(), b.end()), b.end());
  return a == b;
}

}  // namespace

HeartbeatReceiver::HeartbeatReceiver(ReceiverSettings settings, std::vector<TsigKey> keys,
                                     registry::Publisher& publisher, Log log,
                                     WallClock wall_clock)
    : settings_(std::move(settings)),
      domain_wire_(domain_to_wire(settings_.domain)),
      signer_(std::move(keys)),
      tracker_(settings_.leases, log),
      publisher_(publisher),
      log_(std::move(log)),
      wall_clock_(wall_clock ? std::move(wall_clock) : WallClock(system_seconds)) {
  lookup_.find = [this](const InstanceKey& key) -> std::optional<registry::Instance> {
    const auto found = registered_.find(key);
    if (found == registered_.end()) return std::nullopt;
    return found->second.instance.unpack(key.service, key.id);
  };
  lookup_.on_node = [this](std::string_view node) -> std::optional<registry::Instance> {
    const auto found = by_node_.find(node);
    if (found == by_node_.end() || found->second.empty()) return std::nullopt;
    const auto& [key, registered] = *found->second.front();
    return registered.instance.unpack(key.service, key.id);
  };
}

HeartbeatReceiver::~HeartbeatReceiver() { stop(); }

void HeartbeatReceiver::start() {
  if (thread_.joinable()) return;
  do_tick();
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "heartbeats");
    io_.run();
  });
}

void HeartbeatReceiver::stop() {
  if (!thread_.joinable()) return;
  io_.stop();
  thread_.join();
}

// An UPDATE is handled at once on the worker that received it. A trip to the heartbeat thread
// and back woke two threads per UPDATE, which cost more CPU than the UPDATE itself (at 10,000
// renewals a second, on the worker's core, a fifth of its time). The lock makes the workers
// and the lease ticks take turns; it is held for one UPDATE, a few microseconds.
std::vector<std::uint8_t> HeartbeatReceiver::handle(std::span<const std::uint8_t> message,
                                                     dns::answer::Transport) {
  const std::lock_guard lock(mutex_);
  return process(message);
}

void HeartbeatReceiver::do_tick() {
  timer_.expires_after(settings_.tick);
  timer_.async_wait([this](const boost::system::error_code& error) {
    if (error) return;
    {
      const std::lock_guard lock(mutex_);
      tick();
    }
    do_tick();
  });
}

void HeartbeatReceiver::tick() {
  tracker_.tick(Clock::now());
  publish_changes();
}

std::vector<std::uint8_t> HeartbeatReceiver::process(std::span<const std::uint8_t> message) {
  if (message.size() < 12) return {};
  counters_.received.fetch_add(1, std::memory_order_relaxed);
  const std::uint64_t now = wall_clock_();
  const TsigCheck check = signer_.verify(message, now);
  Outcome outcome;
  std::size_t zone_end = 12;
  bool edns = false;
  using Status = TsigCheck::Status;
  if (check.status == Status::malformed) {
    outcome.rcode = wire::rcode::kFormErr;
  } else if (check.status != Status::ok) {
    counters_.bad_signature.fetch_add(1, std::memory_order_relaxed);
    // Unsigned: refused, as every change needs a key; bad TSIG: NOTAUTH (RFC 8945 §5.2).
    outcome.rcode = check.status == Status::unsigned_message ? wire::rcode::kRefused
                                                             : wire::rcode::kNotAuth;
  } else if (auto repeated = renew_repeated(message, check)) {
    counters_.accepted.fetch_add(1, std::memory_order_relaxed);
    return std::move(*repeated);
  } else {
    UpdateRequest request;
    outcome.rcode = parse_update(message, check.tsig_offset, request);
    if (outcome.rcode == wire::rcode::kNoError) {
      zone_end = request.zone_section_end;
      edns = request.edns;
      outcome = apply_request(request, *check.key);
      if (outcome.repeatable) remember_renewal(message, check, zone_end, edns, outcome);
    }
  }
  if (outcome.rcode == wire::rcode::kNoError) {
    counters_.accepted.fetch_add(1, std::memory_order_relaxed);
  } else {
    counters_.rejected.fetch_add(1, std::memory_order_relaxed);
  }
  return respond(message, check, zone_end, outcome, edns);
}

HeartbeatReceiver::Outcome HeartbeatReceiver::apply_request(const UpdateRequest& request,
                                                            const TsigKey& key) {
  Outcome outcome;
  // An UPDATE for a zone we do not serve: NOTAUTH (RFC 2136 §3.1.1).
  if (request.zone != domain_wire_) {
    outcome.rcode = wire::rcode::kNotAuth;
    return outcome;
  }
  outcome.rcode = check_prerequisites(request);
  if (outcome.rcode != wire::rcode::kNoError) return outcome;
  UpdatePlan plan = plan_update(request, domain_wire_, lookup_);
  std::string refusal = plan.reason;
  if (plan.rcode == wire::rcode::kNoError) {
    const auto denied = [&](const std::string& service) { return !key.allows(service); };
    for (const Registration& registration : plan.registrations) {
      if (denied(registration.instance.service)) refusal = "service " + registration.instance.service;
    }
    for (const InstanceKey& removal : plan.removals) {
      if (denied(removal.service)) refusal = "service " + removal.service;
    }
    if (!refusal.empty()) {
      plan.rcode = wire::rcode::kRefused;
      refusal = "key " + key.name + " may not change " + refusal;
    }
  }
  if (plan.rcode != wire::rcode::kNoError) {
    note_refusal(refusal);
    outcome.rcode = plan.rcode;
    return outcome;
  }
  const auto now = Clock::now();
  const std::uint32_t requested = request.lease.value_or(plan.min_ttl);
  for (const InstanceKey& removal : plan.removals) deregister_instance(removal);
  // Only a lone registration without prerequisites can be taken for the same again: sent
  // again, it finds the instance as it left it.
  outcome.repeatable = request.prerequisites.empty() && plan.removals.empty() &&
                       plan.registrations.size() == 1;
  for (Registration& registration : plan.registrations) {
    if (outcome.repeatable) {
      outcome.renewed = InstanceKey{registration.instance.service, registration.instance.id};
      outcome.requested = requested;
      outcome.health = registration.instance.health;
    }
    outcome.lease = register_instance(std::move(registration), requested, now);
  }
  publish_changes();
  return outcome;
}

namespace {

// The bytes a repeated renewal repeats: all but the header's ID and the TSIG record.
std::span<const std::uint8_t> repeated_part(std::span<const std::uint8_t> message,
                                            const TsigCheck& check) {
  return message.subspan(2, check.tsig_offset - 2);
}

std::uint64_t hash_of(std::span<const std::uint8_t> bytes) {
  return nonzero_key(std::hash<std::string_view>{}(
      std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size())));
}

}  // namespace

std::optional<std::vector<std::uint8_t>> HeartbeatReceiver::renew_repeated(
    std::span<const std::uint8_t> message, const TsigCheck& check) {
  const auto bytes = repeated_part(message, check);
  const std::uint64_t hash = hash_of(bytes);
  const Renewal* found = renewals_.find(hash);
  if (found == nullptr) return std::nullopt;
  const Renewal renewal = *found;
  if (renewal.length != bytes.size() || renewal.tsig_key != check.key) return std::nullopt;
  const auto granted = tracker_.renew(renewal.lease, std::chrono::seconds(renewal.requested),
                                      renewal.health, Clock::now());
  if (!granted) {
    forget_renewal(hash);  // the lease was forgotten, and the instance is on its way out
    return std::nullopt;
  }
  // A different lease would change the instance's TTL cap: let the full path see to it (the
  // second renewal of the lease is harmless).
  if (static_cast<std::uint32_t>(granted->count()) != renewal.granted) return std::nullopt;
  counters_.unchanged.fetch_add(1, std::memory_order_relaxed);
  counters_.repeated.fetch_add(1, std::memory_order_relaxed);
  publish_changes();
  Outcome outcome;
  outcome.lease = renewal.granted;
  return respond(message, check, renewal.zone_end, outcome, renewal.edns);
}

void HeartbeatReceiver::remember_renewal(std::span<const std::uint8_t> message,
                                         const TsigCheck& check, std::size_t zone_end,
                                         bool edns, const Outcome& outcome) {
  const auto registered = registered_.find(outcome.renewed);
  const auto lease = tracker_.handle(outcome.renewed);
  if (registered == registered_.end() || !lease) return;
  Registered& instance = registered->second;
  if (instance.renewal) forget_renewal(*instance.renewal);
  const auto bytes = repeated_part(message, check);
  const std::uint64_t hash = hash_of(bytes);
  // Another instance's renewal with the same hash gives way (and that instance goes back
  // to the full path).
  forget_renewal(hash);
  renewals_.assign(hash, Renewal{.instance = &instance,
                                 .lease = *lease,
                                 .tsig_key = check.key,
                                 .length = static_cast<std::uint32_t>(bytes.size()),
                                 .zone_end = static_cast<std::uint32_t>(zone_end),
                                 .requested = outcome.requested,
                                 .granted = outcome.lease,
                                 .health = outcome.health,
                                 .edns = edns});
  instance.renewal = hash;
}

void HeartbeatReceiver::forget_renewal(std::uint64_t hash) {
  Renewal* renewal = renewals_.find(hash);
  if (renewal == nullptr) return;
  renewal->instance->renewal.reset();
  renewals_.erase(hash);
}

void HeartbeatReceiver::note_refusal(const std::string& reason) {
  // A flood of refused UPDATEs must not flood the log: one line per second at most.
  const auto now = Clock::now();
  if (now - last_refusal_log_ < std::chrono::seconds(1)) {
    ++refusals_not_logged_;
    return;
  }
  std::string line = "UPDATE refused: " + reason;
  if (refusals_not_logged_ != 0) {
    line += " (and " + std::to_string(refusals_not_logged_) + " more since the last report)";
  }
  refusals_not_logged_ = 0;
  last_refusal_log_ = now;
  log_(line);
}

std::uint32_t HeartbeatReceiver::register_instance(Registration registration,
                                                   std::uint32_t requested,
                                                   Clock::time_point now) {
  const InstanceKey key{registration.instance.service, registration.instance.id};
  const auto granted = tracker_.renew(key, std::chrono::seconds(requested),
                                      registration.instance.health, now);
  // Answers must not be cached past the lease: a third of it stays below the remaining
  // lease as long as the heartbeats (every third of a lease) arrive.
  registration.instance.max_ttl =
      std::max<std::uint32_t>(1, static_cast<std::uint32_t>(granted.count() / 3));
  registry::PackedInstance packed = registry::PackedInstance::pack(registration.instance);
  auto found = registered_.find(key);
  if (found != registered_.end() && found->second.instance == packed &&
      found->second.protocol == registration.protocol) {
    counters_.unchanged.fetch_add(1, std::memory_order_relaxed);
    return static_cast<std::uint32_t>(granted.count());
  }
  // An instance that stays on its node keeps its place in the node's list: its entry is
  // assigned in place, so the pointer there stays valid.
  bool same_node = false;
  if (found != registered_.end()) {
    same_node = found->second.instance.node == packed.node;
    if (!same_node) leave_node(*found);
    // Its remembered renewal renewed the instance as it was.
    if (const auto& renewal = found->second.renewal) forget_renewal(*renewal);
  } else {
    found = registered_.try_emplace(key).first;
  }
  found->second = Registered{std::move(packed), registration.protocol, std::nullopt};
  if (!same_node) by_node_[registration.instance.node].push_back(&*found);
  registry::Instance published = std::move(registration.instance);
  published.health = tracker_.effective_health(key);
  publisher_.post([published = std::move(published), protocol = registration.protocol](registry::Store& store) {
    store.put_instance(published, protocol);
  });
  return static_cast<std::uint32_t>(granted.count());
}

// Takes an instance off its node's list, and the node off the index with its last instance.
void HeartbeatReceiver::leave_node(const RegisteredMap::value_type& entry) {
  const auto on_node = by_node_.find(entry.second.instance.node);
  if (on_node == by_node_.end()) return;
  std::erase(on_node->second, &entry);
  if (on_node->second.empty()) by_node_.erase(on_node);
}

void HeartbeatReceiver::deregister_instance(const InstanceKey& key) {
  tracker_.remove(key);
  const auto found = registered_.find(key);
  if (found == registered_.end()) return;
  leave_node(*found);
  if (const auto& renewal = found->second.renewal) forget_renewal(*renewal);
  registered_.erase(found);
  publisher_.post([key](registry::Store& store) { store.remove_instance(key.service, key.id); });
}

void HeartbeatReceiver::publish_changes() {
  for (const Change& change : tracker_.take_changes()) {
    if (registered_.find(change.key) == registered_.end()) continue;
    if (change.kind == Change::Kind::forget) {
      log_("instance " + change.key.id + " of " + change.key.service + " forgotten");
      deregister_instance(change.key);
      continue;
    }
    publisher_.post([key = change.key, health = change.health](registry::Store& store) {
      store.set_health(key.service, key.id, health);
    });
  }
}

std::uint16_t HeartbeatReceiver::check_prerequisites(const UpdateRequest& request) const {
  std::map<std::pair<std::string, std::uint16_t>, RecordList> wanted;
  for (const UpdateRecord& record : request.prerequisites) {
    if (record.ttl != 0) return wire::rcode::kFormErr;
    if (!wire::is_at_or_below(record.owner, domain_wire_)) return wire::rcode::kNotZone;
    const bool any_type = record.type == wire::rrtype::kAny;
    if (record.rrclass == wire::rrclass::kAny || record.rrclass == wire::rrclass::kNone) {
      if (!record.rdata.empty()) return wire::rcode::kFormErr;
      const bool exists = !records_at(record.owner, record.type).empty();
      if (record.rrclass == wire::rrclass::kAny && !exists) {
        return any_type ? wire::rcode::kNxDomain : wire::rcode::kNxRrset;  // §3.2.1
      }
      if (record.rrclass == wire::rrclass::kNone && exists) {
        return any_type ? wire::rcode::kYxDomain : wire::rcode::kYxRrset;  // §3.2.2
      }
      continue;
    }
    if (any_type) return wire::rcode::kFormErr;
    wanted[{record.owner, record.type}].emplace_back(record.type, record.rdata);
  }
  // Value-dependent: the RRset must be exactly the records listed (§3.2.3).
  for (const auto& [where, records] : wanted) {
    if (!same_set(records, records_at(where.first, where.second))) return wire::rcode::kNxRrset;
  }
  return wire::rcode::kNoError;
}

RecordList HeartbeatReceiver::records_at(const std::string& owner, std::uint16_t type) const {
  RecordList out;
  const auto want = [type](std::uint16_t have) { return type == wire::rrtype::kAny || type == have; };
  for (const auto& [key, registered] : registered_) {
    const registry::Instance instance = registered.instance.unpack(key.service, key.id);
    const std::string name = instance_owner(key, registered.protocol, domain_wire_);
    if (name == owner) {
      if (want(wire::rrtype::kSrv)) out.emplace_back(wire::rrtype::kSrv, srv_rdata(instance, domain_wire_));
      if (want(wire::rrtype::kTxt)) out.emplace_back(wire::rrtype::kTxt, encode_instance_txt(instance));
    } else if (want(wire::rrtype::kPtr) && name.size() == owner.size() + 1 + key.id.size() &&
               name.compare(name.size() - owner.size(), owner.size(), owner) == 0) {
      out.emplace_back(wire::rrtype::kPtr, std::vector<std::uint8_t>(name.begin(), name.end()));
    } else if (label_wire(instance.node) + label_wire("node") + domain_wire_ == owner) {
      for (const auto& address : instance.ipv4) {
        if (want(wire::rrtype::kA)) out.emplace_back(wire::rrtype::kA, std::vector<std::uint8_t>(address.begin(), address.end()));
      }
      for (const auto& address : instance.ipv6) {
        if (want(wire::rrtype::kAaaa)) out.emplace_back(wire::rrtype::kAaaa, std::vector<std::uint8_t>(address.begin(), address.end()));
      }
    }
  }
  return out;
}

std::vector<std::uint8_t> HeartbeatReceiver::respond(std::span<const std::uint8_t> message,
                                                     const TsigCheck& check,
                                                     std::size_t zone_end,
                                                     const Outcome& outcome, bool edns) {
  using Status = TsigCheck::Status;
  const bool tsig_failed = check.status == Status::bad_key || check.status == Status::bad_sig ||
                           check.status == Status::bad_time || check.status == Status::bad_trunc;
  // Room for the header and zone, OPT with the lease, and the TSIG record (names of at most
  // 255 octets, a MAC of at most 64): one allocation.
  std::vector<std::uint8_t> response;
  response.reserve(zone_end + 23 + 2 * 255 + 26 + 64 + 6);
  response.assign(message.begin(), message.begin() + static_cast<std::ptrdiff_t>(zone_end));
  const std::uint16_t flags = static_cast<std::uint16_t>(
      wire::flag::kQr | (wire::opcode::kUpdate << 11) | (outcome.rcode & 0x0f));
  wire::store_u16(response.data() + 2, flags);
  wire::store_u16(response.data() + 4, zone_end > 12 ? 1 : 0);
  for (std::size_t at = 6; at < 12; at += 2) wire::store_u16(response.data() + at, 0);
  if (edns) {
    response.push_back(0);  // root owner
    put_u16(response, wire::rrtype::kOpt);
    put_u16(response, kOurPayload);
    put_u32(response, 0);
    if (outcome.lease != 0) {
      put_u16(response, 8);
      put_u16(response, kUpdateLeaseOption);
      put_u16(response, 4);
      put_u32(response, outcome.lease);  // the lease granted (RFC 9664 §4)
    } else {
      put_u16(response, 0);
    }
    wire::store_u16(response.data() + 10, 1);
  }
  if (check.status == Status::ok || tsig_failed) {
    std::uint16_t error = 0;
    if (check.status == Status::bad_key) error = wire::rcode::kBadKey;
    if (check.status == Status::bad_sig) error = wire::rcode::kBadSig;
    if (check.status == Status::bad_time) error = wire::rcode::kBadTime;
    if (check.status == Status::bad_trunc) error = wire::rcode::kBadTrunc;
    signer_.sign_response(response, check, error, wall_clock_());
  }
  return response;
}

}  // namespace signpost::health
