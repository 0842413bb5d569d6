// agent.toml: options, defaults from the host, and errors that name the file, line and key.
#include "health/agent/agent_config.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace signpost::health::agent {
namespace {

constexpr const char* kSecret = "c2lnbnBvc3QgdGVzdCBrZXkgMDEyMzQ1Njc4OWFiY2RlZg==";

HostFacts host() { return HostFacts{"Box-7.example.com", {"192.0.2.7", "2001:db8::7"}}; }

std::string minimal(const std::string& extra_agent = "", const std::string& rest = "") {
  return "[agent]\nservers = [\"127.0.0.1:8053\"]\nkey_name = \"agent-key\"\nkey_secret = \"" +
         std::string(kSecret) + "\"\n" + extra_agent + rest;
}

AgentConfig parse(const std::string& text) {
  return parse_agent_config(text, "agent.toml", host());
}

// The message of the ConfigError `text` raises (empty when it parses).
std::string error_of(const std::string& text, const HostFacts& facts = host()) {
  try {
    parse_agent_config(text, "agent.toml", facts);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(AgentConfig, MinimalFileTakesTheDefaults) {
  const AgentConfig config = parse(minimal());
  EXPECT_EQ(config.node, "box-7");  // the host name's first label, lower case
  EXPECT_EQ(config.addresses, (std::vector<std::string>{"192.0.2.7", "2001:db8::7"}));
  ASSERT_EQ(config.servers.size(), 1u);
  EXPECT_EQ(config.servers[0].text(), "127.0.0.1:8053");
  EXPECT_EQ(config.send_to, SendTo::all);
  EXPECT_EQ(config.domain, "svc.internal.");
  EXPECT_EQ(config.key.name, "agent-key.");
  EXPECT_EQ(config.key.algorithm, "hmac-sha256");
  EXPECT_EQ(config.key.secret, kSecret);
  EXPECT_EQ(config.lease, 15u);
  EXPECT_TRUE(config.services.empty());
}

TEST(AgentConfig, ReadsEveryOption) {
  const AgentConfig config = parse(R"([agent]
node = "Web-Host"
addresses = ["127.0.0.10", "0:0::10", "127.0.0.10"]
servers = ["127.0.0.1:8053", "[::1]:53"]
send_to = "One"
domain = "Disco.Example."
key_name = "k1"
key_secret = ")" + std::string(kSecret) +
                                   R"("
algorithm = "HMAC-SHA512"
lease = 30

[[service]]
name = "Web"
id = "web-a"
protocol = "udp"
port = 8080
tags = ["v1", "Canary", "v1"]
weight = 5
priority = 2
meta = { version = "1.2", zone = "a b", alpha = "first?" }

[[service.check]]
type = "http"
target = "http://127.0.0.1:8080/health"
interval = 0.5
timeout = 0.25
success_before_passing = 2
failures_before_critical = 3

[[service.check]]
type = "exec"
target = "test -f /tmp/ready"

[[service]]
name = "db"
port = 5432
)");
  EXPECT_EQ(config.node, "web-host");
  EXPECT_EQ(config.addresses, (std::vector<std::string>{"127.0.0.10", "::10"}));
  ASSERT_EQ(config.servers.size(), 2u);
  EXPECT_EQ(config.servers[1].text(), "[::1]:53");
  EXPECT_TRUE(config.servers[1].ipv6);
  EXPECT_EQ(config.send_to, SendTo::one);
  EXPECT_EQ(config.domain, "disco.example.");
  EXPECT_EQ(config.key.name, "k1.");
  EXPECT_EQ(config.key.algorithm, "hmac-sha512");
  EXPECT_EQ(config.lease, 30u);
  ASSERT_EQ(config.services.size(), 2u);
  const ServiceConfig& web = config.services[0];
  EXPECT_EQ(web.name, "web");
  EXPECT_EQ(web.id, "web-a");
  EXPECT_TRUE(web.udp);
  EXPECT_EQ(web.port, 8080);
  EXPECT_EQ(web.tags, (std::vector<std::string>{"v1", "canary"}));
  EXPECT_EQ(web.weight, 5);
  EXPECT_EQ(web.priority, 2);
  // Metadata keeps the order of the file.
  const std::vector<std::pair<std::string, std::string>> meta{
      {"version", "1.2"}, {"zone", "a b"}, {"alpha", "first?"}};
  EXPECT_EQ(web.meta, meta);
  ASSERT_EQ(web.checks.size(), 2u);
  EXPECT_EQ(web.checks[0].type, CheckType::http);
  EXPECT_EQ(web.checks[0].interval, std::chrono::milliseconds(500));
  EXPECT_EQ(web.checks[0].timeout, std::chrono::milliseconds(250));
  EXPECT_EQ(web.checks[0].success_before_passing, 2u);
  EXPECT_EQ(web.checks[0].failures_before_critical, 3u);
  EXPECT_EQ(web.checks[1].type, CheckType::exec);
  EXPECT_EQ(web.checks[1].interval, std::chrono::milliseconds(10000));
  EXPECT_EQ(web.checks[1].timeout, std::chrono::milliseconds(2000));
  const ServiceConfig& db = config.services[1];
  EXPECT_EQ(db.id, "db-web-host");  // <service>-<node>
  EXPECT_FALSE(db.udp);
  EXPECT_EQ(db.weight, 1);
  EXPECT_TRUE(db.checks.empty());
}

struct BadCase {
  std::string text;
  std::string message;  // the exact message: file, line, key, reason
};

// Every case: the exact message, naming the file, the line and the key.
const std::vector<BadCase>& bad_cases() {
  static const std::vector<BadCase> cases{
      BadCase{minimal("lease = 0\n"),
              "agent.toml:5: key 'agent.lease': must be between 1 and 86400, not 0"},
      BadCase{minimal("leese = 3\n"),
              "agent.toml:5: unknown key 'agent.leese' (did you mean 'agent.lease'?)"},
      BadCase{minimal("lease = \"3\"\n"),
              "agent.toml:5: key 'agent.lease': must be an integer, not a string"},
      BadCase{"[agent]\nkey_name = \"k\"\nkey_secret = \"" + std::string(kSecret) + "\"\n",
              "agent.toml:1: key 'agent.servers' is required"},
      BadCase{"[agent]\nservers = [\"localhost:53\"]\n",
              "agent.toml:2: key 'agent.servers': 'localhost:53' must be a numeric address "
              "and a port, like \"192.0.2.1:53\""},
      BadCase{"[agent]\nservers = [\"::1:53\"]\n",
              "agent.toml:2: key 'agent.servers': '::1:53': write an IPv6 address in "
              "brackets, like [::1]:80"},
      BadCase{"[agent]\nservers = [\"127.0.0.1:8053\"]\nkey_name = \"k\"\n",
              "agent.toml:3: give 'agent.key_secret' or 'agent.key_file'"},
      BadCase{minimal("key_file = \"/nonexistent\"\n"),
              "agent.toml:5: give 'agent.key_secret' or 'agent.key_file', not both"},
      BadCase{"[agent]\nservers = [\"127.0.0.1:1\"]\nkey_name = \"k\"\nkey_secret = \"no!\"\n",
              "agent.toml:4: key 'agent.key_secret': is not base64"},
      BadCase{"[agent]\nservers = [\"127.0.0.1:1\"]\nkey_name = \"short-key\"\n"
              "key_secret = \"ZmlmdGVlbiBvY3RldHMh\"\n",
              "agent.toml:4: key 'agent.key_secret': secret of key \"short-key\" is 15 octets; "
              "a TSIG key needs at least 16"},
      BadCase{minimal("algorithm = \"hmac-md5\"\n"),
              "agent.toml:5: key 'agent.algorithm': must be \"hmac-sha256\" or "
              "\"hmac-sha512\", not \"hmac-md5\""},
      BadCase{minimal("send_to = \"any\"\n"),
              "agent.toml:5: key 'agent.send_to': must be \"all\" or \"one\", not \"any\""},
      BadCase{minimal("send_to = 1\n"),
              "agent.toml:5: key 'agent.send_to': must be a string, not an integer"},
      BadCase{minimal("addresses = [\"10.0.0.300\"]\n"),
              "agent.toml:5: key 'agent.addresses': '10.0.0.300' is not a numeric IPv4 or "
              "IPv6 address"},
      BadCase{minimal("node = \"web_1\"\n"),
              "agent.toml:5: key 'agent.node': node name 'web_1' may contain only letters, "
              "digits and hyphens (a DNS label)"},
      BadCase{minimal("", "\n[[service]]\nname = \"web\"\n"),
              "agent.toml:6: key 'service.port' is required"},
      BadCase{minimal("", "\n[[service]]\nname = \"web\"\nport = 70000\n"),
              "agent.toml:8: key 'service.port': must be between 1 and 65535, not 70000"},
      BadCase{minimal("", "\n[[service]]\nname = \"node\"\nport = 1\n"),
              "agent.toml:7: key 'service.name': service name 'node' is reserved"},
      BadCase{minimal("", "\n[[service]]\nname = \"web\"\nport = 1\nprotocol = \"sctp\"\n"),
              "agent.toml:9: key 'service.protocol': must be \"tcp\" or \"udp\", not \"sctp\""},
      BadCase{minimal("", "\n[[service]]\nname = \"web\"\nport = 1\nmeta = { health = \"x\" }\n"),
              "agent.toml:9: key 'service.meta': 'health' is reserved (the agent sets it)"},
      BadCase{minimal("", "\n[[service]]\nname = \"web\"\nport = 1\nmeta = { n = 1 }\n"),
              "agent.toml:9: key 'service.meta': must be a table of strings, not a table"},
      BadCase{minimal("", "\n[[service]]\nname = \"web\"\nport = 1\nweight = -1\n"),
              "agent.toml:9: key 'service.weight': must be between 0 and 65535, not -1"},
      BadCase{minimal("",
                      "\n[[service]]\nname = \"web\"\nport = 1\n\n[[service]]\n"
                      "name = \"web\"\nport = 2\n"),
              "agent.toml:10: key 'service.id': instance 'web-box-7' of service 'web' is "
              "declared twice (first at line 6); give each its own id"},
      BadCase{minimal("",
                      "\n[[service]]\nname = \"web\"\nport = 1\n[[service.check]]\n"
                      "type = \"icmp\"\ntarget = \"x\"\n"),
              "agent.toml:10: key 'service.check.type': must be \"http\", \"tcp\" or "
              "\"exec\", not \"icmp\""},
      BadCase{minimal("",
                      "\n[[service]]\nname = \"web\"\nport = 1\n[[service.check]]\n"
                      "type = \"http\"\ntarget = \"https://127.0.0.1/\"\n"),
              "agent.toml:11: key 'service.check.target': 'https://127.0.0.1/': https is "
              "not supported, use http://"},
      BadCase{minimal("",
                      "\n[[service]]\nname = \"web\"\nport = 1\n[[service.check]]\n"
                      "type = \"tcp\"\ntarget = \"127.0.0.1\"\n"),
              "agent.toml:11: key 'service.check.target': '127.0.0.1' needs a port, like "
              "\"127.0.0.1:80\""},
      BadCase{minimal("",
                      "\n[[service]]\nname = \"web\"\nport = 1\n[[service.check]]\n"
                      "type = \"tcp\"\ntarget = \"127.0.0.1:1\"\ninterval = 0\n"),
              "agent.toml:12: key 'service.check.interval': must be between 0.1 and 86400 "
              "seconds, not 0"},
      BadCase{minimal("",
                      "\n[[service]]\nname = \"web\"\nport = 1\n[[service.check]]\n"
                      "type = \"exec\"\ntarget = \"true\"\nfailures_before_critical = 0\n"),
              "agent.toml:12: key 'service.check.failures_before_critical': must be between "
              "1 and 1000, not 0"},
      BadCase{minimal("",
                      "\n[[service]]\nname = \"web\"\nport = 1\n[[service.check]]\n"
                      "type = \"exec\"\ntarget = \"true\"\nretries = 2\n"),
              "agent.toml:12: unknown key 'service.check.retries'"},
      BadCase{minimal("", "\n[[service]]\nname = \"web\"\nport = 1\ninterval = 2\n"),
              "agent.toml:9: unknown key 'service.interval' (it belongs in "
              "[[service.check]])"},
      BadCase{minimal("", "\n[service]\nname = \"web\"\n"),
              "agent.toml:6: 'service' must be an array of tables: [[service]]"},
      BadCase{minimal("", "\n[agnet]\n"),
              "agent.toml:6: unknown table or key 'agnet' (did you mean [agent]?)"},
      BadCase{"lease = 3\n", "agent.toml:1: unknown table or key 'lease' (it belongs in [agent])"},
      BadCase{"[agent\n",
              "agent.toml:1: Error while parsing table header: expected ']', saw '\\n'"}};
  return cases;
}

TEST(AgentConfig, LogFormatIsTextOrJson) {
  EXPECT_EQ(parse(minimal()).log_format, LogFormat::text);
  EXPECT_EQ(parse(minimal("", "[log]\nformat = \"json\"\n")).log_format, LogFormat::json);
  EXPECT_EQ(error_of(minimal("", "[log]\nformat = \"syslog\"\n")),
            "agent.toml:6: key 'log.format': must be \"text\" or \"json\", not \"syslog\"");
}

TEST(AgentConfig, ErrorsNameFileLineAndKey) {
  for (const BadCase& bad : bad_cases()) {
    SCOPED_TRACE(bad.text);
    EXPECT_EQ(error_of(bad.text), bad.message);
  }
}

TEST(AgentConfig, NoUsableHostDefaultsIsAnError) {
  EXPECT_EQ(error_of(minimal(), HostFacts{"box", {}}),
            "agent.toml:1: key 'agent.addresses': the host has no address but loopback; set it");
  EXPECT_EQ(error_of(minimal(), HostFacts{"bad_name", {"192.0.2.1"}}),
            "agent.toml:1: key 'agent.node': the host name does not work as the default (node "
            "name 'bad_name' may contain only letters, digits and hyphens (a DNS label)); set it");
  EXPECT_EQ(error_of(minimal("node = \"n1\"\naddresses = [\"192.0.2.1\"]\n"), HostFacts{}), "");
}

class KeyFile : public testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/signpost-agent-test-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::remove((dir_ + "/key").c_str());
    rmdir(dir_.c_str());
  }
  void write_key(const std::string& text) { std::ofstream(dir_ + "/key") << text; }
  std::string config_with_file(const std::string& file) {
    return "[agent]\nservers = [\"127.0.0.1:8053\"]\nkey_name = \"k\"\nkey_file = \"" + file +
           "\"\n";
  }
  std::string dir_;
};

TEST_F(KeyFile, RelativeToTheConfigFileAndTrimmed) {
  write_key(std::string(kSecret) + "\n");
  const AgentConfig config =
      parse_agent_config(config_with_file("key"), dir_ + "/agent.toml", host());
  EXPECT_EQ(config.key.secret, kSecret);
}

TEST_F(KeyFile, ReadsTheSecretOfABindKeyFile) {
  write_key("key \"k\" {\n\talgorithm hmac-sha256;\n\tsecret \"" + std::string(kSecret) +
            "\";\n};\n");
  const AgentConfig config =
      parse_agent_config(config_with_file(dir_ + "/key"), "agent.toml", host());
  EXPECT_EQ(config.key.secret, kSecret);
}

TEST_F(KeyFile, MissingOrNotBase64IsAnError) {
  EXPECT_EQ(error_of(config_with_file(dir_ + "/absent")),
            "agent.toml:4: key 'agent.key_file': cannot read '" + dir_ + "/absent'");
  write_key("not a secret\n");
  EXPECT_EQ(error_of(config_with_file(dir_ + "/key")),
            "agent.toml:4: key 'agent.key_file': '" + dir_ + "/key' holds no base64 secret");
}

TEST_F(KeyFile, ShortSecretIsAnError) {
  write_key("ZmlmdGVlbiBvY3RldHMh\n");  // "fifteen octets!"
  EXPECT_EQ(error_of(config_with_file(dir_ + "/key")),
            "agent.toml:4: key 'agent.key_file': '" + dir_ +
                "/key': secret of key \"k\" is 15 octets; a TSIG key needs at least 16");
  write_key("c2l4dGVlbiBvY3RldHMhIQ==\n");  // "sixteen octets!!"
  EXPECT_EQ(error_of(config_with_file(dir_ + "/key")), "");
}

TEST(AgentConfig, UrlAndHostPortParsing) {
  EXPECT_EQ(parse_http_url("http://127.0.0.1:8080/health?x=1"),
            (HttpTarget{"127.0.0.1", 8080, "/health?x=1"}));
  EXPECT_EQ(parse_http_url("HTTP://[::1]"), (HttpTarget{"::1", 80, "/"}));
  EXPECT_EQ(parse_http_url("http://localhost:81"), (HttpTarget{"localhost", 81, "/"}));
  EXPECT_THROW(parse_http_url("http://user@host/"), std::invalid_argument);
  EXPECT_THROW(parse_http_url("http://host:0/"), std::invalid_argument);
  EXPECT_THROW(parse_http_url("http://host/a b"), std::invalid_argument);
  EXPECT_THROW(parse_http_url("http:///path"), std::invalid_argument);
  EXPECT_EQ(parse_host_port("[::1]:5432"), (HostPort{"::1", 5432}));
  EXPECT_THROW(parse_host_port("[::1]"), std::invalid_argument);
  EXPECT_THROW(parse_host_port("host:http"), std::invalid_argument);
}

TEST(AgentConfig, ReferenceListsEveryOption) {
  const std::string reference = config_reference();
  for (const char* key : {"`agent.node`", "`agent.servers`", "`agent.key_file`", "`agent.lease`",
                          "`service.meta`", "`service.check.failures_before_critical`"}) {
    EXPECT_NE(reference.find(key), std::string::npos) << key;
  }
  EXPECT_NE(reference.find("| `agent.lease` | integer | `15` | `1..86400` |"), std::string::npos);
  EXPECT_NE(reference.find("| `agent.send_to` | string | `\"all\"` | `\"all\", \"one\"` |"),
            std::string::npos);
}

TEST(AgentConfig, DescribeSummarisesTheFile) {
  const AgentConfig config = parse(minimal("", "\n[[service]]\nname = \"web\"\nport = 1\n"));
  EXPECT_EQ(describe(config),
            "agent.toml: OK (node box-7 [192.0.2.7 2001:db8::7], 1 server, 1 service, 0 checks)");
  const AgentConfig one = parse(minimal("send_to = \"one\"\n"));
  EXPECT_EQ(describe(one), "agent.toml: OK (node box-7 [192.0.2.7 2001:db8::7], 1 server one "
                           "at a time, 0 services, 0 checks)");
}

}  // namespace
}  // namespace signpost::health::agent
