// The capacity file: written and read back, one entry per scenario and machine, lookups by
// content and machine, a damaged file never overwritten.
#include "analysis/capacity_file.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/files.h"

namespace engram::analysis {
namespace {

namespace fs = std::filesystem;

CapacityEntry Entry(const std::string& path, const std::string& hash, const std::string& cpu, double rate) {
  CapacityEntry e;
  e.scenario_path = path;
  e.scenario_hash = hash;
  e.scenario_name = "S";
  e.scenario_rate = 1000;
  e.machine.cpu_model = cpu;
  e.machine.cores = 2;
  e.machine.cpu_family = 25;
  e.machine.cpu_model_number = 1;
  e.machine.cpu_mhz = 2450;
  e.measured_utc = "2026-12-02T10:00:00Z";
  e.git_commit = "abc";
  e.sustainable_ops_per_sec = rate;
  e.outcome = "found";
  CapacityStep s;
  s.rate = rate;
  s.sustained = true;
  s.verdict = "sustained";
  s.reasons = {"none"};
  e.steps.push_back(s);
  return e;
}

std::string TempFile(const std::string& name) {
  return (fs::temp_directory_path() / ("capacity_file_test_" + std::to_string(::getpid()) + "_" + name)).string();
}

TEST(CapacityFileTest, WritesAndReadsBackEveryField) {
  CapacityFile f;
  CapacityEntry e = Entry("scenarios/m17_baseline.toml", "h1", "CPU A", 1400);
  e.lowest_failed_ops_per_sec = 1600;
  e.steps[0].backlog_end = 7;
  e.steps[0].space_episodes_at_start = 36000;
  f.Put(e);
  const std::string path = TempFile("rt.json");
  ASSERT_TRUE(WriteFileAtomically(path, CapacityFileToJson(f)).ok());
  auto back = LoadCapacityFile(path);
  fs::remove(path);
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  ASSERT_EQ(back->entries.size(), 1u);
  const CapacityEntry& b = back->entries[0];
  EXPECT_EQ(b.scenario_path, "scenarios/m17_baseline.toml");
  EXPECT_EQ(b.machine.cpu_family, 25);
  EXPECT_DOUBLE_EQ(*b.sustainable_ops_per_sec, 1400);
  EXPECT_DOUBLE_EQ(*b.lowest_failed_ops_per_sec, 1600);
  EXPECT_DOUBLE_EQ(b.ratio(), 1.4);
  ASSERT_EQ(b.steps.size(), 1u);
  EXPECT_EQ(b.steps[0].backlog_end, 7);
  EXPECT_EQ(b.steps[0].space_episodes_at_start, 36000u);
  EXPECT_EQ(b.steps[0].reasons, std::vector<std::string>{"none"});
  EXPECT_EQ(CapacityFileToJson(*back), CapacityFileToJson(f));
}

TEST(CapacityFileTest, OneEntryPerScenarioAndMachine) {
  CapacityFile f;
  f.Put(Entry("a.toml", "h1", "CPU A", 100));
  f.Put(Entry("a.toml", "h1", "CPU B", 200));
  f.Put(Entry("a.toml", "h2", "CPU A", 300));  // re-measured after the file changed: replaces
  ASSERT_EQ(f.entries.size(), 2u);
  EXPECT_EQ(f.Find("h1", "CPU A", 2), nullptr);
  ASSERT_NE(f.Find("h2", "CPU A", 2), nullptr);
  EXPECT_DOUBLE_EQ(*f.Find("h2", "CPU A", 2)->sustainable_ops_per_sec, 300);
  EXPECT_EQ(f.Find("h2", "CPU A", 4), nullptr);  // other core count: another machine
  EXPECT_EQ(f.Related("/elsewhere/a.toml").size(), 2u);
  EXPECT_TRUE(f.Related("b.toml").empty());
}

TEST(CapacityFileTest, StoreAddsToAnExistingFileAndRefusesADamagedOne) {
  const std::string path = TempFile("store.json");
  fs::remove(path);
  ASSERT_TRUE(StoreCapacity(path, Entry("a.toml", "h1", "CPU A", 100)).ok());
  ASSERT_TRUE(StoreCapacity(path, Entry("b.toml", "h9", "CPU A", 50)).ok());
  auto f = LoadCapacityFile(path);
  ASSERT_TRUE(f.ok()) << f.error().ToString();
  EXPECT_EQ(f->entries.size(), 2u);
  ASSERT_TRUE(WriteFileAtomically(path, "{\"schema_version\": 1, \"scenarios\": 7}").ok());
  const Status st = StoreCapacity(path, Entry("a.toml", "h1", "CPU A", 100));
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("not overwriting"), std::string::npos) << st.message();
  EXPECT_EQ(ReadFile(path).value(), "{\"schema_version\": 1, \"scenarios\": 7}");
  fs::remove(path);
  EXPECT_EQ(LoadCapacityFile(path).error().code(), StatusCode::kNotFound);
}

TEST(CapacityFileTest, DescribesTheRateAgainstTheScenarioAndTheMachine) {
  const CapacityEntry e = Entry("a.toml", "h1", "CPU A", 620);
  const std::string d = DescribeCapacity(e);
  EXPECT_NE(d.find("620 ops/s (0.62x the scenario's 1000 ops/s; measured 2026-12-02T10:00:00Z at commit abc on "
                   "CPU A (family 25 model 1, 2450 MHz), 2 cores"),
            std::string::npos)
      << d;
  CapacityEntry none = e;
  none.sustainable_ops_per_sec.reset();
  none.lowest_failed_ops_per_sec = 125;
  EXPECT_NE(DescribeCapacity(none).find("below the lowest rate tried (125 ops/s failed"), std::string::npos);
}

}  // namespace
}  // namespace engram::analysis
