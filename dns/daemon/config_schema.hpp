// signpostd's configuration schema: the option table (config_options.cpp) read by the
// config engine into a Config (config.cpp). Internal to dns/daemon.
#pragma once

#include <cstdint>
#include <vector>

#include "dns/daemon/config.hpp"
#include "registry/config/option.hpp"
#include "registry/config/schema.hpp"

namespace signpost::dns::daemon::schema {

using config::Invalid;
using config::Kind;
using config::kMaxInt;
using config::Option;
using config::StringList;
using config::StringMap;
using config::Value;

struct ServiceDraft {
  registry::Service service;
  std::uint16_t port = 0;  // default port of its instances; 0 = not given
};

// What a setter writes to: the config, or the [[service]] / [[service.instance]] being read.
struct Target {
  Config* config = nullptr;
  ServiceDraft* service = nullptr;
  registry::Instance* instance = nullptr;
  KeyConfig* key = nullptr;
  xfr::TransferPolicy* transfer = nullptr;
};

// [[transfer]]'s setters (transfer_config.cpp).
void set_transfer_zone(Target& target, const Value& value);
void set_transfer_allow(Target& target, const Value& value);
void set_transfer_key(Target& target, const Value& value);
void set_transfer_notify(Target& target, const Value& value);
void set_transfer_notify_interval(Target& target, const Value& value);

/// Every option, declared once, in the order of the reference.
const std::vector<Option>& options();
/// signpostd.toml's sections ([server], [dns], [health], [registry], [log], [[key]],
/// [[service]], [[service.instance]]) and options().
const config::Schema& config_schema();

}  // namespace signpost::dns::daemon::schema
