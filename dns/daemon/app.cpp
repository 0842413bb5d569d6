// signpostd's wiring and signal handling.
#include "dns/daemon/app.hpp"

#include <arpa/inet.h>
#include <malloc.h>
#include <signal.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <random>
#include <thread>

#include "dns/daemon/default_config.hpp"
#include "dns/daemon/huge_pages.hpp"
#include "dns/wire/name.hpp"
#include "dns/zone/zone_loader.hpp"

namespace signpost::dns::daemon {

namespace {

std::size_t worker_count(const Config& config) {
  if (config.threads != 0) return config.threads;
  return std::max(1u, std::thread::hardware_concurrency());
}

registry::BuildSettings build_settings(const Config& config) {
  registry::BuildSettings settings;
  settings.domain = config.domain_wire;
  settings.ttl = config.ttl;
  settings.answer_limit = config.answer_limit;
  settings.warning_weight = config.warning_weight;
  settings.panic_threshold = config.panic_threshold;
  settings.round_robin_rows = config.order == answer::OrderMode::round_robin
                                  ? worker_count(config) * net::answer_rows(config.listen.size())
                                  : 0;
  return settings;
}

// The registry zone's SOA and NS; ns.<domain> gets the first listen address that a client
// can reach (a wildcard address cannot be handed out).
registry::RegistryZoneSettings apex_settings(const Config& config) {
  registry::RegistryZoneSettings apex;
  apex.domain = config.domain_wire;
  apex.ttl = config.ttl;
  apex.negative_ttl = config.negative_ttl;
  // Unix time as the first serial keeps serials growing across restarts (RFC 1982).
  apex.serial = static_cast<std::uint32_t>(std::time(nullptr));
  for (const ListenAddress& listen : config.listen) {
    if (listen.unspecified()) continue;
    std::vector<std::uint8_t> address(listen.ipv6 ? 16 : 4);
    inet_pton(listen.ipv6 ? AF_INET6 : AF_INET, listen.address.c_str(), address.data());
    apex.ns_addresses.push_back(std::move(address));
    break;
  }
  return apex;
}

// The static zones. A zones_dir that does not exist is an error naming the key, except for
// the embedded default config, which then serves the registry zone alone.
registry::Publisher::Settings publisher_settings(const Config& config) {
  registry::Publisher::Settings settings;  // with the publisher's own batch delay
  settings.build = build_settings(config);
  settings.apex = apex_settings(config);
  return settings;
}

std::vector<std::shared_ptr<const zone::Zone>> load_zones(const Config& config) {
  std::error_code error;
  if (!std::filesystem::is_directory(config.zones_dir, error)) {
    std::string where = "'" + config.zones_dir + "'";
    if (std::filesystem::path(config.zones_dir).is_relative()) {
      where += " (in " + std::filesystem::current_path(error).string() + ")";
    }
    if (config.source == kDefaultConfigSource) {
      log_line(LogLevel::warning, "no zone directory " + where + ": serving no static zones");
      return {};
    }
    throw ConfigError(config.source + ": key 'dns.zones_dir': " + where + " is not a directory");
  }
  return zone::load_zone_directory(config.zones_dir);
}

std::string zone_list(const std::vector<std::shared_ptr<const zone::Zone>>& zones) {
  std::string out;
  for (const auto& zone : zones) {
    out += (out.empty() ? "" : ", ") + wire::name_to_text(zone->origin());
  }
  return out.empty() ? "none" : out;
}

std::string registration_counts(const Config& config, std::string_view services) {
  return plural(config.services.size(), services) + ", " +
         plural(config.instances.size(), "instance");
}

// A job that replaces the static registrations with the config's. It takes them out of
// the config: once in the store, a second copy would only cost memory.
auto take_registrations(Config& config) {
  return [services = std::move(config.services), instances = std::move(config.instances)](
             registry::Store& store) mutable {
    store.replace_source(registry::Source::config, std::move(services), std::move(instances));
  };
}

// The options that differ between two configurations but only take effect at start-up.
std::string sealed_changes(const Config& running, const Config& next) {
  std::string out;
  for (const auto& [key, value] : next.sealed) {
    const auto it = running.sealed.find(key);
    if (it == running.sealed.end() || it->second != value) out += (out.empty() ? "" : ", ") + key;
  }
  return out;
}


}  // namespace

sigset_t handled_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  return set;
}

std::string check_config(Config config) {
  auto zones = load_zones(config);
  const std::string names = zone_list(zones);
  const std::string counts = registration_counts(config, "service");
  // The start-up path itself, minus the sockets: the first snapshot, then the
  // registrations, each of which throws on a conflict.
  registry::Publisher publisher(publisher_settings(config), std::move(zones), nullptr, nullptr);
  publisher.start();
  publisher.apply(take_registrations(config));
  publisher.stop();
  return config.source + ": OK (static zones: " + names + "; " + counts + ")";
}

App::App(Config config, std::string config_path)
    : config_(std::move(config)),
      config_path_(std::move(config_path)),
      tcp_limit_(config_.tcp_max_clients, config_.tcp_max_per_client) {
  // Signals are taken with sigtimedwait on the main thread; every thread started from here
  // on inherits the mask, so none of them is interrupted.
  const sigset_t signals = handled_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // A client that closes its TCP connection early must not kill the server.
  signal(SIGPIPE, SIG_IGN);
  log_line(LogLevel::info, "signpostd " SIGNPOST_VERSION " starting with " + config_.source);
  if (!open_state()) {
    stopped_early_ = true;
    return;
  }
  start_publisher();
  start_receiver();
  start_transfers();
  keep_state();
  share_registry();
  start_forwarder();
  bind_workers();
  start_http();
}

App::~App() { stop(); }

void App::start_publisher() {
  auto zones = load_zones(config_);
  log_line(LogLevel::info, "static zones from '" + config_.zones_dir + "': " + zone_list(zones));
  for (const auto& zone : zones) {
    if (zone->origin() == config_.domain_wire) {
      log_line(LogLevel::info, "the registry zone's apex records come from its zone file");
    }
  }
  registry::Publisher::Settings settings = publisher_settings(config_);
  // Serials only grow, across restarts too (RFC 1982): past the last one kept, in the state
  // file or in etcd. A secondary that had a serial the crash left unkept would take a lower
  // one for old news and keep stale data, so first_serial skips them with room to spare.
  const std::uint32_t clock = settings.apex.serial;
  const std::uint32_t kept = etcd_ ? etcd_loaded_.serial : saved_state_.serial;
  settings.apex.serial = registry::first_serial(clock, kept);
  if (settings.apex.serial != clock) {
    log_line(LogLevel::info, "registry zone serial starts at " +
                                 std::to_string(settings.apex.serial) + ", past the " +
                                 (etcd_ ? "cluster's" : "saved") + " serial " +
                                 std::to_string(kept));
  }
  if (settings.apex.ns_addresses.empty()) {
    log_line(LogLevel::warning, "ns." + config_.domain + " has no address record: every "
                                "server.listen address is a wildcard");
  }
  publisher_ = std::make_unique<registry::Publisher>(
      std::move(settings), std::move(zones),
      [this](registry::SnapshotPtr snapshot) { deliver(snapshot); },
      [](const std::string& message) { log_line(LogLevel::warning, message); });
  publisher_->start();
  const std::string counts = registration_counts(config_, "static service");
  publisher_->apply(take_registrations(config_));
  // Parsing the config and building the first registry leave much freed heap behind;
  // give it back to the system rather than keep it as resident memory.
  malloc_trim(0);
  log_line(LogLevel::info, "registry zone " + config_.domain + ": " + counts);
}

// Answers read the registry at random, so once it outgrows what the TLB maps with small
// pages its memory goes on huge pages (huge_pages.hpp). Until then this is tried again every
// ten seconds, quietly.
void App::use_huge_pages() {
  constexpr std::size_t kHugePagesFrom = std::size_t{8} << 20;
  const registry::SnapshotPtr snapshot = publisher_->current();
  const registry::RegistryView* view = snapshot ? snapshot->registry() : nullptr;
  if (view == nullptr) return;
  const HugePages pages = back_with_huge_pages(view, kHugePagesFrom);
  if (pages.small) return;
  huge_pages_settled_ = true;
  std::string line = "registry memory: " + std::to_string(pages.collapsed >> 20) + " MiB on huge pages";
  if (!pages.problem.empty()) line += "; " + pages.problem;
  log_line(LogLevel::info, line);  // without huge pages answers only cost a little more
}

void App::start_forwarder() {
  if (config_.forward_servers.empty()) return;
  forward::ForwardSettings settings;
  std::string servers;
  for (const ListenAddress& server : config_.forward_servers) {
    settings.servers.push_back(server.text());
    servers += (servers.empty() ? "" : ", ") + server.text();
  }
  settings.timeout = std::chrono::milliseconds(config_.forward_timeout_ms);
  settings.udp_payload = config_.udp_payload;
  try {
    forwarder_ = std::make_unique<forward::UpstreamForwarder>(std::move(settings));
  } catch (const forward::ForwardError& e) {
    throw ConfigError(config_.source + ": key 'forward.servers': " + e.what());
  }
  forwarder_->start();
  std::string clients;
  for (const answer::ClientPrefix& prefix : config_.forward_allow) {
    clients += (clients.empty() ? "" : ", ") + answer::client_prefix_text(prefix);
  }
  log_line(LogLevel::info, "forwarding names outside the served zones to " + servers +
                               " for clients in " + (clients.empty() ? "(none)" : clients));
}

namespace {

// 128 random bits, for a key that must not be guessed (cookie secret, rate-limit hash).
answer::SipKey random_key() {
  std::random_device source;
  answer::SipKey key{};
  for (std::size_t i = 0; i < key.size(); i += 4) {
    const std::uint32_t word = source();
    for (std::size_t j = 0; j < 4; ++j) key[i + j] = static_cast<std::uint8_t>(word >> (8 * j));
  }
  return key;
}

}  // namespace

void App::bind_workers() {
  const std::size_t count = worker_count(config_);
  // One secret for every thread: the kernel spreads a client's queries over the workers.
  const answer::SipKey cookie_secret =
      config_.cookie_secret_set ? config_.cookie_secret : random_key();
  if (!config_.cookies) {
    std::string line = "DNS Cookies off (dns.cookies = false): COOKIE options are ignored";
    if (config_.cookie_secret_set) line += "; dns.cookie_secret is unused";
    log_line(LogLevel::info, line);
  }
  if (config_.rrl.responses_per_second != 0) {
    const net::RateLimitSettings rrl{config_.rrl.responses_per_second, config_.rrl.slip,
                                     config_.rrl.ipv4_prefix, config_.rrl.ipv6_prefix};
    rate_limiter_ = std::make_unique<net::RateLimiter>(rrl, random_key());
    log_line(LogLevel::info, "response rate limiting: " +
                                 std::to_string(rrl.responses_per_second) +
                                 " UDP responses per second per client prefix, slip " +
                                 std::to_string(rrl.slip));
  }
  std::lock_guard lock(workers_mutex_);
  for (std::size_t i = 0; i < count; ++i) {
    net::WorkerSettings settings;
    settings.index = i;
    settings.first_row = i * net::answer_rows(config_.listen.size());
    settings.answer.udp_payload = config_.udp_payload;
    settings.answer.order = config_.order;
    settings.answer.forward = forwarder_ != nullptr;
    settings.answer.forward_allow = config_.forward_allow;
    settings.seed = config_.seed;
    settings.tcp_idle_timeout = std::chrono::seconds(config_.tcp_idle_timeout);
    settings.udp_receive_buffer = config_.udp_receive_buffer;
    settings.answer.cookies = config_.cookies;
    settings.answer.cookie_secret = cookie_secret;
    settings.rate_limiter = rate_limiter_.get();
    workers_.push_back(std::make_unique<net::Worker>(
        settings, publisher_->current(), tcp_limit_,
        [this](registry::SnapshotPtr old) { reclaim(std::move(old)); },
        [](const std::string& message) { log_line(LogLevel::warning, message); }));
    workers_.back()->set_update_handler(receiver_.get());
    workers_.back()->set_signed_query_handler(signed_queries_.get());
    workers_.back()->set_forwarder(forwarder_.get());
    workers_.back()->set_transfer_handler(transfers_.get());
  }
  for (const ListenAddress& listen : config_.listen) {
    net::ListenEndpoint endpoint{listen.address, listen.port};
    endpoint.port = net::reserve_port(endpoint);
    for (auto& worker : workers_) worker->listen(endpoint);
    endpoints_.push_back(endpoint);
  }
}

void App::announce() const {
  std::string where;
  for (const auto& endpoint : endpoints_) {
    where += (where.empty() ? "" : ", ") + net::endpoint_text(endpoint);
  }
  log_line(LogLevel::info, "serving DNS over UDP and TCP on " + where + " with " +
                               plural(workers_.size(), "worker"));
  const net::ListenEndpoint& first = endpoints_.front();
  std::string server = first.address;
  if (server == "0.0.0.0") server = "127.0.0.1";
  if (server == "::") server = "::1";
  std::string zone = config_.domain;
  zone.pop_back();  // dig takes the name without the final dot
  log_line(LogLevel::info, "try: dig @" + server + " -p " + std::to_string(first.port) + " " +
                               zone + " SOA");
}

int App::run() {
  if (stopped_early_) return 0;
  for (auto& worker : workers_) worker->start();
  announce();
  use_huge_pages();  // while the workers already answer: merging pages takes a moment
  const sigset_t signals = handled_signals();
  std::size_t freed_since_trim = 0;
  unsigned quiet_ticks = 0;
  for (unsigned tick_count = 1;; ++tick_count) {
    // Snapshots the workers let go of are freed here, ten times a second: each holds its own
    // copy of the shard tables (64 KB), and under a burst of registrations a second's worth
    // of them cost tens of megabytes.
    const timespec tick{0, 100'000'000};
    const int received = sigtimedwait(&signals, nullptr, &tick);
    const std::size_t freed = free_reclaimed();
    freed_since_trim += freed;
    quiet_ticks = freed != 0 ? 0 : quiet_ticks + 1;
    // The heap the changes left free goes back to the system (a few milliseconds of this
    // thread's time) once the registry has been quiet for a second, and every ten seconds
    // while it keeps changing. A burst of registrations rebuilds its services' records
    // again and again, and malloc keeps what they freed for itself: after registering 50,000
    // instances that was half the RSS.
    if (freed_since_trim != 0 && (quiet_ticks == 10 || tick_count % 100 == 0)) {
      malloc_trim(0);
      freed_since_trim = 0;
    }
    if (tick_count % 100 == 0 && !huge_pages_settled_) use_huge_pages();
    if (received == SIGHUP) {
      reload();
    } else if (received == SIGINT || received == SIGTERM) {
      log_line(LogLevel::info,
               std::string("stopping on ") + (received == SIGINT ? "SIGINT" : "SIGTERM"));
      break;
    }
  }
  stop();
  log_counters();
  log_line(LogLevel::info, "stopped");
  return 0;
}

// Re-reads the configuration. Everything is loaded and checked before anything changes,
// so a bad file keeps the running data.
void App::reload() {
  const std::string source = config_path_.empty() ? config_.source : config_path_;
  log_line(LogLevel::info, "SIGHUP: reloading " + source);
  try {
    Config next = config_path_.empty() ? default_config() : load_config_file(config_path_);
    auto zones = load_zones(next);
    const registry::Snapshot conflicts(zones, 0);  // two files with one zone: throws
    const std::string counts = registration_counts(next, "static service");
    publisher_->reload(zones, take_registrations(next));
    if (const std::string sealed = sealed_changes(config_, next); !sealed.empty()) {
      log_line(LogLevel::warning, "changes to " + sealed + " take effect only after a restart");
    }
    config_.zones_dir = next.zones_dir;
    log_line(LogLevel::info, "reloaded: static zones " + zone_list(zones) + "; " + counts);
  } catch (const std::exception& e) {
    log_line(LogLevel::error, std::string("reload failed, keeping the running data: ") + e.what());
  }
  malloc_trim(0);  // what parsing the new config left behind (see start_publisher)
  use_huge_pages();
}

void App::deliver(const registry::SnapshotPtr& snapshot) {
  std::lock_guard lock(workers_mutex_);
  for (auto& worker : workers_) worker->publish(snapshot);
  if (transfers_) transfers_->published(snapshot);
  if (etcd_) etcd_->note_serial(snapshot->registry_zone()->serial());
  if (api_) {
    const std::uint32_t serial = snapshot->registry_zone()->serial();
    api_->published(serial);
    http_->serial_changed(serial);
  }
}

void App::reclaim(registry::SnapshotPtr snapshot) {
  std::lock_guard lock(reclaimed_mutex_);
  reclaimed_.push_back(std::move(snapshot));
}

std::size_t App::free_reclaimed() {
  std::vector<registry::SnapshotPtr> old;
  {
    std::lock_guard lock(reclaimed_mutex_);
    old.swap(reclaimed_);
  }
  return old.size();  // `old` goes out of scope here, outside the lock, on the main thread
}

void App::stop() {
  if (http_) http_->stop();  // no more API work for the registry thread
  if (receiver_) receiver_->stop();
  if (etcd_) etcd_->stop();  // no more watch events for the registry thread
  save_final_state();
  if (publisher_) publisher_->stop();
  for (auto& worker : workers_) worker->stop();
  if (forwarder_) forwarder_->stop();  // after the workers: nothing is handed in any more
  if (transfers_) transfers_->stop();  // after the workers: no more requests
}

void App::log_counters() const {
  answer::AnswerCounters answers;
  net::NetCounters net;
  for (const auto& worker : workers_) {
    answers += worker->answer_counters();
    net += worker->net_counters();
  }
  log_line(LogLevel::info,
           "served " + std::to_string(answers.queries()) + " queries (" +
               std::to_string(answers.with_rcode(wire::rcode::kNxDomain)) + " nxdomain, " +
               std::to_string(answers.with_rcode(wire::rcode::kRefused)) + " refused, " +
               std::to_string(answers.truncated) + " truncated, " +
               std::to_string(answers.dropped) + " dropped, " +
               std::to_string(answers.signed_queries) + " signed, " +
               std::to_string(answers.with_rcode(wire::rcode::kNotAuth)) +
               " refused for their TSIG); UDP: " +
               std::to_string(net.udp_received) + " received, " +
               std::to_string(net.udp_send_failed) + " unsent; TCP: " +
               std::to_string(net.tcp_accepted) + " connections, " +
               std::to_string(net.tcp_refused) + " refused at the limit, " +
               std::to_string(net.tcp_client_refused) + " at the client's limit, " +
               std::to_string(net.tcp_idle_closed) + " closed idle");
  if (forwarder_) {
    const forward::ForwardCounters& f = forwarder_->counters();
    log_line(LogLevel::info, "forwarded " + std::to_string(f.forwarded.load()) + " queries (" +
                                 std::to_string(f.answered.load()) + " answered upstream, " +
                                 std::to_string(f.failed.load()) + " SERVFAIL, " +
                                 std::to_string(f.dropped.load()) + " dropped)");
  }
  if (!receiver_) return;
  const health::ReceiverCounters& h = receiver_->counters();
  const auto count = [](const std::atomic<std::uint64_t>& n) { return std::to_string(n.load()); };
  log_line(LogLevel::info, "UPDATEs: " + count(h.received) + " received, " + count(h.accepted) +
                               " accepted (" + count(h.unchanged) + " renewals that changed "
                               "nothing, " + count(h.repeated) + " of them known repeats), " +
                               count(h.rejected) + " rejected (" + count(h.bad_signature) +
                               " for their signature)");
}

}  // namespace signpost::dns::daemon
