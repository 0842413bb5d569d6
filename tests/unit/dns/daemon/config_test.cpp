// signpostd's configuration: defaults, every kind of error with its line and key, listen
// addresses, static registrations, the reference table, and check_config.
#include "dns/daemon/config.hpp"
#include "tests/unit/support/config_error.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "dns/daemon/app.hpp"
#include "dns/zone/zone.hpp"
#include "tests/unit/support/test_zone.hpp"

namespace signpost::dns::daemon {
namespace {

using testing::config_error_of;

TEST(Config, EmptyFileTakesEveryDefault) {
  const Config config = parse_config("", "test.toml");
  EXPECT_EQ(config.source, "test.toml");
  ASSERT_EQ(config.listen.size(), 1u);
  EXPECT_EQ(config.listen[0].address, "127.0.0.1");
  EXPECT_EQ(config.listen[0].port, 8053);
  EXPECT_FALSE(config.listen[0].ipv6);
  EXPECT_EQ(config.threads, 0u);
  EXPECT_EQ(config.tcp_idle_timeout, 10u);
  EXPECT_EQ(config.tcp_max_clients, 1000u);
  EXPECT_EQ(config.tcp_max_per_client, 64u);
  EXPECT_EQ(config.domain, "svc.internal.");
  EXPECT_EQ(config.domain_wire, testing::wire_name("svc.internal."));
  EXPECT_EQ(config.ttl, 5u);
  EXPECT_EQ(config.negative_ttl, 5u);
  EXPECT_EQ(config.answer_limit, 8u);
  EXPECT_EQ(config.udp_payload, 1232);
  EXPECT_EQ(config.seed, 0u);
  EXPECT_EQ(config.order, answer::OrderMode::weighted);
  EXPECT_EQ(config.zones_dir, "zones");
  EXPECT_TRUE(config.cookies);
  EXPECT_DOUBLE_EQ(config.warning_weight, 0.25);
  EXPECT_DOUBLE_EQ(config.panic_threshold, 0.0);
  EXPECT_TRUE(config.services.empty());
  EXPECT_TRUE(config.instances.empty());
}

TEST(Config, LogFormatIsTextOrJson) {
  EXPECT_EQ(parse_config("", "test.toml").log_format, LogFormat::text);
  const Config json = parse_config("[log]\nformat = \"json\"\n", "test.toml");
  EXPECT_EQ(json.log_format, LogFormat::json);
  EXPECT_EQ(json.sealed.at("log.format"), "\"json\"");  // a reload cannot change it
  EXPECT_EQ(config_error_of("[log]\nformat = \"xml\"\n"),
            "test.toml:2: key 'log.format': must be \"text\" or \"json\", not \"xml\"");
}

TEST(Config, HeartbeatKeysAndLeases) {
  const Config config = parse_config(R"(
[health]
min_lease = 3
max_lease = 90

[[key]]
name = "agent-key"
secret = "c2lnbnBvc3QgdGVzdCBrZXkgMDEyMzQ1Njc4OWFiY2RlZg=="
allow = ["web", "api-*"]

[[key]]
name = "other"
algorithm = "hmac-sha512"
secret = "b3RoZXIgc2VjcmV0IDAxMjM0NTY3ODlhYmNkZWYwMTIzNDU="
)", "test.toml");
  EXPECT_EQ(config.min_lease, 3u);
  EXPECT_EQ(config.max_lease, 90u);
  ASSERT_EQ(config.keys.size(), 2u);
  EXPECT_EQ(config.keys[0].name, "agent-key");
  EXPECT_EQ(config.keys[0].algorithm, "hmac-sha256");
  EXPECT_EQ(config.keys[0].allow, (std::vector<std::string>{"web", "api-*"}));
  EXPECT_EQ(config.keys[1].algorithm, "hmac-sha512");

  EXPECT_EQ(config_error_of("[health]\nmin_lease = 100\nmax_lease = 50\n"),
            "test.toml:3: key 'health.max_lease': must not be below health.min_lease (100 > 50)");
  EXPECT_EQ(config_error_of("[[key]]\nname = \"k\"\nsecret = \"!!\"\n"),
            "test.toml:3: key 'key.secret': secret of key \"k\" is not base64");
  // Unpadded, as a secret cut short in copying would be: the agent refuses it too.
  EXPECT_EQ(config_error_of("[[key]]\nname = \"k\"\nsecret = \"aGVsbG8\"\n"),
            "test.toml:3: key 'key.secret': secret of key \"k\" is not base64 (bad length)");
  EXPECT_EQ(config_error_of("[[key]]\nname = \"k\"\nalgorithm = \"hmac-md5\"\nsecret = \"c2l4dGVlbiBvY3RldHMhIQ==\"\n"),
            "test.toml:1: [[key]] 'k': unknown TSIG algorithm \"hmac-md5\" (expected hmac-sha256 or "
            "hmac-sha512)");
  EXPECT_EQ(config_error_of("[[key]]\nname = \"k\"\n"), "test.toml:1: key 'key.secret' is required");
  EXPECT_EQ(config_error_of("[[key]]\nname = \"k\"\nsecret = \"c2l4dGVlbiBvY3RldHMhIQ==\"\n[[key]]\n"
                     "name = \"K.\"\nsecret = \"c2l4dGVlbiBvY3RldHMhIQ==\"\n"),
            "test.toml:4: key 'key.name': key 'K.' is declared twice");
}

TEST(Config, KeySecretsShorterThan16OctetsAreRefused) {
  // "fifteen octets!": too short to be a TSIG key; "sixteen octets!!" is the shortest.
  EXPECT_EQ(config_error_of("[dns]\nttl = 5\n\n[[key]]\nname = \"short-key\"\n"
                     "secret = \"ZmlmdGVlbiBvY3RldHMh\"\n"),
            "test.toml:6: key 'key.secret': secret of key \"short-key\" is 15 octets; a TSIG "
            "key needs at least 16");
  EXPECT_EQ(config_error_of("[[key]]\nname = \"k\"\nsecret = \"aGVsbG8=\"\n"),
            "test.toml:3: key 'key.secret': secret of key \"k\" is 5 octets; a TSIG key needs "
            "at least 16");
  EXPECT_EQ(config_error_of("[[key]]\nname = \"k\"\nsecret = \"c2l4dGVlbiBvY3RldHMhIQ==\"\n"), "");
}

TEST(Config, EmbeddedDefaultServesLoopbackAndDemoService) {
  const Config config = default_config();
  EXPECT_EQ(config.source, "<default config>");
  ASSERT_EQ(config.listen.size(), 1u);
  EXPECT_EQ(config.listen[0].text(), "127.0.0.1:8053");
  EXPECT_EQ(config.domain, "svc.internal.");
  EXPECT_EQ(config.zones_dir, "zones");
  ASSERT_EQ(config.services.size(), 1u);
  EXPECT_EQ(config.services[0].name, "web");
  EXPECT_EQ(config.instances.size(), 2u);
}

TEST(Config, EveryOptionIsRead) {
  const Config config = parse_config(R"(
[server]
listen = ["192.0.2.1:53", "[2001:DB8::1]:5353", "0.0.0.0:0"]
threads = 4
tcp_idle_timeout = 30
tcp_max_clients = 50
tcp_max_per_client = 5

[dns]
domain = "Disco.Example"
ttl = 30
negative_ttl = 60
answer_limit = 0
udp_payload = 4096
seed = 1234
order = "round-robin"
zones_dir = "/etc/signpost/zones"
cookies = false

[health]
warning_weight = 1
panic_threshold = 0.5
)",
                                     "test.toml");
  ASSERT_EQ(config.listen.size(), 3u);
  EXPECT_EQ(config.listen[1].address, "2001:db8::1");  // canonical form
  EXPECT_TRUE(config.listen[1].ipv6);
  EXPECT_EQ(config.listen[1].port, 5353);
  EXPECT_EQ(config.listen[1].text(), "[2001:db8::1]:5353");
  EXPECT_TRUE(config.listen[2].unspecified());
  EXPECT_EQ(config.listen[2].port, 0);
  EXPECT_EQ(config.threads, 4u);
  EXPECT_EQ(config.tcp_idle_timeout, 30u);
  EXPECT_EQ(config.tcp_max_clients, 50u);
  EXPECT_EQ(config.tcp_max_per_client, 5u);
  EXPECT_EQ(config.domain, "disco.example.");
  EXPECT_EQ(config.domain_wire, testing::wire_name("disco.example."));
  EXPECT_EQ(config.ttl, 30u);
  EXPECT_EQ(config.negative_ttl, 60u);
  EXPECT_EQ(config.answer_limit, 0u);
  EXPECT_EQ(config.udp_payload, 4096);
  EXPECT_EQ(config.seed, 1234u);
  EXPECT_EQ(config.order, answer::OrderMode::round_robin);
  EXPECT_EQ(config.zones_dir, "/etc/signpost/zones");
  EXPECT_FALSE(config.cookies);
  EXPECT_DOUBLE_EQ(config.warning_weight, 1.0);
  EXPECT_DOUBLE_EQ(config.panic_threshold, 0.5);
}

TEST(Config, IPv6ListenAddresses) {
  const Config config = parse_config(R"([server]
listen = ["[::1]:8053", "[::]:53", "[fe80::1:2]:1"]
)",
                                     "test.toml");
  ASSERT_EQ(config.listen.size(), 3u);
  EXPECT_EQ(config.listen[0].address, "::1");
  EXPECT_TRUE(config.listen[0].ipv6);
  EXPECT_FALSE(config.listen[0].unspecified());
  EXPECT_TRUE(config.listen[1].unspecified());
  EXPECT_EQ(config.listen[1].port, 53);
  EXPECT_EQ(config.listen[2].address, "fe80::1:2");
}

TEST(Config, BadListenAddressesNameLineAndKey) {
  const std::string prefix = "test.toml:3: key 'server.listen': ";
  const auto bad = [](std::string_view address) {
    return config_error_of("[server]\n\nlisten = [\"" + std::string(address) + "\"]\n");
  };
  EXPECT_EQ(bad("localhost:53"),
            prefix + "'localhost:53' is not a numeric IPv4 address and port, like "
                     "\"127.0.0.1:53\"");
  EXPECT_EQ(bad("192.0.2.1"), prefix + "'192.0.2.1' needs a port, like \"127.0.0.1:53\"");
  EXPECT_EQ(bad("192.0.2.1:65536"), prefix + "'192.0.2.1:65536' has no valid port (0-65535)");
  EXPECT_EQ(bad("192.0.2.1:"), prefix + "'192.0.2.1:' has no valid port (0-65535)");
  EXPECT_EQ(bad("192.0.2.1:5x"), prefix + "'192.0.2.1:5x' has no valid port (0-65535)");
  EXPECT_EQ(bad("256.0.0.1:53"),
            prefix + "'256.0.0.1:53' is not a numeric IPv4 address and port, like "
                     "\"127.0.0.1:53\"");
  EXPECT_EQ(bad("::1:53"),
            prefix + "'::1:53' looks like an IPv6 address: write it in brackets, like "
                     "\"[::1]:53\"");
  EXPECT_EQ(bad("[::1]"), prefix + "'[::1]' must look like \"[2001:db8::1]:53\"");
  EXPECT_EQ(bad("[192.0.2.1]:53"),
            prefix + "'[192.0.2.1]:53' does not hold a numeric IPv6 address");
  EXPECT_EQ(config_error_of("[server]\nlisten = []\n"),
            "test.toml:2: key 'server.listen': must name at least one address");
  EXPECT_EQ(config_error_of("[server]\nlisten = [\"[::1]:53\", \"[0::1]:53\"]\n"),
            "test.toml:2: key 'server.listen': lists '[::1]:53' twice");
}

TEST(Config, OutOfRangeValuesNameLineKeyAndRange) {
  EXPECT_EQ(config_error_of("[dns]\nudp_payload = 511\n"),
            "test.toml:2: key 'dns.udp_payload': must be between 512 and 4096, not 511");
  EXPECT_EQ(config_error_of("[dns]\nudp_payload = 4097\n"),
            "test.toml:2: key 'dns.udp_payload': must be between 512 and 4096, not 4097");
  EXPECT_EQ(config_error_of("# comment\n[dns]\nttl = -1\n"),
            "test.toml:3: key 'dns.ttl': must be between 0 and 86400, not -1");
  EXPECT_EQ(config_error_of("[server]\ntcp_idle_timeout = 0\n"),
            "test.toml:2: key 'server.tcp_idle_timeout': must be between 1 and 3600, not 0");
  EXPECT_EQ(config_error_of("[server]\ntcp_max_per_client = 0\n"),
            "test.toml:2: key 'server.tcp_max_per_client': must be between 1 and 1000000, not 0");
  EXPECT_EQ(config_error_of("[health]\nwarning_weight = 1.5\n"),
            "test.toml:2: key 'health.warning_weight': must be between 0 and 1, not 1.5");
  EXPECT_EQ(config_error_of("[dns]\norder = \"random\"\n"),
            "test.toml:2: key 'dns.order': must be \"weighted\" or \"round-robin\", not "
            "\"random\"");
  EXPECT_EQ(config_error_of("[dns]\ndomain = \"bad..name\"\n"),
            "test.toml:2: key 'dns.domain': 'bad..name' is not a domain name such as "
            "\"svc.internal.\"");
  EXPECT_EQ(config_error_of("[dns]\ndomain = \".\"\n"),
            "test.toml:2: key 'dns.domain': '.' is not a domain name such as \"svc.internal.\"");
}

TEST(Config, WrongTypesNameLineAndKey) {
  EXPECT_EQ(config_error_of("[dns]\nttl = \"5\"\n"),
            "test.toml:2: key 'dns.ttl': must be an integer, not a string");
  EXPECT_EQ(config_error_of("[dns]\nttl = 2.5\n"),
            "test.toml:2: key 'dns.ttl': must be an integer, not a number");
  // A boolean is TOML's true or false: neither "no" nor 0 passes for one.
  EXPECT_EQ(config_error_of("[dns]\ncookies = \"no\"\n"),
            "test.toml:2: key 'dns.cookies': must be a boolean, not a string");
  EXPECT_EQ(config_error_of("[dns]\n\ncookies = 0\n"),
            "test.toml:3: key 'dns.cookies': must be a boolean, not an integer");
  EXPECT_EQ(config_error_of("[server]\nlisten = \"127.0.0.1:53\"\n"),
            "test.toml:2: key 'server.listen': must be an array of strings, not a string");
  EXPECT_EQ(config_error_of("[server]\nlisten = [53]\n"),
            "test.toml:2: key 'server.listen': must be an array of strings, not an array");
  EXPECT_EQ(config_error_of("dns = 5\n"), "test.toml:1: 'dns' must be a table ([dns]), not an integer");
}

TEST(Config, UnknownKeysAndTablesAreErrors) {
  EXPECT_EQ(config_error_of("[dns]\nttl = 5\ntll = 5\n"),
            "test.toml:3: unknown key 'dns.tll' (did you mean 'dns.ttl'?)");
  EXPECT_EQ(config_error_of("[server]\nzz = 1\nlisten = [\"127.0.0.1:53\"]\naa = 2\n"),
            "test.toml:2: unknown key 'server.zz'");
  EXPECT_EQ(config_error_of("[dsn]\nttl = 5\n"),
            "test.toml:1: unknown table or key 'dsn' (did you mean [dns]?)");
  EXPECT_EQ(config_error_of("\nlisten = [\"127.0.0.1:53\"]\n"),
            "test.toml:2: unknown table or key 'listen' (it belongs in [server] or [http])");
  EXPECT_EQ(config_error_of("ttl = 5\n"),
            "test.toml:1: unknown table or key 'ttl' (it belongs in [dns] or [[service]])");
  EXPECT_EQ(config_error_of("[metrics]\n"), "test.toml:1: unknown table or key 'metrics'");
  EXPECT_EQ(config_error_of("[[service]]\nname = \"db\"\nport = 1\nweight = 2\n"),
            "test.toml:4: unknown key 'service.weight' (it belongs in [[service.instance]])");
}

TEST(Config, TomlSyntaxErrorsNameTheLine) {
  const std::string error = config_error_of("[dns]\nttl = 5\n[server\n");
  EXPECT_EQ(error.rfind("test.toml:3: ", 0), 0u) << error;
  const std::string duplicate = config_error_of("[dns]\nttl = 5\nttl = 6\n");
  EXPECT_EQ(duplicate.rfind("test.toml:3: ", 0), 0u) << duplicate;
}

TEST(Config, StaticRegistrations) {
  const Config config = parse_config(R"(
[[service]]
name = "DB"
protocol = "tcp"
port = 5432
tags = ["primary"]
ttl = 30
answer_limit = 2

[[service.instance]]
id = "db-1"
node = "db-host-1"
addresses = ["192.0.2.10", "2001:db8::10"]
weight = 3
priority = 1
tags = ["Primary"]
meta = { version = "15", build = "b7" }

[[service.instance]]
id = "db-2"
node = "db-host-2"
addresses = ["192.0.2.11"]
port = 6432

[[service]]
name = "dns"
protocol = "udp"
port = 53
)",
                                     "test.toml");
  ASSERT_EQ(config.services.size(), 2u);
  const registry::Service& db = config.services[0];
  EXPECT_EQ(db.name, "db");
  EXPECT_EQ(db.protocol, registry::Protocol::tcp);
  EXPECT_EQ(db.tags, std::vector<std::string>{"primary"});
  EXPECT_EQ(db.ttl, 30u);
  EXPECT_EQ(db.answer_limit, 2u);
  EXPECT_EQ(config.services[1].protocol, registry::Protocol::udp);
  EXPECT_FALSE(config.services[1].ttl.has_value());
  ASSERT_EQ(config.instances.size(), 2u);
  const registry::Instance& first = config.instances[0];
  EXPECT_EQ(first.service, "db");
  EXPECT_EQ(first.node, "db-host-1");
  EXPECT_EQ(first.port, 5432);
  EXPECT_EQ(first.weight, 3);
  EXPECT_EQ(first.priority, 1);
  EXPECT_EQ(first.tags, std::vector<std::string>{"primary"});
  EXPECT_EQ(first.ipv4.size(), 1u);
  EXPECT_EQ(first.ipv6.size(), 1u);
  // Metadata keeps the order of the file, as its TXT strings will.
  const std::vector<std::pair<std::string, std::string>> meta{{"version", "15"}, {"build", "b7"}};
  EXPECT_EQ(first.meta, meta);
  EXPECT_EQ(config.instances[1].port, 6432);
  EXPECT_EQ(config.instances[1].weight, 1);
}

TEST(Config, BadRegistrationsNameLineAndKey) {
  EXPECT_EQ(config_error_of("[[service]]\nport = 1\n"),
            "test.toml:1: key 'service.name' is required");
  EXPECT_EQ(config_error_of("[[service]]\nname = \"web_api\"\nport = 1\n"),
            "test.toml:2: key 'service.name': service name 'web_api' may contain only "
            "letters, digits and hyphens (a DNS label)");
  EXPECT_EQ(config_error_of("[[service]]\nname = \"web\"\nprotocol = \"sctp\"\n"),
            "test.toml:3: key 'service.protocol': must be \"tcp\" or \"udp\", not \"sctp\"");
  EXPECT_EQ(config_error_of("[[service]]\nname = \"web\"\n\n[[service.instance]]\nid = \"w1\"\n"
                     "node = \"n1\"\naddresses = [\"10.0.0.1\"]\n"),
            "test.toml:4: key 'service.instance.port' is required when 'service.port' is not "
            "set");
  EXPECT_EQ(config_error_of("[[service]]\nname = \"web\"\nport = 80\n[[service.instance]]\n"
                     "id = \"w1\"\nnode = \"n1\"\naddresses = [\"10.0.0.300\"]\n"),
            "test.toml:7: key 'service.instance.addresses': '10.0.0.300' is not an IPv4 or "
            "IPv6 address");
  EXPECT_EQ(config_error_of("[[service]]\nname = \"web\"\nport = 80\n[[service.instance]]\n"
                     "id = \"w1\"\nnode = \"n1\"\naddresses = [\"10.0.0.1\"]\nweight = 70000\n"),
            "test.toml:8: key 'service.instance.weight': must be between 0 and 65535, not "
            "70000");
  EXPECT_EQ(config_error_of("[[service]]\nname = \"web\"\nport = 80\n[[service]]\nname = \"Web\"\n"
                     "port = 81\n"),
            "test.toml:4: key 'service.name': service 'web' is declared twice (first at "
            "line 1)");
  EXPECT_EQ(config_error_of("[service]\nname = \"web\"\n"),
            "test.toml:1: 'service' must be an array of tables: [[service]]");
}

TEST(Config, SealedOptionsAreRecordedForReload) {
  const Config config = parse_config("[dns]\nttl = 7\n", "test.toml");
  EXPECT_EQ(config.sealed.at("dns.ttl"), "7");
  EXPECT_EQ(config.sealed.at("server.listen"), "[\"127.0.0.1:8053\"]");
  EXPECT_EQ(config.sealed.at("dns.cookies"), "true");
  EXPECT_EQ(config.sealed.count("dns.zones_dir"), 0u);  // reloadable
}

TEST(Config, ReferenceListsEveryOption) {
  const std::string reference = config_reference();
  for (const char* key : {"`server.listen`", "`server.threads`", "`server.tcp_idle_timeout`",
                          "`server.tcp_max_clients`", "`server.tcp_max_per_client`",
                          "`dns.domain`", "`dns.ttl`",
                          "`dns.negative_ttl`", "`dns.answer_limit`", "`dns.udp_payload`",
                          "`dns.seed`", "`dns.zones_dir`", "`service.instance.weight`"}) {
    EXPECT_NE(reference.find(key), std::string::npos) << key;
  }
  EXPECT_NE(reference.find("| `dns.udp_payload` | integer | `1232` | `512..4096` | no |"),
            std::string::npos);
  EXPECT_NE(reference.find("| `dns.cookies` | boolean | `true` |  | no |"), std::string::npos)
      << reference;
}

TEST(Config, FilesAreReadAndMissingOnesNamed) {
  const std::string path = ::testing::TempDir() + "signpost_config_test.toml";
  {
    std::ofstream out(path);
    out << "[dns]\nttl = 9\n";
  }
  EXPECT_EQ(load_config_file(path).ttl, 9u);
  EXPECT_EQ(load_config_file(path).source, path);
  try {
    load_config_file(path + ".missing");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), path + ".missing: cannot be read");
  }
}

TEST(Config, CheckConfigLoadsTheZones) {
  Config config = default_config();
  config.source = "test.toml";
  config.zones_dir = std::string(SIGNPOST_SOURCE_DIR) + "/zones";
  const std::string summary = check_config(config);
  EXPECT_NE(summary.find("example.test."), std::string::npos) << summary;
  EXPECT_NE(summary.find("1 service, 2 instances"), std::string::npos) << summary;
  config.zones_dir = std::string(SIGNPOST_SOURCE_DIR) + "/no-such-directory";
  EXPECT_THROW(check_config(config), ConfigError);
}

}  // namespace
}  // namespace signpost::dns::daemon
