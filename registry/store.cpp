// The registry store.
#include "registry/store.hpp"

#include <algorithm>
#include <cstring>
#include <string_view>

#include "dns/wire/types.hpp"
#include "dns/wire/rrset.hpp"

namespace signpost::registry {

namespace {

std::vector<const Instance*> pointers(const std::vector<Instance>& instances) {
  std::vector<const Instance*> out;
  out.reserve(instances.size());
  for (const Instance& i : instances) out.push_back(&i);
  return out;
}

}  // namespace

Store::Store(BuildSettings settings) : settings_(std::move(settings)) {}

Store::Services::value_type& Store::entry_for(const std::string& name, Protocol protocol) {
  auto [it, added] = services_.try_emplace(name);
  if (added) {
    it->second.service.name = name;
    it->second.service.protocol = protocol;
    types_dirty_ = true;
    dirty_services_.insert(name);
  } else if (it->second.service.protocol != protocol) {
    throw RegistryError("service '" + name + "' is registered as " +
                        std::string(to_string(it->second.service.protocol)) + ", not " +
                        std::string(to_string(protocol)));
  }
  return *it;
}

void Store::touch(const std::string& service, const std::string& node) {
  dirty_services_.insert(service);
  dirty_nodes_.insert(node);
}

void Store::put_service(Service service) {
  validate(service);
  const auto it = services_.find(service.name);
  if (it != services_.end() && it->second.service.protocol != service.protocol) {
    types_dirty_ = true;
  }
  ServiceEntry& entry = services_[service.name];
  if (entry.service.name.empty()) types_dirty_ = true;
  entry.service = std::move(service);
  entry.declared = true;
  dirty_services_.insert(entry.service.name);
}

bool Store::put_instance(Instance instance, std::optional<Protocol> protocol) {
  validate(instance);
  if (!protocol) {
    const auto existing = services_.find(instance.service);
    protocol = existing != services_.end() ? existing->second.service.protocol : Protocol::tcp;
  }
  auto& [service, entry] = entry_for(instance.service, *protocol);
  Packed packed = Packed::pack(instance);
  auto it = entry.instances.find(instance.id);
  if (it != entry.instances.end()) {
    if (it->second == packed) return false;
    --source_counts_[static_cast<std::size_t>(it->second.source)];
    ++source_counts_[static_cast<std::size_t>(packed.source)];
    count_health(entry, it->second.health, -1);
    count_health(entry, packed.health, +1);
    const bool moves = it->second.node != packed.node;
    if (moves) {
      dirty_nodes_.insert(it->second.node);
      leave_node(*it);
    }
    it->second = std::move(packed);
    if (moves) nodes_[it->second.node].push_back({&service, &*it});
  } else {
    ++instance_count_;
    ++source_counts_[static_cast<std::size_t>(packed.source)];
    count_health(entry, packed.health, +1);
    it = entry.instances.emplace(std::move(instance.id), std::move(packed)).first;
    nodes_[it->second.node].push_back({&service, &*it});
  }
  touch(service, it->second.node);
  return true;
}

void Store::leave_node(const Instances::value_type& stored) {
  const auto on_node = nodes_.find(stored.second.node);
  if (on_node == nodes_.end()) return;
  std::erase_if(on_node->second, [&](const OnNode& member) { return member.instance == &stored; });
  if (on_node->second.empty()) nodes_.erase(on_node);
}

void Store::drop_if_unused(const std::string& service) {
  const auto it = services_.find(service);
  if (it != services_.end() && it->second.instances.empty() && !it->second.declared) {
    services_.erase(it);
    types_dirty_ = true;
  }
}

bool Store::remove_instance(const std::string& service, const std::string& id) {
  const auto entry = services_.find(service);
  if (entry == services_.end()) return false;
  const auto it = entry->second.instances.find(id);
  if (it == entry->second.instances.end()) return false;
  touch(service, it->second.node);
  leave_node(*it);
  --source_counts_[static_cast<std::size_t>(it->second.source)];
  count_health(entry->second, it->second.health, -1);
  if (const auto gone = entry->second.overrides.find(id); gone != entry->second.overrides.end()) {
    drained_count_ -= gone->second.drained ? 1 : 0;
    entry->second.overrides.erase(gone);
    --override_count_;
  }
  entry->second.instances.erase(it);
  --instance_count_;
  drop_if_unused(service);
  return true;
}

bool Store::set_override(const std::string& service, const std::string& id,
                         InstanceOverride value) {
  const auto entry = services_.find(service);
  if (entry == services_.end()) return false;
  const auto it = entry->second.instances.find(id);
  if (it == entry->second.instances.end()) return false;
  auto& overrides = entry->second.overrides;
  const auto existing = overrides.find(id);
  const InstanceOverride before = existing != overrides.end() ? existing->second : InstanceOverride{};
  if (before == value) return true;
  drained_count_ += (value.drained ? 1 : 0) - (before.drained ? 1 : 0);
  if (value.empty()) {
    overrides.erase(existing);
    --override_count_;
  } else if (existing == overrides.end()) {
    overrides.emplace(id, value);
    ++override_count_;
  } else {
    existing->second = value;
  }
  touch(service, it->second.node);
  return true;
}

InstanceOverride Store::override_of(const std::string& service, const std::string& id) const {
  const auto entry = services_.find(service);
  if (entry == services_.end()) return {};
  const auto it = entry->second.overrides.find(id);
  return it == entry->second.overrides.end() ? InstanceOverride{} : it->second;
}

void Store::count_health(ServiceEntry& entry, Health health, int delta) noexcept {
  const auto index = static_cast<std::size_t>(health);
  entry.health_counts[index] += static_cast<std::uint32_t>(delta);
  health_counts_[index] += static_cast<std::size_t>(delta);
}

void Store::visit_services(
    const std::function<void(const Service&, const HealthCounts&)>& visit) const {
  for (const auto& [name, entry] : services_) visit(entry.service, entry.health_counts);
}

void Store::visit_overrides(
    Source source,
    const std::function<void(const std::string&, const std::string&, const InstanceOverride&)>&
        visit) const {
  for (const auto& [name, entry] : services_) {
    for (const auto& [id, value] : entry.overrides) {
      const auto instance = entry.instances.find(id);
      if (instance != entry.instances.end() && instance->second.source == source) {
        visit(name, id, value);
      }
    }
  }
}

std::vector<Instance> Store::answer_instances(const ServiceEntry& entry,
                                              const std::string& name) const {
  std::vector<Instance> instances;
  instances.reserve(entry.instances.size());
  auto override = entry.overrides.begin();
  for (const auto& [id, packed] : entry.instances) {
    instances.push_back(packed.unpack(name, id));
    // Both are in id order: one walk finds every override.
    while (override != entry.overrides.end() && override->first < id) ++override;
    if (override != entry.overrides.end() && override->first == id) {
      instances.back().weight = override->second.apply(instances.back().weight);
    }
  }
  return instances;
}

bool Store::set_health(const std::string& service, const std::string& id, Health health) {
  const auto entry = services_.find(service);
  if (entry == services_.end()) return false;
  const auto it = entry->second.instances.find(id);
  if (it == entry->second.instances.end() || it->second.health == health) return false;
  count_health(entry->second, it->second.health, -1);
  count_health(entry->second, health, +1);
  it->second.health = health;
  dirty_services_.insert(service);
  return true;
}

bool Store::set_max_ttl(const std::string& service, const std::string& id, std::uint32_t max_ttl) {
  const auto entry = services_.find(service);
  if (entry == services_.end()) return false;
  const auto it = entry->second.instances.find(id);
  if (it == entry->second.instances.end() || it->second.max_ttl == max_ttl) return false;
  it->second.max_ttl = max_ttl;
  touch(service, it->second.node);
  return true;
}

void Store::replace_source(Source source, std::vector<Service> services,
                           std::vector<Instance> instances) {
  for (Service& s : services) validate(s);
  for (Instance& i : instances) {
    validate(i);
    i.source = source;
  }
  // Only what differs is touched, so that a reload that changes nothing rebuilds nothing.
  std::set<std::pair<std::string, std::string>> kept;
  for (const Instance& i : instances) kept.emplace(i.service, i.id);
  std::set<std::string> declared;
  for (const Service& s : services) declared.insert(s.name);
  std::vector<std::pair<std::string, std::string>> stale;
  for (auto& [name, entry] : services_) {
    for (const auto& [id, instance] : entry.instances) {
      if (instance.source == source && !kept.contains({name, id})) stale.emplace_back(name, id);
    }
    if (source == Source::config && entry.declared && !declared.contains(name)) {
      entry.declared = false;
      dirty_services_.insert(name);
    }
  }
  for (const auto& [service, id] : stale) remove_instance(service, id);
  for (Service& s : services) {
    const auto it = services_.find(s.name);
    if (it == services_.end() || !it->second.declared || !(it->second.service == s)) {
      put_service(std::move(s));
    }
  }
  for (Instance& i : instances) put_instance(std::move(i));
  std::vector<std::string> names;
  for (const auto& [name, entry] : services_) names.push_back(name);
  for (const std::string& name : names) drop_if_unused(name);
}

std::optional<Instance> Store::find_instance(const std::string& service,
                                             const std::string& id) const {
  const auto entry = services_.find(service);
  if (entry == services_.end()) return std::nullopt;
  const auto it = entry->second.instances.find(id);
  if (it == entry->second.instances.end()) return std::nullopt;
  return it->second.unpack(entry->first, it->first);
}

void Store::visit_source(
    Source source,
    const std::function<void(const Service&, const std::string&, const PackedInstance&)>& visit)
    const {
  for (const auto& [name, entry] : services_) {
    for (const auto& [id, packed] : entry.instances) {
      if (packed.source == source) visit(entry.service, id, packed);
    }
  }
}

const Service* Store::find_service(const std::string& name) const {
  const auto it = services_.find(name);
  return it == services_.end() ? nullptr : &it->second.service;
}

std::vector<std::pair<Service, std::vector<Instance>>> Store::list() const {
  std::vector<std::pair<Service, std::vector<Instance>>> out;
  for (const auto& [name, entry] : services_) {
    std::vector<Instance> instances;
    for (const auto& stored : entry.instances) instances.push_back(stored.second.unpack(name, stored.first));
    out.emplace_back(entry.service, std::move(instances));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first.name < b.first.name; });
  return out;
}

std::shared_ptr<const RegistryView> Store::build_view(const RegistryView& previous) {
  auto view = std::make_shared<RegistryView>(previous);
  view->settings_ = std::make_shared<const BuildSettings>(settings_);
  decltype(view->services_)::Owned own_services;
  decltype(view->nodes_)::Owned own_nodes;
  for (const std::string& name : dirty_services_) {
    const auto it = services_.find(name);
    if (it == services_.end()) {
      view->services_.erase(name, own_services);
      continue;
    }
    const std::vector<Instance> instances = answer_instances(it->second, name);
    view->services_.set(name, build_service_records(it->second.service, pointers(instances), settings_),
                        own_services);
  }
  for (const std::string& node : dirty_nodes_) {
    const auto it = nodes_.find(node);
    if (it == nodes_.end() || it->second.empty()) {
      view->nodes_.erase(node, own_nodes);
      continue;
    }
    std::vector<Instance> instances;
    instances.reserve(it->second.size());
    for (const OnNode& member : it->second) {
      instances.push_back(member.instance->second.unpack(*member.service, member.instance->first));
      instances.back().weight = override_of(*member.service, member.instance->first)
                                    .apply(instances.back().weight);
    }
    auto records = build_node_records(pointers(instances), settings_);
    // A change of weight or health leaves the node's addresses as they were: keeping the
    // records spares copying their shard (a slot table and a reference count per node in it).
    const NodeRecords* current = view->nodes_.find(node);
    if (current != nullptr && *current == *records) continue;
    view->nodes_.set(node, std::move(records), own_nodes);
  }
  if (types_dirty_) {
    // Only adding or removing a service touches this O(services) set.
    auto types = std::make_shared<dns::wire::RRset>();
    types->type = dns::wire::rrtype::kPtr;
    std::vector<const Services::value_type*> sorted;  // one order for every build
    sorted.reserve(services_.size());
    for (const auto& service : services_) sorted.push_back(&service);
    std::sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) { return a->first < b->first; });
    for (const auto* service : sorted) {
      const auto& [name, entry] = *service;
      const std::string target = service_type_name(name, entry.service.protocol, settings_);
      dns::wire::append_record(*types, settings_.ttl,
                               {reinterpret_cast<const std::uint8_t*>(target.data()), target.size()});
    }
    view->service_types_ = std::move(types);
  }
  dirty_services_.clear();
  dirty_nodes_.clear();
  types_dirty_ = false;
  return view;
}


std::optional<Source> Store::source_of(const std::string& service, const std::string& id) const {
  const auto entry = services_.find(service);
  if (entry == services_.end()) return std::nullopt;
  const auto it = entry->second.instances.find(id);
  if (it == entry->second.instances.end()) return std::nullopt;
  return it->second.source;
}

void Store::visit_node(const std::string& node,
                       const std::function<bool(const std::string&, const Instance&)>& visit) const {
  const auto on_node = nodes_.find(node);
  if (on_node == nodes_.end()) return;
  for (const OnNode& member : on_node->second) {
    const auto& [id, packed] = *member.instance;
    if (!visit(*member.service, packed.unpack(*member.service, id))) return;
  }
}

std::size_t Store::node_size(const std::string& node) const {
  const auto on_node = nodes_.find(node);
  return on_node == nodes_.end() ? 0 : on_node->second.size();
}

std::vector<std::string> Store::instance_ids(const std::string& service) const {
  std::vector<std::string> out;
  const auto entry = services_.find(service);
  if (entry == services_.end()) return out;
  out.reserve(entry->second.instances.size());
  for (const auto& [id, packed] : entry->second.instances) out.push_back(id);
  return out;
}

std::size_t Store::service_size(const std::string& service) const {
  const auto entry = services_.find(service);
  return entry == services_.end() ? 0 : entry->second.instances.size();
}

}  // namespace signpost::registry
