// The gate keeps its promise in simulation: with synthetic runs of known noise, A/A comparisons
// (no change) rarely fail and an injected +25% P99 is caught nearly every time.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "analysis/compare.h"
#include "synth.h"

namespace engram::analysis {
namespace {

RunResult Make(testing::SynthRun run, uint64_t seed, double scale) {
  run.rng_seed = seed;
  run.scale = scale;
  auto r = ParseRunResult(testing::SynthResultJson(run), "sim-" + std::to_string(seed));
  EXPECT_TRUE(r.ok()) << r.error().ToString();
  return std::move(r).value();
}

struct Rates {
  int false_alarms = 0;
  int detected = 0;
};

// `pairs` comparisons of `runs` runs per side, once without a change and once with `slowdown`.
Rates Simulate(const testing::SynthRun& base, int pairs, int runs, double slowdown,
               uint64_t seed0) {
  Rates rates;
  for (int p = 0; p < pairs; ++p) {
    std::vector<RunResult> before, same, slower;
    for (int k = 0; k < runs; ++k) {
      const uint64_t s = seed0 + 1000 * static_cast<uint64_t>(p) + 10 * static_cast<uint64_t>(k);
      before.push_back(Make(base, s + 1, 1.0));
      same.push_back(Make(base, s + 2, 1.0));
      slower.push_back(Make(base, s + 3, slowdown));
    }
    CompareOptions opt;
    opt.seed = 0x5EED + static_cast<uint64_t>(p);
    auto aa = Compare(before, same, opt, nullptr, nullptr);
    auto ab = Compare(before, slower, opt, nullptr, nullptr);
    EXPECT_TRUE(aa.ok() && ab.ok());
    if (aa->exit_code != kExitOk) ++rates.false_alarms;
    if (ab->exit_code == kExitRegression) ++rates.detected;
  }
  return rates;
}

TEST(SimulationTest, OneRunPerSideAtTheM17RateKeepsThePromise) {
  // The M17 baseline's shape: 60 s at 1000 ops/s, 10 s segments; per-segment noise 3%,
  // run-to-run drift 1% (which a single run's segments cannot see).
  testing::SynthRun base;
  base.target_rate = 1000;
  base.segment_noise = 0.03;
  base.run_noise = 0.01;
  const Rates r = Simulate(base, 100, 1, 1.25, 1);
  std::printf("one run per side: A/A false alarms %d/100, +25%% detected %d/100\n", r.false_alarms,
              r.detected);
  EXPECT_LE(r.false_alarms, 5);
  EXPECT_GE(r.detected, 95);
}

TEST(SimulationTest, ThreeRunsPerSideKeepThePromiseUnderRunToRunDrift) {
  // Larger drift between runs (3%) than a single run's segments would show: the runs carry it.
  testing::SynthRun base;
  base.target_rate = 200;
  base.segment_noise = 0.03;
  base.run_noise = 0.03;
  const Rates r = Simulate(base, 100, 3, 1.25, 7);
  std::printf("three runs per side: A/A false alarms %d/100, +25%% detected %d/100\n",
              r.false_alarms, r.detected);
  EXPECT_LE(r.false_alarms, 5);
  EXPECT_GE(r.detected, 95);
}

}  // namespace
}  // namespace engram::analysis
