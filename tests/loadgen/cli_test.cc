// The loadtest binary: validate accepts every shipped scenario, names the key and line of a
// bad one with exit 2, and run refuses what it must refuse with the documented exit codes.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace {

struct Outcome {
  int code = -1;
  std::string output;  // stdout and stderr
};

Outcome Loadtest(const std::string& args) {
  Outcome o;
  const std::string cmd = std::string(ENGRAM_LOADTEST_BIN) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return o;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof(buf), p)) > 0;) o.output.append(buf, n);
  const int rc = pclose(p);
  o.code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return o;
}

std::string Temp(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("loadgen_cli_" + std::to_string(::getpid()) + "_" + name)).string();
}

TEST(CliTest, ValidateAcceptsEveryShippedScenario) {
  int n = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(ENGRAM_SCENARIOS_DIR)) {
    if (e.path().extension() != ".toml") continue;
    ++n;
    const Outcome o = Loadtest("validate " + e.path().string());
    EXPECT_EQ(o.code, 0) << e.path() << "\n" << o.output;
    EXPECT_NE(o.output.find("OK:"), std::string::npos) << o.output;
  }
  EXPECT_GE(n, 5);
}

TEST(CliTest, ValidateNamesTheKeyAndLineOfABadFileAndExitsTwo) {
  const std::string path = Temp("bad.toml");
  std::ofstream(path) << "name = \"x\"\ndescription = \"y\"\n[arrival]\npattern = \"constant\"\nrate = 10.0\n"
                         "[operations]\nstor_weight = 1.0\n";
  const Outcome o = Loadtest("validate " + path);
  EXPECT_EQ(o.code, 2) << o.output;
  EXPECT_NE(o.output.find(":7:"), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("operations.stor_weight"), std::string::npos) << o.output;
  std::remove(path.c_str());
}

TEST(CliTest, ListShowsEveryScenarioWithItsName) {
  const Outcome o = Loadtest(std::string("list --dir ") + ENGRAM_SCENARIOS_DIR);
  EXPECT_EQ(o.code, 0) << o.output;
  EXPECT_NE(o.output.find("\"M17 Baseline\""), std::string::npos) << o.output;
  EXPECT_EQ(o.output.find("INVALID"), std::string::npos) << o.output;
}

TEST(CliTest, RunRefusesARemoteEndpointAsAUsageError) {
  const Outcome o = Loadtest(std::string("run --scenario ") + ENGRAM_SCENARIOS_DIR +
                             "/m17_baseline.toml --endpoint http://192.0.2.1:7432");
  EXPECT_EQ(o.code, 2) << o.output;
  EXPECT_NE(o.output.find("loopback"), std::string::npos) << o.output;
}

TEST(CliTest, RunExitsThreeWhenTheServerIsUnreachable) {
  const Outcome o = Loadtest(std::string("run --scenario ") + ENGRAM_SCENARIOS_DIR +
                             "/m17_baseline.toml --endpoint http://127.0.0.1:1 --quiet");
  EXPECT_EQ(o.code, 3) << o.output;
  EXPECT_NE(o.output.find("not reachable"), std::string::npos) << o.output;
}

TEST(CliTest, UsageErrorsExitTwo) {
  EXPECT_EQ(Loadtest("run").code, 2);  // --scenario is required
  EXPECT_EQ(Loadtest(std::string("run --scenario ") + ENGRAM_SCENARIOS_DIR + "/m17_baseline.toml --seed xyz").code, 2);
  EXPECT_EQ(Loadtest(std::string("run --scenario ") + ENGRAM_SCENARIOS_DIR + "/m17_baseline.toml --shard 2/2").code, 2);
  EXPECT_EQ(Loadtest("run --scenario /nonexistent.toml").code, 2);
  EXPECT_EQ(Loadtest("--help").code, 0);
  EXPECT_EQ(Loadtest("run --help").code, 0);
}

TEST(CliTest, RunWritesTheResultAndExitsOneWhenValidationFails) {
  const std::string scenario = Temp("strict.toml"), out = Temp("strict.json");
  std::ofstream(scenario) << R"(name = "strict"
description = "an impossible latency limit"
[duration]
total_seconds = 0.5
[arrival]
pattern = "constant"
rate = 100.0
[operations]
store_weight = 1.0
[data]
num_nodes = 0
embedding_dim = 8
[validation]
expected_p99_latency_ms = 0.000001
)";
  const Outcome o = Loadtest("run --driver inprocess --quiet --scenario " + scenario + " --output " + out);
  EXPECT_EQ(o.code, 1) << o.output;
  EXPECT_TRUE(std::filesystem::exists(out)) << o.output;
  EXPECT_NE(o.output.find("validation: FAILED"), std::string::npos) << o.output;
  std::remove(scenario.c_str());
  std::remove(out.c_str());
}

}  // namespace
