// The registry zone's serial kept in etcd.
#include "registry/backend/etcd_serial.hpp"

#include <charconv>
#include <utility>
#include <vector>

#include "dns/wire/serial.hpp"

namespace signpost::registry::backend {

namespace {

// Servers that write at the same moment make a guarded write fail; each failure brings the
// winner's serial, and one more attempt is enough unless yet another server wrote meanwhile.
constexpr int kAttempts = 4;

}  // namespace

EtcdSerial::EtcdSerial(etcd::EtcdClient& client, std::string key, Log log)
    : client_(client), key_(std::move(key)), log_(std::move(log)) {}

std::string EtcdSerial::encode(std::uint32_t serial) { return std::to_string(serial); }

std::optional<std::uint32_t> EtcdSerial::parse(std::string_view text) noexcept {
  if (text.empty() || text.size() > 10) return std::nullopt;
  std::uint32_t serial = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), serial);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return serial;
}

std::optional<std::uint32_t> EtcdSerial::parse_logged(const etcd::KeyValue& kv) const {
  const std::optional<std::uint32_t> serial = parse(kv.value);
  if (!serial) {
    // Only a foreign writer under our prefix puts anything else there: taken as no serial,
    // and the next raise() writes over it.
    log_(LogLevel::error, "etcd registry: key " + key_ + " holds no serial (" +
                              std::to_string(kv.value.size()) + " octets); ignored");
  }
  return serial;
}

std::uint32_t EtcdSerial::read() const {
  const etcd::RangeResult result = client_.range(key_);
  if (result.kvs.empty()) return 0;
  return parse_logged(result.kvs.front()).value_or(0);
}

bool EtcdSerial::raise(std::uint32_t serial) const {
  // Read first: a read is no Raft proposal, while a guarded write whose guard fails is one.
  // So a server whose serial is not the cluster's highest costs etcd nothing.
  etcd::RangeResult read = client_.range(key_);
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    const etcd::KeyValue* kv = read.kvs.empty() ? nullptr : &read.kvs.front();
    const std::optional<std::uint32_t> stored = kv != nullptr ? parse_logged(*kv) : std::nullopt;
    if (stored && !dns::wire::serial_greater(serial, *stored)) return true;
    // mod_revision 0 compares equal only while the key is absent (etcd_types.hpp).
    etcd::Compare unchanged;
    unchanged.key = key_;
    unchanged.target = etcd::Compare::Target::mod_revision;
    unchanged.number = kv != nullptr ? kv->mod_revision : 0;
    etcd::TxnResult result = client_.txn({unchanged}, {etcd::TxnOp::put(key_, encode(serial))},
                                         {etcd::TxnOp::range(key_)});
    if (result.succeeded) return true;
    // Another server wrote between the read and the write: go on from what it wrote.
    read.kvs = result.ranges.empty() ? std::vector<etcd::KeyValue>{} : std::move(result.ranges[0]);
  }
  return false;
}

}  // namespace signpost::registry::backend
