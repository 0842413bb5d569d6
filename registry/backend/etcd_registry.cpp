// The etcd backend: the caller's queue, load(), the watch's decoding (the worker that renews
// and writes is in etcd_registry_worker.cpp).
#include "registry/backend/etcd_registry.hpp"

#include <algorithm>
#include <optional>
#include <span>
#include <unordered_set>
#include <utility>

namespace signpost::registry::backend {

namespace {

std::int64_t ttl_of(const DynamicInstance& instance) {
  return std::max<std::int64_t>(instance.lease_seconds, 1);
}

std::span<const std::uint8_t> bytes_of(const std::string& value) {
  return {reinterpret_cast<const std::uint8_t*>(value.data()), value.size()};
}

// The service and id of `<instances prefix><service>/<id>`, or nothing for another key.
std::optional<EtcdRegistry::Removed> names_of(std::string_view instances_prefix,
                                              std::string_view key) {
  if (!key.starts_with(instances_prefix)) return std::nullopt;
  const std::string_view rest = key.substr(instances_prefix.size());
  const std::size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  return EtcdRegistry::Removed{std::string(rest.substr(0, slash)),
                               std::string(rest.substr(slash + 1))};
}

}  // namespace

EtcdRegistry::EtcdRegistry(EtcdRegistrySettings settings, Log log)
    : settings_(std::move(settings)),
      instances_prefix_(settings_.prefix + "instances/"),
      log_(std::move(log)),
      client_(settings_.etcd),
      serial_(client_, settings_.prefix + "serial", log_) {
  worker_ = std::thread([this] { run(); });
}

EtcdRegistry::~EtcdRegistry() { stop(); }

std::string EtcdRegistry::key_of(std::string_view service, std::string_view id) const {
  std::string key = instances_prefix_;
  key.append(service).append("/").append(id);
  return key;
}

void EtcdRegistry::put(const DynamicInstance& instance) {
  const std::vector<std::uint8_t> bytes = encode_dynamic_instance(instance);
  Write write;
  write.value.assign(bytes.begin(), bytes.end());
  write.ttl_seconds = ttl_of(instance);
  std::string key = key_of(instance.instance.service, instance.instance.id);
  {
    std::lock_guard lock(queue_mutex_);
    if (stopping_) return;
    auto found = pending_writes_.find(key);
    if (found != pending_writes_.end()) {
      found->second = std::move(write);
      return;
    }
    if (pending_writes_.size() + queued_.load() >= settings_.max_queued) {
      ++dropped_;
      if (!drop_logged_.exchange(true)) {
        log_(LogLevel::error, "etcd registry: " + std::to_string(settings_.max_queued) +
                                  " writes wait for etcd; dropping further ones until it is back");
      }
      return;
    }
    pending_writes_.emplace(std::move(key), std::move(write));
  }
  wake_.notify_one();
}

void EtcdRegistry::remove(std::string_view service, std::string_view id) {
  Write write;
  write.remove = true;
  {
    std::lock_guard lock(queue_mutex_);
    if (stopping_) return;
    pending_writes_.insert_or_assign(key_of(service, id), std::move(write));
  }
  wake_.notify_one();
}

void EtcdRegistry::keep_alive(std::string_view service, std::string_view id) {
  const Clock::time_point now = Clock::now();
  {
    std::lock_guard lock(queue_mutex_);
    if (stopping_) return;
    auto [slot, added] = pending_renewals_.try_emplace(key_of(service, id), now);
    if (!added) {
      slot->second = now;
      ++coalesced_;
      return;  // the worker is woken already
    }
  }
  wake_.notify_one();
}

void EtcdRegistry::note_serial(std::uint32_t serial) {
  {
    std::lock_guard lock(queue_mutex_);
    if (stopping_) return;
    const bool waking = !noted_serial_;
    noted_serial_ = serial;
    if (!waking) return;  // the worker is woken already
  }
  wake_.notify_one();
}

void EtcdRegistry::wake() { wake_.notify_one(); }

std::optional<DynamicInstance> EtcdRegistry::record(std::string_view service,
                                                   std::string_view id) const {
  const std::string key = key_of(service, id);
  std::string value;
  {
    std::lock_guard lock(queue_mutex_);
    if (const auto queued = pending_writes_.find(key); queued != pending_writes_.end()) {
      if (queued->second.remove) return std::nullopt;
      value = queued->second.value;
    }
  }
  if (value.empty()) {
    std::lock_guard lock(entries_mutex_);
    const auto found = entries_.find(key);
    if (found == entries_.end() || !found->second.in_etcd) return std::nullopt;
    value = found->second.value;
  }
  try {
    return parse_dynamic_instance(bytes_of(value));
  } catch (const StateError&) {
    return std::nullopt;  // decode() let only valid records in; a queued one is ours
  }
}

EtcdRegistryStatus EtcdRegistry::status() const {
  EtcdRegistryStatus out;
  out.connected = connected_.load();
  {
    std::lock_guard lock(status_mutex_);
    out.last_error = last_error_;
  }
  out.writes = writes_count_.load();
  out.writes_skipped = skipped_.load();
  out.removes = removes_.load();
  out.lease_grants = grants_.load();
  out.revivals = revivals_.load();
  out.keep_alives_sent = keep_alives_sent_.load();
  out.keep_alives_coalesced = coalesced_.load();
  out.watch_events = watch_events_.load();
  out.bad_values = bad_values_.load();
  out.dropped_writes = dropped_.load();
  out.errors = errors_.load();
  {
    std::lock_guard lock(queue_mutex_);
    out.queued_writes = queued_.load() + pending_writes_.size();
  }
  out.watch_revision = watch_revision_.load();
  out.etcd_revision = etcd_revision_.load();
  out.watch_lag_revisions = std::max<std::int64_t>(0, prefix_revision_.load() - out.watch_revision);
  return out;
}

void EtcdRegistry::note_revisions(std::int64_t watch, std::int64_t prefix, std::int64_t seen) {
  // Raised, never lowered: the threads that note them may finish out of order.
  const auto raise = [](std::atomic<std::int64_t>& to, std::int64_t revision) {
    std::int64_t now = to.load();
    while (now < revision && !to.compare_exchange_weak(now, revision)) {
    }
  };
  raise(watch_revision_, watch);
  raise(prefix_revision_, prefix);
  raise(etcd_revision_, seen);
}

void EtcdRegistry::stop() {
  {
    std::lock_guard lock(queue_mutex_);
    if (stopped_) return;
    stopped_ = true;
    stopping_ = true;
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
  std::unique_ptr<etcd::EtcdWatch> watch;
  {
    std::lock_guard lock(watch_mutex_);
    watch = std::move(watch_);
  }
  if (watch) watch->stop();
  if (stream_) stream_->close();
}

// ---- load and watch -------------------------------------------------------------------

bool EtcdRegistry::decode(const etcd::KeyValue& kv, DynamicInstance& instance) {
  try {
    instance = parse_dynamic_instance(bytes_of(kv.value));
    if (kv.key == key_of(instance.instance.service, instance.instance.id)) return true;
    throw StateError("holds instance " + instance.instance.service + "/" + instance.instance.id);
  } catch (const StateError& e) {
    // One line per bad key and event: only a foreign writer under our prefix makes them.
    ++bad_values_;
    log_(LogLevel::error, "etcd registry: key " + kv.key + " is no instance record: " + e.what());
    return false;
  }
}

void EtcdRegistry::learn(const etcd::KeyValue& kv, const DynamicInstance& instance, bool in_etcd) {
  Entry& entry = entries_[kv.key];
  // This server's own write may have been recorded before the watch brought an older event.
  if (kv.mod_revision < entry.revision) return;
  if (entry.lease != 0 && entry.lease != kv.lease) lease_keys_.erase(entry.lease);
  entry.revision = kv.mod_revision;
  entry.value = kv.value;
  entry.lease = kv.lease;
  entry.ttl_seconds = ttl_of(instance);
  entry.in_etcd = in_etcd;
  if (kv.lease != 0) lease_keys_[kv.lease] = kv.key;
}

EtcdRegistry::Loaded EtcdRegistry::read_all(std::vector<Change>* gone) {
  std::vector<etcd::KeyValue> kvs;
  std::int64_t revision = 0;
  std::string from = instances_prefix_;
  const std::string end = etcd::prefix_range_end(instances_prefix_);
  for (;;) {
    // Every page reads at the first page's revision: one consistent registry.
    etcd::RangeResult page = client_.range_page(from, end, settings_.load_page, revision);
    if (revision == 0) revision = page.revision;
    if (page.kvs.empty()) break;
    from = page.kvs.back().key + '\0';
    if (kvs.empty())
      kvs = std::move(page.kvs);
    else
      std::move(page.kvs.begin(), page.kvs.end(), std::back_inserter(kvs));
    if (!page.more) break;
  }
  Loaded loaded;
  loaded.revision = revision;
  note_revisions(revision, 0, revision);  // the registry is read whole as of `revision`
  loaded.instances.reserve(kvs.size());
  std::vector<const etcd::KeyValue*> good;
  good.reserve(kvs.size());
  for (const etcd::KeyValue& kv : kvs) {
    DynamicInstance instance;
    if (!decode(kv, instance)) continue;
    loaded.instances.push_back(std::move(instance));
    good.push_back(&kv);
  }
  std::lock_guard lock(entries_mutex_);
  std::unordered_set<std::string_view> present;
  if (gone != nullptr) present.reserve(good.size());
  for (std::size_t i = 0; i < good.size(); ++i) {
    learn(*good[i], loaded.instances[i], true);
    if (gone != nullptr) present.insert(good[i]->key);
  }
  if (gone != nullptr) {
    for (auto& [key, entry] : entries_) {
      if (!entry.in_etcd || present.contains(key)) continue;
      entry.in_etcd = false;
      if (auto names = names_of(instances_prefix_, key)) gone->push_back(std::move(*names));
    }
  }
  return loaded;
}

EtcdRegistry::Loaded EtcdRegistry::load() {
  Loaded loaded = read_all(nullptr);
  loaded.serial = serial_.read();
  // A server that only reads (it has nothing to write yet) has reached etcd all the same:
  // the status page and the API's writes go by this.
  connected_.store(true);
  log_(LogLevel::info, "etcd registry: " + std::to_string(loaded.instances.size()) +
                           " instances under " + instances_prefix_ + " at revision " +
                           std::to_string(loaded.revision) + "; serial " +
                           (loaded.serial == 0 ? std::string("none yet")
                                               : std::to_string(loaded.serial)));
  return loaded;
}

void EtcdRegistry::start_watch(std::int64_t revision, Callback callback) {
  std::lock_guard lock(watch_mutex_);
  callback_ = std::move(callback);
  watch_ = client_.watch(instances_prefix_, revision + 1,
                         [this](const etcd::WatchNotice& notice) { on_watch(notice); });
}

void EtcdRegistry::on_watch(const etcd::WatchNotice& notice) {
  using Kind = etcd::WatchNotice::Kind;
  if (notice.kind == Kind::broken) {
    std::lock_guard lock(status_mutex_);
    last_error_ = notice.message;
    return;
  }
  if (notice.kind == Kind::compacted) {
    log_(LogLevel::warning,
         "etcd registry: watch: " + notice.message + "; reading " + instances_prefix_ + " again");
    {
      std::lock_guard lock(queue_mutex_);
      resync_ = true;
    }
    wake();
    return;
  }
  if (notice.kind == Kind::created) note_revisions(notice.revision, 0, notice.revision);
  if (notice.kind != Kind::events || notice.events.empty()) return;
  const std::int64_t delivered = notice.events.back().kv.mod_revision;
  note_revisions(delivered, delivered, notice.revision);
  std::vector<Change> changes;
  changes.reserve(notice.events.size());
  {
    std::lock_guard lock(entries_mutex_);
    for (const etcd::WatchEvent& event : notice.events) apply(event, changes);
  }
  std::lock_guard lock(watch_mutex_);
  if (callback_ && !changes.empty()) callback_(std::move(changes));
}

void EtcdRegistry::apply(const etcd::WatchEvent& event, std::vector<Change>& changes) {
  ++watch_events_;
  const etcd::KeyValue& kv = event.kv;
  std::optional<Removed> names = names_of(instances_prefix_, kv.key);
  if (!names) {
    ++bad_values_;
    return;
  }
  DynamicInstance instance;
  if (event.type == etcd::WatchEvent::Type::put && decode(kv, instance)) {
    learn(kv, instance, true);
    changes.push_back(Upsert{std::move(instance)});
    return;
  }
  // A deletion (or a value no server can read, which none can serve either). The entry
  // stays, marked gone, while its heartbeats are recent: should etcd have expired its lease,
  // the next renewal is answered with TTL 0 and the instance is written again.
  auto found = entries_.find(kv.key);
  if (found != entries_.end()) {
    Entry& entry = found->second;
    entry.in_etcd = false;
    entry.revision = kv.mod_revision;  // a deletion's kv carries the deletion's revision
    if (Clock::now() - entry.heartbeat >= std::chrono::seconds(entry.ttl_seconds)) {
      lease_keys_.erase(entry.lease);
      entries_.erase(found);
    }
  }
  changes.push_back(std::move(*names));
}

void EtcdRegistry::on_answer(std::int64_t lease, std::int64_t ttl) {
  last_answer_.store(Clock::now().time_since_epoch().count());
  if (ttl > 0) return;
  {
    std::lock_guard lock(queue_mutex_);
    gone_leases_.push_back(lease);
  }
  wake();
}

}  // namespace signpost::registry::backend
