// The etcd backend's worker: the keep-alive stream, renewals, revivals, queued writes, and
// the outage's state (the rest of EtcdRegistry is in etcd_registry.cpp).
#include <algorithm>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "registry/backend/etcd_registry.hpp"

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
// Two breaks of the keep-alive stream within this are an outage, not a passing break.
constexpr std::chrono::seconds kStreamBreaks{1};
// A keep-alive stream that has answered none of the renewals sent on it for this long is
// stalled (its member hangs, or this server is cut off from it): an outage.
constexpr std::chrono::seconds kStalled{3};
// How often entries kept for a revival that never came are forgotten.
constexpr std::chrono::seconds kSweepInterval{5};

// A failure that leaves the request worth sending again later: etcd was not reached or did
// not answer in time.
bool transient(const EtcdError& error) {
  return error.code() == EtcdErrc::unavailable || error.code() == EtcdErrc::deadline_exceeded;
}

}  // namespace

void EtcdRegistry::run() {
  std::unique_lock lock(queue_mutex_);
  while (!stopping_) {
    const Clock::time_point now = Clock::now();
    Clock::time_point until = std::min(next_renewal_, now + kPoll);
    if (serial_wanted_) until = std::min(until, next_serial_write_);
    if (down_) until = std::max(until, retry_at_);
    wake_.wait_until(lock, until, [&] {
      return stopping_ || (!down_ && (!pending_writes_.empty() || !pending_renewals_.empty() ||
                                      !gone_leases_.empty() || resync_ || !writes_.empty() ||
                                      // one waiting for its interval is taken when it ends
                                      (noted_serial_ && !serial_wanted_)));
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
    if (noted_serial_) serial_wanted_ = std::exchange(noted_serial_, std::nullopt);
    queued_.store(writes_.size());
    lock.unlock();
    work(Clock::now());
    lock.lock();
  }
}

void EtcdRegistry::work(Clock::time_point now) {
  if (down_ && now < retry_at_) return;
  try {
    check_answers(now);
    // While down, a read that needs the cluster's leader proves it is back: a new stream
    // opens without a word from etcd, even to a member that hangs.
    if (down_) client_.range(instances_prefix_);
    ensure_stream();
    if (resync_wanted_) {
      resync();
      resync_wanted_ = false;
    }
    revive_gone_leases(now);
    send_renewals(now);
    write_serial(now);
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

// A stream whose member hangs breaks nowhere: its renewals just go unanswered. Without this
// check a server cut off that way would only renew into the void, and log nothing.
void EtcdRegistry::check_answers(Clock::time_point now) {
  if (unanswered_since_ == Clock::time_point{} || !stream_) return;
  const Clock::time_point answered{Clock::duration(last_answer_.load())};
  if (answered >= unanswered_since_) {
    unanswered_since_ = {};  // answered since: the next renewal starts the clock again
    return;
  }
  if (now - unanswered_since_ < kStalled) return;
  unanswered_since_ = {};
  const std::string endpoint = stream_->endpoint();
  stream_->close();
  stream_.reset();
  {
    // Sent into the stalled stream: renewed again once a stream answers.
    std::lock_guard lock(entries_mutex_);
    for (auto& [key, entry] : entries_) {
      if (entry.renewed > now - kStalled - interval_of(entry)) {
        entry.renewed = {};
        renewals_.try_emplace(key, entry.heartbeat);
      }
    }
  }
  throw EtcdError(EtcdErrc::deadline_exceeded, endpoint,
                  "lease keep-alive stream: no answer for " + std::to_string(kStalled.count()) + " s");
}

std::chrono::milliseconds EtcdRegistry::interval_of(const Entry& entry) const {
  const std::chrono::milliseconds third{entry.ttl_seconds * 1000 / 3};
  return std::min(settings_.keep_alive_interval, third);
}

void EtcdRegistry::send_renewals(Clock::time_point now) {
  std::vector<std::int64_t> leases;
  std::vector<std::pair<std::string, Clock::time_point>> sent;
  due_renewals(now, leases, sent);
  if (leases.empty()) return;
  if (stream_->send(leases)) {
    keep_alives_sent_ += leases.size();
    if (unanswered_since_ == Clock::time_point{}) unanswered_since_ = now;
    return;
  }
  // Not sent: ask again on the next pass, on a new stream. A stream also breaks when etcd
  // merely changes its leader; only a stream that cannot be opened again is an outage.
  {
    std::lock_guard lock(entries_mutex_);
    for (const auto& [key, heartbeat] : sent) {
      auto found = entries_.find(key);
      if (found != entries_.end()) found->second.renewed = {};
      renewals_.try_emplace(key, heartbeat);
    }
  }
  next_renewal_ = now;
  // A stream that broke again soon after the last break (etcd without a leader ends each
  // new one): an outage, retried with the backoff.
  const bool again = now - last_stream_break_ < kStreamBreaks;
  last_stream_break_ = now;
  if (again) {
    throw EtcdError(EtcdErrc::unavailable, stream_->endpoint(),
                    "lease keep-alive stream broke twice within a second");
  }
  ensure_stream();
}

void EtcdRegistry::due_renewals(Clock::time_point now, std::vector<std::int64_t>& leases,
                                std::vector<std::pair<std::string, Clock::time_point>>& sent) {
  next_renewal_ = Clock::time_point::max();
  std::lock_guard lock(entries_mutex_);
  for (auto it = renewals_.begin(); it != renewals_.end();) {
    const auto found = entries_.find(it->first);
    // Unknown here: its registration is still queued (and grants a fresh lease) or it was
    // removed; nothing to renew.
    if (found == entries_.end() || found->second.lease == 0) {
      it = renewals_.erase(it);
      continue;
    }
    Entry& entry = found->second;
    const Clock::time_point heartbeat = it->second;
    entry.heartbeat = std::max(entry.heartbeat, heartbeat);
    // A renewal asked for longer ago than the lease (etcd was unreachable meanwhile) would
    // keep alive an instance whose agent may be gone: its lease ran out.
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

// Ahead of the queued writes, whose backlog can take a while: the serial kept in etcd is what
// a restart starts past, and it should lag the published one by as little as it can.
void EtcdRegistry::write_serial(Clock::time_point now) {
  if (!serial_wanted_ || now < next_serial_write_) return;
  next_serial_write_ = now + kSerialInterval;
  try {
    if (serial_.raise(*serial_wanted_)) serial_wanted_.reset();
  } catch (const EtcdError& e) {
    if (transient(e)) throw;  // kept, and written once etcd is back
    ++errors_;
    {
      std::lock_guard lock(status_mutex_);
      last_error_ = e.what();
    }
    log_(LogLevel::error, "etcd registry: writing " + serial_.key() + " failed: " + e.what());
    serial_wanted_.reset();
  }
}

void EtcdRegistry::write_one(const std::string& key, Write& write, Clock::time_point now) {
  try {
    if (write.remove) {
      write_remove(key);
    } else {
      write_put(key, write, now);
    }
  } catch (const EtcdError& e) {
    if (transient(e)) throw;
    // etcd refused it (permission, a value too large): sending it again would not help.
    ++errors_;
    {
      std::lock_guard lock(status_mutex_);
      last_error_ = e.what();
    }
    log_(LogLevel::error, "etcd registry: writing " + key + " failed: " + e.what());
  }
}

void EtcdRegistry::write_remove(const std::string& key) {
  // Only the key: its lease is left to expire (the design paragraph says why).
  client_.remove(key);
  ++removes_;
  std::lock_guard lock(entries_mutex_);
  if (auto found = entries_.find(key); found != entries_.end()) {
    lease_keys_.erase(found->second.lease);
    entries_.erase(found);
  }
}

void EtcdRegistry::write_put(const std::string& key, Write& write, Clock::time_point now) {
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
  if (lease == 0) lease = grant(write.ttl_seconds);
  std::int64_t revision = 0;
  try {
    revision = client_.put(key, write.value, lease);
  } catch (const EtcdError& e) {
    if (e.code() != EtcdErrc::not_found) throw;
    lease = grant(write.ttl_seconds);  // etcd no longer knows the key's lease: it expired
    revision = client_.put(key, write.value, lease);
  }
  ++writes_count_;
  note_revisions(0, revision, revision);
  if (write.gone_lease != 0) ++revivals_;
  std::lock_guard lock(entries_mutex_);
  Entry& entry = entries_[key];
  if (revision < entry.revision) return;  // the watch brought a later change of the key
  entry.revision = revision;
  if (entry.lease != 0 && entry.lease != lease) lease_keys_.erase(entry.lease);
  entry.value = std::move(write.value);
  entry.lease = lease;
  entry.ttl_seconds = write.ttl_seconds;
  entry.in_etcd = true;
  entry.renewed = now;
  entry.heartbeat = std::max(entry.heartbeat, now);
  lease_keys_[lease] = key;
}

std::int64_t EtcdRegistry::grant(std::int64_t ttl_seconds) {
  const std::int64_t lease = client_.grant_lease(ttl_seconds).id;
  ++grants_;
  return lease;
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
  Loaded loaded = read_all(&changes);
  changes.reserve(changes.size() + loaded.instances.size());
  for (DynamicInstance& instance : loaded.instances) changes.push_back(Upsert{std::move(instance)});
  std::lock_guard lock(watch_mutex_);
  if (callback_) callback_(std::move(changes));
  watch_ = client_.watch(instances_prefix_, loaded.revision + 1,
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
                                "); keeping the registry this server holds and queueing "
                                "changes until it is back");
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
  const auto outage =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - down_since_);
  log_(LogLevel::info, "etcd registry: etcd reachable again after " +
                           std::to_string(outage.count()) + " ms; queued changes written");
}

}  // namespace signpost::registry::backend
