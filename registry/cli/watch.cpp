// The watch loop and the registry comparison behind its lines.
#include "registry/cli/watch.hpp"

#include <boost/json.hpp>
#include <ctime>
#include <ostream>

#include "registry/cli/api_reply.hpp"
#include "registry/cli/output_format.hpp"

namespace signpost::registry::cli {
namespace {

namespace json = boost::json;

// How long one blocking query waits on the server; the client's timeout is added on top.
constexpr int kWaitSeconds = 30;
// How often watch reads the registry again to get one serial's state (see read_registry).
constexpr int kConsistentReadAttempts = 5;

InstanceState state_of(const json::value& instance) {
  const auto& object = instance.as_object();
  InstanceState state;
  state.health = cell_text(object.at("health"));
  state.drained = object.at("drained").as_bool();
  state.weight = cell_text(object.at("weight"));
  state.weight_override = cell_text(object.at("weight_override"));
  state.effective_weight = cell_text(object.at("effective_weight"));
  state.addresses = cell_text(object.at("addresses"));
  state.port = cell_text(object.at("port"));
  return state;
}

/// What changed in one instance that is there before and after.
void describe_instance(const std::string& who, const InstanceState& before,
                       const InstanceState& after, std::vector<std::string>& out) {
  if (before.drained != after.drained) out.push_back(who + (after.drained ? " drained" : " undrained"));
  if (before.health != after.health) out.push_back(who + " " + before.health + "->" + after.health);
  if (before.weight_override != after.weight_override || before.weight != after.weight) {
    const auto shown = [](const InstanceState& state) {
      return state.weight_override != "-" ? state.weight_override : state.weight;
    };
    out.push_back(who + " weight " + shown(before) + "->" + shown(after) +
                  (after.weight_override == "-" ? " (registered)" : ""));
  } else if (before.effective_weight != after.effective_weight && before.drained == after.drained &&
             before.health == after.health) {
    out.push_back(who + " effective weight " + before.effective_weight + "->" +
                  after.effective_weight);
  }
  if (before.addresses != after.addresses) out.push_back(who + " addresses " + after.addresses);
  if (before.port != after.port) out.push_back(who + " port " + before.port + "->" + after.port);
}

void describe_service(const std::string& service,
                      const std::map<std::string, InstanceState>& before,
                      const std::map<std::string, InstanceState>& after,
                      std::vector<std::string>& out) {
  for (const auto& [id, state] : after) {
    const std::string who = service + "/" + id;
    const auto old = before.find(id);
    if (old == before.end()) {
      out.push_back("+" + who + " (" + state.health + ")");
    } else {
      describe_instance(who, old->second, state, out);
    }
  }
  for (const auto& [id, state] : before) {
    if (!after.contains(id)) out.push_back("-" + service + "/" + id);
  }
}

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm parts{};
  gmtime_r(&now, &parts);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return buffer;
}

void print_change(std::uint32_t serial, const std::vector<std::string>& changes, bool as_json,
                  std::ostream& out) {
  const std::string time = utc_now();
  if (as_json) {
    json::array list;
    for (const auto& change : changes) list.emplace_back(change);
    out << json::serialize(json::object{{"serial", serial}, {"time", time}, {"changes", list}})
        << '\n';
  } else {
    std::string summary;
    for (const auto& change : changes) summary += (summary.empty() ? "" : "; ") + change;
    out << "serial " << serial << "  " << time << "  "
        << (summary.empty() ? "(no change to services or instances)" : summary) << '\n';
  }
  out.flush();
}

}  // namespace

std::vector<std::string> describe_changes(const RegistryState& before, const RegistryState& after) {
  std::vector<std::string> out;
  static const std::map<std::string, InstanceState> kNone;
  for (const auto& [service, instances] : after) {
    const auto old = before.find(service);
    if (old == before.end()) out.push_back("+service " + service);
    describe_service(service, old == before.end() ? kNone : old->second, instances, out);
  }
  for (const auto& [service, instances] : before) {
    if (after.contains(service)) continue;
    out.push_back("-service " + service);
    describe_service(service, instances, kNone, out);
  }
  return out;
}

RegistryState read_registry(const HttpClient& client, std::uint32_t& serial) {
  // The list and each service are separate requests: a change between them would put a
  // later state under the list's serial, and the next line would show nothing. Read again
  // until every service was read at the list's serial (a busy registry: the last read).
  RegistryState state;
  for (int attempt = 0; attempt < kConsistentReadAttempts; ++attempt) {
    state.clear();
    const json::value list = parse_reply(client.get("/v1/services"), client.server());
    serial = json::value_to<std::uint32_t>(list.as_object().at("serial"));
    bool consistent = true;
    for (const auto& summary : list.as_object().at("services").as_array()) {
      const std::string name(summary.as_object().at("name").as_string());
      auto& instances = state[name];
      const auto reply = client.get("/v1/services/" + encode_path_segment(name));
      if (reply.status == 404) {  // gone since the list
        consistent = false;
        continue;
      }
      const json::value detail = parse_reply(reply, client.server());
      consistent = consistent && detail.as_object().at("serial") == list.as_object().at("serial");
      for (const auto& instance : detail.as_object().at("instances").as_array()) {
        instances[std::string(instance.as_object().at("id").as_string())] = state_of(instance);
      }
    }
    if (consistent) break;
  }
  return state;
}

int run_watch(const HttpClient& client, bool once, bool as_json, std::ostream& out) {
  std::uint32_t serial = 0;
  RegistryState state = read_registry(client, serial);
  for (;;) {
    const auto reply = client.get("/v1/watch?index=" + std::to_string(serial) +
                                      "&wait=" + std::to_string(kWaitSeconds),
                                  std::chrono::seconds(kWaitSeconds));
    const json::value body = parse_reply(reply, client.server());
    const auto index = json::value_to<std::uint32_t>(body.as_object().at("index"));
    if (index == serial) continue;  // the wait ran out with nothing new
    std::uint32_t now = 0;
    RegistryState next = read_registry(client, now);
    print_change(now, describe_changes(state, next), as_json, out);
    state = std::move(next);
    serial = now;
    if (once) return 0;
  }
}

}  // namespace signpost::registry::cli
