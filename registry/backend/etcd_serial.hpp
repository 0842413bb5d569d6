// The registry zone's serial kept in etcd: the highest one the servers of a cluster published.
//
// Design. One key, `<prefix>serial`, beside `<prefix>instances/`, holds the serial as decimal
// text. It is only ever raised: a raise reads the key and, when its serial is greater (RFC 1982
// §3.2, so the wrap in 2106 is no step back), writes it in a transaction that puts it only if
// the key's mod_revision is still the one read, and otherwise reads the key again, so a server
// that lost a race learns the winner's serial in the same round trip. Comparing revisions
// rather than values keeps the comparison in serial arithmetic, which etcd's byte-wise compare
// of values would not do. Reading first costs a round trip but no Raft proposal, where a
// failed guarded write costs one: a server whose serial is below the cluster's writes
// nothing. A server reads the key at start and begins past it (first_serial), so a restart
// after a burst of publishes, or a server that joins a cluster whose serials ran ahead of
// the clock, never serves a serial lower than one a secondary has already seen from the
// cluster.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "registry/backend/etcd/etcd_client.hpp"
#include "registry/log/log.hpp"

namespace signpost::registry::backend {

/// The serial in `<prefix>serial`. Keeps nothing of the key between calls: any thread.
class EtcdSerial {
 public:
  /// Writes through `client` (which must outlive this) to `key`. Does no I/O.
  EtcdSerial(etcd::EtcdClient& client, std::string key, Log log);

  /// The serial etcd holds, 0 when the key is absent or holds no serial (logged). Blocks at
  /// most the client's request timeout; allocates; throws etcd::EtcdError.
  std::uint32_t read() const;

  /// Makes the key hold `serial`, unless it holds a greater or equal one (RFC 1982): a read,
  /// then a guarded write, a few when other servers write at the same moment. Returns false
  /// when they kept winning (the caller tries again later). Blocks at most a few request
  /// timeouts; allocates; throws etcd::EtcdError.
  bool raise(std::uint32_t serial) const;

  /// The key, `<prefix>serial`.
  const std::string& key() const { return key_; }

  /// The serial as the key holds it (decimal), and back: nullopt for anything else. Any
  /// thread; parse allocates nothing.
  static std::string encode(std::uint32_t serial);
  static std::optional<std::uint32_t> parse(std::string_view text) noexcept;

 private:
  std::optional<std::uint32_t> parse_logged(const etcd::KeyValue& kv) const;

  etcd::EtcdClient& client_;
  const std::string key_;
  const Log log_;
};

}  // namespace signpost::registry::backend
