// The registry thread.
#include "registry/publisher.hpp"

#include <pthread.h>
#include <algorithm>

#include "dns/wire/reader.hpp"
#include "dns/wire/types.hpp"

namespace signpost::registry {

std::shared_ptr<const dns::zone::Zone> build_apex_zone(const RegistryZoneSettings& settings,
                                                      const dns::zone::Zone* from_file,
                                                      std::uint32_t serial) {
  if (from_file == nullptr) {
    RegistryZoneSettings with_serial = settings;
    with_serial.serial = serial;
    return build_registry_zone(with_serial);
  }
  dns::zone::ZoneBuilder builder(from_file->origin());
  from_file->for_each_node([&](std::string_view owner, const dns::zone::Node& node) {
    for (const dns::wire::RRset& rrset : node.rrsets) {
      for (std::size_t i = 0; i < rrset.size(); ++i) {
        std::vector<std::uint8_t> rdata(rrset.rdata(i).begin(), rrset.rdata(i).end());
        if (rrset.type == dns::wire::rrtype::kSoa) {
          // SERIAL sits 20 octets before the end of SOA RDATA (RFC 1035 §3.3.13).
          dns::wire::store_u32(rdata.data() + rdata.size() - 20, serial);
        }
        builder.add(owner, rrset.type, rrset.ttl, rdata);
      }
    }
  });
  return builder.build();
}

Publisher::Publisher(Settings settings, std::vector<std::shared_ptr<const dns::zone::Zone>> static_zones,
                     Deliver deliver, Log log)
    : settings_(std::move(settings)),
      deliver_(std::move(deliver)),
      log_(std::move(log)),
      store_(settings_.build),
      static_zones_(std::move(static_zones)),
      view_(std::make_shared<RegistryView>()),
      serial_(settings_.apex.serial) {
  build_and_publish();
}

Publisher::~Publisher() { stop(); }

void Publisher::start() {
  std::lock_guard lock(mutex_);
  if (!thread_.joinable() && !stopping_) thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "publisher");
      run();
    });
}

void Publisher::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Publisher::post(std::function<void(Store&)> change) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(Task{std::move(change), nullptr});
  }
  wake_.notify_one();
}

void Publisher::apply(std::function<void(Store&)> change) {
  auto done = std::make_shared<std::promise<void>>();
  auto future = done->get_future();
  {
    std::lock_guard lock(mutex_);
    // Once stopping, the thread may already be gone: nobody would run it.
    if (stopping_) return;
    queue_.push_back(Task{std::move(change), done});
  }
  wake_.notify_one();
  future.get();
}

void Publisher::on_batch_end(std::function<void(Store&)> hook) {
  {
    std::lock_guard lock(mutex_);
    if (!thread_.joinable() || stopping_) {
      batch_end_ = std::move(hook);
      return;
    }
  }
  apply([this, &hook](Store&) { batch_end_ = std::move(hook); });
}

void Publisher::replace_zones(std::vector<std::shared_ptr<const dns::zone::Zone>> zones) {
  reload(std::move(zones), [](Store&) {});
}

void Publisher::reload(std::vector<std::shared_ptr<const dns::zone::Zone>> zones,
                       std::function<void(Store&)> change) {
  apply([this, zones = std::move(zones), change = std::move(change)](Store& store) mutable {
    // Check the new set builds before taking anything, so a bad reload keeps the old data;
    // the change validates everything before it changes the store (replace_source).
    const std::vector<std::shared_ptr<const dns::zone::Zone>> candidate = zones;
    Snapshot check(candidate, 0);
    change(store);
    static_zones_ = std::move(zones);
    zones_changed_ = true;
  });
}

SnapshotPtr Publisher::current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

std::uint64_t Publisher::generation() const {
  std::lock_guard lock(mutex_);
  return generation_;
}

void Publisher::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty() && stopping_) return;
    // Coalesce: let the rest of a burst arrive, then apply and publish once.
    // Under a burst (many agents registering at once) a publish may cost more than the
    // delay: leaving at least as long as the last one took between two publishes keeps
    // publishing to half of this thread and lets batches grow with the load, while a
    // change after a quiet spell waits only the batch delay.
    const auto now = std::chrono::steady_clock::now();
    const auto spacing = last_batch_end_ + last_batch_cost_ - now;
    const auto delay = std::max<std::chrono::steady_clock::duration>(settings_.batch_delay, spacing);
    if (!stopping_) wake_.wait_for(lock, delay, [this] { return stopping_; });
    std::deque<Task> batch;
    batch.swap(queue_);
    lock.unlock();
    const auto started = std::chrono::steady_clock::now();
    run_batch(batch);
    last_batch_end_ = std::chrono::steady_clock::now();
    last_batch_cost_ = last_batch_end_ - started;
    lock.lock();
  }
}

void Publisher::run_batch(std::deque<Task>& batch) {
  std::vector<std::pair<std::shared_ptr<std::promise<void>>, std::exception_ptr>> results;
  for (Task& task : batch) {
    std::exception_ptr error;
    try {
      task.change(store_);
    } catch (const std::exception& e) {
      error = std::current_exception();
      if (!task.done && log_) log_(std::string("registry change rejected: ") + e.what());
    }
    if (task.done) results.emplace_back(task.done, error);
  }
  try {
    if (batch_end_) batch_end_(store_);
    if (store_.dirty() || zones_changed_) build_and_publish();
  } catch (const std::exception& e) {
    if (log_) log_(std::string("publishing failed, keeping the previous snapshot: ") + e.what());
  }
  for (auto& [done, error] : results) {
    if (error) {
      done->set_exception(error);
    } else {
      done->set_value();
    }
  }
}

Publisher::PublishStats Publisher::publish_stats() const {
  PublishStats stats;
  stats.publishes = generation();
  stats.serial = published_serial_.load(std::memory_order_relaxed);
  stats.duration = publish_duration_.read();
  return stats;
}

void Publisher::build_and_publish() {
  const auto started = std::chrono::steady_clock::now();
  view_ = store_.build_view(*view_);
  zones_changed_ = false;
  publish();
  publish_duration_.observe(std::chrono::steady_clock::now() - started);
}

void Publisher::publish() {
  const std::string& domain = settings_.apex.domain;
  std::vector<std::shared_ptr<const dns::zone::Zone>> zones;
  const dns::zone::Zone* from_file = nullptr;
  for (const auto& zone : static_zones_) {
    if (zone->origin() == domain) {
      from_file = zone.get();
    } else {
      zones.push_back(zone);
    }
  }
  zones.push_back(build_apex_zone(settings_.apex, from_file, serial_));
  SnapshotPtr snapshot;
  {
    std::lock_guard lock(mutex_);
    snapshot = std::make_shared<const Snapshot>(std::move(zones), generation_ + 1, view_);
    ++generation_;
    current_ = snapshot;
  }
  published_serial_.store(serial_, std::memory_order_relaxed);
  ++serial_;  // the next publish gets a higher serial (RFC 1982 arithmetic wraps)
  if (deliver_) deliver_(std::move(snapshot));
}

}  // namespace signpost::registry
