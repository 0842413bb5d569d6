// The etcd backend: the worker that renews and writes, the watch's decoding, load().
#include "registry/backend/etcd_registry.hpp"

#include <algorithm>
#include <span>
#include <unordered_set>
#include <utility>

namespace signpost::registry::backend {

namespace {

using namespace std::chrono_literals;
using etcd::EtcdErrc;
using etcd::EtcdError;

constexpr std::chrono::milliseconds kMinBackoff = 100ms;
constexpr std::chrono::milliseconds kMaxBackoff = 2000ms;
// How often an idle worker looks at its keep-alive stream: a broken one is noticed (and the
// outage logged) within this even when nothing is written.
constexpr std::chrono::milliseconds kPoll = 250ms;
// Writes sent to etcd at once, and how long a backlog is written before the worker turns to
// renewals again.
constexpr std::size_t kParallelWrites = 32;
constexpr std::chrono::milliseconds kWriteSlice = 50ms;
// How often entries kept for a revival that never came are forgotten.
constexpr std::chrono::seconds kSweepInterval{5};

std::int64_t ttl_of(const DynamicInstance& instance) {
  return std::max<std::int64_t>(instance.lease_seconds, 1);
}

std::span<const std::uint8_t> bytes_of(const std::string& value) {
  return {reinterpret_cast<const std::uint8_t*>(value.data()), value.size()};
}

// A failure that leaves the request worth sending again later: etcd was not reached or did
// not answer in time.
bool transient(const EtcdError& error) {
  return error.code() == EtcdErrc::unavailable || error.code() == EtcdErrc::deadline_exceeded;
}

}  // namespace

EtcdRegistry::EtcdRegistry(EtcdRegistrySettings settings, Log log)
    : settings_(std::move(settings)),
      instances_prefix_(settings_.prefix + "instances/"),
      log_(std::move(log)),
      client_(settings_.etcd) {
  worker_ = std::thread([this] { run(); });
}

EtcdRegistry::~EtcdRegistry() {
  stop();
}

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

void EtcdRegistry::wake() {
  wake_.notify_one();
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
  return out;
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

void EtcdRegistry::learn(const etcd::KeyValue& kv, const DynamicInstance& instance,
                         bool in_etcd) {
  Entry& entry = entries_[kv.key];
  if (entry.lease != 0 && entry.lease != kv.lease) lease_keys_.erase(entry.lease);
  entry.value = kv.value;
  entry.lease = kv.lease;
  entry.ttl_seconds = ttl_of(instance);
  entry.in_etcd = in_etcd;
  if (kv.lease != 0) lease_keys_[kv.lease] = kv.key;
}

EtcdRegistry::Snapshot EtcdRegistry::read_all(std::vector<Change>* gone) {
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
    if (kvs.empty()) kvs = std::move(page.kvs);
    else std::move(page.kvs.begin(), page.kvs.end(), std::back_inserter(kvs));
    if (!page.more) break;
  }
  Snapshot snapshot;
  snapshot.revision = revision;
  snapshot.instances.reserve(kvs.size());
  std::vector<const etcd::KeyValue*> good;
  good.reserve(kvs.size());
  for (const etcd::KeyValue& kv : kvs) {
    DynamicInstance instance;
    if (!decode(kv, instance)) continue;
    snapshot.instances.push_back(std::move(instance));
    good.push_back(&kv);
  }
  std::lock_guard lock(entries_mutex_);
  std::unordered_set<std::string_view> present;
  if (gone != nullptr) present.reserve(good.size());
  for (std::size_t i = 0; i < good.size(); ++i) {
    learn(*good[i], snapshot.instances[i], true);
    if (gone != nullptr) present.insert(good[i]->key);
  }
  if (gone != nullptr) {
    for (auto& [key, entry] : entries_) {
      if (!entry.in_etcd || present.contains(key)) continue;
      entry.in_etcd = false;
      const std::string_view rest = std::string_view(key).substr(instances_prefix_.size());
      const std::size_t slash = rest.find('/');
      gone->push_back(Removed{std::string(rest.substr(0, slash)), std::string(rest.substr(slash + 1))});
    }
  }
  return snapshot;
}

EtcdRegistry::Snapshot EtcdRegistry::load() {
  Snapshot snapshot = read_all(nullptr);
  log_(LogLevel::info, "etcd registry: " + std::to_string(snapshot.instances.size()) +
                           " instances under " + instances_prefix_ + " at revision " +
                           std::to_string(snapshot.revision));
  return snapshot;
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
    log_(LogLevel::warning, "etcd registry: watch: " + notice.message + "; reading " +
                                instances_prefix_ + " again");
    {
      std::lock_guard lock(queue_mutex_);
      resync_ = true;
    }
    wake();
    return;
  }
  if (notice.kind != Kind::events) return;
  std::vector<Change> changes;
  changes.reserve(notice.events.size());
  {
    std::lock_guard lock(entries_mutex_);
    for (const etcd::WatchEvent& event : notice.events) {
      ++watch_events_;
      const etcd::KeyValue& kv = event.kv;
      const std::string_view rest = std::string_view(kv.key).substr(instances_prefix_.size());
      const std::size_t slash = rest.find('/');
      if (slash == std::string_view::npos) {
        ++bad_values_;
        continue;
      }
      DynamicInstance instance;
      if (event.type == etcd::WatchEvent::Type::put && decode(kv, instance)) {
        learn(kv, instance, true);
        changes.push_back(Upsert{std::move(instance)});
        continue;
      }
      // A deletion (or a value no server can read, which none can serve either). The entry
      // stays, marked gone, while its heartbeats are recent: should etcd have expired its
      // lease, the next renewal is answered with TTL 0 and the instance is written again.
      auto found = entries_.find(kv.key);
      if (found != entries_.end()) {
        Entry& entry = found->second;
        entry.in_etcd = false;
        if (Clock::now() - entry.heartbeat >= std::chrono::seconds(entry.ttl_seconds)) {
          lease_keys_.erase(entry.lease);
          entries_.erase(found);
        }
      }
      changes.push_back(Removed{std::string(rest.substr(0, slash)), std::string(rest.substr(slash + 1))});
    }
  }
  std::lock_guard lock(watch_mutex_);
  if (callback_ && !changes.empty()) callback_(std::move(changes));
}

void EtcdRegistry::on_answer(std::int64_t lease, std::int64_t ttl) {
  if (ttl > 0) return;
  {
    std::lock_guard lock(queue_mutex_);
    gone_leases_.push_back(lease);
  }
  wake();
}

// ---- the worker ---------------------------------------------------------------------------

void EtcdRegistry::run() {
  std::unique_lock lock(queue_mutex_);
  while (!stopping_) {
    const Clock::time_point now = Clock::now();
    Clock::time_point until = std::min(next_renewal_, now + kPoll);
    if (down_) until = std::max(until, retry_at_);
    wake_.wait_until(lock, until, [&] {
      return stopping_ || (!down_ && (!pending_writes_.empty() || !pending_renewals_.empty() ||
                                      !gone_leases_.empty() || resync_ || !writes_.empty()));
    });
    if (stopping_) break;
    for (auto& [key, write] : pending_writes_) writes_.insert_or_assign(key, std::move(write));
    pending_writes_.clear();
    for (const auto& [key, heartbeat] : pending_renewals_) {
      auto [slot, added] = renewals_.try_emplace(key, heartbeat);
      if (!added) {
        slot->second = std::max(slot->second, heartbeat);
        ++coalesced_;
      }
    }
    pending_renewals_.clear();
    gone_.insert(gone_.end(), gone_leases_.begin(), gone_leases_.end());
    gone_leases_.clear();
    resync_wanted_ = resync_wanted_ || std::exchange(resync_, false);
    queued_.store(writes_.size());
    lock.unlock();
    work(Clock::now());
    lock.lock();
  }
}

void EtcdRegistry::work(Clock::time_point now) {
  if (down_ && now < retry_at_) return;
  try {
    ensure_stream();
    if (resync_wanted_) {
      resync();
      resync_wanted_ = false;
    }
    revive_gone_leases(now);
    send_renewals(now);
    write_queued(now);
    mark_up();
  } catch (const EtcdError& e) {
    mark_down(e.what());
  }
  queued_.store(writes_.size());
  if (now >= next_sweep_) {
    sweep(now);
    next_sweep_ = now + kSweepInterval;
  }
}

void EtcdRegistry::ensure_stream() {
  if (stream_ && !stream_->broken()) return;
  if (stream_) {
    stream_->close();
    {
      std::lock_guard lock(status_mutex_);
      last_error_ = stream_->error();
    }
    ++errors_;
    stream_.reset();
  }
  stream_ = client_.open_keep_alive(
      [this](std::int64_t lease, std::int64_t ttl) { on_answer(lease, ttl); });
}

std::chrono::milliseconds EtcdRegistry::interval_of(const Entry& entry) const {
  const std::chrono::milliseconds third{entry.ttl_seconds * 1000 / 3};
  return std::min(settings_.keep_alive_interval, third);
}

void EtcdRegistry::send_renewals(Clock::time_point now) {
  std::vector<std::int64_t> leases;
  std::vector<std::pair<std::string, Clock::time_point>> sent;
  next_renewal_ = Clock::time_point::max();
  {
    std::lock_guard lock(entries_mutex_);
    for (auto it = renewals_.begin(); it != renewals_.end();) {
      const auto found = entries_.find(it->first);
      // Unknown here: its registration is still queued (and grants a fresh lease) or it
      // was removed; nothing to renew.
      if (found == entries_.end() || found->second.lease == 0) {
        it = renewals_.erase(it);
        continue;
      }
      Entry& entry = found->second;
      const Clock::time_point heartbeat = it->second;
      entry.heartbeat = std::max(entry.heartbeat, heartbeat);
      // A renewal asked for longer ago than the lease (etcd was unreachable meanwhile)
      // would keep alive an instance whose agent may be gone: its lease ran out.
      if (now - heartbeat >= std::chrono::seconds(entry.ttl_seconds)) {
        it = renewals_.erase(it);
        continue;
      }
      const Clock::time_point due = entry.renewed + interval_of(entry);
      if (due > now) {
        next_renewal_ = std::min(next_renewal_, due);
        ++it;
        continue;
      }
      leases.push_back(entry.lease);
      entry.renewed = now;
      sent.emplace_back(it->first, heartbeat);
      it = renewals_.erase(it);
    }
  }
  if (leases.empty()) return;
  if (stream_->send(leases)) {
    keep_alives_sent_ += leases.size();
    return;
  }
  // Not sent: ask again once the stream is back.
  {
    std::lock_guard lock(entries_mutex_);
    for (const auto& [key, heartbeat] : sent) {
      auto found = entries_.find(key);
      if (found != entries_.end()) found->second.renewed = {};
      renewals_.try_emplace(key, heartbeat);
    }
  }
  throw EtcdError(EtcdErrc::unavailable, stream_->endpoint(), "lease keep-alive stream broke");
}

void EtcdRegistry::revive_gone_leases(Clock::time_point now) {
  std::lock_guard lock(entries_mutex_);
  for (const std::int64_t lease : gone_) {
    const auto key = lease_keys_.find(lease);
    if (key == lease_keys_.end()) continue;
    const auto found = entries_.find(key->second);
    if (found == entries_.end() || found->second.lease != lease) continue;
    const Entry& entry = found->second;
    // Heartbeats continued within the lease: etcd expired it while it could not hear the
    // renewals (or before they came). Write the instance again, with a new lease, unless a
    // newer write of the key is queued anyway.
    if (now - entry.heartbeat >= std::chrono::seconds(entry.ttl_seconds)) continue;
    if (writes_.contains(key->second)) continue;
    Write write;
    write.value = entry.value;
    write.ttl_seconds = entry.ttl_seconds;
    write.gone_lease = lease;
    writes_.emplace(key->second, std::move(write));
  }
  gone_.clear();
}

void EtcdRegistry::write_queued(Clock::time_point now) {
  // A write is a lease grant and a put, two round trips to etcd's log (2 ms each here), so
  // up to kParallelWrites keys are written at once: etcd commits concurrent proposals
  // together. A backlog is written in slices of kWriteSlice, so that renewals and new writes
  // queued meanwhile are not held up behind it.
  const Clock::time_point slice_end = Clock::now() + kWriteSlice;
  std::vector<std::unordered_map<std::string, Write>::iterator> batch;
  while (!writes_.empty() && Clock::now() < slice_end) {
    batch.clear();
    for (auto it = writes_.begin(); it != writes_.end() && batch.size() < kParallelWrites; ++it) {
      batch.push_back(it);
    }
    std::vector<std::string> failures(batch.size());
    const auto write = [&](std::size_t i) {
      try {
        write_one(batch[i]->first, batch[i]->second, now);
      } catch (const EtcdError& e) {
        failures[i] = e.what();
      }
    };
    if (batch.size() == 1) {
      write(0);
    } else {
      std::vector<std::thread> writers;
      writers.reserve(batch.size());
      for (std::size_t i = 0; i < batch.size(); ++i) writers.emplace_back(write, i);
      for (std::thread& writer : writers) writer.join();
    }
    std::string failure;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (failures[i].empty()) {
        writes_.erase(batch[i]);
      } else if (failure.empty()) {
        failure = failures[i];
      }
    }
    if (!failure.empty()) throw EtcdError::with_message(EtcdErrc::unavailable, "", failure);
  }
}

void EtcdRegistry::write_one(const std::string& key, Write& write, Clock::time_point now) {
  try {
    if (write.remove) {
      // Only the key: its lease is left to expire, as revoking it would cost a proposal.
      client_.remove(key);
      ++removes_;
      std::lock_guard lock(entries_mutex_);
      if (auto found = entries_.find(key); found != entries_.end()) {
        lease_keys_.erase(found->second.lease);
        entries_.erase(found);
      }
      return;
    }
    std::int64_t lease = 0;
    {
      std::lock_guard lock(entries_mutex_);
      const auto found = entries_.find(key);
      if (write.gone_lease != 0) {
        if (found == entries_.end() || found->second.lease != write.gone_lease) return;
      } else if (found != entries_.end()) {
        const Entry& entry = found->second;
        if (entry.in_etcd && entry.value == write.value) {
          ++skipped_;
          return;
        }
        if (entry.ttl_seconds == write.ttl_seconds) lease = entry.lease;
      }
    }
    if (lease == 0) {
      lease = client_.grant_lease(write.ttl_seconds).id;
      ++grants_;
    }
    try {
      client_.put(key, write.value, lease);
    } catch (const EtcdError& e) {
      if (e.code() != EtcdErrc::not_found) throw;
      // etcd no longer knows the key's lease (it expired): a new one.
      lease = client_.grant_lease(write.ttl_seconds).id;
      ++grants_;
      client_.put(key, write.value, lease);
    }
    ++writes_count_;
    if (write.gone_lease != 0) ++revivals_;
    std::lock_guard lock(entries_mutex_);
    Entry& entry = entries_[key];
    if (entry.lease != 0 && entry.lease != lease) lease_keys_.erase(entry.lease);
    entry.value = std::move(write.value);
    entry.lease = lease;
    entry.ttl_seconds = write.ttl_seconds;
    entry.in_etcd = true;
    entry.renewed = now;
    entry.heartbeat = std::max(entry.heartbeat, now);
    lease_keys_[lease] = key;
    return;
  } catch (const EtcdError& e) {
    if (transient(e)) throw;
    // etcd refused it (permission, a value too large): sending it again would not help.
    ++errors_;
    {
      std::lock_guard lock(status_mutex_);
      last_error_ = e.what();
    }
    log_(LogLevel::error, "etcd registry: writing " + key + " failed: " + e.what());
    return;
  }
}

void EtcdRegistry::sweep(Clock::time_point now) {
  std::lock_guard lock(entries_mutex_);
  for (auto it = entries_.begin(); it != entries_.end();) {
    const Entry& entry = it->second;
    if (!entry.in_etcd && now - entry.heartbeat >= std::chrono::seconds(entry.ttl_seconds)) {
      lease_keys_.erase(entry.lease);
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
}

void EtcdRegistry::resync() {
  std::unique_ptr<etcd::EtcdWatch> old;
  {
    std::lock_guard lock(watch_mutex_);
    old = std::move(watch_);
  }
  if (old) old->stop();
  std::vector<Change> changes;
  Snapshot snapshot = read_all(&changes);
  changes.reserve(changes.size() + snapshot.instances.size());
  for (DynamicInstance& instance : snapshot.instances) changes.push_back(Upsert{std::move(instance)});
  std::lock_guard lock(watch_mutex_);
  if (callback_) callback_(std::move(changes));
  watch_ = client_.watch(instances_prefix_, snapshot.revision + 1,
                         [this](const etcd::WatchNotice& notice) { on_watch(notice); });
}

void EtcdRegistry::mark_down(const std::string& error) {
  ++errors_;
  connected_.store(false);
  {
    std::lock_guard lock(status_mutex_);
    last_error_ = error;
  }
  const Clock::time_point now = Clock::now();
  if (!down_) {
    down_ = true;
    down_since_ = now;
    log_(LogLevel::warning, "etcd registry: etcd unreachable (" + error +
                                "); answering from the last registry and queueing changes "
                                "until it is back");
  }
  retry_at_ = now + backoff_;
  backoff_ = std::min(backoff_ * 2, kMaxBackoff);
}

void EtcdRegistry::mark_up() {
  connected_.store(true);
  backoff_ = kMinBackoff;
  if (!down_) return;
  down_ = false;
  drop_logged_.store(false);
  const auto outage = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - down_since_);
  log_(LogLevel::info, "etcd registry: etcd reachable again after " +
                           std::to_string(outage.count()) + " ms; queued changes written");
}

}  // namespace signpost::registry::backend
