// Dispatch of the `signpost` commands.
#include "registry/cli/commands.hpp"

#include <boost/json.hpp>
#include <chrono>
#include <iostream>
#include <random>

#include "registry/cli/api_reply.hpp"
#include "registry/cli/cli_error.hpp"
#include "registry/cli/http_client.hpp"
#include "registry/cli/output_format.hpp"
#include "registry/cli/resolver.hpp"
#include "registry/cli/token_file.hpp"
#include "registry/cli/watch.hpp"

namespace signpost::registry::cli {
namespace {

namespace json = boost::json;

std::chrono::milliseconds timeout_of(const Options& options) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(options.timeout_seconds * 1000));
}

std::string instance_path(const Options& options) {
  return "/v1/services/" + encode_path_segment(options.args[0]) + "/instances/" +
         encode_path_segment(options.args[1]);
}

int run_read(const Options& options, const HttpClient& client, std::ostream& out) {
  std::string target = "/v1/" + options.command;
  if (options.command == "list") target = "/v1/services";
  if (options.command == "show") target = "/v1/services/" + encode_path_segment(options.args[0]);
  const HttpResponse response = client.get(target);
  const json::value body = parse_reply(response, client.server());
  if (options.json) {
    out << response.body << (response.body.ends_with('\n') ? "" : "\n");
  } else if (options.command == "list") {
    out << format_services(body);
  } else if (options.command == "show") {
    out << format_service(body);
  } else {
    out << format_status(body);
  }
  return 0;
}

int run_write(const Options& options, const HttpClient& client, std::ostream& out) {
  const std::string token = read_token(options.token_file);
  std::string method = "PUT";
  std::string target = instance_path(options);
  std::string body;
  if (options.command == "deregister") {
    method = "DELETE";
  } else if (options.command == "weight") {
    target += "/weight";
    body = json::serialize(json::object{
        {"weight", options.weight ? json::value(*options.weight) : json::value(nullptr)}});
  } else {
    target += "/" + options.command;  // drain, undrain
  }
  const HttpResponse response = client.write(method, target, token, body);
  const json::value reply = parse_reply(response, client.server(), options.token_file);
  if (options.json) {
    out << response.body << (response.body.ends_with('\n') ? "" : "\n");
  } else {
    out << format_write(options.command, reply);
  }
  return 0;
}

/// The line --pick prints: "target:port" for SRV (RFC 2782 choice), the first address for
/// A/AAAA (what a client that takes the first address connects to).
std::string pick_of(const Resolution& resolution, const Options& options) {
  if (!resolution.srv) return resolution.addresses.front().address;
  std::vector<SrvTarget> records;
  for (const auto& answer : resolution.records) records.push_back(answer.record);
  std::mt19937_64 random(options.seed ? *options.seed : std::random_device{}());
  const SrvTarget& chosen = records[pick_srv(records, random)];
  return chosen.target + ":" + std::to_string(chosen.port);
}

int run_resolve(const Options& options, std::ostream& out) {
  const DnsServer server = parse_dns_server(options.dns);
  const Resolution resolution =
      resolve(server, options.args[0], options.srv, timeout_of(options));
  if (resolution.empty()) {
    json::value body = resolution_json(resolution);
    if (options.json) out << json::serialize(body) << '\n';
    const std::string what = resolution.rcode == "NXDOMAIN"
                                 ? "does not exist (NXDOMAIN)"
                                 : std::string("has no ") + (options.srv ? "SRV" : "A or AAAA") +
                                       " records (no healthy instance, or NODATA)";
    throw CliError(ExitCode::not_found,
                   options.args[0] + " " + what + " at " + server.text());
  }
  if (options.json) {
    json::value body = resolution_json(resolution);
    if (options.pick) body.as_object()["pick"] = pick_of(resolution, options);
    out << json::serialize(body) << '\n';
  } else if (options.pick) {
    out << pick_of(resolution, options) << '\n';
  } else {
    out << format_resolution(resolution);
  }
  return 0;
}

}  // namespace

int run_command(const Options& options, std::ostream& out) {
  if (options.command == "help") {
    out << usage_text();
    return 0;
  }
  if (options.command == "version") {
    out << "signpost " << SIGNPOST_VERSION << '\n';
    return 0;
  }
  if (options.command == "resolve") return run_resolve(options, out);
  const HttpClient client(parse_server_url(options.server), timeout_of(options));
  if (options.command == "watch") return run_watch(client, options.once, options.json, out);
  if (options.command == "list" || options.command == "show" || options.command == "status") {
    return run_read(options, client, out);
  }
  return run_write(options, client, out);
}

}  // namespace signpost::registry::cli
