#include "analysis/compare.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "analysis/baselines.h"
#include "synth.h"

namespace engram::analysis {
namespace {

namespace fs = std::filesystem;

class CompareTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(fs::temp_directory_path() /
                           ("engram_compare_test_" + std::to_string(::getpid())));
    fs::create_directories(*dir_);
    ASSERT_TRUE(testing::WriteFixtureSet(*dir_));
    auto b = LoadBaselines(std::string(ENGRAM_SOURCE_DIR) +
                           "/docs/reference/competitive_baselines.json");
    ASSERT_TRUE(b.ok()) << b.error().ToString();
    baselines_ = new BaselineFile(std::move(b).value());
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(*dir_, ec);
    delete dir_;
    delete baselines_;
  }

  static std::vector<RunResult> Load(const std::vector<std::string>& names) {
    std::vector<RunResult> runs;
    for (const std::string& n : names) {
      auto r = LoadRunResult(*dir_ + "/" + n);
      EXPECT_TRUE(r.ok()) << r.error().ToString();
      if (r.ok()) runs.push_back(std::move(r).value());
    }
    return runs;
  }

  static Comparison Run(const std::vector<std::string>& before,
                        const std::vector<std::string>& after, CompareOptions opt = {},
                        const CalibrationInfo* calibration = nullptr) {
    auto c = Compare(Load(before), Load(after), opt, opt.competitive ? baselines_ : nullptr,
                     calibration);
    EXPECT_TRUE(c.ok()) << c.error().ToString();
    return c.ok() ? std::move(c).value() : Comparison{};
  }

  static Status Refusal(const std::vector<std::string>& before,
                        const std::vector<std::string>& after) {
    auto c = Compare(Load(before), Load(after), {}, nullptr, nullptr);
    EXPECT_FALSE(c.ok());
    return c.ok() ? Status::Ok() : c.error();
  }

  static CompareOptions Competitive() {
    CompareOptions o;
    o.competitive = true;
    o.threshold_pct = 10;
    o.task = "998";
    return o;
  }

  static std::string* dir_;
  static BaselineFile* baselines_;
};
std::string* CompareTest::dir_ = nullptr;
BaselineFile* CompareTest::baselines_ = nullptr;

const std::vector<std::string> kBase3 = {"base_r1.json", "base_r2.json", "base_r3.json"};
const std::vector<std::string> kSame3 = {"same_r1.json", "same_r2.json", "same_r3.json"};
const std::vector<std::string> kSlow3 = {"slow_r1.json", "slow_r2.json", "slow_r3.json"};

// --- Exit 0: A/A is within noise.
TEST_F(CompareTest, SameBuildThreeRunsEachIsWithinNoiseAndExitsZero) {
  const Comparison c = Run(kBase3, kSame3);
  EXPECT_EQ(c.source, IntervalSource::kRuns);
  EXPECT_EQ(c.exit_code, kExitOk);
  EXPECT_EQ(c.metric(MetricId::kP99).verdict, Verdict::kWithinNoise)
      << c.metric(MetricId::kP99).reason;
  EXPECT_TRUE(c.metric(MetricId::kP99).gated);
  EXPECT_FALSE(c.metric(MetricId::kP50).gated);
  EXPECT_EQ(c.metric(MetricId::kErrorRate).verdict, Verdict::kWithinNoise);
}

TEST_F(CompareTest, OneRunPerSideBootstrapsOverTimeSegments) {
  const Comparison c = Run({"base_r1.json"}, {"same_r1.json"});
  EXPECT_EQ(c.source, IntervalSource::kSegments);
  EXPECT_EQ(c.before_units, 6u);
  EXPECT_EQ(c.exit_code, kExitOk);
  const MetricResult& p99 = c.metric(MetricId::kP99);
  ASSERT_TRUE(p99.has_interval);
  EXPECT_LT(p99.low, p99.change);
  EXPECT_GT(p99.high, p99.change);
  EXPECT_EQ(c.resamples, 2000);
}

// --- Exit 1: an injected +30% slowdown.
TEST_F(CompareTest, InjectedSlowdownIsARegressionWithExitOne) {
  const Comparison c = Run(kBase3, kSlow3);
  const MetricResult& p99 = c.metric(MetricId::kP99);
  EXPECT_EQ(p99.verdict, Verdict::kRegression) << p99.reason;
  EXPECT_NEAR(p99.change, 30.0, 6.0);
  EXPECT_GT(p99.low, 0.0);
  EXPECT_EQ(c.exit_code, kExitRegression);
  EXPECT_TRUE(c.internal_regression);
}

TEST_F(CompareTest, InjectedSlowdownIsARegressionWithOneRunPerSide) {
  const Comparison c = Run({"base_r1.json"}, {"slow_r1.json"});
  EXPECT_EQ(c.metric(MetricId::kP99).verdict, Verdict::kRegression);
  EXPECT_EQ(c.exit_code, kExitRegression);
}

// Interleaved pairs: the sign test bounds the median pair change. Three pairs cannot bound it
// at 95% (0.5^3 > 5%): a clear 30% slowdown is inconclusive and the report says 2 more pairs
// would do. Five pairs of the same slowdown are a regression.
TEST_F(CompareTest, PairedRunsUseTheSignTestAndSayHowManyPairsItNeeds) {
  CompareOptions o;
  o.paired = true;
  const Comparison three = Run(kBase3, kSlow3, o);
  EXPECT_EQ(three.source, IntervalSource::kPairs);
  const MetricResult& p99 = three.metric(MetricId::kP99);
  EXPECT_EQ(p99.verdict, Verdict::kInconclusive) << p99.reason;
  EXPECT_EQ(p99.more_runs, 2);
  EXPECT_EQ(three.exit_code, kExitOk);
  EXPECT_NE(RenderText(three).find("3 pairs are too few for a bound at this level (it needs 5)"),
            std::string::npos);

  std::vector<RunResult> before, after;
  for (uint64_t i = 0; i < 5; ++i) {
    testing::SynthRun run;
    run.rng_seed = 700 + i;
    before.push_back(ParseRunResult(testing::SynthResultJson(run), "b").value());
    run.rng_seed = 800 + i;
    run.scale = 1.30;
    after.push_back(ParseRunResult(testing::SynthResultJson(run), "a").value());
  }
  auto five = Compare(before, after, o, nullptr, nullptr);
  ASSERT_TRUE(five.ok());
  EXPECT_EQ(five->metric(MetricId::kP99).verdict, Verdict::kRegression)
      << five->metric(MetricId::kP99).reason;
  EXPECT_EQ(five->exit_code, kExitRegression);
  // The bounds are order statistics of the pair changes: with 5 pairs at 95%, the extremes.
  EXPECT_GT(five->metric(MetricId::kP99).low, 0.0);
  EXPECT_LE(five->metric(MetricId::kP99).low, five->metric(MetricId::kP99).change);
}

// --- Improvement.
TEST_F(CompareTest, SpeedupIsAnImprovementAndExitsZero) {
  const Comparison c = Run({"base_r1.json"}, {"fast_r1.json"});
  EXPECT_EQ(c.metric(MetricId::kP99).verdict, Verdict::kImprovement)
      << c.metric(MetricId::kP99).reason;
  EXPECT_EQ(c.exit_code, kExitOk);
}

// --- Inconclusive: noisy segments, +10% injected.
TEST_F(CompareTest, NoisyRunsAreInconclusiveAndSayHowManyMoreRunsWouldDecide) {
  const Comparison c = Run({"noisy_before.json"}, {"noisy_after.json"});
  const MetricResult& p99 = c.metric(MetricId::kP99);
  EXPECT_EQ(p99.verdict, Verdict::kInconclusive) << p99.reason;
  EXPECT_GE(p99.more_runs, 1);
  EXPECT_NE(p99.reason.find("more run(s) per side would decide"), std::string::npos);
  EXPECT_EQ(c.exit_code, kExitOk);  // not proven: the gate does not fail, the report says so
  EXPECT_NE(RenderText(c).find("Inconclusive: P99 latency (ms)"), std::string::npos);
}

// --- Throughput.
TEST_F(CompareTest, ThroughputAtAMetFixedRateIsNotJudged) {
  const Comparison c = Run({"base_r1.json"}, {"same_r1.json"});
  const MetricResult& t = c.metric(MetricId::kThroughput);
  EXPECT_EQ(t.verdict, Verdict::kNotJudged);
  EXPECT_FALSE(t.gated);
  EXPECT_NE(t.reason.find("throughput fixed by the schedule, cannot move"), std::string::npos);
  EXPECT_EQ(c.gated_statistical, 1);
}

TEST_F(CompareTest, ThroughputDropOfAServerLimitedRunIsARegression) {
  const Comparison c = Run({"tput_before.json"}, {"tput_after_slow.json"});
  const MetricResult& t = c.metric(MetricId::kThroughput);
  EXPECT_TRUE(t.gated);
  EXPECT_EQ(c.gated_statistical, 2);
  EXPECT_NEAR(t.change, -25.0, 1.0);
  EXPECT_EQ(t.verdict, Verdict::kRegression) << t.reason;
  EXPECT_NEAR(t.level, 0.975, 1e-9);  // Bonferroni over P99 and throughput
  EXPECT_EQ(c.exit_code, kExitRegression);
  EXPECT_NE(RenderText(c).find("REGRESSION: Throughput decreased by"), std::string::npos);
}

TEST_F(CompareTest, ThroughputOfServerLimitedRunsWithoutChangeIsWithinNoise) {
  const Comparison c = Run({"tput_before.json"}, {"tput_after_same.json"});
  EXPECT_EQ(c.metric(MetricId::kThroughput).verdict, Verdict::kWithinNoise)
      << c.metric(MetricId::kThroughput).reason;
  EXPECT_EQ(c.exit_code, kExitOk);
}

TEST_F(CompareTest, ThroughputIsNotJudgedWhenTheGeneratorSaturated) {
  const Comparison c = Run({"tput_before.json"}, {"tput_after_client.json"});
  const MetricResult& t = c.metric(MetricId::kThroughput);
  EXPECT_EQ(t.verdict, Verdict::kNotJudged);
  EXPECT_NE(t.reason.find("load generator was saturated"), std::string::npos);
  EXPECT_EQ(c.exit_code, kExitOk);
  ASSERT_FALSE(c.warnings.empty());
}

// --- Error rate: +5 percentage points.
TEST_F(CompareTest, ErrorRateUpByMoreThanFivePointsIsARegression) {
  const Comparison c = Run({"err_before.json"}, {"err_after.json"});
  const MetricResult& e = c.metric(MetricId::kErrorRate);
  EXPECT_FALSE(e.ratio);
  EXPECT_NEAR(e.change, 8.8, 1.0);
  EXPECT_EQ(e.verdict, Verdict::kRegression) << e.reason;
  EXPECT_EQ(c.exit_code, kExitRegression);
}

// --- Exit 3: inputs that cannot be compared.
TEST_F(CompareTest, DifferentScenariosAreRefused) {
  const Status st = Refusal({"base_r1.json"}, {"other_scenario.json"});
  EXPECT_NE(st.message().find("different scenarios"), std::string::npos) << st.message();
}

TEST_F(CompareTest, DifferentSeedsAreRefused) {
  const Status st = Refusal({"base_r1.json", "other_seed.json"}, {"same_r1.json"});
  EXPECT_NE(st.message().find("different seeds"), std::string::npos) << st.message();
}

TEST_F(CompareTest, ABaselineThatBrokeItsErrorLimitIsRefused) {
  const Status st = Refusal({"failed_run.json"}, {"same_r1.json"});
  EXPECT_NE(st.message().find("not a valid baseline"), std::string::npos) << st.message();
  const Status after = Refusal({"base_r1.json"}, {"failed_run.json"});
  EXPECT_NE(after.message().find("not a valid measurement"), std::string::npos);
}

TEST_F(CompareTest, EmptySidesAreRefused) {
  EXPECT_FALSE(Compare({}, Load({"base_r1.json"}), {}, nullptr, nullptr).ok());
  EXPECT_FALSE(Compare(Load({"base_r1.json"}), {}, {}, nullptr, nullptr).ok());
}

// --- Exit 2: competitive mode.
TEST_F(CompareTest, CompetitiveWithoutChangeKeepsTheAdvantageOverNeo4j) {
  const Comparison c = Run({"comp_before.json"}, {"comp_same.json"}, Competitive());
  EXPECT_EQ(c.exit_code, kExitOk);
  ASSERT_EQ(c.positioning.size(), 2u);  // Neo4j P99 and Neo4j QPS, from the data file
  EXPECT_EQ(c.positioning[0].baseline.system, "Neo4j");
  EXPECT_GT(c.positioning[0].after_advantage_pct, 40.0);
  EXPECT_FALSE(c.positioning[0].failed);
  EXPECT_FALSE(c.positioning[1].failed);  // 500 ops/s > 280 QPS
  const std::string text = RenderText(c);
  EXPECT_NE(text.find("=== Performance Comparison: Task 998 (Competitive) ==="), std::string::npos);
  EXPECT_NE(text.find("vs Neo4j (baseline: 27.96ms P99 latency"), std::string::npos);
  EXPECT_NE(text.find("No significant regressions detected (within 10% competitive threshold)"),
            std::string::npos);
  EXPECT_NE(text.find("Status: Competitive advantage maintained"), std::string::npos);
}

TEST_F(CompareTest, CompetitiveSlowdownBeyondTenPercentIsExitTwoWithTheAlert) {
  const Comparison c = Run({"comp_before.json"}, {"comp_slow.json"}, Competitive());
  EXPECT_EQ(c.metric(MetricId::kP99).verdict, Verdict::kRegression);
  EXPECT_EQ(c.exit_code, kExitCompetitiveRegression);
  EXPECT_TRUE(c.competitive_regression);
  const std::string text = RenderText(c);
  EXPECT_NE(text.find("=== COMPETITIVE REGRESSION DETECTED ==="), std::string::npos);
  EXPECT_NE(text.find("Task 998 Competitive Performance:"), std::string::npos);
  EXPECT_NE(text.find("(EXCEEDS 10% THRESHOLD)"), std::string::npos);
  EXPECT_NE(text.find("Still competitive but lost ground (WARNING)"), std::string::npos);
  EXPECT_NE(text.find("Cannot proceed to task completion until regression <10%"),
            std::string::npos);
}

TEST_F(CompareTest, CompetitiveRunSlowerThanTheCompetitorIsExitTwoEvenWithinThreshold) {
  const Comparison c = Run({"comp_near_before.json"}, {"comp_near_after.json"}, Competitive());
  EXPECT_FALSE(c.internal_regression);
  ASSERT_FALSE(c.positioning.empty());
  EXPECT_LT(c.positioning[0].before, 27.96);
  EXPECT_GT(c.positioning[0].after, 27.96);
  EXPECT_TRUE(c.positioning[0].failed);
  EXPECT_EQ(c.exit_code, kExitCompetitiveRegression);
  EXPECT_NE(RenderText(c).find("SLOWER than Neo4j"), std::string::npos);
}

TEST_F(CompareTest, CompetitiveModeWithoutAFigureForTheScenarioSaysSo) {
  CompareOptions o = Competitive();
  const Comparison c = Run({"base_r1.json"}, {"same_r1.json"}, o);
  EXPECT_TRUE(c.positioning.empty());
  EXPECT_EQ(c.exit_code, kExitOk);
  bool noted = false;
  for (const auto& n : c.notes)
    noted = noted || n.find("no competitor figure") != std::string::npos;
  EXPECT_TRUE(noted);
}

TEST_F(CompareTest, CompetitiveModeNeedsTheBaselinesFile) {
  CompareOptions o = Competitive();
  EXPECT_FALSE(
      Compare(Load({"comp_before.json"}), Load({"comp_same.json"}), o, nullptr, nullptr).ok());
}

TEST_F(CompareTest, InternalSlowdownInCompetitiveModeIsExitTwoNotOne) {
  const Comparison c = Run({"base_r1.json"}, {"slow_r1.json"}, Competitive());
  EXPECT_EQ(c.exit_code, kExitCompetitiveRegression);
}

// --- Determinism and reports.
TEST_F(CompareTest, SameSeedGivesTheSameIntervalAndAnotherSeedAnother) {
  CompareOptions o;
  o.seed = 12345;
  const Comparison a = Run({"base_r1.json"}, {"same_r1.json"}, o);
  const Comparison b = Run({"base_r1.json"}, {"same_r1.json"}, o);
  o.seed = 54321;
  const Comparison d = Run({"base_r1.json"}, {"same_r1.json"}, o);
  for (int m = 0; m < kMetricCount; ++m) {
    EXPECT_EQ(a.metrics[m].low, b.metrics[m].low);
    EXPECT_EQ(a.metrics[m].high, b.metrics[m].high);
  }
  EXPECT_NE(a.metric(MetricId::kP99).low, d.metric(MetricId::kP99).low);
  EXPECT_EQ(RenderJson(a), RenderJson(b));
}

TEST_F(CompareTest, TextReportFollowsTheSpecFormatAndStatesThePromise) {
  CompareOptions o;
  o.task = "007";
  const Comparison c = Run({"base_r1.json"}, {"same_r1.json"}, o);
  const std::string text = RenderText(c);
  for (const char* needle :
       {"=== Performance Comparison: Task 007 ===\n", "Before: base_r1.json\n",
        "After:  same_r1.json\n", "Metric               Before      After        Change",
        "-------------------- ---------- ---------- ------------", "P50 latency (ms)  ",
        "P95 latency (ms)  ", "P99 latency (ms)  ", "Throughput (ops/s)  ", "Errors  ",
        "Error rate  ", "Gate: flags a change that exceeds 5% with 95% confidence",
        "No significant regressions detected (within 5% threshold)",
        "Summary for PERFORMANCE_LOG.md:\n- Before: P50=", "- Status: Within 5% target"}) {
    EXPECT_NE(text.find(needle), std::string::npos) << needle << "\n" << text;
  }
}

TEST_F(CompareTest, JsonReportCarriesVerdictsIntervalsAndExitCode) {
  const Comparison c = Run({"base_r1.json"}, {"slow_r1.json"});
  const boost::json::value v = boost::json::parse(RenderJson(c));
  EXPECT_EQ(v.at("exit_code").as_int64(), 1);
  EXPECT_EQ(v.at("interval").at("source").as_string(), "segments");
  const auto& metrics = v.at("metrics").as_array();
  ASSERT_EQ(metrics.size(), 5u);
  EXPECT_EQ(metrics[2].at("key").as_string(), "p99_latency");
  EXPECT_EQ(metrics[2].at("verdict").as_string(), "regression");
  EXPECT_TRUE(metrics[2].at("interval").at("low").is_double());
  EXPECT_EQ(metrics[3].at("verdict").as_string(), "not_judged");
  EXPECT_NE(v.at("promise").as_string().find("exceeds 5% with 95% confidence"), std::string::npos);
}

TEST_F(CompareTest, ThresholdBelowTheCalibratedNoiseFloorIsWarned) {
  CalibrationInfo cal;
  cal.path = "calibration.json";
  cal.scenario_hash = "5f3c9a1e0b7d2468";
  cal.noise_floor_pct["p99_latency"] = 8.0;
  const Comparison c = Run({"base_r1.json"}, {"same_r1.json"}, {}, &cal);
  bool warned = false;
  for (const auto& w : c.warnings) warned = warned || w.find("noise floor") != std::string::npos;
  EXPECT_TRUE(warned);
  cal.scenario_hash = "another";
  const Comparison d = Run({"base_r1.json"}, {"same_r1.json"}, {}, &cal);
  for (const auto& w : d.warnings) EXPECT_EQ(w.find("noise floor"), std::string::npos);
}

// --- Runs that measured no build (docs/performance_regression_guide.md).
class SaturationRulesTest : public CompareTest {
 protected:
  static CapacityFile Capacity() {
    auto f = LoadCapacityFile(*dir_ + "/capacity.json");
    EXPECT_TRUE(f.ok()) << f.error().ToString();
    return f.ok() ? std::move(f).value() : CapacityFile{};
  }
  static Result<Comparison> With(const std::vector<RunResult>& before,
                                 const std::vector<RunResult>& after,
                                 const CapacityFile* capacity, CompareOptions opt = {}) {
    return Compare(before, after, opt, opt.competitive ? baselines_ : nullptr, nullptr, capacity);
  }
};

TEST_F(SaturationRulesTest, ASaturatedBaselineIsRefusedWithTheSustainableRate) {
  const CapacityFile cap = Capacity();
  auto c = With(Load({"saturated_before.json"}), Load({"same_r1.json"}), &cap);
  ASSERT_FALSE(c.ok());
  const std::string m = c.error().message();
  EXPECT_NE(m.find("the server could not keep up (server_saturated: schedule lag P99 1470 ms"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("not a valid baseline"), std::string::npos) << m;
  EXPECT_NE(m.find("Sustainable rate of this scenario on this machine: 150 ops/s (0.75x the "
                   "scenario's 200 ops/s"),
            std::string::npos)
      << m;
  auto refusal = CheckBaseline(Load({"saturated_before.json"}), &cap);
  ASSERT_TRUE(refusal.has_value());
  EXPECT_EQ(refusal->rule, RunRule::kBeforeSaturated);
  // Saturation is named before the validation failure it also caused.
  EXPECT_EQ(std::string(RunRuleKey(refusal->rule)), "before_saturated");
}

TEST_F(SaturationRulesTest, WithoutACapacityFileTheRefusalNamesTheCommandThatMeasuresIt) {
  auto c = With(Load({"saturated_before.json"}), Load({"same_r1.json"}), nullptr);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message().find("engram-perf capacity scenarios/m17_baseline.toml"),
            std::string::npos)
      << c.error().message();
}

TEST_F(SaturationRulesTest, ACapacityOfAnotherMachineIsNotTakenForThisOne) {
  const CapacityFile cap = Capacity();
  std::vector<RunResult> before = Load({"saturated_before.json"});
  before[0].cpu_model = "Other CPU";
  auto c = With(before, Load({"same_r1.json"}), &cap);
  ASSERT_FALSE(c.ok());
  const std::string m = c.error().message();
  EXPECT_EQ(m.find("Sustainable rate of this scenario on this machine"), std::string::npos) << m;
  EXPECT_NE(m.find("has no measurement of this scenario on this machine (Other CPU, 2 cores); it "
                   "has 150 ops/s on Synthetic CPU"),
            std::string::npos)
      << m;
}

TEST_F(SaturationRulesTest, ABaselineThatFailedValidationIsRefused) {
  auto c = With(Load({"p99_failed.json"}), Load({"same_r1.json"}), nullptr);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message().find(
                "failed its scenario's validation: expected_p99_latency_ms (limit 1.5, actual"),
            std::string::npos)
      << c.error().message();
  EXPECT_NE(c.error().message().find("not a valid baseline"), std::string::npos);
  auto refusal = CheckBaseline(Load({"p99_failed.json"}), nullptr);
  ASSERT_TRUE(refusal.has_value());
  EXPECT_EQ(refusal->rule, RunRule::kBeforeFailedValidation);
  EXPECT_FALSE(CheckBaseline(Load(kBase3), nullptr).has_value());
}

TEST_F(SaturationRulesTest, AHealthyBeforeWithASaturatedAfterIsARegressionWhateverTheInterval) {
  auto c = With(Load(kBase3), Load({"saturated_after.json", "same_r2.json", "same_r3.json"}),
                nullptr);
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  EXPECT_NE(c->metric(MetricId::kP99).verdict, Verdict::kRegression);  // the statistics see none
  EXPECT_EQ(c->rule, RunRule::kAfterSaturated);
  EXPECT_TRUE(c->internal_regression);
  EXPECT_EQ(c->exit_code, kExitRegression);
  const std::string text = RenderText(*c);
  EXPECT_NE(text.find("REGRESSION: the server could not keep up with the after build"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("- Status: REGRESSION (the server could not keep up with the after build)"),
            std::string::npos);
  EXPECT_EQ(text.find("Within 5% target"), std::string::npos);
  const boost::json::value v = boost::json::parse(RenderJson(*c));
  EXPECT_EQ(v.at("rule").at("key").as_string(), "after_saturated");
  EXPECT_EQ(v.at("exit_code").as_int64(), 1);
}

TEST_F(SaturationRulesTest, ASaturatedAfterIsACompetitiveRegressionInCompetitiveMode) {
  auto c = With(Load({"comp_before.json"}), Load({"comp_saturated.json"}), nullptr, Competitive());
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  EXPECT_EQ(c->exit_code, kExitCompetitiveRegression);
  EXPECT_EQ(c->rule, RunRule::kAfterSaturated);
  const std::string text = RenderText(*c);
  EXPECT_NE(text.find("=== COMPETITIVE REGRESSION DETECTED ==="), std::string::npos);
  EXPECT_NE(text.find("Saturation: the server could not keep up"), std::string::npos) << text;
  EXPECT_NE(text.find("(within 10% threshold)"), std::string::npos) << text;  // the metrics' own delta
}

TEST_F(SaturationRulesTest, ASaturatedAfterThatAlsoBrokeItsErrorLimitIsTheRegressionNotAnError) {
  std::vector<RunResult> after = Load({"saturated_after.json"});
  after[0].overall_error_rate = 0.4;  // timeouts of a queue that grew past the deadline
  auto c = With(Load({"base_r1.json"}), after, nullptr);
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  EXPECT_EQ(c->exit_code, kExitRegression);
  // Without the saturation, the same errors make the after run no measurement (exit 3).
  after[0].server_saturated = false;
  EXPECT_FALSE(With(Load({"base_r1.json"}), after, nullptr).ok());
}

TEST_F(SaturationRulesTest, AnAfterRunThatFailedValidationIsNeverWithinTarget) {
  auto c = With(Load({"base_r1.json"}), Load({"p99_failed.json"}), nullptr);
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  EXPECT_EQ(c->rule, RunRule::kAfterFailedValidation);
  EXPECT_EQ(c->exit_code, kExitOk);  // the gate saw no regression; the status says the rest
  const std::string text = RenderText(*c);
  EXPECT_EQ(text.find("Within 5% target"), std::string::npos) << text;
  EXPECT_EQ(text.find("No significant regressions detected (within"), std::string::npos) << text;
  EXPECT_NE(text.find("- Status: NOT within 5% target: the after run failed its scenario's "
                      "validation"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("Rule after_failed_validation:"), std::string::npos);
  // And in competitive mode, which otherwise prints the positioning status instead.
  std::vector<RunResult> comp_after = Load({"comp_same.json"});
  comp_after[0].validation_passed = false;
  comp_after[0].checks.push_back({"expected_p99_latency_ms", 1.0, 9.0, false});
  auto d = With(Load({"comp_before.json"}), comp_after, nullptr, Competitive());
  ASSERT_TRUE(d.ok()) << d.error().ToString();
  const std::string comp_text = RenderText(*d);
  EXPECT_EQ(comp_text.find("Within 10% target"), std::string::npos);
  EXPECT_EQ(comp_text.find("Competitive advantage maintained"), std::string::npos) << comp_text;
  EXPECT_NE(comp_text.find("NOT within 10% target"), std::string::npos) << comp_text;
}

TEST_F(SaturationRulesTest, AFileWithoutTheFieldIsTakenAsNotSaturatedWithANote) {
  auto c = With(Load({"base_r1.json"}), Load({"old_loadtest.json"}), nullptr);
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  EXPECT_EQ(c->rule, RunRule::kNone);
  bool noted = false;
  for (const auto& n : c->notes) noted = noted || n.find("does not say whether the server kept up") != std::string::npos;
  EXPECT_TRUE(noted);
  EXPECT_EQ(c->exit_code, kExitOk);
}

TEST_F(SaturationRulesTest, TheRefusalJsonNamesTheRule) {
  const boost::json::value v = boost::json::parse(
      RenderErrorJson(Status::FailedPrecondition("x"), RunRule::kBeforeSaturated));
  EXPECT_EQ(v.at("exit_code").as_int64(), 3);
  EXPECT_EQ(v.at("rule").at("key").as_string(), "before_saturated");
}

}  // namespace
}  // namespace engram::analysis
