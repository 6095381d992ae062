// A/A calibration: how often the gate fails when nothing changed, and how far a metric moves
// between runs of the same build (its noise floor) on this machine.
//
// No existing tool measures its own false-alarm rate (METHODS.md); we do it by applying the
// very comparison the gate makes to result sets of one build. Two designs:
//
//  * sequential (the stored before/after of the check script): the runs are split in time
//    order into disjoint sets of `set_size` runs, and every pair of sets is compared;
//  * paired (`engram-perf ab` with the same revision on both sides): consecutive runs in time
//    order form A/B pairs, and random subsets of `set_size` pairs (all of them when there are
//    few enough) are compared as `ab` would compare them.
//
// Either way the comparisons share runs, so they are not independent; the Wilson interval
// printed beside the rate is optimistic. The noise floor of a metric is the 95th percentile of
// |log ratio| over all pairs of single runs (sequential) or over the A/B pairs (paired), shown
// as a percentage: a threshold below it cannot be met reliably.
//
// Detection (power): with `inject_pct` = {10, 25}, every comparison is made again with the B
// side's latencies multiplied by 1.10 and 1.25 (summary percentiles and every segment's
// histogram). The same real run-to-run noise, plus a regression of known size: the fraction
// caught is the gate's power against it on this machine.
//
// Threading: pure functions.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "analysis/compare.h"
#include "analysis/run_result.h"
#include "core/status.h"

namespace engram::analysis {

struct CalibrationOptions {
  int set_size = 1;               // runs (paired: pairs) per side in each A/A comparison
  bool paired = false;            // consecutive runs are A/B pairs (engram-perf ab)
  int subsets = 1000;             // paired: random subsets drawn when there are more
  std::vector<double> inject_pct;  // detection: B-side latency increases to test, percent
  CompareOptions compare;          // threshold, confidence, resamples, seed (competitive ignored)
};

// How often an injected latency increase was caught.
struct Detection {
  double inject_pct = 0;
  int comparisons = 0;
  int detected = 0;  // comparisons whose exit code failed the gate
  double rate = 0;
  std::pair<double, double> ci95{0, 1};
};

// Multiplies every latency of a run by `factor` (summary percentiles and segment histograms).
RunResult ScaleLatency(RunResult run, double factor);

struct MetricNoise {
  std::string key;
  bool ratio = true;
  double noise_floor = 0;  // percent (ratio metrics) or percentage points (error rate)
  double run_spread = 0;   // standard deviation of log values x 100, or of pp values
  int regressions = 0;     // A/A comparisons with a regression verdict on this metric
  int inconclusive = 0;
};

// One set size of a sweep (CalibrateSweep).
struct SweepPoint {
  int set_size = 0;
  int comparisons = 0;
  int false_alarms = 0;
  double false_alarm_rate = 0;
  std::vector<Detection> detections;
};

// The goal a sweep recommends by (issue 4): at most 1 false alarm in 100 A/A comparisons, and
// an injected regression of twice the threshold caught (we require >= 99% of the comparisons).
inline constexpr double kFalseAlarmGoal = 0.01;
inline constexpr double kDetectionGoal = 0.99;

struct Calibration {
  std::string created_utc;
  std::string runs_dir;
  std::vector<std::string> files;  // the runs used, in time order
  std::string config_name;
  std::string scenario_hash;
  std::string seed_text;
  int set_size = 1;
  bool paired = false;
  int pairs = 0;  // paired: A/B pairs formed from the runs
  double threshold_pct = 0;
  int resamples = 0;
  int comparisons = 0;
  int false_alarms = 0;  // comparisons whose exit code would have failed the gate
  double false_alarm_rate = 0;
  std::pair<double, double> false_alarm_ci95{0, 1};
  std::vector<MetricNoise> metrics;
  std::vector<Detection> detections;  // one per inject_pct, in order
  std::vector<SweepPoint> sweep;      // CalibrateSweep: every set size tried
  int recommended_set_size = 0;       // smallest that met the goal; 0: none did (or no sweep)
  std::vector<std::string> notes;
};

// Loads every *.json result file in `dir` (calibration.json and files that are not schema 1
// results are skipped and listed in `skipped`).
Result<std::vector<RunResult>> LoadRunsDir(const std::string& dir,
                                           std::vector<std::string>* skipped);

// Calibrates on runs of one build. Runs of other scenarios or seeds than the largest group,
// and runs that are no baseline (CheckBaseline: a saturated server, a failed validation), are
// left out with a note. Needs >= 2 sets
// (sequential) or >= set_size >= 3 pairs (paired).
Result<Calibration> Calibrate(std::vector<RunResult> runs, const CalibrationOptions& options);

// Calibrates at every set size from the smallest the design allows (sequential 1, paired 3) to
// `max_set_size` (or as far as the runs reach) and recommends the smallest size that meets the
// goal: false-alarm rate <= kFalseAlarmGoal and, for every injection >= twice the threshold,
// detection >= kDetectionGoal (without such an injection, the false-alarm goal alone, with a
// note). Returns the calibration at the recommended size (the largest tried if none met it),
// with the whole sweep attached.
Result<Calibration> CalibrateSweep(const std::vector<RunResult>& runs,
                                   const CalibrationOptions& options, int max_set_size);

std::string CalibrationToJson(const Calibration& c);
std::string CalibrationToText(const Calibration& c);

}  // namespace engram::analysis
