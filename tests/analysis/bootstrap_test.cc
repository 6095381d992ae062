#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "analysis/ab_plan.h"
#include "analysis/compare.h"
#include "analysis/sparse_histogram.h"
#include "analysis/stats.h"
#include "core/histogram.h"
#include "core/random.h"

namespace engram::analysis {
namespace {

Histogram LogNormal(uint64_t seed, size_t n, double median_ns, double sigma) {
  Rng rng(seed);
  Histogram h;
  for (size_t i = 0; i < n; ++i) {
    h.Record(std::llround(median_ns * std::exp(sigma * rng.Normal())));
  }
  return h;
}

TEST(SparseHistogramTest, AnswersQuantilesExactlyLikeTheDenseHistogram) {
  const Histogram h = LogNormal(1, 20000, 1e6, 1.0);
  const SparseHistogram s = SparseHistogram::From(h);
  EXPECT_EQ(s.count, h.count());
  for (double q : {0.0, 0.001, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0}) {
    EXPECT_EQ(s.ValueAtQuantile(q), h.ValueAtQuantile(q)) << q;
  }
}

TEST(BlockSetTest, AllBlocksAnswerLikeMergedHistograms) {
  std::vector<Histogram> hs;
  std::vector<Block> blocks;
  for (uint64_t i = 0; i < 5; ++i) {
    hs.push_back(LogNormal(10 + i, 3000 + 100 * i, 1e6 * (1 + 0.1 * i), 0.6));
    blocks.push_back({SparseHistogram::From(hs.back()), hs.back().count(), i, 10.0});
  }
  BlockSet set(blocks);
  const std::vector<uint32_t> all = {0, 1, 2, 3, 4};
  const BlockStats s = set.Evaluate(all);
  Histogram merged;
  uint64_t ops = 0;
  for (const Histogram& h : hs) {
    merged.Merge(h);
    ops += h.count();
  }
  EXPECT_EQ(s.p50, static_cast<double>(merged.ValueAtQuantile(0.50)));
  EXPECT_EQ(s.p95, static_cast<double>(merged.ValueAtQuantile(0.95)));
  EXPECT_EQ(s.p99, static_cast<double>(merged.ValueAtQuantile(0.99)));
  EXPECT_DOUBLE_EQ(s.throughput, static_cast<double>(ops) / 50.0);
  EXPECT_DOUBLE_EQ(s.error_rate, 10.0 / static_cast<double>(ops));

  // A resample with repeats equals merging the copies.
  const std::vector<uint32_t> repeats = {0, 0, 3};
  const BlockStats r = set.Evaluate(repeats);
  Histogram m2 = hs[0];
  m2.Merge(hs[0]);
  m2.Merge(hs[3]);
  EXPECT_EQ(r.p99, static_cast<double>(m2.ValueAtQuantile(0.99)));
  EXPECT_EQ(r.p50, static_cast<double>(m2.ValueAtQuantile(0.50)));
}

TEST(StatsTest, MedianQuantileAndWilson) {
  EXPECT_DOUBLE_EQ(Median({3, 1, 2}), 2);
  EXPECT_DOUBLE_EQ(Median({4, 1, 3, 2}), 2.5);
  EXPECT_DOUBLE_EQ(Median({}), 0);
  const std::vector<double> sorted = {1, 2, 3, 4, 5};
  EXPECT_DOUBLE_EQ(SortedQuantile(sorted, 0.0), 1);
  EXPECT_DOUBLE_EQ(SortedQuantile(sorted, 0.5), 3);
  EXPECT_DOUBLE_EQ(SortedQuantile(sorted, 0.1), 1.4);
  EXPECT_DOUBLE_EQ(SortedQuantile(sorted, 1.0), 5);
  const auto [lo, hi] = WilsonInterval95(0, 100);
  EXPECT_NEAR(lo, 0.0, 1e-12);
  EXPECT_NEAR(hi, 0.037, 0.001);
}

// Sign-test ranks against binomial tables: P(Bin(n, 1/2) <= k - 1) <= alpha for the k returned,
// and > alpha for k + 1.
TEST(StatsTest, SignTestRankMatchesTheBinomialTable) {
  EXPECT_EQ(SignTestRank(4, 0.05), 0);   // 1/16 = 6.25% > 5%
  EXPECT_EQ(SignTestRank(5, 0.05), 1);   // 1/32 = 3.1%
  EXPECT_EQ(SignTestRank(6, 0.01), 0);   // 1/64 = 1.6% > 1%
  EXPECT_EQ(SignTestRank(7, 0.01), 1);   // 1/128 = 0.8%
  EXPECT_EQ(SignTestRank(8, 0.05), 2);   // P(<=1) = 9/256 = 3.5%, P(<=2) = 37/256 = 14.5%
  EXPECT_EQ(SignTestRank(20, 0.05), 6);  // P(<=5) = 2.07%, P(<=6) = 5.77%
  EXPECT_EQ(SignTestMinimumN(0.05), 5);
  EXPECT_EQ(SignTestMinimumN(0.01), 7);
  EXPECT_EQ(SignTestMinimumN(0.025), 6);
}

// The verdict rule, case by case (threshold 5%, latency: higher is worse).
TEST(DecideTest, RegressionNeedsTheEstimateBeyondTheThresholdAndABoundAboveZero) {
  EXPECT_EQ(Decide(12, true, 3, 20, true, 5, 0.95, "%").verdict, Verdict::kRegression);
  EXPECT_EQ(Decide(12, true, -1, 25, true, 5, 0.95, "%").verdict, Verdict::kInconclusive);
  // A wide interval whose bound still excludes zero is a regression, not "inconclusive".
  EXPECT_EQ(Decide(60, true, 5, 120, true, 5, 0.95, "%").verdict, Verdict::kRegression);
}

TEST(DecideTest, ImprovementWithinNoiseAndWideIntervals) {
  EXPECT_EQ(Decide(-12, true, -20, -3, true, 5, 0.95, "%").verdict, Verdict::kImprovement);
  EXPECT_EQ(Decide(1, true, -1, 3, true, 5, 0.95, "%").verdict, Verdict::kWithinNoise);
  // A real but small change (interval excludes zero and stays below the threshold).
  EXPECT_EQ(Decide(3, true, 1, 4.5, true, 5, 0.95, "%").verdict, Verdict::kWithinNoise);
  // Within the threshold, but the interval reaches it: a regression of T is not excluded.
  EXPECT_EQ(Decide(3, true, 1, 5, true, 5, 0.95, "%").verdict, Verdict::kInconclusive);
  EXPECT_EQ(Decide(2, true, -6, 10, true, 5, 0.95, "%").verdict, Verdict::kInconclusive);
  // Better, but not proven better; no regression of T is possible either.
  EXPECT_EQ(Decide(-12, true, -25, 1, true, 5, 0.95, "%").verdict, Verdict::kWithinNoise);
}

TEST(DecideTest, ThroughputIsWorseWhenItFalls) {
  EXPECT_EQ(Decide(-12, true, -20, -3, false, 5, 0.95, "%").verdict, Verdict::kRegression);
  EXPECT_EQ(Decide(12, true, 3, 20, false, 5, 0.95, "%").verdict, Verdict::kImprovement);
}

TEST(DecideTest, NoIntervalNeverClaimsARegression) {
  EXPECT_EQ(Decide(30, false, 0, 0, true, 5, 0.95, "%").verdict, Verdict::kInconclusive);
  EXPECT_EQ(Decide(2, false, 0, 0, true, 5, 0.95, "%").verdict, Verdict::kWithinNoise);
}

TEST(AbScheduleTest, PairsAlternateTheirOrder) {
  const auto steps = AbSchedule(3);
  ASSERT_EQ(steps.size(), 6u);
  const bool expect_head[] = {false, true, true, false, false, true};  // A B | B A | A B
  for (size_t i = 0; i < steps.size(); ++i) {
    EXPECT_EQ(steps[i].is_head, expect_head[i]) << i;
    EXPECT_EQ(steps[i].pair, static_cast<int>(i / 2));
  }
}

}  // namespace
}  // namespace engram::analysis
