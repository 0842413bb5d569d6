// The tables printed for API answers and resolve results.
#include "registry/cli/output_format.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "registry/cli/cli_error.hpp"
#include "registry/cli/resolver.hpp"

namespace signpost::registry::cli {
namespace {

TEST(OutputFormat, ListsServicesInAnAlignedTable) {
  const auto body = boost::json::parse(R"({"serial":3,"services":[
    {"name":"web","protocol":"tcp","port":8080,"tags":["v1","eu"],
     "counts":{"total":12,"passing":11,"warning":0,"critical":1,"drained":2}},
    {"name":"dns","protocol":"udp","port":null,"tags":[],
     "counts":{"total":1,"passing":1,"warning":0,"critical":0,"drained":0}}]})");
  EXPECT_EQ(format_services(body),
            "SERVICE  PROTO  PORT  INSTANCES  PASSING  WARNING  CRITICAL  DRAINED  TAGS\n"
            "web      tcp    8080         12       11        0         1        2  v1,eu\n"
            "dns      udp       -          1        1        0         0        0  -\n");
  EXPECT_EQ(format_services(boost::json::parse(R"({"serial":9,"services":[]})")),
            "no services (serial 9)\n");
}

TEST(OutputFormat, ShowsInstancesWithWeightsLeasesAndDrainMarks) {
  const auto body = boost::json::parse(R"({"name":"web","protocol":"tcp","port":8080,
    "tags":[],"serial":4,"ttl":null,"answer_limit":3,"instances":[
    {"id":"a","service":"web","node":"host-1","addresses":["10.0.0.1","fd00::1"],"port":8080,
     "priority":0,"weight":5,"weight_override":2,"effective_weight":0,"health":"passing",
     "reported_health":"passing","source":"update","tags":[],"meta":{},
     "lease_seconds":30,"lease_remaining":12.25,"flap":{"state":"stable","penalty":0},
     "drained":true}]})");
  const std::string text = format_service(body);
  EXPECT_NE(text.find("web  tcp/8080"), std::string::npos) << text;
  EXPECT_NE(text.find("answer limit 3"), std::string::npos) << text;
  EXPECT_NE(text.find("10.0.0.1,fd00::1"), std::string::npos) << text;
  EXPECT_NE(text.find("2 (set; registered 5)"), std::string::npos) << text;
  EXPECT_NE(text.find("12.2s/30.0s"), std::string::npos) << text;
  EXPECT_NE(text.find("drained\n"), std::string::npos) << text;
}

TEST(OutputFormat, StatusShowsFieldsAnOlderServerLeavesOutAsDashes) {
  const std::string text = format_status(boost::json::parse(
      R"({"version":"0.1.0","serial":5,"uptime_seconds":61.5,"services":1,"instances":2,
          "backend":{"kind":"memory","healthy":true,"detail":"/var/lib/signpost/state"}})"));
  EXPECT_NE(text.find("version            0.1.0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("uptime             61.5s\n"), std::string::npos) << text;
  EXPECT_NE(text.find("nodes              -\n"), std::string::npos) << text;
  EXPECT_NE(text.find("self-preservation  off\n"), std::string::npos) << text;
  EXPECT_NE(text.find("backend            memory (healthy) /var/lib"), std::string::npos) << text;
}

TEST(OutputFormat, CellTextOfEachJsonKind) {
  EXPECT_EQ(cell_text(boost::json::parse("null")), "-");
  EXPECT_EQ(cell_text(boost::json::parse("2.0")), "2");
  EXPECT_EQ(cell_text(boost::json::parse("2.5")), "2.5");
  EXPECT_EQ(cell_text(boost::json::parse("true")), "yes");
  EXPECT_EQ(cell_text(boost::json::parse(R"(["a","b"])")), "a,b");
  EXPECT_EQ(cell_text(boost::json::parse("[]")), "-");
}

TEST(OutputFormat, ResolveAnswersAsTableAndJson) {
  Resolution resolution;
  resolution.name = "_web._tcp.svc.internal";
  resolution.srv = true;
  resolution.records = {{{0, 10, 8080, "host-1.node.svc.internal"},
                         {{"A", "10.0.0.1", 5}, {"AAAA", "fd00::1", 5}}}};
  EXPECT_EQ(format_resolution(resolution),
            "PRIORITY  WEIGHT  PORT  TARGET                    ADDRESSES\n"
            "       0      10  8080  host-1.node.svc.internal  10.0.0.1,fd00::1\n");
  const auto json = resolution_json(resolution);
  EXPECT_EQ(json.at("srv").at(0).at("addresses").at(1).at("address").as_string(), "fd00::1");
}

TEST(DnsServerFlag, TakesAddressesWithAndWithoutPorts) {
  EXPECT_EQ(parse_dns_server("127.0.0.1:8053").text(), "127.0.0.1:8053");
  EXPECT_EQ(parse_dns_server("[::1]:5300").text(), "[::1]:5300");
  EXPECT_EQ(parse_dns_server("::1").text(), "[::1]:53");
  EXPECT_EQ(parse_dns_server("10.1.2.3").port, 53);
  for (const char* bad : {"localhost:53", "127.0.0.1:0", "127.0.0.1:x", "[::1"}) {
    EXPECT_THROW(parse_dns_server(bad), CliError) << bad;
  }
}

}  // namespace
}  // namespace signpost::registry::cli
