// A heartbeat receiver on svc.internal. with its registry thread running, for tests that send
// it real UPDATEs (the agent's messages, replies, retries).
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "health/heartbeat_receiver.hpp"
#include "registry/publisher.hpp"

namespace signpost::testing {

/// The publisher (started, no batch delay) and a receiver with `keys`, leases 1 s to
/// `max_lease`. Test thread.
struct ReceiverRig {
  explicit ReceiverRig(std::vector<health::TsigKey> keys,
                       std::chrono::seconds max_lease = std::chrono::seconds(600))
      : ReceiverRig(std::move(keys), receiver_settings(max_lease)) {}
  /// The same with settings of the test's own (self-preservation, ticks); start from
  /// receiver_settings().
  ReceiverRig(std::vector<health::TsigKey> keys, health::ReceiverSettings settings)
      : publisher(publisher_settings(), {}, nullptr, nullptr),
        receiver(std::move(settings), std::move(keys), publisher, [](const std::string&) {}) {
    publisher.start();
  }

  static registry::Publisher::Settings publisher_settings() {
    registry::Publisher::Settings settings;
    const std::string domain("\x03svc\x08internal\x00", 14);
    settings.apex.domain = domain;
    settings.build.domain = domain;
    settings.batch_delay = std::chrono::milliseconds(0);
    return settings;
  }
  static health::ReceiverSettings receiver_settings(std::chrono::seconds max_lease) {
    health::ReceiverSettings settings;
    settings.domain = "svc.internal.";
    settings.leases.min_lease = std::chrono::seconds(1);
    settings.leases.max_lease = max_lease;
    return settings;
  }

  registry::Publisher publisher;
  health::HeartbeatReceiver receiver;
};

}  // namespace signpost::testing
