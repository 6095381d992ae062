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

// Runs as engram-perf ab writes them: pairs in A B, B A, A B ... order, one minute apart.
void WriteAbRuns(const fs::path& dir, int pairs, uint64_t first_seed, double run_noise = 0.01) {
  int minute = 10;
  for (int p = 0; p < pairs; ++p) {
    const bool b_first = p % 2 == 1;
    for (int k = 0; k < 2; ++k) {
      const bool is_b = (k == 0) == b_first;
      testing::SynthRun run;
      run.rng_seed = first_seed + static_cast<uint64_t>(2 * p + k);
      run.run_noise = run_noise;
      run.time_utc = "2025-11-08T14:" + std::to_string(minute) + ":00Z";
      std::ofstream(dir / ((is_b ? "aa_after_" : "aa_before_") + std::to_string(minute) + ".json"))
          << testing::SynthResultJson(run);
      ++minute;
    }
  }
}

TEST_F(CalibrationTest, PairedCalibrationComparesSubsetsOfPairsAndMeasuresDetection) {
  WriteAbRuns(dir_, 9, 500);
  auto runs = LoadRunsDir(dir_.string(), nullptr);
  ASSERT_TRUE(runs.ok());
  CalibrationOptions opt;
  opt.paired = true;
  opt.set_size = 5;  // the fewest pairs for which the sign test bounds a median at 95%
  opt.inject_pct = {1, 25};
  auto cal = Calibrate(std::move(runs).value(), opt);
  ASSERT_TRUE(cal.ok()) << cal.error().ToString();
  EXPECT_TRUE(cal->paired);
  EXPECT_EQ(cal->pairs, 9);
  EXPECT_EQ(cal->comparisons, 126);  // 9 choose 5: few enough to take them all
  EXPECT_LE(cal->false_alarms, 3);
  ASSERT_EQ(cal->detections.size(), 2u);
  // 1% is far below the 5% threshold: never a regression. 25% is far above the ~1% noise of
  // these runs: always caught.
  EXPECT_EQ(cal->detections[0].detected, 0);
  EXPECT_EQ(cal->detections[1].comparisons, 126);
  EXPECT_EQ(cal->detections[1].detected, 126);
  EXPECT_NE(CalibrationToText(*cal).find("Injected +25% latency on the B side: caught 126 of 126"),
            std::string::npos);
  EXPECT_NE(CalibrationToJson(*cal).find("\"design\":\"paired\""), std::string::npos);
}

TEST_F(CalibrationTest, PairedCalibrationDrawsSeededSubsetsWhenThereAreMany) {
  WriteAbRuns(dir_, 12, 900);
  CalibrationOptions opt;
  opt.paired = true;
  opt.set_size = 5;  // 12 choose 5 = 792 subsets
  opt.subsets = 40;
  auto first = Calibrate(LoadRunsDir(dir_.string(), nullptr).value(), opt);
  auto second = Calibrate(LoadRunsDir(dir_.string(), nullptr).value(), opt);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->comparisons, 40);
  EXPECT_EQ(first->false_alarms, second->false_alarms);
  EXPECT_EQ(first->metrics[2].regressions, second->metrics[2].regressions);
  EXPECT_EQ(first->metrics[2].inconclusive, second->metrics[2].inconclusive);

  opt.set_size = 2;  // compare needs 3 pairs for a paired interval
  EXPECT_FALSE(Calibrate(LoadRunsDir(dir_.string(), nullptr).value(), opt).ok());
  opt.set_size = 13;  // more than there are
  EXPECT_FALSE(Calibrate(LoadRunsDir(dir_.string(), nullptr).value(), opt).ok());
}

TEST_F(CalibrationTest, SweepRecommendsTheSmallestSetSizeThatMeetsTheGoal) {
  WriteAbRuns(dir_, 10, 1300);
  CalibrationOptions opt;
  opt.paired = true;
  opt.subsets = 30;
  opt.inject_pct = {10, 25};
  auto quiet = CalibrateSweep(LoadRunsDir(dir_.string(), nullptr).value(), opt, 20);
  ASSERT_TRUE(quiet.ok()) << quiet.error().ToString();
  ASSERT_EQ(quiet->sweep.size(), 8u);  // 3..10 pairs: the runs end the sweep, not the limit
  EXPECT_EQ(quiet->sweep.front().set_size, 3);
  EXPECT_EQ(quiet->sweep.back().set_size, 10);
  // Runs a few percent apart (1% per run, 3% per segment). 3 and 4 pairs cannot bound a median
  // at 95% (the sign test needs 5), so they catch nothing; from 5 pairs on +25% is always caught
  // and nothing is a false alarm.
  for (const SweepPoint& p : quiet->sweep) {
    EXPECT_EQ(p.false_alarms, 0) << p.set_size;
    if (p.set_size < 5) {
      EXPECT_EQ(p.detections[1].detected, 0) << p.set_size;
    } else {
      EXPECT_EQ(p.detections[1].rate, 1.0) << p.set_size;
    }
  }
  EXPECT_GE(quiet->recommended_set_size, 5) << CalibrationToText(*quiet);
  EXPECT_LE(quiet->recommended_set_size, 7) << CalibrationToText(*quiet);
  EXPECT_EQ(quiet->set_size, quiet->recommended_set_size);
  EXPECT_NE(CalibrationToText(*quiet).find("<- recommended"), std::string::npos);
  EXPECT_NE(CalibrationToJson(*quiet).find("\"recommended_set_size\":" +
                                            std::to_string(quiet->recommended_set_size)),
            std::string::npos);

  fs::remove_all(dir_);
  fs::create_directories(dir_);
  WriteAbRuns(dir_, 10, 1300, /*run_noise=*/0.3);  // runs 30% apart: 10 pairs cannot see 10%
  auto noisy = CalibrateSweep(LoadRunsDir(dir_.string(), nullptr).value(), opt, 20);
  ASSERT_TRUE(noisy.ok()) << noisy.error().ToString();
  EXPECT_EQ(noisy->recommended_set_size, 0);
  EXPECT_LT(noisy->sweep.back().detections[0].rate, kDetectionGoal);
  EXPECT_NE(CalibrationToText(*noisy).find("none met the goal"), std::string::npos);
}

TEST(ScaleLatencyTest, MultipliesSummaryAndSegmentPercentiles) {
  testing::SynthRun synth;
  auto run = ParseRunResult(testing::SynthResultJson(synth), "synth");
  ASSERT_TRUE(run.ok());
  const RunResult slow = ScaleLatency(*run, 1.5);
  EXPECT_DOUBLE_EQ(slow.p99_latency_ms, run->p99_latency_ms * 1.5);
  EXPECT_DOUBLE_EQ(slow.p50_latency_ms, run->p50_latency_ms * 1.5);
  ASSERT_EQ(slow.segments.size(), run->segments.size());
  for (size_t i = 0; i < slow.segments.size(); ++i) {
    const auto& before = run->segments[i].latency;
    const auto& after = slow.segments[i].latency;
    EXPECT_EQ(after.count, before.count);
    for (double q : {0.5, 0.99}) {
      const double expected = static_cast<double>(before.ValueAtQuantile(q)) * 1.5;
      EXPECT_NEAR(static_cast<double>(after.ValueAtQuantile(q)), expected, 1.0 + expected * 1e-9);
    }
  }
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
