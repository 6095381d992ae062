// Compare: before/after verdicts on loadtest results, with a confidence interval per metric.
//
// What the gate promises (said again in every report): a metric is a REGRESSION when its
// estimated change exceeds the threshold T in the bad direction AND its one-sided bootstrap
// bound excludes "no change" at the stated confidence (family-wise over the gated metrics).
// So it flags changes that exceed T with 95% confidence that something changed; a true change
// of exactly T is flagged about half the time, and reliably only from about T plus the
// interval's half-width. Gated metrics: P99 latency, throughput (only when the server limited
// the rate) and error rate (+5 percentage points). P50 and P95 get verdicts for information.
//
// Verdicts per metric (Decide): regression (estimate beyond T in the bad direction and the
// bound excludes no change), improvement (beyond T in the good direction, bound excludes no
// change), within noise (estimate within T and the bound excludes a regression of T),
// inconclusive (estimate beyond T but the bound includes no change, or estimate within T but
// the interval reaches T: then it also estimates the runs per side that would decide), not
// judged (throughput at a met fixed rate or with a saturated generator; zero values).
//
// Intervals: a seeded bootstrap (engram::Rng, B >= 2000) of the log ratio of medians, over
// runs when each side has >= 3 runs (with `paired` and >= 3 pairs: of the median of the
// per-pair log ratios, resampling whole pairs, so drift cancels within each pair), otherwise over
// the runs' time segments (resample blocks with replacement, merge their histograms, recompute
// the percentile), widened for few units (Hesterberg's expanded percentile, stats.h).
// Segments capture noise within a run only; runs also capture the drift between runs, which on
// a shared machine is the larger part (docs/performance_regression_guide.md).
//
// Runs that measured no build (docs/performance_regression_guide.md "Saturated and invalid
// runs") are decided before any statistics, by three rules:
//  - a before run the server could not keep up with (rate.server_saturated) or that failed its
//    scenario's validation is no baseline: the comparison is refused (exit 3), naming the
//    reason and, when the capacity file knows it, the scenario's sustainable rate here;
//  - a saturated after run with healthy before runs is a regression (exit 1, competitive 2),
//    whatever the intervals say: the build no longer sustains the scenario's rate;
//  - a comparison where a side failed its scenario's validation never reports "within target".
// A file without rate.server_saturated (an older loadtest) counts as not saturated, with a note.
//
// Threading: Compare is a pure function of its inputs.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "analysis/baselines.h"
#include "analysis/capacity_file.h"
#include "analysis/run_result.h"
#include "core/status.h"

namespace engram::analysis {

// Exit codes of `engram-perf compare` and scripts/compare_m17_performance.sh (spec 000).
inline constexpr int kExitOk = 0;
inline constexpr int kExitRegression = 1;
inline constexpr int kExitCompetitiveRegression = 2;
inline constexpr int kExitError = 3;

enum class MetricId { kP50, kP95, kP99, kThroughput, kErrorRate };

// The run's whole-run value of a metric (ms, ops/s, or a fraction for the error rate).
double MetricValue(const RunResult& r, MetricId id);
inline constexpr int kMetricCount = 5;

enum class Verdict { kRegression, kImprovement, kWithinNoise, kInconclusive, kNotJudged };
const char* VerdictKey(Verdict v);  // "regression", "within_noise", ...

enum class IntervalSource { kRuns, kPairs, kSegments, kNone };
const char* IntervalSourceKey(IntervalSource s);

// Noise floors measured by `engram-perf calibrate` (A/A runs), read from calibration.json.
struct CalibrationInfo {
  std::string path;
  std::string scenario_hash;
  std::string created_utc;
  double false_alarm_rate = 0;
  int comparisons = 0;
  std::string design;            // "sequential" or "paired"
  int recommended_set_size = 0;  // from a sweep; 0: none

  std::map<std::string, double> noise_floor_pct;  // by metric key ("p99_latency", ...)
};
Result<CalibrationInfo> LoadCalibrationInfo(const std::string& path);

struct CompareOptions {
  std::string task;                      // label for the report ("007")
  double threshold_pct = 5.0;            // T for latency and throughput, percent
  double error_rate_threshold_pp = 5.0;  // error-rate rule, percentage points
  bool competitive = false;
  double confidence = 0.95;       // family-wise, one-sided, over the gated metrics
  int resamples = 2000;           // bootstrap resamples; at least 2000 are used
  uint64_t seed = 0x5EEDC0DEULL;  // bootstrap seed: same inputs + seed -> same interval
  bool paired = false;            // before[i] and after[i] were run as a pair (ab)
};

// Which of the rules for runs that measured no build decided (or qualified) a comparison.
enum class RunRule {
  kNone,
  kBeforeSaturated,         // refused, exit 3
  kBeforeFailedValidation,  // refused, exit 3
  kAfterSaturated,          // regression, exit 1 (competitive 2)
  kAfterFailedValidation,   // verdicts stand, but never "within target"
};
const char* RunRuleKey(RunRule r);  // "none", "before_saturated", ...

struct BaselineRefusal {
  RunRule rule = RunRule::kNone;
  std::string message;
};
// The first before run that is no baseline (saturated, else failed validation), with the
// reason and what the capacity file (optional) says about the sustainable rate; nullopt when
// every before run is a baseline.
std::optional<BaselineRefusal> CheckBaseline(const std::vector<RunResult>& before,
                                             const CapacityFile* capacity);

struct MetricResult {
  MetricId id = MetricId::kP99;
  std::string key;   // "p99_latency"
  std::string name;  // "P99 latency (ms)"
  bool gated = false;
  bool ratio = true;  // change is a percentage of before (else percentage points)
  bool higher_is_worse = true;
  double before = 0;  // median over the side's runs, in the display unit
  double after = 0;
  double change = 0;  // percent, or percentage points for the error rate
  bool has_interval = false;
  double low = 0;  // interval of the change, same unit as `change`
  double high = 0;
  double level = 0;      // one-sided confidence of each end of the interval
  double threshold = 0;  // percent or percentage points
  Verdict verdict = Verdict::kNotJudged;
  std::string reason;
  int more_runs = 0;  // inconclusive: estimated extra runs per side to decide (0: n/a)
};

// Engram's after (and before) figure against one competitor figure.
struct Positioning {
  CompetitiveBaseline baseline;
  bool latency = true;  // P99 latency (lower is better) or throughput (higher is better)
  double before = 0;
  double after = 0;
  double before_advantage_pct = 0;  // latency: % faster than the baseline; throughput: % more
  double after_advantage_pct = 0;
  bool comparable = true;    // false: this run cannot speak to the figure (reason in status)
  bool failed = false;       // after is worse than the competitor: exit 2
  bool lost_ground = false;  // still better, but the advantage shrank (warning, exit 0)
  std::string status;
};

struct Comparison {
  CompareOptions options;
  std::vector<std::string> before_files;
  std::vector<std::string> after_files;
  std::string config_name;
  std::string scenario_path;  // as recorded by the before run (may be empty)
  std::string scenario_stem;
  std::string scenario_hash;
  std::string seed_text;
  IntervalSource source = IntervalSource::kNone;
  size_t before_units = 0;  // runs, pairs or segments behind the interval, per side
  size_t after_units = 0;
  int resamples = 0;
  int gated_statistical = 0;          // P99 and judged throughput: the family the confidence covers
  std::vector<MetricResult> metrics;  // in MetricId order
  double errors_before = 0;           // total_errors, median over runs
  double errors_after = 0;
  std::string baselines_path;
  std::vector<Positioning> positioning;
  std::vector<std::string> warnings;
  std::vector<std::string> notes;
  std::string promise;
  RunRule rule = RunRule::kNone;  // kAfterSaturated or kAfterFailedValidation (before: refused)
  std::string rule_text;          // what the rule found, for the report
  bool internal_regression = false;     // a gated metric regressed, or the after run saturated
  bool competitive_regression = false;  // competitive mode: a regression or a lost position
  int exit_code = kExitOk;

  const MetricResult& metric(MetricId id) const { return metrics[static_cast<int>(id)]; }
};

// The verdict rule alone, in change units (percent or percentage points).
struct Decision {
  Verdict verdict = Verdict::kWithinNoise;
  std::string reason;
};
Decision Decide(double change, bool has_interval, double low, double high, bool higher_is_worse,
                double threshold, double level, const char* unit);

// Checks that the runs can be compared: at least one per side, one scenario (hash and name),
// one seed, every before run a baseline (CheckBaseline), and no after run whose error rate
// broke its scenario's max_error_rate unless the server was saturated in it (then it is the
// after-saturated regression). The Status names the file and the reason.
Status CheckComparable(const std::vector<RunResult>& before, const std::vector<RunResult>& after,
                       const CapacityFile* capacity = nullptr);

// The comparison. `baselines` is required in competitive mode (nullptr otherwise is fine);
// `calibration` and `capacity` are optional. Returns an error (exit 3) when CheckComparable
// fails.
Result<Comparison> Compare(const std::vector<RunResult>& before,
                           const std::vector<RunResult>& after, const CompareOptions& options,
                           const BaselineFile* baselines, const CalibrationInfo* calibration,
                           const CapacityFile* capacity = nullptr);

// Human report in the spec's format (spec 000), and the same content as JSON.
std::string RenderText(const Comparison& c);
std::string RenderJson(const Comparison& c);
// The JSON written when the comparison could not be made (exit 3); `rule` names the rule
// that refused it, if one did.
std::string RenderErrorJson(const Status& error, RunRule rule = RunRule::kNone);

}  // namespace engram::analysis
