// What the host says about itself: its name and its interfaces' addresses, the defaults of
// agent.node and agent.addresses.
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <climits>

#include "health/agent/agent_config.hpp"

namespace signpost::health::agent {

namespace {

// Loopback never reaches another host, and an IPv6 link-local address needs a scope that a
// AAAA record cannot carry.
bool usable(const sockaddr* address) {
  if (address->sa_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(address);
    return (ntohl(v4->sin_addr.s_addr) >> 24) != 127;
  }
  if (address->sa_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address);
    return !IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr) && !IN6_IS_ADDR_LINKLOCAL(&v6->sin6_addr) &&
           !IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr);
  }
  return false;
}

std::string text_of(const sockaddr* address) {
  char text[INET6_ADDRSTRLEN] = {};
  if (address->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(address)->sin_addr, text, sizeof text);
  } else {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr, text,
              sizeof text);
  }
  return text;
}

}  // namespace

HostFacts read_host_facts() {
  HostFacts facts;
  char name[HOST_NAME_MAX + 1] = {};
  if (gethostname(name, sizeof name - 1) == 0) facts.host_name = name;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return facts;
  for (const ifaddrs* entry = list; entry != nullptr; entry = entry->ifa_next) {
    if (entry->ifa_addr == nullptr || (entry->ifa_flags & IFF_UP) == 0 ||
        (entry->ifa_flags & IFF_LOOPBACK) != 0 || !usable(entry->ifa_addr)) {
      continue;
    }
    std::string text = text_of(entry->ifa_addr);
    if (std::find(facts.addresses.begin(), facts.addresses.end(), text) == facts.addresses.end()) {
      facts.addresses.push_back(std::move(text));
    }
  }
  freeifaddrs(list);
  return facts;
}

}  // namespace signpost::health::agent
