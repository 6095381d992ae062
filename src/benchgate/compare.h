// The noise-aware comparison of a measurement against its baseline.
//
// Wall time, per benchmark: estimate = median(current)/median(baseline) - 1, with a seeded
// bootstrap that resamples process runs (stats.h). The test is one-sided at 1 - confidence
// (5%) in the direction of the change; across the benchmarks of one run the bootstrap p-values
// are Holm-adjusted, so the chance that any of m unchanged benchmarks is flagged stays at 5%
// instead of growing with m. The interval reported is the two-sided 90% one, whose ends are
// the unadjusted one-sided 95% bounds.
//   regression  estimate > threshold and (adjusted) "slower" p <= 1 - confidence,
//               i.e. the lower bound is above zero after adjustment
//   improvement estimate < -threshold and the same test in the other direction
//   noisy       neither, but |estimate| > threshold or the interval is wider than
//               max_interval_width: the data cannot tell a threshold-sized change from noise
//   pass        otherwise
// The promise is "fails when the estimated change exceeds the threshold and is real", not
// "catches every change of exactly the threshold" (a true +5% is flagged about half the time).
//
// Instruction counts, per benchmark: change = current/baseline - 1 on counts that repeat
// exactly on the same binary, so no interval: regression if change > threshold, improvement if
// change < -threshold, else pass.
//
// Fingerprints (fingerprint.h): a baseline whose fingerprint is identical, or differs only in
// fields that cannot change the mode's measurements (for instruction counts: the host's CPU
// model, flags and native target), is compared, and the comparison lists those fields and says
// so. One that differs in a field that can change them is not compared: the comparison names
// the fields and passes, unless `force` compares against the closest set anyway.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "benchgate/fingerprint.h"
#include "benchgate/results.h"

namespace engram::benchgate {

struct CompareOptions {
  Mode mode = Mode::kWallTime;
  double threshold = 0.05;           // relative change that counts (5%)
  double confidence = 0.95;          // one-sided level of the test in each direction
  double max_interval_width = 0.10;  // wider (high - low of the change) is "noisy"
  int resamples = 2000;
  uint64_t seed = 20251023;
  bool holm = true;
  bool force = false;                // compare across fingerprints
};

enum class Verdict { kPass, kRegression, kImprovement, kNoisy, kNew };
const char* VerdictName(Verdict v);  // "pass", "REGRESSION", "improved", "noisy", "new"

struct RowResult {
  std::string benchmark;
  Verdict verdict = Verdict::kPass;
  double baseline = 0;  // median ns, or instructions per iteration
  double current = 0;
  double change = 0;    // relative: +0.10 = 10% slower / more instructions
  double low = 0, high = 0;  // interval of the change (equal to change for instructions)
  double p_adjusted = 1.0;   // Holm-adjusted one-sided p in the direction of the change
  bool by_process = false;
  std::string note;
};

struct Comparison {
  Mode mode = Mode::kWallTime;
  bool compared = false;  // false: no baseline this fingerprint may be compared with (message)
  bool forced = false;
  std::string message;
  std::string baseline_description, current_description;
  std::vector<FieldDifference> differences;  // baseline vs current fingerprint, classified
  std::vector<RowResult> rows;
  std::vector<std::string> not_measured;     // in the baseline, absent from the measurement
  double threshold = 0.05;
  std::string injected_slowdown;

  int Count(Verdict v) const;
  // 0 pass (or not compared), 1 at least one regression, 3 noisy results when fail_on_noisy.
  int ExitCode(bool fail_on_noisy) const;
};

// Compares `current` against the baseline in `baselines` it may be compared with (FindBaseline).
Comparison Compare(const BaselinesFile& baselines, const ResultSet& current,
                   const CompareOptions& options);
// Compares two sets directly, without looking at fingerprints.
Comparison CompareSets(const ResultSet& baseline, const ResultSet& current,
                       const CompareOptions& options);

// The table for a terminal, and the same as GitHub-flavoured Markdown (for a PR comment).
std::string FormatTable(const Comparison& c);
std::string FormatMarkdown(const Comparison& c);

}  // namespace engram::benchgate
