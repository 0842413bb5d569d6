// Command-line parsing: commands and their arguments, flags anywhere, environment, errors.
#include "registry/cli/options.hpp"

#include <gtest/gtest.h>

#include "registry/cli/cli_error.hpp"

namespace signpost::registry::cli {
namespace {

Options parse(std::vector<std::string> argv, Environment environment = {}) {
  return parse_arguments(argv, environment);
}

ExitCode failure_of(std::vector<std::string> argv) {
  try {
    parse(std::move(argv));
  } catch (const CliError& error) {
    return error.code();
  }
  return ExitCode::ok;
}

TEST(Options, DefaultsPointAtTheEmbeddedConfig) {
  const Options options = parse({"list"});
  EXPECT_EQ(options.command, "list");
  EXPECT_EQ(options.server, "http://127.0.0.1:8054");
  EXPECT_EQ(options.dns, "127.0.0.1:8053");
  EXPECT_TRUE(options.token_file.empty());
  EXPECT_FALSE(options.json);
  EXPECT_DOUBLE_EQ(options.timeout_seconds, 5);
}

TEST(Options, FlagsComeBeforeOrAfterTheCommandInEitherForm) {
  const Options options = parse({"--server=http://10.0.0.1:9000", "show", "web", "--json",
                                 "--token-file", "/etc/token", "--timeout", "1.5"});
  EXPECT_EQ(options.command, "show");
  EXPECT_EQ(options.args, std::vector<std::string>{"web"});
  EXPECT_EQ(options.server, "http://10.0.0.1:9000");
  EXPECT_EQ(options.token_file, "/etc/token");
  EXPECT_TRUE(options.json);
  EXPECT_DOUBLE_EQ(options.timeout_seconds, 1.5);
}

TEST(Options, EnvironmentFillsInAndFlagsWin) {
  const Environment environment = {{"SIGNPOST_SERVER", "http://env:1"},
                                   {"SIGNPOST_TOKEN_FILE", "/env/token"},
                                   {"SIGNPOST_DNS", "127.0.0.2:53"}};
  const Options from_environment = parse({"status"}, environment);
  EXPECT_EQ(from_environment.server, "http://env:1");
  EXPECT_EQ(from_environment.token_file, "/env/token");
  EXPECT_EQ(from_environment.dns, "127.0.0.2:53");
  const Options flagged = parse({"status", "--server", "http://flag:2"}, environment);
  EXPECT_EQ(flagged.server, "http://flag:2");
  EXPECT_EQ(parse({"status"}, {{"SIGNPOST_SERVER", ""}}).server, "http://127.0.0.1:8054");
}

TEST(Options, ResolveTakesItsSwitchesAndASeed) {
  const Options options = parse({"resolve", "_web._tcp.svc.internal", "--srv", "--pick",
                                 "--seed", "42", "--dns", "[::1]:5300"});
  EXPECT_TRUE(options.srv);
  EXPECT_TRUE(options.pick);
  ASSERT_TRUE(options.seed.has_value());
  EXPECT_EQ(*options.seed, 42u);
  EXPECT_EQ(options.dns, "[::1]:5300");
}

TEST(Options, WeightSetsOrClears) {
  const Options set = parse({"weight", "web", "a", "7"});
  EXPECT_EQ(set.args, (std::vector<std::string>{"web", "a"}));
  ASSERT_TRUE(set.weight.has_value());
  EXPECT_EQ(*set.weight, 7);
  EXPECT_FALSE(parse({"weight", "web", "a", "--clear"}).weight.has_value());
  const Options reset = parse({"weight", "web", "a", "reset"});
  EXPECT_FALSE(reset.weight.has_value());
  EXPECT_EQ(reset.args.size(), 2u);
  EXPECT_EQ(*parse({"weight", "web", "a", "0"}).weight, 0);
  EXPECT_EQ(*parse({"weight", "web", "a", "65535"}).weight, 65535);
}

TEST(Options, ADoubleDashEndsTheFlags) {
  const Options options = parse({"drain", "--", "web", "-odd-id"});
  EXPECT_EQ(options.args, (std::vector<std::string>{"web", "-odd-id"}));
}

TEST(Options, HelpAndVersionNeedNoCommand) {
  EXPECT_EQ(parse({"--help"}).command, "help");
  EXPECT_EQ(parse({"-h"}).command, "help");
  EXPECT_EQ(parse({"list", "--help"}).command, "help");
  EXPECT_EQ(parse({"--version"}).command, "version");
}

TEST(Options, MistakesAreUsageErrors) {
  EXPECT_EQ(failure_of({}), ExitCode::usage);
  EXPECT_EQ(failure_of({"bogus"}), ExitCode::usage);
  EXPECT_EQ(failure_of({"show"}), ExitCode::usage);
  EXPECT_EQ(failure_of({"show", "web", "extra"}), ExitCode::usage);
  EXPECT_EQ(failure_of({"drain", "web"}), ExitCode::usage);
  EXPECT_EQ(failure_of({"list", "--frobnicate"}), ExitCode::usage);
  EXPECT_EQ(failure_of({"list", "--server"}), ExitCode::usage);
  EXPECT_EQ(failure_of({"list", "--json=yes"}), ExitCode::usage);
  EXPECT_EQ(failure_of({"list", "--timeout", "0"}), ExitCode::usage);
  EXPECT_EQ(failure_of({"list", "--timeout", "soon"}), ExitCode::usage);
  EXPECT_EQ(failure_of({"weight", "web", "a", "65536"}), ExitCode::usage);
  EXPECT_EQ(failure_of({"weight", "web", "a", "-1"}), ExitCode::usage);
  EXPECT_EQ(failure_of({"weight", "web", "a", "1x"}), ExitCode::usage);
  EXPECT_EQ(failure_of({"weight", "web", "a"}), ExitCode::usage);
  EXPECT_EQ(failure_of({"weight", "web", "a", "3", "--clear"}), ExitCode::usage);
  EXPECT_EQ(failure_of({"resolve", "web", "--seed", "x"}), ExitCode::usage);
}

TEST(Options, ACommandsFlagIsRefusedElsewhere) {
  EXPECT_EQ(failure_of({"list", "--srv"}), ExitCode::usage);
  EXPECT_EQ(failure_of({"status", "--once"}), ExitCode::usage);
  EXPECT_EQ(failure_of({"drain", "web", "a", "--clear"}), ExitCode::usage);
  EXPECT_EQ(failure_of({"watch", "--pick"}), ExitCode::usage);
  EXPECT_TRUE(parse({"watch", "--once"}).once);
}

TEST(Options, HelpTextDocumentsEveryExitCode) {
  const std::string text = usage_text();
  for (const char* code : {"0  ok", "1  the server", "2  usage", "3  not found",
                           "4  not authorized", "5  server unreachable"}) {
    EXPECT_NE(text.find(code), std::string::npos) << code;
  }
}

}  // namespace
}  // namespace signpost::registry::cli
