#include "analysis/calibration.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "synth.h"

namespace engram::analysis {
namespace {

namespace fs = std::filesystem;

class CalibrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("engram_calibration_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  void WriteRuns(int n, uint64_t first_seed, testing::SynthRun run = {}) {
    for (int i = 0; i < n; ++i) {
      run.rng_seed = first_seed + i;
      run.time_utc = "2025-11-08T14:" + std::to_string(10 + i) + ":00Z";
      std::ofstream(dir_ / ("aa_" + std::to_string(first_seed + i) + ".json"))
          << testing::SynthResultJson(run);
    }
  }
  fs::path dir_;
};

TEST_F(CalibrationTest, AaRunsGiveFewFalseAlarmsAndANoiseFloorPerMetric) {
  WriteRuns(8, 1);
  std::ofstream(dir_ / "notes.json") << "{\"not\": \"a result\"}";
  std::ofstream(dir_ / "calibration.json") << "{}";
  std::vector<std::string> skipped;
  auto runs = LoadRunsDir(dir_.string(), &skipped);
  ASSERT_TRUE(runs.ok());
  EXPECT_EQ(runs->size(), 8u);
  EXPECT_EQ(skipped.size(), 1u);  // notes.json; calibration.json is never read as a run
  auto cal = Calibrate(std::move(runs).value(), {});
  ASSERT_TRUE(cal.ok()) << cal.error().ToString();
  EXPECT_EQ(cal->comparisons, 28);  // 8 choose 2
  EXPECT_LE(cal->false_alarms, 2);
  ASSERT_EQ(cal->metrics.size(), 5u);
  EXPECT_EQ(cal->metrics[2].key, "p99_latency");
  EXPECT_GT(cal->metrics[2].noise_floor, 0.0);
  EXPECT_LT(cal->metrics[2].noise_floor, 15.0);
  EXPECT_GT(cal->metrics[2].noise_floor, cal->metrics[0].noise_floor);  // tails are noisier

  // The file compare reads back.
  const fs::path out = dir_ / "calibration.json";
  std::ofstream(out) << CalibrationToJson(*cal);
  auto info = LoadCalibrationInfo(out.string());
  ASSERT_TRUE(info.ok()) << info.error().ToString();
  EXPECT_EQ(info->scenario_hash, "5f3c9a1e0b7d2468");
  EXPECT_DOUBLE_EQ(info->noise_floor_pct.at("p99_latency"), cal->metrics[2].noise_floor);
  EXPECT_EQ(info->comparisons, 28);
  EXPECT_NE(CalibrationToText(*cal).find("False alarms:"), std::string::npos);
}

TEST_F(CalibrationTest, SetsOfRunsAreComparedPairwise) {
  WriteRuns(8, 100);
  auto runs = LoadRunsDir(dir_.string(), nullptr);
  ASSERT_TRUE(runs.ok());
  CalibrationOptions opt;
  opt.set_size = 3;
  auto cal = Calibrate(std::move(runs).value(), opt);
  ASSERT_TRUE(cal.ok());
  EXPECT_EQ(cal->files.size(), 6u);  // two runs do not fill a third set
  EXPECT_EQ(cal->comparisons, 1);
  EXPECT_FALSE(cal->notes.empty());
}

TEST_F(CalibrationTest, OtherScenariosAndFailedRunsAreLeftOutAndTooFewRunsRefused) {
  WriteRuns(1, 200);
  testing::SynthRun other;
  other.scenario_hash = "ffff";
  other.config_name = "Other";
  WriteRuns(1, 300, other);
  testing::SynthRun failed;
  failed.error_rate = 0.5;
  WriteRuns(1, 400, failed);
  auto runs = LoadRunsDir(dir_.string(), nullptr);
  ASSERT_TRUE(runs.ok());
  auto cal = Calibrate(std::move(runs).value(), {});
  EXPECT_FALSE(cal.ok());  // one usable run of the main scenario
}

}  // namespace
}  // namespace engram::analysis
