// The registry's data model.
#include "registry/model.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace signpost::registry {

namespace {

bool is_ldh(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

// Names below the registry domain that services may not take.
constexpr std::array<std::string_view, 2> kReservedServices{"node", "ns"};

void normalize_labels(std::string_view what, std::vector<std::string>& labels) {
  for (std::string& label : labels) label = normalize_label(what, label);
  std::sort(labels.begin(), labels.end());
  labels.erase(std::unique(labels.begin(), labels.end()), labels.end());
}

// PackedInstance::extra: an instance's addresses, tags and metadata: for each of the four lists
// a 16-bit count, then the items; addresses as their octets, strings with a 16-bit length.
void put_u16(std::string& out, std::size_t value) {
  out.push_back(static_cast<char>(value >> 8));
  out.push_back(static_cast<char>(value & 0xFF));
}

void put_text(std::string& out, std::string_view text) {
  put_u16(out, text.size());
  out.append(text);
}

template <typename Address>
void put_addresses(std::string& out, const std::vector<Address>& addresses) {
  put_u16(out, addresses.size());
  for (const Address& a : addresses) out.append(reinterpret_cast<const char*>(a.data()), a.size());
}

// Reads back what the put_ functions wrote; the input is always a pack() result.
class Unpacker {
 public:
  explicit Unpacker(std::string_view in) : in_(in) {}
  std::size_t u16() {
    const auto value = static_cast<std::size_t>((static_cast<unsigned char>(in_[0]) << 8) |
                                                static_cast<unsigned char>(in_[1]));
    in_.remove_prefix(2);
    return value;
  }
  std::string text() { return std::string(take(u16())); }
  template <typename Address>
  std::vector<Address> addresses() {
    std::vector<Address> out(u16());
    for (Address& a : out) std::memcpy(a.data(), take(a.size()).data(), a.size());
    return out;
  }

 private:
  std::string_view take(std::size_t n) {
    const std::string_view out = in_.substr(0, n);
    in_.remove_prefix(n);
    return out;
  }
  std::string_view in_;
};

}  // namespace

PackedInstance PackedInstance::pack(const Instance& instance) {
  PackedInstance out;
  out.node = instance.node;
  put_addresses(out.extra, instance.ipv4);
  put_addresses(out.extra, instance.ipv6);
  put_u16(out.extra, instance.tags.size());
  for (const std::string& tag : instance.tags) put_text(out.extra, tag);
  put_u16(out.extra, instance.meta.size());
  for (const auto& [key, value] : instance.meta) {
    put_text(out.extra, key);
    put_text(out.extra, value);
  }
  out.max_ttl = instance.max_ttl;
  out.port = instance.port;
  out.priority = instance.priority;
  out.weight = instance.weight;
  out.health = instance.health;
  out.source = instance.source;
  return out;
}

Instance PackedInstance::unpack(std::string service, std::string id) const {
  Instance out;
  out.id = std::move(id);
  out.service = std::move(service);
  out.node = node;
  Unpacker in(extra);
  out.ipv4 = in.addresses<Ipv4>();
  out.ipv6 = in.addresses<Ipv6>();
  out.tags.resize(in.u16());
  for (std::string& tag : out.tags) tag = in.text();
  out.meta.resize(in.u16());
  for (auto& [key, value] : out.meta) {
    key = in.text();
    value = in.text();
  }
  out.max_ttl = max_ttl;
  out.port = port;
  out.priority = priority;
  out.weight = weight;
  out.health = health;
  out.source = source;
  return out;
}

std::string normalize_label(std::string_view what, std::string_view label) {
  std::string out(label);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; });
  const auto fail = [&](std::string_view why) {
    throw RegistryError(std::string(what) + " '" + std::string(label) + "' " + std::string(why));
  };
  if (out.empty()) fail("is empty");
  if (out.size() > 63) fail("is longer than 63 characters (a DNS label)");
  if (!std::all_of(out.begin(), out.end(), is_ldh)) {
    fail("may contain only letters, digits and hyphens (a DNS label)");
  }
  if (out.front() == '-' || out.back() == '-') fail("may not start or end with a hyphen");
  return out;
}

void validate(Service& service) {
  service.name = normalize_label("service name", service.name);
  if (std::find(kReservedServices.begin(), kReservedServices.end(), service.name) !=
      kReservedServices.end()) {
    throw RegistryError("service name '" + service.name + "' is reserved");
  }
  normalize_labels("tag", service.tags);
}

void validate(Instance& instance) {
  instance.id = normalize_label("instance id", instance.id);
  instance.service = normalize_label("service name", instance.service);
  instance.node = normalize_label("node name", instance.node);
  normalize_labels("tag", instance.tags);
  if (instance.ipv4.empty() && instance.ipv6.empty()) {
    throw RegistryError("instance '" + instance.id + "' of service '" + instance.service +
                        "' has no address");
  }
  for (const auto& [key, value] : instance.meta) {
    if (key.empty() || key.find('=') != std::string::npos || key.size() + value.size() + 1 > 255) {
      throw RegistryError("metadata key '" + key + "' of instance '" + instance.id +
                          "' is empty, contains '=' or is too long for a TXT string");
    }
  }
}

std::string_view to_string(Protocol protocol) noexcept {
  return protocol == Protocol::tcp ? "tcp" : "udp";
}

std::string_view to_string(Health health) noexcept {
  switch (health) {
    case Health::passing: return "passing";
    case Health::warning: return "warning";
    default: return "critical";
  }
}

std::optional<Protocol> parse_protocol(std::string_view text) noexcept {
  if (text == "tcp") return Protocol::tcp;
  if (text == "udp") return Protocol::udp;
  return std::nullopt;
}

std::optional<Health> parse_health(std::string_view text) noexcept {
  if (text == "passing") return Health::passing;
  if (text == "warning") return Health::warning;
  if (text == "critical") return Health::critical;
  return std::nullopt;
}

bool parse_address(std::string_view text, Instance& into) {
  const std::string s(text);
  Ipv4 v4{};
  if (inet_pton(AF_INET, s.c_str(), v4.data()) == 1) {
    into.ipv4.push_back(v4);
    return true;
  }
  Ipv6 v6{};
  if (inet_pton(AF_INET6, s.c_str(), v6.data()) == 1) {
    into.ipv6.push_back(v6);
    return true;
  }
  return false;
}

}  // namespace signpost::registry
