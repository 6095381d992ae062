// A/A calibration: how often the gate fails when nothing changed, and how far a metric moves
// between runs of the same build (its noise floor) on this machine.
//
// No existing tool measures its own false-alarm rate (METHODS.md); we do it by applying the
// very comparison the gate makes to pairs of result sets of one build. The runs are split in
// time order into disjoint sets of `set_size` runs, and every pair of sets is compared (the
// pairs share runs, so they are not independent; the Wilson interval printed beside the rate is
// therefore optimistic). The noise floor of a metric is the 95th percentile of |log ratio| over
// all pairs of single runs, shown as a percentage: a threshold below it cannot be met reliably.
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
  int set_size = 1;        // runs per side in each A/A comparison
  CompareOptions compare;  // threshold, confidence, resamples, seed (competitive is ignored)
};

struct MetricNoise {
  std::string key;
  bool ratio = true;
  double noise_floor = 0;  // percent (ratio metrics) or percentage points (error rate)
  double run_spread = 0;   // standard deviation of log values x 100, or of pp values
  int regressions = 0;     // A/A comparisons with a regression verdict on this metric
  int inconclusive = 0;
};

struct Calibration {
  std::string created_utc;
  std::string runs_dir;
  std::vector<std::string> files;  // the runs used, in time order
  std::string config_name;
  std::string scenario_hash;
  std::string seed_text;
  int set_size = 1;
  double threshold_pct = 0;
  int resamples = 0;
  int comparisons = 0;
  int false_alarms = 0;  // comparisons whose exit code would have failed the gate
  double false_alarm_rate = 0;
  std::pair<double, double> false_alarm_ci95{0, 1};
  std::vector<MetricNoise> metrics;
  std::vector<std::string> notes;
};

// Loads every *.json result file in `dir` (calibration.json and files that are not schema 1
// results are skipped and listed in `skipped`).
Result<std::vector<RunResult>> LoadRunsDir(const std::string& dir,
                                           std::vector<std::string>* skipped);

// Calibrates on runs of one build. Runs of other scenarios or seeds than the largest group,
// and runs that broke their error limit, are left out with a note. Needs >= 2 sets.
Result<Calibration> Calibrate(std::vector<RunResult> runs, const CalibrationOptions& options);

std::string CalibrationToJson(const Calibration& c);
std::string CalibrationToText(const Calibration& c);

}  // namespace engram::analysis
