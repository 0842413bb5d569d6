// An ApiBackend for the HTTP API's tests and fuzzer: a small registry in memory whose
// replies run on a thread of its own, as the registry thread's do, or inline.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "registry/api/api_backend.hpp"

namespace signpost::testing {

/// Two services: "web" with instances "a" (update, passing) and "b" (static, warning), and
/// "db" with "c" (api); two nodes. Writes change the instances and move the serial. Any
/// thread may call it; replies run on its own thread (or inline when `threaded` is false),
/// and can be held back until release().
class TestApiBackend : public registry::api::ApiBackend {
 public:
  explicit TestApiBackend(bool threaded = true) {
    using registry::api::InstanceInfo;
    InstanceInfo a;
    a.id = "a", a.service = "web", a.node = "host1", a.addresses = {"10.0.0.1", "fd00::1"};
    a.port = 8080, a.weight = 2, a.effective_weight = 2, a.source = "update";
    a.tags = {"blue"}, a.meta = {{"version", "1.2"}}, a.lease_seconds = 30,
    a.lease_remaining = 12.5;
    InstanceInfo b = a;
    b.id = "b", b.node = "host2", b.addresses = {"10.0.0.2"}, b.weight = 1, b.effective_weight = 0;
    b.health = "warning", b.reported_health = "warning", b.source = "static", b.tags = {},
    b.meta = {};
    b.lease_seconds.reset(), b.lease_remaining.reset();
    InstanceInfo c = b;
    c.id = "c", c.service = "db", c.node = "host1", c.port = 5432, c.health = "passing";
    c.source = "api", c.effective_weight = 1;
    instances = {a, b, c};
    if (threaded) worker_ = std::thread([this] { run(); });
  }
  ~TestApiBackend() override {
    {
      const std::lock_guard lock(mutex_);
      stopping_ = true;
      held_ = false;
    }
    wake_.notify_all();
    if (worker_.joinable()) worker_.join();
  }

  /// Holds every reply until release(); replies held meanwhile are counted by queued().
  void hold() {
    const std::lock_guard lock(mutex_);
    held_ = true;
  }
  void release() {
    {
      const std::lock_guard lock(mutex_);
      held_ = false;
    }
    wake_.notify_all();
  }
  std::size_t queued() const {
    const std::lock_guard lock(mutex_);
    return queue_.size();
  }

  /// The next serial, as a publish would make it.
  std::uint32_t bump() { return ++serial_; }
  void set_backend_down(bool down) { backend_down_ = down; }

  /// Who made each write so far ("drain web/a" and its actor).
  std::vector<std::pair<std::string, registry::api::Actor>> writes() const {
    const std::lock_guard lock(mutex_);
    return writes_;
  }

  void services(Reply<std::vector<registry::api::ServiceSummary>> reply) override {
    later([this, reply] { reply({summary("db"), summary("web")}); });
  }
  void service(std::string name, Reply<std::optional<registry::api::ServiceInfo>> reply) override {
    later([this, reply, name] {
      registry::api::ServiceInfo info;
      info.summary = summary(name);
      if (info.summary.instances == 0) return reply(std::nullopt);
      info.ttl = name == "web" ? std::optional<std::uint32_t>(5) : std::nullopt;
      for (const auto& instance : instances) {
        if (instance.service == name) info.instances.push_back(instance);
      }
      reply(info);
    });
  }
  void nodes(Reply<std::vector<registry::api::NodeInfo>> reply) override {
    later([reply] {
      reply({{"host1", {"10.0.0.1", "fd00::1"}, 2, {"db", "web"}},
             {"host2", {"10.0.0.2"}, 1, {"web"}}});
    });
  }
  void status(Reply<registry::api::StatusInfo> reply) override {
    later([this, reply] {
      registry::api::StatusInfo status;
      status.version = "0.1.0", status.serial = serial_, status.uptime_seconds = 61.25;
      status.services = 2, status.instances = instances.size(), status.nodes = 2;
      status.instances_by_source = {{"static", 1}, {"update", 1}, {"api", 1}};
      status.instances_by_health = {{"passing", 2}, {"warning", 1}};
      status.backend_detail = "/var/lib/signpost/state";
      reply(status);
    });
  }
  void metrics(Reply<std::string> reply) override {
    later([reply] { reply("# TYPE signpost_queries_total counter\nsignpost_queries_total 7\n"); });
  }
  void set_drained(std::string service_name, std::string id, bool drained,
                   registry::api::Actor actor, Reply<registry::api::WriteResult> reply) override {
    write(drained ? "drain" : "undrain", service_name, id, actor, reply,
          [drained](registry::api::InstanceInfo& instance) { instance.drained = drained; });
  }
  void set_weight(std::string service_name, std::string id, std::optional<std::uint16_t> weight,
                  registry::api::Actor actor, Reply<registry::api::WriteResult> reply) override {
    write("weight", service_name, id, actor, reply,
          [weight](registry::api::InstanceInfo& instance) { instance.weight_override = weight; });
  }
  void deregister(std::string service_name, std::string id, registry::api::Actor actor,
                  Reply<registry::api::WriteResult> reply) override {
    write("deregister", service_name, id, actor, reply, nullptr);
  }
  std::uint32_t serial() const override { return serial_; }

  // Touched only where replies run (one thread at a time).
  std::vector<registry::api::InstanceInfo> instances;

 private:
  registry::api::ServiceSummary summary(const std::string& name) const {
    registry::api::ServiceSummary out;
    out.name = name;
    for (const auto& instance : instances) {
      if (instance.service != name) continue;
      out.port = instance.port;
      ++out.instances;
      if (instance.health == "passing") ++out.passing;
      if (instance.health == "warning") ++out.warning;
      if (instance.drained) ++out.drained;
    }
    return out;
  }

  void write(const std::string& what, const std::string& service_name, const std::string& id,
             const registry::api::Actor& actor, const Reply<registry::api::WriteResult>& reply,
             std::function<void(registry::api::InstanceInfo&)> change) {
    later([=, this] {
      {
        const std::lock_guard lock(mutex_);
        writes_.emplace_back(what + " " + service_name + "/" + id, actor);
      }
      registry::api::WriteResult result;
      const auto it = std::find_if(instances.begin(), instances.end(), [&](const auto& i) {
        return i.service == service_name && i.id == id;
      });
      if (backend_down_) {
        result.status = registry::api::WriteStatus::backend_down;
        result.message = "etcd is unreachable";
      } else if (it == instances.end()) {
        result.status = registry::api::WriteStatus::not_found;
      } else if (!change && it->source == "static") {
        result.status = registry::api::WriteStatus::conflict;
        result.message = "web/b is static: remove it from the server's config";
      } else if (change) {
        change(*it);
        result.instance = *it;
        result.serial = bump();
      } else {
        instances.erase(it);
        result.serial = bump();
      }
      reply(result);
    });
  }

  void later(std::function<void()> task) {
    if (!worker_.joinable()) return task();
    {
      const std::lock_guard lock(mutex_);
      queue_.push_back(std::move(task));
    }
    wake_.notify_all();
  }

  void run() {
    std::unique_lock lock(mutex_);
    while (true) {
      wake_.wait(lock, [this] { return stopping_ || (!held_ && !queue_.empty()); });
      if (queue_.empty()) return;  // stopping; everything queued has run
      std::function<void()> task = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      task();
      lock.lock();
    }
  }

  std::atomic<std::uint32_t> serial_{100};
  std::atomic<bool> backend_down_{false};
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;
  std::vector<std::pair<std::string, registry::api::Actor>> writes_;
  bool held_ = false;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace signpost::testing
