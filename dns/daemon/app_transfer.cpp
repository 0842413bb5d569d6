// signpostd's wiring of zone transfer out: [[transfer]] into the transfer service.
#include "dns/daemon/app.hpp"

#include "dns/wire/name.hpp"

namespace signpost::dns::daemon {

void App::start_transfers() {
  if (config_.transfers.empty()) return;  // every AXFR and IXFR is REFUSED
  xfr::TransferSettings settings;
  settings.policies = config_.transfers;
  for (const KeyConfig& key : config_.keys) {
    settings.keys.push_back(health::make_tsig_key(key.name, key.algorithm, key.secret, key.allow));
  }
  const registry::SnapshotPtr snapshot = publisher_->current();
  for (const xfr::TransferPolicy& policy : settings.policies) {
    const zone::Zone* zone = snapshot->find_zone(std::string_view(policy.zone));
    if (zone == nullptr || zone->origin() != policy.zone) {
      log_line(LogLevel::warning, "[[transfer]] zone " + policy.zone_text +
                                      " is not served (neither dns.domain nor a zone in "
                                      "dns.zones_dir): its transfers are REFUSED");
    }
  }
  std::lock_guard lock(workers_mutex_);  // deliver() hands it snapshots from now on
  transfers_ = std::make_unique<xfr::TransferServer>(
      std::move(settings), [](const std::string& message) { log_line(LogLevel::warning, message); });
  transfers_->published(snapshot);
  transfers_->start();
  log_line(LogLevel::info, "zone transfer out for " + std::to_string(config_.transfers.size()) +
                               " zone(s)");
}

}  // namespace signpost::dns::daemon
