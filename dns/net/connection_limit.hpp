// The limits on open DNS-over-TCP connections: in total, and from any one client address.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>

#include "dns/answer/cookie.hpp"

namespace signpost::dns::net {

/// A client's IP address as a key: an IPv4 address in its IPv4-mapped IPv6 form
/// (RFC 4291 §2.5.5.2), so that both families share one table.
using ClientAddress = answer::ClientAddress;

/// The server-wide limits on open TCP connections that every worker shares (RFC 7766 §6.2.2
/// lets a server limit them in total and per client address): at most `max` in total
/// (server.tcp_max_clients) and at most `max_per_client` from any one client address
/// (server.tcp_max_per_client), so that one client cannot take the whole table and starve
/// the others. §6.2.2 asks for a loose per-address limit, since one address may be many
/// clients behind a NAT; the default, 64, is that. An IPv6 client is counted by its /64:
/// one host is commonly given a whole /64 and can open connections from as many addresses
/// of it as it likes, so a per-address count would not hold it (RFC 7707 §2).
///
/// Design. The counts live in one small map under a mutex. It is taken only when a
/// connection is accepted or closed, never per message, and connections are few next to
/// UDP queries. The map holds only addresses with a connection open, so it never has more
/// than `max` entries. Any thread.
class ConnectionLimit {
 public:
  /// What try_acquire decided.
  enum class Admission {
    accepted,     // the caller holds a slot until it calls release
    server_full,  // `max` connections are open (or a new address could not be noted)
    client_full,  // `max_per_client` connections from this address are open
  };

  /// Control thread.
  ConnectionLimit(std::size_t max, std::size_t max_per_client);
  ConnectionLimit(const ConnectionLimit&) = delete;
  ConnectionLimit& operator=(const ConnectionLimit&) = delete;

  /// Takes a slot for a connection from `client`, unless a limit is reached. noexcept;
  /// allocates the entry of an address that has no connection open yet.
  Admission try_acquire(const ClientAddress& client) noexcept;
  /// Gives back the slot a connection from `client` took. noexcept; no allocation.
  void release(const ClientAddress& client) noexcept;

  /// The limits, as configured.
  std::size_t max() const noexcept { return max_; }
  std::size_t max_per_client() const noexcept { return max_per_client_; }
  /// Connections open now, in total and from `client` (its /64 for IPv6). For tests and
  /// messages.
  std::size_t open() const noexcept;
  std::size_t open_from(const ClientAddress& client) const noexcept;
  /// Client addresses with a connection open now.
  std::size_t clients() const noexcept;

 private:
  // Keyed with a random seed: clients choose their addresses, and must not be able to
  // choose ones that all land in one bucket.
  struct AddressHash {
    std::uint64_t seed = 0;
    std::size_t operator()(const ClientAddress& address) const noexcept;
  };

  const std::size_t max_;
  const std::size_t max_per_client_;
  mutable std::mutex mutex_;
  // Guarded by mutex_: connections open in total, and from each address with any open.
  std::size_t open_ = 0;
  std::unordered_map<ClientAddress, std::size_t, AddressHash> by_client_;
};

}  // namespace signpost::dns::net
