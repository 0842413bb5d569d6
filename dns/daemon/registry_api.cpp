// The HTTP API's view of the registry, on the registry thread.
#include "dns/daemon/registry_api.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "registry/log/log.hpp"

namespace signpost::dns::daemon {

namespace api = registry::api;
using registry::Health;
using registry::Instance;
using registry::Source;

namespace {

std::vector<std::string> address_texts(const Instance& instance) {
  std::vector<std::string> out;
  char text[INET6_ADDRSTRLEN];
  for (const auto& address : instance.ipv4) {
    out.emplace_back(inet_ntop(AF_INET, address.data(), text, sizeof text));
  }
  for (const auto& address : instance.ipv6) {
    out.emplace_back(inet_ntop(AF_INET6, address.data(), text, sizeof text));
  }
  return out;
}

std::string source_name(Source source) {
  switch (source) {
    case Source::config: return "static";
    case Source::api: return "api";
    default: return "update";
  }
}

double seconds(std::chrono::steady_clock::duration duration) {
  return std::chrono::duration<double>(duration).count();
}

}  // namespace

RegistryApi::RegistryApi(registry::Publisher& publisher, health::HeartbeatReceiver& receiver,
                         Backend backend, Metrics metrics)
    : publisher_(publisher),
      receiver_(receiver),
      backend_(std::move(backend)),
      metrics_(std::move(metrics)) {
  serial_.store(publisher_.current()->registry_zone()->serial(), std::memory_order_relaxed);
}

void RegistryApi::published(std::uint32_t serial) {
  serial_.store(serial, std::memory_order_relaxed);
  for (auto& [result, reply] : waiting_) {
    result.serial = serial;
    reply(std::move(result));
  }
  waiting_.clear();
}

api::InstanceInfo RegistryApi::instance_info(const registry::Store& store,
                                             const Instance& instance) const {
  api::InstanceInfo info;
  info.id = instance.id;
  info.service = instance.service;
  info.node = instance.node;
  info.addresses = address_texts(instance);
  info.port = instance.port;
  info.priority = instance.priority;
  info.weight = instance.weight;
  const registry::InstanceOverride value = store.override_of(instance.service, instance.id);
  info.weight_override = value.weight;
  info.drained = value.drained;
  info.health = std::string(registry::to_string(instance.health));
  info.reported_health = info.health;
  info.source = source_name(instance.source);
  info.tags = instance.tags;
  info.meta = instance.meta;
  // What answers use: registry/service_records.cpp scales a warning instance's weight.
  std::uint32_t effective = value.apply(instance.weight);
  if (instance.health == Health::critical) effective = 0;
  if (instance.health == Health::warning) {
    effective = static_cast<std::uint32_t>(
        std::floor(effective * store.settings().warning_weight));
  }
  info.effective_weight = effective;
  const health::InstanceKey key{instance.service, instance.id};
  const auto now = std::chrono::steady_clock::now();
  if (const auto state = receiver_.tracker().state(key, now)) {
    info.reported_health = std::string(registry::to_string(state->reported));
    info.lease_seconds = seconds(state->lease);
    info.lease_remaining = seconds(state->remaining);
    info.flap.penalty = state->penalty;
    info.flap.state = state->suppressed ? "suppressed" : state->penalty > 0 ? "penalized" : "stable";
  } else if (const auto lease = receiver_.shared_lease(key)) {
    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    info.lease_seconds = lease->first;
    info.lease_remaining = std::max<double>(0, static_cast<double>(lease->second - now_ms) / 1000);
  }
  return info;
}

api::ServiceSummary RegistryApi::summary(const registry::Service& service,
                                         const std::vector<Instance>& instances,
                                         const registry::Store& store) const {
  api::ServiceSummary out;
  out.name = service.name;
  out.protocol = std::string(registry::to_string(service.protocol));
  out.tags = service.tags;
  out.instances = instances.size();
  std::map<std::uint16_t, std::size_t> ports;
  for (const Instance& instance : instances) {
    ++ports[instance.port];
    if (instance.health == Health::passing) ++out.passing;
    if (instance.health == Health::warning) ++out.warning;
    if (instance.health == Health::critical) ++out.critical;
    if (store.override_of(service.name, instance.id).drained) ++out.drained;
  }
  const auto most = std::max_element(ports.begin(), ports.end(), [](const auto& a, const auto& b) {
    return a.second < b.second;
  });
  if (most != ports.end()) out.port = most->first;
  return out;
}

void RegistryApi::services(Reply<std::vector<api::ServiceSummary>> reply) {
  publisher_.post([this, reply = std::move(reply)](registry::Store& store) {
    std::vector<api::ServiceSummary> out;
    for (const auto& [service, instances] : store.list()) {
      out.push_back(summary(service, instances, store));
    }
    reply(std::move(out));
  });
}

void RegistryApi::service(std::string name, Reply<std::optional<api::ServiceInfo>> reply) {
  publisher_.post([this, name = std::move(name), reply = std::move(reply)](registry::Store& store) {
    const registry::Service* service = store.find_service(name);
    if (service == nullptr) return reply(std::nullopt);
    std::vector<Instance> instances;
    for (const std::string& id : store.instance_ids(name)) {
      if (auto instance = store.find_instance(name, id)) instances.push_back(std::move(*instance));
    }
    api::ServiceInfo info;
    info.summary = summary(*service, instances, store);
    info.ttl = service->ttl;
    info.answer_limit = service->answer_limit;
    for (const Instance& instance : instances) info.instances.push_back(instance_info(store, instance));
    reply(std::move(info));
  });
}

void RegistryApi::nodes(Reply<std::vector<api::NodeInfo>> reply) {
  publisher_.post([reply = std::move(reply)](registry::Store& store) {
    std::map<std::string, api::NodeInfo> nodes;
    for (const auto& [service, instances] : store.list()) {
      for (const Instance& instance : instances) {
        api::NodeInfo& node = nodes[instance.node];
        node.name = instance.node;
        for (std::string& address : address_texts(instance)) {
          if (std::find(node.addresses.begin(), node.addresses.end(), address) ==
              node.addresses.end()) {
            node.addresses.push_back(std::move(address));
          }
        }
        ++node.instances;
        if (node.services.empty() || node.services.back() != service.name) {
          node.services.push_back(service.name);
        }
      }
    }
    std::vector<api::NodeInfo> out;
    out.reserve(nodes.size());
    for (auto& [name, node] : nodes) out.push_back(std::move(node));
    reply(std::move(out));
  });
}

void RegistryApi::status(Reply<api::StatusInfo> reply) {
  publisher_.post([this, reply = std::move(reply)](registry::Store& store) {
    api::StatusInfo info;
    info.version = SIGNPOST_VERSION;
    info.serial = serial();
    info.uptime_seconds = seconds(std::chrono::steady_clock::now() - started_);
    info.instances = store.instance_count();
    info.instances_by_source = {{"static", store.count_of(Source::config)},
                                {"update", store.count_of(Source::heartbeat)},
                                {"api", store.count_of(Source::api)}};
    // Counts the store keeps as it changes: a status costs nothing per instance, so that a
    // page or a monitor may ask every second.
    const auto health = store.health_counts();
    info.instances_by_health = {{"passing", health[0]}, {"warning", health[1]},
                                {"critical", health[2]}};
    info.services = store.service_count();
    info.nodes = store.node_count();
    info.drained = store.drained_count();
    std::tie(info.self_preservation, info.held) = receiver_.preserving();
    info.backend = backend_.kind;
    info.backend_detail = backend_.detail;
    if (const std::string down = backend_down(); !down.empty()) {
      info.backend_healthy = false;
      info.backend_detail += "; " + down;
    }
    reply(std::move(info));
  });
}

void RegistryApi::metrics(Reply<std::string> reply) {
  publisher_.post([this, reply = std::move(reply)](registry::Store& store) {
    reply(metrics_ ? metrics_(store) : std::string());
  });
}

std::string RegistryApi::backend_down() const {
  if (backend_.etcd == nullptr) return "";
  const registry::backend::EtcdRegistryStatus status = backend_.etcd->status();
  if (status.connected) return "";
  return "etcd unreachable" + (status.last_error.empty() ? "" : ": " + status.last_error);
}

void RegistryApi::answer_when_published(const registry::Store& store, api::WriteResult result,
                                        Reply<api::WriteResult> reply) {
  if (!store.dirty()) {
    result.serial = serial();
    return reply(std::move(result));
  }
  waiting_.emplace_back(std::move(result), std::move(reply));
}

void RegistryApi::write_override(std::string service, std::string id, std::string event,
                                 api::Actor actor, Override change,
                                 Reply<api::WriteResult> reply) {
  publisher_.post([this, service = std::move(service), id = std::move(id),
                   event = std::move(event), actor = std::move(actor), change = std::move(change),
                   reply = std::move(reply)](registry::Store& store) mutable {
    api::WriteResult result;
    const auto instance = store.find_instance(service, id);
    if (!instance) {
      result.status = api::WriteStatus::not_found;
      result.message = "no instance " + id + " of service " + service;
      return reply(std::move(result));
    }
    if (std::string down = backend_down();
        !down.empty() && instance->source == Source::heartbeat) {
      result.status = api::WriteStatus::backend_down;
      result.message = "the registry backend cannot keep the change now: " + down;
      return reply(std::move(result));
    }
    const registry::InstanceOverride before = store.override_of(service, id);
    const registry::InstanceOverride after = change(before);
    if (!(after == before)) {
      store.set_override(service, id, after);
      receiver_.override_changed({service, id}, store);
      const std::string weight =
          after.weight ? std::to_string(*after.weight) : std::string("registered");
      log_audit(event, {{"service", service}, {"id", id}, {"who", actor.who},
                        {"from", actor.address}, {"weight", weight}});
    }
    result.instance = instance_info(store, *instance);
    answer_when_published(store, std::move(result), std::move(reply));
  });
}

void RegistryApi::set_drained(std::string service, std::string id, bool drained, api::Actor actor,
                              Reply<api::WriteResult> reply) {
  write_override(std::move(service), std::move(id), drained ? "drain" : "undrain",
                 std::move(actor),
                 [drained](registry::InstanceOverride value) {
                   value.drained = drained;
                   return value;
                 },
                 std::move(reply));
}

void RegistryApi::set_weight(std::string service, std::string id,
                             std::optional<std::uint16_t> weight, api::Actor actor,
                             Reply<api::WriteResult> reply) {
  write_override(std::move(service), std::move(id), "weight", std::move(actor),
                 [weight](registry::InstanceOverride value) {
                   value.weight = weight;
                   return value;
                 },
                 std::move(reply));
}

void RegistryApi::deregister(std::string service, std::string id, api::Actor actor,
                             Reply<api::WriteResult> reply) {
  publisher_.post([this, service = std::move(service), id = std::move(id),
                   actor = std::move(actor), reply = std::move(reply)](registry::Store& store) {
    api::WriteResult result;
    const auto source = store.source_of(service, id);
    if (!source) {
      result.status = api::WriteStatus::not_found;
      result.message = "no instance " + id + " of service " + service;
    } else if (*source == Source::config) {
      result.status = api::WriteStatus::conflict;
      result.message = "instance " + id + " of " + service +
                       " is declared in the server's config: remove it there";
    } else if (std::string down = backend_down(); !down.empty()) {
      result.status = api::WriteStatus::backend_down;
      result.message = "the registry backend cannot keep the change now: " + down;
    }
    if (result.status != api::WriteStatus::ok) return reply(std::move(result));
    if (!receiver_.deregister({service, id}, store)) store.remove_instance(service, id);
    log_audit("deregister", {{"service", service}, {"id", id}, {"who", actor.who},
                             {"from", actor.address}});
    answer_when_published(store, std::move(result), std::move(reply));
  });
}

}  // namespace signpost::dns::daemon
