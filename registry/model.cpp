// The registry's data model.
#include "registry/model.hpp"

#include <arpa/inet.h>

#include <algorithm>

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

}  // namespace

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
