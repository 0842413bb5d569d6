// signpostd's metrics, family by family. Names follow Prometheus' conventions: the
// `signpost_` prefix, base units (seconds, bytes), `_total` on counters.
#include "dns/daemon/server_metrics.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <fstream>
#include <map>

#include "dns/daemon/prometheus_text.hpp"

namespace signpost::dns::daemon {

namespace {

using answer::CountedQtype;
using answer::CountedRcode;
using answer::Transport;

void render_answers(PrometheusText& text, const answer::AnswerCounters& answers) {
  text.family("signpost_dns_queries_total", "counter",
              "DNS queries answered, by question type, response code and transport.");
  for (std::size_t t = 0; t < answer::kTransports; ++t) {
    const auto transport = static_cast<Transport>(t);
    for (std::size_t q = 0; q < answer::kCountedQtypes; ++q) {
      const auto qtype = static_cast<CountedQtype>(q);
      for (std::size_t r = 0; r < answer::kCountedRcodes; ++r) {
        const auto rcode = static_cast<CountedRcode>(r);
        text.sample("signpost_dns_queries_total",
                    {{"qtype", answer::qtype_label(qtype)},
                     {"rcode", answer::rcode_label(rcode)},
                     {"transport", answer::transport_label(transport)}},
                    answers.responses_of(transport, qtype, rcode));
      }
    }
  }
  text.counter("signpost_dns_truncated_total",
               "DNS responses sent with TC set: the answer did not fit.", answers.truncated);
  text.counter("signpost_dns_dropped_total",
               "DNS messages dropped without a response (too short, a response, no room).",
               answers.dropped);
  text.counter("signpost_dns_signed_queries_total",
               "DNS queries that carried TSIG, answered through the signed path.",
               answers.signed_queries);
  text.counter("signpost_dns_rate_limited_total",
               "UDP responses dropped by response rate limiting ([rrl]).", answers.rate_limited);
  text.counter("signpost_dns_rate_slipped_total",
               "Rate-limited UDP responses sent short instead (TC=1, or BADCOOKIE).",
               answers.rate_slipped);
  text.counter("signpost_forward_refused_total",
               "Queries that would be forwarded, refused because the client is outside "
               "forward.allow.",
               answers.forward_refused);
}

void render_network(PrometheusText& text, const net::NetCounters& net,
                    const net::ConnectionLimit* tcp_limit) {
  text.counter("signpost_dns_udp_received_total", "UDP datagrams received.", net.udp_received);
  text.counter("signpost_dns_udp_send_failures_total",
               "UDP responses that could not be sent (socket buffer full or send error).",
               net.udp_send_failed);
  text.counter("signpost_dns_udp_oversized_total",
               "UDP datagrams dropped for being longer than a receive slot.", net.udp_oversized);
  if (tcp_limit != nullptr) {
    text.gauge("signpost_tcp_connections", "DNS-over-TCP connections open now.",
               static_cast<double>(tcp_limit->open()));
  }
  text.counter("signpost_tcp_connections_total", "DNS-over-TCP connections accepted.",
               net.tcp_accepted);
  text.family("signpost_tcp_connections_refused_total", "counter",
              "DNS-over-TCP connections closed at once, by the limit reached.");
  text.sample("signpost_tcp_connections_refused_total", {{"limit", "server"}}, net.tcp_refused);
  text.sample("signpost_tcp_connections_refused_total", {{"limit", "client"}},
              net.tcp_client_refused);
  text.counter("signpost_tcp_idle_closed_total",
               "DNS-over-TCP connections closed for sending no whole message in time.",
               net.tcp_idle_closed);
}

void render_workers(PrometheusText& text, const MetricsSources& sources) {
  answer::AnswerCounters answers;
  net::NetCounters net;
  if (sources.workers != nullptr) {
    for (const auto& worker : *sources.workers) {
      answers += worker->answer_counters();
      net += worker->net_counters();
    }
  }
  render_answers(text, answers);
  render_network(text, net, sources.tcp_limit);
}

std::uint64_t value_of(const std::atomic<std::uint64_t>& counter) {
  return counter.load(std::memory_order_relaxed);
}

void render_receiver(PrometheusText& text, const health::HeartbeatReceiver& receiver) {
  const health::ReceiverCounters& counters = receiver.counters();
  text.family("signpost_updates_total", "counter",
              "DNS UPDATEs (heartbeats, registrations) by result: accepted (NOERROR), rejected "
              "(any other rcode), dropped (not handled: too many queued).");
  text.sample("signpost_updates_total", {{"result", "accepted"}}, value_of(counters.accepted));
  text.sample("signpost_updates_total", {{"result", "rejected"}}, value_of(counters.rejected));
  text.sample("signpost_updates_total", {{"result", "dropped"}}, value_of(counters.dropped));
  text.counter("signpost_updates_unchanged_total",
               "Accepted UPDATEs that renewed a lease and changed nothing.",
               value_of(counters.unchanged));
  text.family("signpost_update_rejections_total", "counter",
              "Rejected UPDATEs by reason (a part of signpost_updates_total{result=\"rejected\"}).");
  text.sample("signpost_update_rejections_total", {{"reason", "bad_signature"}},
              value_of(counters.bad_signature));
  text.sample("signpost_update_rejections_total", {{"reason", "replayed"}},
              value_of(counters.replayed));
  text.sample("signpost_update_rejections_total", {{"reason", "over_quota"}},
              value_of(counters.over_quota));
  text.counter("signpost_lease_expiries_total",
               "Heartbeat leases that ran out (their instances left the answers).",
               value_of(counters.expired));
  text.counter("signpost_flap_holds_total",
               "Instances flap damping began to hold out of the answers.",
               value_of(counters.flap_holds));
  const health::LeaseTotals leases = receiver.tracker().totals();
  text.gauge("signpost_self_preservation_active",
             "1 while self-preservation holds expiries back (too many leases ran out at once).",
             leases.preserving ? 1.0 : 0.0);
  text.gauge("signpost_leases", "Heartbeat leases tracked.", static_cast<double>(leases.instances));
}

void render_instances(PrometheusText& text, const registry::Store& store) {
  // From the counts the store keeps per service: one step per service, none per instance,
  // so that a scrape every second costs the registry thread little. Every service has its
  // passing series (an alert on `== 0` needs it to exist); warning and critical appear while
  // some instance is so, which keeps a large registry's scrape at one series per service.
  text.family("signpost_instances", "gauge", "Registered instances by service and health.");
  static constexpr std::array<std::string_view, 3> kHealth{"passing", "warning", "critical"};
  std::size_t services = 0;
  store.visit_services([&](const registry::Service& service,
                           const registry::Store::HealthCounts& counts) {
    if (counts[0] + counts[1] + counts[2] == 0) return;
    ++services;
    for (std::size_t health = 0; health < kHealth.size(); ++health) {
      if (health != 0 && counts[health] == 0) continue;
      text.sample("signpost_instances", {{"service", service.name}, {"health", kHealth[health]}},
                  std::uint64_t{counts[health]});
    }
  });
  text.gauge("signpost_services", "Services in the registry with at least one instance.",
             static_cast<double>(services));
}

void render_publisher(PrometheusText& text, const registry::Publisher& publisher) {
  const registry::Publisher::PublishStats stats = publisher.publish_stats();
  text.counter("signpost_snapshot_publishes_total",
               "Registry snapshots published to the DNS workers.", stats.publishes);
  text.family("signpost_snapshot_publish_duration_seconds", "histogram",
              "Time to build and hand over one registry snapshot.");
  text.histogram("signpost_snapshot_publish_duration_seconds", {},
                 registry::DurationHistogram::kBounds, stats.duration.counts,
                 stats.duration.sum_seconds);
  text.gauge("signpost_registry_serial",
             "SOA serial of the registry zone in the latest published snapshot.",
             static_cast<double>(stats.serial));
}

void render_backend(PrometheusText& text, const registry::backend::EtcdRegistry* etcd) {
  text.family("signpost_backend_info", "gauge", "The registry backend in use (always 1).");
  text.sample("signpost_backend_info", {{"kind", etcd != nullptr ? "etcd" : "memory"}},
              std::uint64_t{1});
  if (etcd == nullptr) {
    text.gauge("signpost_backend_up", "1 when the backend answered its last request.", 1.0);
    text.counter("signpost_backend_errors_total", "Failed requests to the backend.", 0);
    return;
  }
  const registry::backend::EtcdRegistryStatus status = etcd->status();
  text.gauge("signpost_backend_up", "1 when the backend answered its last request.",
             status.connected ? 1.0 : 0.0);
  text.counter("signpost_backend_errors_total", "Failed requests to the backend.", status.errors);
  text.gauge("signpost_backend_watch_lag_revisions",
             "etcd revisions of this prefix committed but not yet delivered by the watch.",
             static_cast<double>(status.watch_lag_revisions));
  text.gauge("signpost_backend_revision", "Highest etcd revision reported to this server.",
             static_cast<double>(status.etcd_revision));
  text.gauge("signpost_backend_watch_revision",
             "etcd revision up to which the registry holds every change.",
             static_cast<double>(status.watch_revision));
  text.counter("signpost_backend_writes_total", "Instance records written to etcd.", status.writes);
  text.counter("signpost_backend_watch_events_total", "Events the etcd watch delivered.",
               status.watch_events);
  text.gauge("signpost_backend_queued_writes", "Writes waiting for etcd.",
             static_cast<double>(status.queued_writes));
  text.counter("signpost_backend_dropped_writes_total",
               "Writes dropped because too many were waiting for etcd.", status.dropped_writes);
}

double resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::uint64_t size = 0;
  std::uint64_t resident = 0;
  if (!(statm >> size >> resident)) return 0;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

// Always present, 0 with forwarding off, so that dashboards need no special case.
void render_forward(PrometheusText& text, const forward::ForwardCounters* forward) {
  const auto count = [forward](const std::atomic<std::uint64_t> forward::ForwardCounters::*field) {
    return forward != nullptr ? (forward->*field).load(std::memory_order_relaxed) : 0;
  };
  text.counter("signpost_forward_queries_total",
               "DNS queries for names outside every served zone forwarded to upstream resolvers.",
               count(&forward::ForwardCounters::forwarded));
  text.counter("signpost_forward_failures_total",
               "Forwarded queries answered SERVFAIL: no upstream resolver answered usably in time.",
               count(&forward::ForwardCounters::failed));
  text.counter("signpost_forward_dropped_total",
               "Queries to forward dropped unanswered: too many were in flight.",
               count(&forward::ForwardCounters::dropped));
}

// Always present, 0 with no [[transfer]], so that dashboards need no special case.
void render_transfers(PrometheusText& text, const xfr::TransferCounters* transfers) {
  const xfr::TransferCounters none;
  const xfr::TransferCounters& counters = transfers != nullptr ? *transfers : none;
  text.family("signpost_transfers_total", "counter",
              "Zone transfer requests (AXFR, IXFR over TCP and UDP) by type and result: ok "
              "(answered), refused, notauth (bad TSIG), formerr.");
  for (std::size_t t = 0; t < xfr::kTransferTypes; ++t) {
    const auto type = static_cast<xfr::TransferType>(t);
    for (std::size_t r = 0; r < xfr::kTransferResults; ++r) {
      const auto result = static_cast<xfr::TransferResult>(r);
      text.sample("signpost_transfers_total",
                  {{"type", xfr::transfer_type_label(type)},
                   {"result", xfr::transfer_result_label(result)}},
                  counters.of(type, result));
    }
  }
  text.counter("signpost_notify_sent_total",
               "NOTIFY messages sent to secondaries, retries included.", counters.notify_sent);
  text.counter("signpost_notify_failed_total",
               "NOTIFYs no secondary answered after every retry (it polls at its SOA refresh).",
               counters.notify_failed);
}

void render_process(PrometheusText& text, double uptime_seconds) {
  text.family("signpost_build_info", "gauge", "signpostd's version (always 1).");
  text.sample("signpost_build_info", {{"version", SIGNPOST_VERSION}}, std::uint64_t{1});
  text.gauge("signpost_uptime_seconds", "Seconds since signpostd started.", uptime_seconds);
  const double now = std::chrono::duration<double>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
  text.gauge("process_start_time_seconds", "Start time of the process since the Unix epoch.",
             now - uptime_seconds);
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const double cpu = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                     static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  text.family("process_cpu_seconds_total", "counter", "User and system CPU time spent.");
  text.sample("process_cpu_seconds_total", {}, cpu);
  text.gauge("process_resident_memory_bytes", "Resident memory size.", resident_bytes());
}

}  // namespace

std::string render_metrics(const MetricsSources& sources) {
  PrometheusText text;
  render_process(text, sources.uptime_seconds);
  render_workers(text, sources);
  render_forward(text, sources.forward);
  render_transfers(text, sources.transfers);
  if (sources.receiver != nullptr) render_receiver(text, *sources.receiver);
  if (sources.store != nullptr) render_instances(text, *sources.store);
  if (sources.publisher != nullptr) render_publisher(text, *sources.publisher);
  render_backend(text, sources.etcd);
  return text.text();
}

}  // namespace signpost::dns::daemon
