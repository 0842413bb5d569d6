// The limits on open DNS-over-TCP connections.
#include "dns/net/connection_limit.hpp"

#include <cstring>
#include <new>
#include <random>

#include "dns/answer/client_prefix.hpp"
#include "dns/answer/order.hpp"

namespace signpost::dns::net {

namespace {

std::uint64_t random_seed() {
  std::random_device device;
  return (std::uint64_t{device()} << 32) | device();
}

// What a client is counted by: an IPv4 address whole, an IPv6 address by its /64.
ClientAddress counted(const ClientAddress& client) noexcept {
  if (answer::is_ipv4(client)) return client;
  ClientAddress prefix = client;
  answer::mask_client_address(prefix, 64);
  return prefix;
}

}  // namespace

std::size_t ConnectionLimit::AddressHash::operator()(const ClientAddress& address) const noexcept {
  std::uint64_t high;
  std::uint64_t low;
  std::memcpy(&high, address.data(), 8);
  std::memcpy(&low, address.data() + 8, 8);
  return static_cast<std::size_t>(answer::mix64(answer::mix64(seed ^ high) ^ low));
}

ConnectionLimit::ConnectionLimit(std::size_t max, std::size_t max_per_client)
    : max_(max), max_per_client_(max_per_client), by_client_(0, AddressHash{random_seed()}) {}

ConnectionLimit::Admission ConnectionLimit::try_acquire(const ClientAddress& address) noexcept {
  const ClientAddress client = counted(address);
  std::lock_guard lock(mutex_);
  if (open_ >= max_) return Admission::server_full;
  auto it = by_client_.find(client);
  const std::size_t from_client = it == by_client_.end() ? 0 : it->second;
  if (from_client >= max_per_client_) return Admission::client_full;
  if (it == by_client_.end()) {
    try {
      it = by_client_.try_emplace(client, 0).first;
    } catch (const std::bad_alloc&) {
      return Admission::server_full;  // no memory to note a new address: refuse, keep serving
    }
  }
  ++it->second;
  ++open_;
  return Admission::accepted;
}

void ConnectionLimit::release(const ClientAddress& address) noexcept {
  std::lock_guard lock(mutex_);
  const auto it = by_client_.find(counted(address));
  if (it == by_client_.end()) return;  // not acquired: nothing to give back
  --open_;
  // The last connection from an address takes its entry along, so that the map holds only
  // addresses with connections open.
  if (--it->second == 0) by_client_.erase(it);
}

std::size_t ConnectionLimit::open() const noexcept {
  std::lock_guard lock(mutex_);
  return open_;
}

std::size_t ConnectionLimit::open_from(const ClientAddress& address) const noexcept {
  std::lock_guard lock(mutex_);
  const auto it = by_client_.find(counted(address));
  return it == by_client_.end() ? 0 : it->second;
}

std::size_t ConnectionLimit::clients() const noexcept {
  std::lock_guard lock(mutex_);
  return by_client_.size();
}

}  // namespace signpost::dns::net
