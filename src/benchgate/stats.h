// Statistics for the regression verdicts: summaries, a seeded bootstrap of the ratio of medians
// that respects process runs as the independent unit, and Holm's step-down adjustment.
//
// Why process runs: timings inside one process share its memory layout, frequency state and
// neighbours, so its repetitions are correlated; resampling them as if independent makes
// intervals too narrow (docs/internal/performance_regression_guide.md, "Verdicts").
//
// Threading: pure functions; the bootstrap takes its own seeded generator.
#pragma once

#include <cstdint>
#include <vector>

namespace engram::benchgate {

double Mean(const std::vector<double>& v);
double StdDev(const std::vector<double>& v);  // sample standard deviation (n - 1); 0 if n < 2
double Median(std::vector<double> v);         // 0 for an empty vector

// Samples of one benchmark on one side of a comparison, each tagged with the process run it
// came from (group). Groups need not be contiguous.
struct Sample {
  std::vector<double> values;
  std::vector<int> groups;  // same length as values; empty = all one group
};

struct RatioInterval {
  double estimate = 1.0;  // median(current) / median(baseline)
  double low = 1.0;       // two-sided percentile interval at `confidence`
  double high = 1.0;
  double p_slower = 1.0;  // one-sided bootstrap p-value for "current is slower" (ratio > 1)
  double p_faster = 1.0;  // ... for "current is faster" (ratio < 1)
  bool by_process = false;  // resampled process runs (true) or single samples (false)
};

// Bootstrap of median(current)/median(baseline). When both sides have at least two process
// runs it resamples in two stages (runs with replacement, then samples within each chosen run);
// otherwise it resamples samples and the interval is optimistic (said in `by_process`).
// Deterministic for a given seed. REQUIRES: both sides non-empty, all values > 0.
RatioInterval BootstrapRatioOfMedians(const Sample& baseline, const Sample& current,
                                      int resamples, double confidence, uint64_t seed);

// Interval of the median of one side alone (for the baselines file), same resampling rules.
// Returns {low, high}.
std::pair<double, double> BootstrapMedianInterval(const Sample& s, int resamples,
                                                  double confidence, uint64_t seed);

// Holm step-down adjusted p-values, in input order: controls the family-wise error rate over
// the benchmarks of one gate run without assuming they are independent.
std::vector<double> HolmAdjust(const std::vector<double>& p);

}  // namespace engram::benchgate
