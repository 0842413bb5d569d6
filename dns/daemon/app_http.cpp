// signpostd's operator surface: the HTTP API, the status page and /metrics.
#include <chrono>

#include "dns/daemon/app.hpp"
#include "dns/daemon/server_metrics.hpp"
#include "registry/api/bearer_tokens.hpp"

namespace signpost::dns::daemon {

// The API, the status page and /metrics, when [http] listen names an address. Its reads and
// writes run on the registry thread; nothing of it touches the workers.
void App::start_http() {
  if (config_.http_listen.empty()) return;
  registry::api::HttpSettings settings;
  for (const ListenAddress& listen : config_.http_listen) {
    settings.listen.emplace_back(listen.address, listen.port);
  }
  if (!config_.http_token_file.empty()) {
    try {
      settings.tokens = registry::api::read_token_file(config_.http_token_file);
    } catch (const std::exception& e) {
      throw ConfigError(config_.source + ": key 'http.token_file': " + e.what());
    }
  }
  RegistryApi::Backend backend;
  backend.kind = config_.backend;
  if (etcd_) {
    backend.etcd = etcd_.get();
    for (const std::string& endpoint : config_.etcd_endpoints) {
      backend.detail += (backend.detail.empty() ? "etcd " : ", ") + endpoint;
    }
  } else {
    backend.detail = config_.state_file.empty() ? "no state file" : "state file " + config_.state_file;
  }
  auto api = std::make_unique<RegistryApi>(*publisher_, *receiver_, std::move(backend),
                                           [this](const registry::Store& store) {
                                             return render_server_metrics(store);
                                           });
  auto http = std::make_unique<registry::api::HttpServer>(
      std::move(settings), *api,
      [](LogLevel level, const std::string& message) { log_line(level, message); });
  http->start();
  std::string where;
  for (const auto& endpoint : http->bound()) {
    const std::string address = endpoint.address().to_string();
    const std::string host = endpoint.address().is_v6() ? "[" + address + "]" : address;
    where += (where.empty() ? "http://" : ", http://") + host + ":" +
             std::to_string(endpoint.port()) + "/";
  }
  log_line(LogLevel::info, "HTTP API and status page on " + where +
                               (config_.http_token_file.empty()
                                    ? "; writes refused (no http.token_file)"
                                    : "; writes need a token of " + config_.http_token_file));
  std::lock_guard lock(workers_mutex_);
  api_ = std::move(api);
  http_ = std::move(http);
}

std::string App::render_server_metrics(const registry::Store& store) const {
  MetricsSources sources;
  sources.workers = &workers_;
  sources.tcp_limit = &tcp_limit_;
  sources.receiver = receiver_.get();
  sources.publisher = publisher_.get();
  sources.etcd = etcd_.get();
  sources.store = &store;
  sources.forward = forwarder_ ? &forwarder_->counters() : nullptr;
  xfr::TransferCounters transfers;
  if (transfers_) {
    transfers = transfers_->counters();
    sources.transfers = &transfers;
  }
  sources.uptime_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  return render_metrics(sources);
}

}  // namespace signpost::dns::daemon
