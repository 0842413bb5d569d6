// What the HTTP API reads and changes: the registry as the server holds it, seen through an
// interface that signpostd implements (dns/daemon) and the API's tests can stand in for.
//
// Design. The API never touches registry state itself: every read and write is handed to the
// backend, which runs it on the registry thread (the one writer) and calls the reply there.
// The HTTP layer takes the reply back to its own thread before it writes a response. So the
// answer path gains nothing for the API: no lock, no shared counter, no allocation.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace signpost::registry::api {

/// Flap damping of one instance: "stable" (no penalty), "penalized" (a penalty that has not
/// reached the suppress threshold) or "suppressed" (held out of answers).
struct FlapInfo {
  std::string state = "stable";
  double penalty = 0;
};

/// One instance, as GET /v1/services/{name} shows it.
struct InstanceInfo {
  std::string id;
  std::string service;
  std::string node;
  std::vector<std::string> addresses;  // text: IPv4 first, then IPv6
  std::uint16_t port = 0;
  std::uint16_t priority = 0;
  std::uint16_t weight = 1;                      // as registered (agent, config)
  std::optional<std::uint16_t> weight_override;  // set through the API; nullopt: none
  std::uint32_t effective_weight = 0;       // what answers use: 0 when drained or critical; the
                                            // warning fraction applied (rounded down)
  std::string health = "passing";           // as published: passing, warning, critical
  std::string reported_health = "passing";  // as the last heartbeat said (= health otherwise)
  std::string source = "static";            // static (server config), update (DNS UPDATE), api
  std::vector<std::string> tags;
  std::vector<std::pair<std::string, std::string>> meta;
  std::optional<double> lease_seconds;    // heartbeat instances: the granted lease
  std::optional<double> lease_remaining;  // seconds until it runs out (0 once it has)
  FlapInfo flap;
  bool drained = false;
};

/// One service, as GET /v1/services lists it.
struct ServiceSummary {
  std::string name;
  std::string protocol = "tcp";       // tcp, udp
  std::optional<std::uint16_t> port;  // the port most of its instances use; nullopt: none
  std::vector<std::string> tags;
  std::size_t instances = 0;
  std::size_t passing = 0;
  std::size_t warning = 0;
  std::size_t critical = 0;
  std::size_t drained = 0;
};

/// One service with its instances (GET /v1/services/{name}).
struct ServiceInfo {
  ServiceSummary summary;
  std::optional<std::uint32_t> ttl;           // the service's override of dns.ttl
  std::optional<std::uint32_t> answer_limit;  // the service's override of dns.answer_limit
  std::vector<InstanceInfo> instances;        // in id order
};

/// One node (GET /v1/nodes).
struct NodeInfo {
  std::string name;
  std::vector<std::string> addresses;
  std::size_t instances = 0;
  std::vector<std::string> services;  // in name order, each once
};

/// The server (GET /v1/status).
struct StatusInfo {
  std::string version;
  std::uint32_t serial = 0;  // the registry zone's SOA serial
  double uptime_seconds = 0;
  std::size_t services = 0;
  std::size_t instances = 0;
  std::size_t nodes = 0;
  std::map<std::string, std::size_t> instances_by_source;  // static, update, api
  std::map<std::string, std::size_t> instances_by_health;  // passing, warning, critical
  std::size_t drained = 0;
  bool self_preservation = false;  // expiries (or removals from etcd) held back now
  std::size_t held = 0;            // instances kept in answers by self-preservation
  std::string backend = "memory";  // memory, etcd
  bool backend_healthy = true;
  std::string backend_detail;  // the state file's path, or etcd's endpoints and last error
};

/// Who asked for a write, for the audit log: the token's id ("token:1a2b3c4d") and the
/// client's address.
struct Actor {
  std::string who;
  std::string address;
};

/// How a write ended; each maps to one HTTP status.
enum class WriteStatus : std::uint8_t {
  ok,            // 200
  bad_request,   // 400: a value out of range
  not_found,     // 404: no such instance
  conflict,      // 409: the instance cannot take this write (a static instance is deleted)
  backend_down,  // 503: the backend cannot keep the change now; nothing changed
};

/// The result of a write: the instance as it is afterwards (nullopt once deregistered) and
/// the serial that carries the change in DNS answers.
struct WriteResult {
  WriteStatus status = WriteStatus::ok;
  std::string message;  // why, when not ok
  std::optional<InstanceInfo> instance;
  std::uint32_t serial = 0;
};

/// The registry as the API sees it. Every call returns at once; its reply runs later, once,
/// on the registry thread (or at once on the calling thread when the server is stopping:
/// then reads reply empty and writes reply backend_down). A reply must not block.
class ApiBackend {
 public:
  template <class T>
  using Reply = std::function<void(T)>;

  virtual ~ApiBackend() = default;

  virtual void services(Reply<std::vector<ServiceSummary>> reply) = 0;
  /// nullopt: no such service.
  virtual void service(std::string name, Reply<std::optional<ServiceInfo>> reply) = 0;
  virtual void nodes(Reply<std::vector<NodeInfo>> reply) = 0;
  virtual void status(Reply<StatusInfo> reply) = 0;
  /// The Prometheus text exposition (format 0.0.4) of the server's metrics.
  virtual void metrics(Reply<std::string> reply) = 0;

  /// Drains (weight 0 in every answer) or undrains an instance. Kept by the backend (state
  /// file or etcd): it survives the instance's heartbeats and restarts until undrained.
  virtual void set_drained(std::string service, std::string id, bool drained, Actor actor,
                           Reply<WriteResult> reply) = 0;
  /// Overrides the instance's weight (nullopt: back to the registered weight). Kept as a
  /// drain is.
  virtual void set_weight(std::string service, std::string id, std::optional<std::uint16_t> weight,
                          Actor actor, Reply<WriteResult> reply) = 0;
  /// Deregisters an instance (and forgets its overrides). A static instance is a conflict.
  virtual void deregister(std::string service, std::string id, Actor actor,
                          Reply<WriteResult> reply) = 0;

  /// The registry zone's serial now. Any thread; no lock.
  virtual std::uint32_t serial() const = 0;
};

}  // namespace signpost::registry::api
