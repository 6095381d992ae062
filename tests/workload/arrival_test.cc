#include "workload/arrival.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace engram::workload {
namespace {

Scenario Parse(const std::string& arrival_or_phases, const std::string& extra = "") {
  const std::string text = "name = \"t\"\ndescription = \"d\"\n" + extra + arrival_or_phases +
                           "\n[operations]\nstore_weight = 1\n";
  Result<Scenario> r = ParseScenario(text, "test.toml");
  EXPECT_TRUE(r.ok()) << r.error().ToString();
  return r.ok() ? *r : Scenario{};
}

std::vector<ScheduledOp> All(const ScheduleSpec& spec, uint32_t shard = 0, uint32_t n = 1) {
  ArrivalSchedule s(spec, shard, n);
  std::vector<ScheduledOp> out;
  ScheduledOp op;
  while (s.Next(&op)) out.push_back(op);
  return out;
}

// The scenario model's own rate function, integrated numerically over [a, b] of the measured
// run: an independent check on the closed forms the schedule inverts.
double ExpectedOps(const Scenario& s, double a, double b) {
  const auto phases = s.MeasuredPhases();
  const int steps = 2000;
  const double h = (b - a) / steps;
  double sum = 0;
  for (int i = 0; i < steps; ++i) {
    const double t = a + (i + 0.5) * h;  // midpoint rule
    double start = 0;
    for (const Phase& p : phases) {
      if (t < start + p.duration_sec) {
        sum += p.pattern.RateAt(t - start, p.duration_sec) * h;
        break;
      }
      start += p.duration_sec;
    }
  }
  return sum;
}

// Checks every measured second against the scenario's rate: within `rel` or `abs_ops`.
void ExpectPerSecondRatesMatch(const Scenario& s, double rel, double abs_ops) {
  const std::vector<uint64_t> counts = CountPerSecond(ScheduleSpecFor(s));
  ASSERT_EQ(counts.size(), static_cast<size_t>(std::ceil(s.duration_seconds)));
  for (size_t sec = 0; sec < counts.size(); ++sec) {
    const double want = ExpectedOps(s, static_cast<double>(sec), static_cast<double>(sec + 1));
    EXPECT_LE(std::fabs(static_cast<double>(counts[sec]) - want), std::max(abs_ops, rel * want))
        << "second " << sec << ": " << counts[sec] << " ops, expected " << want;
  }
}

TEST(ArrivalTest, ConstantScheduleSendsOperationIAtIOverRate) {
  const Scenario s = Parse("[arrival]\npattern = \"constant\"\nrate = 1000.0\n",
                           "[duration]\ntotal_seconds = 60\n");
  const auto ops = All(ScheduleSpecFor(s));
  ASSERT_EQ(ops.size(), 60000u);
  for (size_t i = 0; i < ops.size(); ++i) {
    ASSERT_EQ(ops[i].index, i);
    ASSERT_EQ(ops[i].offset_ns, std::llround(static_cast<double>(i) / 1000.0 * 1e9));
    ASSERT_FALSE(ops[i].warmup);
  }
}

TEST(ArrivalTest, RealisedPerSecondRatesMatchConstant) {
  const Scenario s = Parse("[arrival]\npattern = \"constant\"\nrate = 733.0\n",
                           "[duration]\ntotal_seconds = 30\n");
  ExpectPerSecondRatesMatch(s, 0.0, 1.0);  // even spacing: off by at most one per second
}

TEST(ArrivalTest, RealisedPerSecondRatesMatchRamp) {
  const Scenario s = Parse(
      "[[phases]]\nduration_sec = 60\npattern = \"ramp\"\nfrom_rate = 100.0\nto_rate = 2000.0\n"
      "[[phases]]\nduration_sec = 30\npattern = \"ramp\"\nfrom_rate = 2000.0\nto_rate = 0.0\n");
  ExpectPerSecondRatesMatch(s, 0.02, 2.0);
}

TEST(ArrivalTest, RealisedPerSecondRatesMatchStep) {
  const Scenario s = Parse(
      "[[phases]]\nduration_sec = 50\npattern = \"step\"\nrates = [100, 400, 0, 1500]\n"
      "step_sec = 10\n");
  ExpectPerSecondRatesMatch(s, 0.02, 2.0);
  const auto counts = CountPerSecond(ScheduleSpecFor(s));
  EXPECT_EQ(counts[5], 100u);
  EXPECT_EQ(counts[15], 400u);
  EXPECT_EQ(counts[25], 0u);
  EXPECT_EQ(counts[35], 1500u);
  EXPECT_EQ(counts[45], 1500u);  // the last step holds to the end of the phase
}

TEST(ArrivalTest, RealisedPerSecondRatesMatchDiurnal) {
  const Scenario s = Parse(
      "[[phases]]\nduration_sec = 120\npattern = \"diurnal\"\nbase_rate = 500.0\n"
      "amplitude = 400.0\nperiod_sec = 60\n");
  ExpectPerSecondRatesMatch(s, 0.02, 2.0);
  const auto counts = CountPerSecond(ScheduleSpecFor(s));
  // Peak a quarter period in, trough three quarters in.
  EXPECT_NEAR(static_cast<double>(counts[15]), 900, 5);
  EXPECT_NEAR(static_cast<double>(counts[45]), 100, 5);
}

TEST(ArrivalTest, RealisedPerSecondRatesMatchPeriodicBurst) {
  const Scenario s = Parse(
      "[arrival]\npattern = \"periodic_burst\"\nbase_rate = 100.0\nburst_rate = 1000.0\n"
      "burst_duration_sec = 5\nburst_period_sec = 20\n",
      "[duration]\ntotal_seconds = 60\n");
  ExpectPerSecondRatesMatch(s, 0.02, 2.0);
  const auto counts = CountPerSecond(ScheduleSpecFor(s));
  for (size_t sec = 0; sec < counts.size(); ++sec) {
    const bool burst = sec % 20 < 5;  // the burst opens each period
    EXPECT_EQ(counts[sec], burst ? 1000u : 100u) << "second " << sec;
  }
}

TEST(ArrivalTest, PoissonSpacedShapesStillFollowTheirRate) {
  // With Poisson spacing, a second's count varies by ~sqrt(rate); over 10 s windows the
  // realised rate must still follow the pattern.
  const Scenario s = Parse(
      "[[phases]]\nduration_sec = 100\npattern = \"ramp\"\nfrom_rate = 200.0\n"
      "to_rate = 2000.0\nspacing = \"poisson\"\n");
  const auto counts = CountPerSecond(ScheduleSpecFor(s));
  for (size_t w = 0; w < 10; ++w) {
    double got = 0;
    for (size_t k = 0; k < 10; ++k) got += static_cast<double>(counts[w * 10 + k]);
    const double want = ExpectedOps(s, w * 10.0, w * 10.0 + 10.0);
    EXPECT_LE(std::fabs(got - want), 4.5 * std::sqrt(want)) << "window " << w;
  }
}

// Kolmogorov-Smirnov statistic of `x` against the CDF `F`.
template <typename F>
double KsStatistic(std::vector<double> x, F cdf) {
  std::sort(x.begin(), x.end());
  const double n = static_cast<double>(x.size());
  double d = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double f = cdf(x[i]);
    d = std::max({d, (static_cast<double>(i) + 1) / n - f, f - static_cast<double>(i) / n});
  }
  return d;
}

// The asymptotic critical value of the one-sample KS test at alpha = 0.01.
double KsCritical001(size_t n) { return 1.6276 / std::sqrt(static_cast<double>(n)); }

TEST(ArrivalTest, PoissonInterArrivalTimesPassKolmogorovSmirnovAgainstExponential) {
  const double lambda = 1000;
  for (const char* pattern : {"poisson", "exponential"}) {
    const Scenario s =
        Parse(std::string("[arrival]\npattern = \"") + pattern + "\"\nlambda = 1000.0\n",
              "[duration]\ntotal_seconds = 20\n");
    const auto ops = All(ScheduleSpecFor(s));
    ASSERT_GT(ops.size(), 19000u);
    ASSERT_LT(ops.size(), 21000u);
    std::vector<double> gaps;
    for (size_t i = 1; i < ops.size(); ++i) {
      gaps.push_back(static_cast<double>(ops[i].offset_ns - ops[i - 1].offset_ns) * 1e-9);
    }
    const double d = KsStatistic(gaps, [&](double x) { return 1.0 - std::exp(-lambda * x); });
    EXPECT_LT(d, KsCritical001(gaps.size())) << pattern << " D = " << d;
    // And the evenly spaced constant schedule fails the same test, so the test has teeth.
    const Scenario c = Parse("[arrival]\npattern = \"constant\"\nrate = 1000.0\n",
                             "[duration]\ntotal_seconds = 20\n");
    const auto cops = All(ScheduleSpecFor(c));
    std::vector<double> cgaps;
    for (size_t i = 1; i < cops.size(); ++i) {
      cgaps.push_back(static_cast<double>(cops[i].offset_ns - cops[i - 1].offset_ns) * 1e-9);
    }
    EXPECT_GT(KsStatistic(cgaps, [&](double x) { return 1.0 - std::exp(-lambda * x); }),
              KsCritical001(cgaps.size()));
  }
}

TEST(ArrivalTest, PoissonSpacedRampHasExponentialRescaledGaps) {
  // Time-rescaling theorem: for an inhomogeneous Poisson process, Lambda(t_i) - Lambda(t_i-1)
  // are Exp(1).
  const Scenario s = Parse(
      "[[phases]]\nduration_sec = 30\npattern = \"ramp\"\nfrom_rate = 100.0\nto_rate = 1500.0\n"
      "spacing = \"poisson\"\n");
  const ScheduleSpec spec = ScheduleSpecFor(s);
  const RateCurve curve(spec);
  const auto ops = All(spec);
  std::vector<double> gaps;
  for (size_t i = 1; i < ops.size(); ++i) {
    gaps.push_back(curve.Integral(static_cast<double>(ops[i].offset_ns) * 1e-9) -
                   curve.Integral(static_cast<double>(ops[i - 1].offset_ns) * 1e-9));
  }
  const double d = KsStatistic(gaps, [](double x) { return 1.0 - std::exp(-x); });
  EXPECT_LT(d, KsCritical001(gaps.size())) << "D = " << d;
}

TEST(ArrivalTest, FourShardsTogetherReproduceTheFullScheduleExactly) {
  const Scenario s = Parse(
      "[[phases]]\nduration_sec = 10\npattern = \"poisson\"\nlambda = 500.0\n"
      "[[phases]]\nduration_sec = 10\npattern = \"ramp\"\nfrom_rate = 500.0\nto_rate = 50.0\n"
      "[[phases]]\nduration_sec = 10\npattern = \"diurnal\"\nbase_rate = 300.0\n"
      "amplitude = 100.0\nperiod_sec = 4\nspacing = \"poisson\"\n",
      "[warmup]\nseconds = 3\n");
  const ScheduleSpec spec = ScheduleSpecFor(s);
  const auto full = All(spec);
  std::vector<ScheduledOp> merged;
  for (uint32_t shard = 0; shard < 4; ++shard) {
    for (const ScheduledOp& op : All(spec, shard, 4)) {
      EXPECT_EQ(op.index % 4, shard);
      merged.push_back(op);
    }
  }
  std::sort(merged.begin(), merged.end(),
            [](const ScheduledOp& a, const ScheduledOp& b) { return a.index < b.index; });
  ASSERT_EQ(merged.size(), full.size());
  for (size_t i = 0; i < full.size(); ++i) {
    ASSERT_EQ(merged[i].index, full[i].index);
    ASSERT_EQ(merged[i].offset_ns, full[i].offset_ns) << "op " << i;
    ASSERT_EQ(merged[i].warmup, full[i].warmup);
  }
}

TEST(ArrivalTest, WarmupRunsBeforeTheMeasuredScheduleAtTheFirstPhaseMeanRate) {
  const Scenario s = Parse("[arrival]\npattern = \"constant\"\nrate = 200.0\n",
                           "[duration]\ntotal_seconds = 10\n[warmup]\nseconds = 5\n");
  const ScheduleSpec spec = ScheduleSpecFor(s);
  ArrivalSchedule schedule(spec);
  EXPECT_EQ(schedule.measured_start_ns(), 5'000'000'000);
  EXPECT_EQ(schedule.end_ns(), 15'000'000'000);
  const auto ops = All(spec);
  size_t warm = 0;
  for (const auto& op : ops) {
    EXPECT_EQ(op.warmup, op.offset_ns < 5'000'000'000) << op.index;
    warm += op.warmup;
  }
  EXPECT_EQ(warm, 1000u);
  EXPECT_EQ(ops.size(), 3000u);
  EXPECT_DOUBLE_EQ(ExpectedOperations(spec, false), 2000);
  EXPECT_DOUBLE_EQ(ExpectedOperations(spec, true), 3000);
  const auto all_counts = CountPerSecond(spec, /*measured_only=*/false);
  ASSERT_EQ(all_counts.size(), 15u);
  EXPECT_EQ(all_counts[0], 200u);
}

TEST(ArrivalTest, OffsetsNeverDecrease) {
  const Scenario s = Parse(
      "[[phases]]\nduration_sec = 20\npattern = \"diurnal\"\nbase_rate = 300.0\n"
      "amplitude = 300.0\nperiod_sec = 7\nspacing = \"poisson\"\n"
      "[[phases]]\nduration_sec = 20\npattern = \"periodic_burst\"\nbase_rate = 0.0\n"
      "burst_rate = 900.0\nburst_duration_sec = 1.5\nburst_period_sec = 4\n");
  const auto ops = All(ScheduleSpecFor(s));
  ASSERT_GT(ops.size(), 1000u);
  for (size_t i = 1; i < ops.size(); ++i) ASSERT_LE(ops[i - 1].offset_ns, ops[i].offset_ns);
  EXPECT_LT(ops.back().offset_ns, 40'000'000'000);
}

TEST(ArrivalTest, DurationOverrideCutsOrContinuesTheSchedule) {
  const Scenario s = Parse(
      "[[phases]]\nduration_sec = 10\npattern = \"constant\"\nrate = 100.0\n"
      "[[phases]]\nduration_sec = 10\npattern = \"ramp\"\nfrom_rate = 100.0\nto_rate = 300.0\n");
  EXPECT_EQ(All(ScheduleSpecFor(s, 5.0)).size(), 500u);
  const auto longer = CountPerSecond(ScheduleSpecFor(s, 30.0));
  ASSERT_EQ(longer.size(), 30u);
  EXPECT_EQ(longer[25], 300u);  // the ramp holds its final rate
}

TEST(ArrivalTest, PoissonSchedulesAreDeterministicPerSeed) {
  const std::string arrival = "[arrival]\npattern = \"poisson\"\nlambda = 100.0\n";
  const auto a = All(ScheduleSpecFor(Parse(arrival, "seed = 1\n[duration]\ntotal_seconds = 5\n")));
  const auto b = All(ScheduleSpecFor(Parse(arrival, "seed = 1\n[duration]\ntotal_seconds = 5\n")));
  const auto c = All(ScheduleSpecFor(Parse(arrival, "seed = 2\n[duration]\ntotal_seconds = 5\n")));
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].offset_ns, b[i].offset_ns);
  bool differs = a.size() != c.size();
  for (size_t i = 0; !differs && i < a.size(); ++i) differs = a[i].offset_ns != c[i].offset_ns;
  EXPECT_TRUE(differs);
}

TEST(ArrivalTest, RateCurveIntegralMatchesExpectedOperations) {
  const Scenario s = Parse(
      "[arrival]\npattern = \"diurnal\"\nbase_rate = 100.0\namplitude = 50.0\nperiod_sec = 10\n",
      "[duration]\ntotal_seconds = 25\n");
  const ScheduleSpec spec = ScheduleSpecFor(s);
  const RateCurve curve(spec);
  EXPECT_NEAR(curve.Integral(25), ExpectedOps(s, 0, 25), 1e-3);
  EXPECT_NEAR(curve.RateAt(2.5), 150, 1e-9);
  EXPECT_NEAR(static_cast<double>(All(spec).size()), ExpectedOperations(spec, false), 1.0);
}

}  // namespace
}  // namespace engram::workload
