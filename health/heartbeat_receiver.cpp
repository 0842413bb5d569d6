// The heartbeat receiver: UPDATE in, leases and registry changes, response out.
#include "health/heartbeat_receiver.hpp"

#include <pthread.h>
#include <algorithm>

#include <boost/asio/post.hpp>

#include "dns/wire/name.hpp"
#include "dns/wire/reader.hpp"
#include "dns/wire/types.hpp"
#include "health/prerequisites.hpp"

namespace signpost::health {

namespace {

namespace asio = boost::asio;
namespace wire = dns::wire;
using Clock = std::chrono::steady_clock;

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

void put_u16(std::vector<std::uint8_t>& out, std::uint16_t value) {
  out.push_back(static_cast<std::uint8_t>(value >> 8));
  out.push_back(static_cast<std::uint8_t>(value));
}

void put_u32(std::vector<std::uint8_t>& out, std::uint32_t value) {
  put_u16(out, static_cast<std::uint16_t>(value >> 16));
  put_u16(out, static_cast<std::uint16_t>(value));
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
      wall_clock_(wall_clock ? std::move(wall_clock) : WallClock(system_seconds)),
      board_(settings_.max_instances + 4096) {
  key_instances_.resize(signer_.keys().size());
  queued_by_key_ = std::make_unique<std::atomic<std::size_t>[]>(signer_.keys().size());
  // The renewals a batch of UPDATEs remembered reach the workers once per batch: a burst of
  // registrations copies each changed shard once, not once per registration.
  publisher_.on_batch_end([this](registry::Store&) { board_.publish(); });
}

HeartbeatReceiver::~HeartbeatReceiver() {
  stop();
  publisher_.on_batch_end(nullptr);
}

void HeartbeatReceiver::start() {
  if (thread_.joinable()) return;
  do_tick();
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "heartbeats");
    io_.run();
  });
}

void HeartbeatReceiver::stop() {
  accepting_.store(false, std::memory_order_relaxed);
  if (!thread_.joinable()) return;
  io_.stop();
  thread_.join();
}

// Workers answer at once only what needs no registry work and no waiting: a renewal they
// know (a trip to another thread and back woke two threads per UPDATE, which cost more CPU
// than the UPDATE itself) and a refusal for the signature. Neither takes a lock: a worker
// never waits behind UPDATE work, however much of it arrives.
bool HeartbeatReceiver::try_handle(std::span<const std::uint8_t> message,
                                   dns::answer::Transport, std::vector<std::uint8_t>& response) {
  if (message.size() < 12) return true;  // not even a header: no response
  auto answer = answer_without_registry(message, signer_.verify(message, wall_clock_()));
  if (!answer) return false;
  response = std::move(*answer);
  return true;
}

void HeartbeatReceiver::handle_later(std::vector<std::uint8_t> message, dns::answer::Transport,
                                     std::string from, dns::answer::UpdateReply reply) {
  if (!accepting_.load(std::memory_order_relaxed)) {
    counters_.dropped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  // Bounded, so that a flood of UPDATEs costs a fixed amount of memory: past it they are
  // lost as datagrams are, and agents retry. try_handle answered what does not verify, so
  // the key is known; one key's share is bounded as well (see the header).
  std::atomic<std::size_t>* by_key = nullptr;
  const std::vector<TsigKey>& keys = signer_.keys();
  if (keys.size() > 1) {
    const TsigCheck check = signer_.verify(message, wall_clock_());
    if (check.key != nullptr) by_key = &queued_by_key_[static_cast<std::size_t>(check.key - keys.data())];
  }
  if (by_key != nullptr && by_key->fetch_add(1, std::memory_order_relaxed) >= settings_.max_queued / 2) {
    by_key->fetch_sub(1, std::memory_order_relaxed);
    counters_.dropped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (queued_.fetch_add(1, std::memory_order_relaxed) >= settings_.max_queued) {
    queued_.fetch_sub(1, std::memory_order_relaxed);
    if (by_key != nullptr) by_key->fetch_sub(1, std::memory_order_relaxed);
    counters_.dropped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  publisher_.post([this, by_key, message = std::move(message), from = std::move(from),
                   reply = std::move(reply)](registry::Store& store) mutable {
    queued_.fetch_sub(1, std::memory_order_relaxed);
    if (by_key != nullptr) by_key->fetch_sub(1, std::memory_order_relaxed);
    from_ = std::move(from);
    reply(process_with(message, store));
    from_.clear();
  });
}

std::vector<std::uint8_t> HeartbeatReceiver::process(std::span<const std::uint8_t> message) {
  if (message.size() < 12) return {};
  if (auto answer = answer_without_registry(message, signer_.verify(message, wall_clock_()))) {
    return std::move(*answer);
  }
  std::vector<std::uint8_t> response;
  publisher_.apply([&](registry::Store& store) { response = process_with(message, store); });
  return response;
}

void HeartbeatReceiver::do_tick() {
  timer_.expires_after(settings_.tick);
  timer_.async_wait([this](const boost::system::error_code& error) {
    if (error) return;
    // Waits for the registry thread, which checks the leases: stop() joins this thread, so
    // no tick is left queued behind it.
    tick();
    do_tick();
  });
}

void HeartbeatReceiver::tick() {
  publisher_.apply([this](registry::Store& store) { tick_with(store); });
}

void HeartbeatReceiver::tick_with(registry::Store& store) {
  const auto now = Clock::now();
  apply_renewals(now);
  tracker_.tick(now);
  review_held(store, now);
  if (tracker_.has_changes()) state_changed_.store(true, std::memory_order_relaxed);
  publish_changes(store);
  forget_old_deletions(now);
  board_.publish();
  save_state_if_due(store, now);
}

std::optional<std::vector<std::uint8_t>> HeartbeatReceiver::answer_without_registry(
    std::span<const std::uint8_t> message, const TsigCheck& check) {
  using Status = TsigCheck::Status;
  if (check.status == Status::ok) {
    auto repeated = renew_repeated(message, check);
    if (repeated) {
      counters_.received.fetch_add(1, std::memory_order_relaxed);
      counters_.accepted.fetch_add(1, std::memory_order_relaxed);
    }
    return repeated;
  }
  counters_.received.fetch_add(1, std::memory_order_relaxed);
  counters_.rejected.fetch_add(1, std::memory_order_relaxed);
  Outcome outcome;
  if (check.status == Status::malformed) {
    outcome.rcode = wire::rcode::kFormErr;
  } else {
    counters_.bad_signature.fetch_add(1, std::memory_order_relaxed);
    // Unsigned: refused, as every change needs a key; bad TSIG: NOTAUTH (RFC 8945 §5.2).
    outcome.rcode = check.status == Status::unsigned_message ? wire::rcode::kRefused
                                                             : wire::rcode::kNotAuth;
  }
  return respond(message, check, 12, outcome, false);
}

std::vector<std::uint8_t> HeartbeatReceiver::process_with(std::span<const std::uint8_t> message,
                                                          registry::Store& store) {
  if (message.size() < 12) return {};
  const TsigCheck check = signer_.verify(message, wall_clock_());
  if (auto answer = answer_without_registry(message, check)) return std::move(*answer);
  counters_.received.fetch_add(1, std::memory_order_relaxed);
  UpdateRequest request;
  Outcome outcome;
  outcome.rcode = parse_update(message, check.tsig_offset, request);
  std::size_t zone_end = 12;
  bool edns = false;
  if (outcome.rcode == wire::rcode::kNoError) {
    zone_end = request.zone_section_end;
    edns = request.edns;
    outcome = apply_request(request, check, store);
    if (outcome.repeatable) remember_renewal(message, check, zone_end, edns, outcome);
  }
  if (outcome.rcode == wire::rcode::kNoError) {
    counters_.accepted.fetch_add(1, std::memory_order_relaxed);
    state_changed_.store(true, std::memory_order_relaxed);
  } else {
    counters_.rejected.fetch_add(1, std::memory_order_relaxed);
  }
  return respond(message, check, zone_end, outcome, edns);
}

// The checks run cheapest first and before any lookup a prerequisite asks for: what the key
// may touch, replays and quotas, then the prerequisites, each in proportion to the records
// it names (RFC 2136 §3.2 puts prerequisites first, but the order only decides which of two
// errors is reported).
HeartbeatReceiver::Outcome HeartbeatReceiver::apply_request(const UpdateRequest& request,
                                                            const TsigCheck& check,
                                                            registry::Store& store) {
  const TsigKey& key = *check.key;
  Outcome outcome;
  // An UPDATE for a zone we do not serve: NOTAUTH (RFC 2136 §3.1.1).
  if (request.zone != domain_wire_) {
    outcome.rcode = wire::rcode::kNotAuth;
    return outcome;
  }
  RegisteredInstances lookup;
  lookup.find = [&store](const InstanceKey& wanted) {
    return store.find_instance(wanted.service, wanted.id);
  };
  lookup.on_node = [&store](std::string_view node) -> std::optional<registry::Instance> {
    std::optional<registry::Instance> out;
    store.visit_node(std::string(node), [&](const std::string&, const registry::Instance& found) {
      out = found;
      return false;
    });
    return out;
  };
  UpdatePlan plan = plan_update(request, domain_wire_, lookup);
  if (plan.rcode == wire::rcode::kNoError) {
    if (std::string why = forbidden(plan, key, store); !why.empty()) {
      plan.rcode = wire::rcode::kRefused;
      plan.reason = "key " + key.name + " may not " + why;
    } else if (!fresh(plan, check)) {
      counters_.replayed.fetch_add(1, std::memory_order_relaxed);
      note_refusal("key " + key.name + ": an UPDATE signed no later than the last one accepted "
                   "for its instance (a replay)");
      outcome.rcode = wire::rcode::kNotAuth;
      outcome.tsig_error = wire::rcode::kBadTime;
      return outcome;
    } else if (std::string quota = over_quota(plan, key); !quota.empty()) {
      counters_.over_quota.fetch_add(1, std::memory_order_relaxed);
      plan.rcode = wire::rcode::kRefused;
      plan.reason = quota;
    }
  }
  if (plan.rcode != wire::rcode::kNoError) {
    note_refusal(plan.reason);
    outcome.rcode = plan.rcode;
    return outcome;
  }
  outcome.rcode = check_prerequisites(request.prerequisites, domain_wire_, store);
  if (outcome.rcode != wire::rcode::kNoError) return outcome;
  const auto now = Clock::now();
  const std::uint32_t requested = request.lease.value_or(plan.min_ttl);
  for (const InstanceKey& removal : plan.removals) {
    ReplayGuard guard;
    if (const auto handle = tracker_.handle(removal)) {
      guard = board_.guard(handle->slot);
    } else if (const auto gone = deleted_.find(removal); gone != deleted_.end()) {
      guard = gone->second;
    }
    guard.accept(check.time_signed, check.mac);
    if (shared_ != nullptr) share_deletion(removal, guard, store);
    if (store.source_of(removal.service, removal.id)) audit("deregister", removal, "key:" + key.name);
    deregister_instance(removal, store);
    remember_deleted(removal, guard);
  }
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
    outcome.lease = register_instance(std::move(registration), requested, check, store, now);
  }
  publish_changes(store);
  return outcome;
}

std::string HeartbeatReceiver::forbidden(const UpdatePlan& plan, const TsigKey& key,
                                         const registry::Store& store) const {
  const auto touch = [&](const std::string& service, const std::string& id) -> std::string {
    if (!key.allows(service)) return "change service " + service;
    if (store.source_of(service, id) == registry::Source::config) {
      return "change instance " + id + " of " + service + ": it is declared in the config";
    }
    return {};
  };
  for (const InstanceKey& removal : plan.removals) {
    if (std::string why = touch(removal.service, removal.id); !why.empty()) return why;
  }
  for (const Registration& registration : plan.registrations) {
    const registry::Instance& instance = registration.instance;
    if (std::string why = touch(instance.service, instance.id); !why.empty()) return why;
    // A node's addresses are every client's way to all of its instances: only a key that may
    // change all of them may give the node an address it does not have.
    bool foreign = false;
    std::vector<registry::Ipv4> ipv4;
    std::vector<registry::Ipv6> ipv6;
    store.visit_node(instance.node, [&](const std::string& service, const registry::Instance& other) {
      if (!key.allows(service)) foreign = true;
      ipv4.insert(ipv4.end(), other.ipv4.begin(), other.ipv4.end());
      ipv6.insert(ipv6.end(), other.ipv6.begin(), other.ipv6.end());
      return true;
    });
    if (!foreign) continue;
    const auto known = [](const auto& have, const auto& address) {
      return std::find(have.begin(), have.end(), address) != have.end();
    };
    for (const auto& address : instance.ipv4) {
      if (!known(ipv4, address)) return "add addresses to node " + instance.node + ", which has instances of services it may not change";
    }
    for (const auto& address : instance.ipv6) {
      if (!known(ipv6, address)) return "add addresses to node " + instance.node + ", which has instances of services it may not change";
    }
  }
  return {};
}

bool HeartbeatReceiver::fresh(const UpdatePlan& plan, const TsigCheck& check) {
  const auto accepts = [&](const InstanceKey& key) {
    if (const auto handle = tracker_.handle(key)) {
      return board_.guard_accepts(handle->slot, check.time_signed, check.mac);
    }
    const auto gone = deleted_.find(key);
    if (gone != deleted_.end() && !gone->second.accepts(check.time_signed, check.mac)) {
      return false;
    }
    // In a cluster the guard of an instance another server tracks (or deleted) is in the
    // shared record: an UPDATE recorded there and sent here must be refused as it is there.
    if (shared_ == nullptr) return true;
    const auto record = shared_->record(key.service, key.id);
    return !record || ReplayGuard::from_bytes(record->replay).accepts(check.time_signed, check.mac);
  };
  for (const InstanceKey& removal : plan.removals) {
    if (!accepts(removal)) return false;
  }
  for (const Registration& registration : plan.registrations) {
    if (!accepts({registration.instance.service, registration.instance.id})) return false;
  }
  return true;
}

std::string HeartbeatReceiver::over_quota(const UpdatePlan& plan, const TsigKey& key) const {
  std::size_t added = 0;
  for (const Registration& registration : plan.registrations) {
    const Registered* found = find_registered({registration.instance.service, registration.instance.id});
    if (found == nullptr || found->key != &key) ++added;
  }
  if (added == 0) return {};
  const std::size_t by_key = key_instances_[static_cast<std::size_t>(&key - signer_.keys().data())];
  if (by_key + added > key.max_instances) {
    return "key " + key.name + " has " + std::to_string(by_key) + " instances registered, its limit " +
           "key.max_instances is " + std::to_string(key.max_instances);
  }
  if (tracker_.size() + added > settings_.max_instances) {
    return "the registry holds " + std::to_string(tracker_.size()) +
           " instances registered by UPDATE, its limit health.max_instances is " +
           std::to_string(settings_.max_instances);
  }
  return {};
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
  const auto renewal = board_.renew(hash_of(bytes), static_cast<std::uint32_t>(bytes.size()),
                                    check.key, check.time_signed, check.mac);
  if (!renewal) return std::nullopt;
  counters_.unchanged.fetch_add(1, std::memory_order_relaxed);
  counters_.repeated.fetch_add(1, std::memory_order_relaxed);
  leases_renewed_.store(true, std::memory_order_relaxed);
  Outcome outcome;
  outcome.lease = renewal->granted;
  return respond(message, check, renewal->zone_end, outcome, renewal->edns);
}

void HeartbeatReceiver::remember_renewal(std::span<const std::uint8_t> message,
                                         const TsigCheck& check, std::size_t zone_end,
                                         bool edns, const Outcome& outcome) {
  const auto lease = tracker_.handle(outcome.renewed);
  if (!lease || !board_.holds(lease->slot)) return;
  Registered& instance = registered_at(lease->slot);
  if (instance.renewal != 0) forget_renewal(instance.renewal);
  const auto bytes = repeated_part(message, check);
  const std::uint64_t hash = hash_of(bytes);
  // Another instance's renewal with the same hash gives way (and that instance goes back
  // to the full path).
  forget_renewal(hash);
  board_.remember(hash, Renewal{.lease = *lease,
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
  const Renewal* renewal = board_.find(hash);
  if (renewal == nullptr) return;
  if (renewal->lease.slot < registered_.size()) {
    Registered& instance = registered_[renewal->lease.slot];
    if (instance.renewal == hash) instance.renewal = 0;
  }
  board_.forget(hash);
}

// The workers' renewals since the last tick, applied before the tick looks for leases that
// ran out: a lease renewed in time never expires.
void HeartbeatReceiver::apply_renewals(Clock::time_point now) {
  const std::size_t slots = std::min(tracker_.slot_count(), registered_.size());
  for (std::uint32_t slot = 0; slot < slots; ++slot) {
    if (board_.take_renewed(slot)) renew_slot(slot, now);
  }
}

void HeartbeatReceiver::renew_slot(std::uint32_t slot, Clock::time_point now) {
  if (slot >= registered_.size() || registered_[slot].renewal == 0) return;
  const Renewal* renewal = board_.find(registered_[slot].renewal);
  if (renewal == nullptr) return;
  tracker_.renew(renewal->lease, std::chrono::seconds(renewal->requested), renewal->health, now);
  registered_[slot].renewed = true;
  if (shared_ == nullptr) return;
  if (const InstanceKey* key = tracker_.key_of(renewal->lease)) {
    shared_->keep_alive(key->service, key->id);
  }
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

HeartbeatReceiver::Registered* HeartbeatReceiver::find_registered(const InstanceKey& key) {
  const auto handle = tracker_.handle(key);
  return handle ? &registered_at(handle->slot) : nullptr;
}

const HeartbeatReceiver::Registered* HeartbeatReceiver::find_registered(
    const InstanceKey& key) const {
  const auto handle = tracker_.handle(key);
  if (!handle || handle->slot >= registered_.size()) return nullptr;
  return &registered_[handle->slot];
}

HeartbeatReceiver::Registered& HeartbeatReceiver::registered_at(std::uint32_t slot) {
  if (slot >= registered_.size()) registered_.resize(tracker_.slot_count());
  return registered_[slot];
}

void HeartbeatReceiver::retire(std::uint32_t slot) {
  Registered& entry = registered_at(slot);
  if (entry.renewal != 0) forget_renewal(entry.renewal);
  board_.reset(slot);
  if (entry.key != nullptr) {
    --key_instances_[static_cast<std::size_t>(entry.key - signer_.keys().data())];
  }
  entry = Registered{};
}

std::uint32_t HeartbeatReceiver::register_instance(Registration registration,
                                                   std::uint32_t requested,
                                                   const TsigCheck& check, registry::Store& store,
                                                   Clock::time_point now) {
  const InstanceKey key{registration.instance.service, registration.instance.id};
  // In a cluster, an instance another server tracked (its agent moved here) goes on as it was
  // there: its damping, its replay guard.
  const bool adopted = shared_ != nullptr && !tracker_.contains(key) &&
                       store.source_of(key.service, key.id) == registry::Source::heartbeat &&
                       adopt(key, now);
  const auto granted = tracker_.renew(key, std::chrono::seconds(requested),
                                      registration.instance.health, now);
  const std::uint32_t slot = tracker_.handle(key)->slot;
  Registered& entry = registered_at(slot);
  const bool known = entry.key != nullptr;
  entry.renewed = known;
  if (!known && !adopted) {
    const auto gone = deleted_.find(key);
    board_.set_guard(slot, gone != deleted_.end() ? gone->second : ReplayGuard{});
    if (gone != deleted_.end()) deleted_.erase(gone);
  }
  board_.guard_accept(slot, check.time_signed, check.mac);
  if (entry.key != check.key) {
    if (entry.key != nullptr) --key_instances_[static_cast<std::size_t>(entry.key - signer_.keys().data())];
    ++key_instances_[static_cast<std::size_t>(check.key - signer_.keys().data())];
    entry.key = check.key;
  }
  // The store holds what is published: the effective health and the TTL cap of the lease.
  registry::Instance published = std::move(registration.instance);
  published.health = tracker_.effective_health(key);
  published.max_ttl = tracker_.ttl_cap(key);
  if (known || adopted) {
    const registry::Service* service = store.find_service(key.service);
    if (service != nullptr && service->protocol == registration.protocol &&
        store.find_instance(key.service, key.id) == published) {
      counters_.unchanged.fetch_add(1, std::memory_order_relaxed);
      if (shared_ != nullptr) shared_->keep_alive(key.service, key.id);
      return static_cast<std::uint32_t>(granted.count());
    }
  }
  // Its remembered renewal renewed the instance as it was.
  if (entry.renewal != 0) forget_renewal(entry.renewal);
  const bool existed = store.source_of(key.service, key.id).has_value();
  const bool changed = store.put_instance(std::move(published), registration.protocol);
  if (changed) audit(existed ? "change" : "register", key, "key:" + check.key->name);
  // A new instance is written even when the store had it (held through a mass removal).
  if ((changed || !known) && shared_ != nullptr) unshared_.push_back(key);
  return static_cast<std::uint32_t>(granted.count());
}

void HeartbeatReceiver::deregister_instance(const InstanceKey& key, registry::Store& store) {
  if (const auto handle = tracker_.handle(key)) retire(handle->slot);
  tracker_.remove(key);
  store.remove_instance(key.service, key.id);
}

// A deleted instance keeps its replay guard for replay_memory, so that the UPDATE that
// registered it cannot bring it back. Bounded: past max_instances guards, the oldest goes.
void HeartbeatReceiver::remember_deleted(const InstanceKey& key, const ReplayGuard& guard) {
  const auto [it, added] = deleted_.insert_or_assign(key, guard);
  if (added) deletions_.emplace_back(Clock::now() + settings_.replay_memory, key);
  while (deleted_.size() > settings_.max_instances && !deletions_.empty()) {
    deleted_.erase(deletions_.front().second);
    deletions_.pop_front();
  }
}

void HeartbeatReceiver::forget_old_deletions(Clock::time_point now) {
  while (!deletions_.empty() && deletions_.front().first <= now) {
    const InstanceKey& key = deletions_.front().second;
    // One registered again since keeps its guard in registered_.
    deleted_.erase(key);
    deletions_.pop_front();
  }
}

// Applies the tracker's changes. A slot closes to the workers while its instance is critical
// (a renewal must then change the registry); a renewal a worker took just before the close
// is renewed here, and its changes applied in turn.
void HeartbeatReceiver::publish_changes(registry::Store& store) {
  using Kind = Change::Kind;
  const auto now = Clock::now();
  while (tracker_.has_changes()) {
    for (const Change& change : tracker_.take_changes()) {
      if (change.kind == Kind::forget) {
        audit("deregister", change.key, "health.deregister_after");
        const ReplayGuard guard = board_.guard(change.slot);
        if (shared_ != nullptr) share_deletion(change.key, guard, store);
        retire(change.slot);
        store.remove_instance(change.key.service, change.key.id);
        remember_deleted(change.key, guard);
      } else if (change.kind == Kind::ttl) {
        store.set_max_ttl(change.key.service, change.key.id, change.ttl);
      } else if (shared_ != nullptr && change.health == registry::Health::critical &&
                 tracker_.state(change.key, now).value_or(LeaseState{}).expired) {
        // In a cluster the shared registry decides when a lease has run out: the agent may
        // heartbeat another server now.
        let_go(change.slot, change.key);
      } else {
        if (store.set_health(change.key.service, change.key.id, change.health)) {
          audit_health(change.key, change.health, now);
          if (shared_ != nullptr) unshared_.push_back(change.key);
        }
        const bool open = change.health != registry::Health::critical;
        if (board_.set_open(change.slot, open) && !open) renew_slot(change.slot, now);
      }
    }
  }
  if (!unshared_.empty()) share_changes(store);
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
    std::uint16_t error = outcome.tsig_error;
    if (check.status == Status::bad_key) error = wire::rcode::kBadKey;
    if (check.status == Status::bad_sig) error = wire::rcode::kBadSig;
    if (check.status == Status::bad_time) error = wire::rcode::kBadTime;
    if (check.status == Status::bad_trunc) error = wire::rcode::kBadTrunc;
    signer_.sign_response(response, check, error, wall_clock_());
  }
  return response;
}

}  // namespace signpost::health
