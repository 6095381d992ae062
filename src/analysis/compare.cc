#include "analysis/compare.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "analysis/sparse_histogram.h"
#include "analysis/stats.h"
#include "core/random.h"

namespace engram::analysis {

namespace json = boost::json;

namespace {

constexpr std::array<const char*, kMetricCount> kKeys = {"p50_latency", "p95_latency",
                                                         "p99_latency", "throughput", "error_rate"};
constexpr std::array<const char*, kMetricCount> kNames = {
    "P50 latency (ms)", "P95 latency (ms)", "P99 latency (ms)", "Throughput (ops/s)", "Error rate"};
constexpr int kMinResamples = 2000;

double RunValue(const RunResult& r, int m) { return MetricValue(r, static_cast<MetricId>(m)); }

double SegmentValue(const BlockStats& s, int m) {
  switch (static_cast<MetricId>(m)) {
    case MetricId::kP50:
      return s.p50;
    case MetricId::kP95:
      return s.p95;
    case MetricId::kP99:
      return s.p99;
    case MetricId::kThroughput:
      return s.throughput;
    case MetricId::kErrorRate:
      return s.error_rate;
  }
  return 0;
}

bool IsRatio(int m) { return static_cast<MetricId>(m) != MetricId::kErrorRate; }

double SafeLog(double x) { return std::log(std::max(x, 1e-300)); }

// The change in "d space": log ratio for ratio metrics, percentage points for the error rate.
double DSpace(int m, double before, double after) {
  return IsRatio(m) ? SafeLog(after) - SafeLog(before) : (after - before) * 100.0;
}
double FromDSpace(int m, double d) { return IsRatio(m) ? std::expm1(d) * 100.0 : d; }

// Per metric, the bootstrap distribution of the change in d space.
using Distribution = std::array<std::vector<double>, kMetricCount>;

Distribution BootstrapRuns(const std::vector<RunResult>& before,
                           const std::vector<RunResult>& after, int resamples, uint64_t seed) {
  Distribution dist;
  Rng rng(seed);
  const size_t nb = before.size(), na = after.size();
  std::vector<double> vb(nb), va(na);
  std::vector<size_t> ib(nb), ia(na);
  for (int it = 0; it < resamples; ++it) {
    for (auto& i : ib) i = rng.Below(nb);
    for (auto& i : ia) i = rng.Below(na);
    for (int m = 0; m < kMetricCount; ++m) {
      for (size_t k = 0; k < nb; ++k) vb[k] = RunValue(before[ib[k]], m);
      for (size_t k = 0; k < na; ++k) va[k] = RunValue(after[ia[k]], m);
      dist[m].push_back(DSpace(m, Median(vb), Median(va)));
    }
  }
  return dist;
}

// The per-pair changes of metric m in d space, ascending.
std::vector<double> PairChanges(const std::vector<RunResult>& before,
                                const std::vector<RunResult>& after, int m) {
  std::vector<double> d;
  for (size_t k = 0; k < before.size(); ++k)
    d.push_back(DSpace(m, RunValue(before[k], m), RunValue(after[k], m)));
  std::sort(d.begin(), d.end());
  return d;
}

BlockSet MakeBlockSet(const std::vector<RunResult>& runs) {
  std::vector<Block> blocks;
  for (const RunResult& r : runs) {
    for (const Segment& s : r.segments) blocks.push_back({s.latency, s.ops, s.errors, s.seconds()});
  }
  return BlockSet(std::move(blocks));
}

Distribution BootstrapSegments(const BlockSet& before, const BlockSet& after, int resamples,
                               uint64_t seed) {
  Distribution dist;
  Rng rng(seed);
  std::vector<uint32_t> ib(before.size()), ia(after.size());
  for (int it = 0; it < resamples; ++it) {
    for (auto& i : ib) i = static_cast<uint32_t>(rng.Below(before.size()));
    for (auto& i : ia) i = static_cast<uint32_t>(rng.Below(after.size()));
    const BlockStats sb = before.Evaluate(ib);
    const BlockStats sa = after.Evaluate(ia);
    for (int m = 0; m < kMetricCount; ++m) {
      dist[m].push_back(DSpace(m, SegmentValue(sb, m), SegmentValue(sa, m)));
    }
  }
  return dist;
}

// Extra runs per side that would decide, from the interval's half-width h scaling as
// 1/sqrt(n). When the estimate is beyond the threshold the half-width must fall below |d| (to
// exclude no change); otherwise below the distance from d to the threshold (to exclude a
// regression of T). All in d space; d_bad > 0 means worse.
int MoreRunsNeeded(double n, double half_width, double d_bad, double t_d, bool beyond) {
  if (!(half_width > 0) || n <= 0) return 0;
  const double target = beyond ? std::fabs(d_bad) : t_d - d_bad;
  if (!(target > 0)) return 1000;
  const double needed = n * (half_width / target) * (half_width / target);
  const double more = std::ceil(needed - n);
  if (!(more >= 1)) return 1;
  return more > 1000 ? 1000 : static_cast<int>(more);
}

}  // namespace

const char* VerdictKey(Verdict v) {
  switch (v) {
    case Verdict::kRegression:
      return "regression";
    case Verdict::kImprovement:
      return "improvement";
    case Verdict::kWithinNoise:
      return "within_noise";
    case Verdict::kInconclusive:
      return "inconclusive";
    case Verdict::kNotJudged:
      return "not_judged";
  }
  return "?";
}

const char* IntervalSourceKey(IntervalSource s) {
  switch (s) {
    case IntervalSource::kRuns:
      return "runs";
    case IntervalSource::kPairs:
      return "pairs";
    case IntervalSource::kSegments:
      return "segments";
    case IntervalSource::kNone:
      return "none";
  }
  return "?";
}

Result<CalibrationInfo> LoadCalibrationInfo(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path, ": cannot read (", std::strerror(errno), ")");
  std::ostringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  json::value doc = json::parse(text.str(), ec);
  if (ec || !doc.is_object()) return Status::InvalidArgument(path, ": not a calibration file");
  const json::object& o = doc.get_object();
  CalibrationInfo info;
  info.path = path;
  if (const auto* s = o.if_contains("scenario"); s && s->is_object()) {
    if (const auto* h = s->get_object().if_contains("scenario_hash"); h && h->is_string()) {
      info.scenario_hash = std::string(h->get_string());
    }
  }
  if (const auto* c = o.if_contains("created_utc"); c && c->is_string()) {
    info.created_utc = std::string(c->get_string());
  }
  if (const auto* f = o.if_contains("false_alarm_rate"); f && f->is_number()) {
    info.false_alarm_rate = f->to_number<double>();
  }
  if (const auto* n = o.if_contains("comparisons"); n && n->is_number()) {
    info.comparisons = n->to_number<int>();
  }
  if (const auto* d = o.if_contains("design"); d && d->is_string()) {
    info.design = std::string(d->get_string());
  }
  if (const auto* r = o.if_contains("recommended_set_size"); r && r->is_number()) {
    info.recommended_set_size = r->to_number<int>();
  }
  const auto* metrics = o.if_contains("metrics");
  if (metrics == nullptr || !metrics->is_object()) {
    return Status::InvalidArgument(path, ": calibration file has no 'metrics' object");
  }
  for (const auto& [key, value] : metrics->get_object()) {
    if (!value.is_object()) continue;
    if (const auto* nf = value.get_object().if_contains("noise_floor_pct"); nf && nf->is_number()) {
      info.noise_floor_pct[std::string(key)] = nf->to_number<double>();
    }
  }
  return info;
}

Decision Decide(double change, bool has_interval, double low, double high, bool higher_is_worse,
                double threshold, double level, const char* unit) {
  const double bad = higher_is_worse ? change : -change;  // > 0: worse
  const double bad_low = higher_is_worse ? low : -high;   // the bound nearest "no change"
  const double good_high = higher_is_worse ? high : -low;
  const std::string conf = fmt::format("{:.1f}%", level * 100.0);
  auto num = [&](double v) { return fmt::format("{:+.2f}{}", v, unit); };
  auto thr = [&](double v) { return fmt::format("{:.1f}{}", v, unit); };
  Decision d;
  if (!has_interval) {
    if (std::fabs(change) > threshold) {
      d.verdict = Verdict::kInconclusive;
      d.reason = fmt::format(
          "{} is beyond the {} threshold but there is no interval "
          "(no segments and fewer than 3 runs per side)",
          num(change), thr(threshold));
    } else {
      d.verdict = Verdict::kWithinNoise;
      d.reason = fmt::format("{} is within the {} threshold (no interval available)", num(change),
                             thr(threshold));
    }
    return d;
  }
  const double bad_high = higher_is_worse ? high : -low;  // the worst change the data allow
  if (bad > threshold) {
    if (bad_low > 0) {
      d.verdict = Verdict::kRegression;
      d.reason = fmt::format(
          "{} exceeds the {} threshold and the one-sided {} bound {} excludes "
          "no change",
          num(change), thr(threshold), conf, num(higher_is_worse ? low : high));
    } else {
      d.verdict = Verdict::kInconclusive;
      d.reason = fmt::format(
          "{} exceeds the {} threshold but the one-sided {} bound {} includes "
          "no change",
          num(change), thr(threshold), conf, num(higher_is_worse ? low : high));
    }
  } else if (-bad > threshold && good_high < 0) {
    d.verdict = Verdict::kImprovement;
    d.reason = fmt::format(
        "{} is better by more than {} and the one-sided {} bound {} excludes "
        "no change",
        num(change), thr(threshold), conf, num(higher_is_worse ? high : low));
  } else if (bad_high >= threshold) {
    d.verdict = Verdict::kInconclusive;
    d.reason = fmt::format(
        "{} is within the {} threshold, but the interval [{}, {}] reaches {}: "
        "a regression of {} cannot be excluded",
        num(change), thr(threshold), num(low), num(high),
        num(higher_is_worse ? threshold : -threshold), thr(threshold));
  } else {
    d.verdict = Verdict::kWithinNoise;
    d.reason =
        fmt::format("{} {} and the one-sided {} bound {} excludes a regression of {}", num(change),
                    -bad > threshold ? "is better by more than " + thr(threshold) +
                                           ", though not proven (the interval includes no change),"
                                     : "is within the " + thr(threshold) + " threshold",
                    conf, num(higher_is_worse ? high : low), thr(threshold));
  }
  return d;
}

const char* RunRuleKey(RunRule r) {
  switch (r) {
    case RunRule::kNone:
      return "none";
    case RunRule::kBeforeSaturated:
      return "before_saturated";
    case RunRule::kBeforeFailedValidation:
      return "before_failed_validation";
    case RunRule::kAfterSaturated:
      return "after_saturated";
    case RunRule::kAfterFailedValidation:
      return "after_failed_validation";
  }
  return "?";
}

namespace {

// What the capacity file says about the scenario of `r` on the machine `r` ran on.
std::string CapacitySentence(const RunResult& r, const CapacityFile* capacity) {
  const std::string scenario = r.scenario_path.empty() ? std::string("SCENARIO") : r.scenario_path;
  const std::string measure =
      fmt::format("measure it with `engram-perf capacity {}` (docs/capacity.md)", scenario);
  if (capacity == nullptr) {
    return fmt::format("The scenario's sustainable rate on this machine is not known: {}.", measure);
  }
  if (const CapacityEntry* e = capacity->Find(r.scenario_hash, r.cpu_model, r.cores)) {
    return fmt::format(
        "Sustainable rate of this scenario on this machine: {} ({}); the run offered {:.0f} ops/s.",
        DescribeCapacity(*e), capacity->path, r.target_ops_per_sec);
  }
  std::string others;
  for (const CapacityEntry* e : capacity->Related(r.scenario_path)) {
    others += fmt::format("{}{} on {}{}", others.empty() ? "" : "; ",
                          e->sustainable_ops_per_sec
                              ? fmt::format("{:.0f} ops/s", *e->sustainable_ops_per_sec)
                              : std::string("no sustainable rate"),
                          e->machine.Describe(),
                          e->scenario_hash == r.scenario_hash ? "" : " (another version of the file)");
  }
  return fmt::format("{} has no measurement of this scenario on this machine ({}, {} cores){}: {}.",
                     capacity->path, r.cpu_model.empty() ? "unknown CPU" : r.cpu_model, r.cores,
                     others.empty() ? "" : "; it has " + others, measure);
}

}  // namespace

std::optional<BaselineRefusal> CheckBaseline(const std::vector<RunResult>& before,
                                             const CapacityFile* capacity) {
  for (const RunResult& r : before) {
    if (r.server_saturated.value_or(false)) {
      return BaselineRefusal{
          RunRule::kBeforeSaturated,
          fmt::format("before run {}: the server could not keep up ({}). A saturated run measures "
                      "a queue, not the build, so it is not a valid baseline. {} Lower the "
                      "scenario's rate below it (or use a faster or quieter machine) and measure "
                      "'before' again",
                      r.path, r.SaturationText(), CapacitySentence(r, capacity))};
    }
  }
  for (const RunResult& r : before) {
    const auto errors = r.ErrorRateCheck();
    const bool error_limit = errors && (r.overall_error_rate > errors->limit || !errors->passed);
    if (!r.validation_passed || error_limit) {
      const std::string what =
          error_limit ? fmt::format("error rate {:.2f}% ({} of {} operations) broke the "
                                    "scenario's limit max_error_rate = {:.2f}%",
                                    r.overall_error_rate * 100.0, r.total_errors,
                                    r.total_operations, errors->limit * 100.0)
                      : "failed its scenario's validation: " + r.FailedChecks();
      return BaselineRefusal{
          RunRule::kBeforeFailedValidation,
          fmt::format("before run {}: {}. A run that failed its scenario's validation is not a "
                      "valid baseline: fix the cause (see its _loadtest.log) and measure 'before' "
                      "again. {}",
                      r.path, what, CapacitySentence(r, capacity))};
    }
  }
  return std::nullopt;
}

Status CheckComparable(const std::vector<RunResult>& before, const std::vector<RunResult>& after,
                       const CapacityFile* capacity) {
  if (before.empty()) return Status::InvalidArgument("no 'before' result files given");
  if (after.empty()) return Status::InvalidArgument("no 'after' result files given");
  const RunResult& ref = before.front();
  for (const auto* side : {&before, &after}) {
    for (const RunResult& r : *side) {
      if (r.scenario_hash != ref.scenario_hash || r.config_name != ref.config_name) {
        return Status::InvalidArgument(
            "results come from different scenarios: ", ref.path, " ran '", ref.config_name,
            "' (scenario_hash ", ref.scenario_hash, "), ", r.path, " ran '", r.config_name,
            "' (scenario_hash ", r.scenario_hash, "); compare runs of one scenario file");
      }
      if (r.seed != ref.seed) {
        return Status::InvalidArgument("results used different seeds: ", ref.path, " has ",
                                       ref.seed_text, ", ", r.path, " has ", r.seed_text,
                                       "; the workloads differ, so the comparison would too");
      }
    }
  }
  if (auto refusal = CheckBaseline(before, capacity)) {
    return Status::FailedPrecondition(refusal->message);
  }
  for (const RunResult& r : after) {
    const auto check = r.ErrorRateCheck();
    // A saturated after run is the after-saturated regression, errors or not.
    if (!check || r.server_saturated.value_or(false)) continue;
    if (r.overall_error_rate > check->limit || !check->passed) {
      return Status::FailedPrecondition(fmt::format(
          "after run {}: error rate {:.2f}% ({} of {} operations) broke the scenario's limit "
          "max_error_rate = {:.2f}%. A run whose error rate broke its limit is not a valid "
          "measurement: if the change caused these errors, that is a regression to fix first "
          "(see its _loadtest.log)",
          r.path, r.overall_error_rate * 100.0, r.total_errors, r.total_operations,
          check->limit * 100.0));
    }
  }
  return Status::Ok();
}

Result<Comparison> Compare(const std::vector<RunResult>& before,
                           const std::vector<RunResult>& after, const CompareOptions& options,
                           const BaselineFile* baselines, const CalibrationInfo* calibration,
                           const CapacityFile* capacity) {
  ENGRAM_RETURN_IF_ERROR(CheckComparable(before, after, capacity));
  if (!(options.threshold_pct > 0) || !(options.error_rate_threshold_pp > 0)) {
    return Status::InvalidArgument("thresholds must be positive");
  }
  if (!(options.confidence > 0.5 && options.confidence < 1.0)) {
    return Status::InvalidArgument("confidence must lie in (0.5, 1)");
  }
  if (options.competitive && baselines == nullptr) {
    return Status::InvalidArgument("competitive mode needs the competitor baselines file");
  }
  Comparison c;
  c.options = options;
  for (const RunResult& r : before) c.before_files.push_back(r.path);
  for (const RunResult& r : after) c.after_files.push_back(r.path);
  c.config_name = before.front().config_name;
  c.scenario_path = before.front().scenario_path;
  c.scenario_stem = before.front().ScenarioStem();
  c.scenario_hash = before.front().scenario_hash;
  c.seed_text = before.front().seed_text;
  c.resamples = std::max(options.resamples, kMinResamples);
  if (options.resamples < kMinResamples) {
    c.notes.push_back(fmt::format("--resamples {} raised to the minimum of {}", options.resamples,
                                  kMinResamples));
  }

  // --- Where the interval comes from.
  const size_t nb = before.size(), na = after.size();
  size_t seg_b = 0, seg_a = 0;
  for (const RunResult& r : before) seg_b += r.segments.size();
  for (const RunResult& r : after) seg_a += r.segments.size();
  if (options.paired && nb == na && nb >= 3) {
    c.source = IntervalSource::kPairs;
    c.before_units = c.after_units = nb;
  } else if (nb >= 3 && na >= 3) {
    c.source = IntervalSource::kRuns;
    c.before_units = nb;
    c.after_units = na;
  } else if (seg_b >= 2 && seg_a >= 2) {
    c.source = IntervalSource::kSegments;
    c.before_units = seg_b;
    c.after_units = seg_a;
  } else {
    c.source = IntervalSource::kNone;
  }
  if (c.source == IntervalSource::kPairs) {
    c.notes.push_back(fmt::format(
        "{} interleaved pairs: each change is the median of the {} per-pair changes (a drift of "
        "the machine cancels within a pair), so it can differ from the ratio of the two medians "
        "shown",
        nb, nb));
  }
  if (options.paired && c.source != IntervalSource::kPairs) {
    c.notes.push_back(
        fmt::format("--paired needs the same number (>= 3) of before and after "
                    "runs; got {} and {}, so pairs were not used",
                    nb, na));
  }
  if (c.source == IntervalSource::kSegments) {
    c.notes.push_back(fmt::format(
        "{} run(s) before, {} after: the interval comes from the runs' time segments and covers "
        "the noise within a run, not the drift between runs; for a decision you can rely on, "
        "repeat (ENGRAM_PERF_REPEAT=3) or interleave (engram-perf ab)",
        nb, na));
  }

  // --- Throughput: only a server-limited run can show a throughput change.
  bool any_generator_saturated = false, any_server_limited = false;
  std::string saturated_file;
  for (const auto* side : {&before, &after}) {
    for (const RunResult& r : *side) {
      if (r.generator_saturated) {
        any_generator_saturated = true;
        if (saturated_file.empty()) saturated_file = r.path;
      }
      if (r.ServerLimited()) any_server_limited = true;
    }
  }
  const bool judge_throughput = !any_generator_saturated && any_server_limited;
  std::string throughput_reason;
  if (any_generator_saturated) {
    throughput_reason = fmt::format(
        "not judged: the load generator was saturated ({}), so the achieved rate measures the "
        "client, not the server",
        saturated_file);
    c.warnings.push_back("load generator saturated in " + saturated_file +
                         ": its latencies include client delay; see rate.schedule_lag_ms");
  } else if (!any_server_limited) {
    std::vector<double> targets;
    for (const RunResult& r : after) targets.push_back(r.target_ops_per_sec);
    throughput_reason = fmt::format(
        "throughput fixed by the schedule, cannot move: the target rate ({:.0f} ops/s) was met "
        "on both sides; run a saturating scenario to judge throughput",
        Median(targets));
  }

  c.gated_statistical = 1 + (judge_throughput ? 1 : 0);
  const double family_alpha = 1.0 - options.confidence;
  const double gated_alpha = family_alpha / c.gated_statistical;  // Bonferroni

  // --- Bootstrap.
  Distribution dist;
  if (c.source == IntervalSource::kRuns) {
    dist = BootstrapRuns(before, after, c.resamples, options.seed);
  } else if (c.source == IntervalSource::kSegments) {
    dist = BootstrapSegments(MakeBlockSet(before), MakeBlockSet(after), c.resamples, options.seed);
  }
  for (auto& d : dist) std::sort(d.begin(), d.end());
  // Units behind the interval (for the small-sample expansion): the smaller side's count.
  const double n_units = static_cast<double>(std::min(c.before_units, c.after_units));
  const double n_eff = c.source == IntervalSource::kSegments
                           ? static_cast<double>(std::min(nb, na))
                           : static_cast<double>(std::min(c.before_units, c.after_units));

  // --- Per metric.
  for (int m = 0; m < kMetricCount; ++m) {
    MetricResult r;
    r.id = static_cast<MetricId>(m);
    r.key = kKeys[m];
    r.name = kNames[m];
    r.ratio = IsRatio(m);
    r.higher_is_worse = r.id != MetricId::kThroughput;
    r.gated = r.id == MetricId::kP99 || r.id == MetricId::kErrorRate ||
              (r.id == MetricId::kThroughput && judge_throughput);
    r.threshold = r.ratio ? options.threshold_pct : options.error_rate_threshold_pp;
    std::vector<double> vb, va;
    for (const RunResult& x : before) vb.push_back(RunValue(x, m));
    for (const RunResult& x : after) va.push_back(RunValue(x, m));
    r.before = Median(vb);
    r.after = Median(va);
    if (r.ratio && !(r.before > 0 && r.after > 0)) {
      r.verdict = Verdict::kNotJudged;
      r.reason = "not judged: a value is zero, so the ratio is undefined";
      c.metrics.push_back(r);
      continue;
    }
    // Interleaved pairs: the median of the per-pair changes, each pair having run back to back
    // so that a drift of the machine moves both of its runs and cancels in its change.
    const std::vector<double> pair_d =
        c.source == IntervalSource::kPairs ? PairChanges(before, after, m) : std::vector<double>{};
    r.change = c.source == IntervalSource::kPairs ? FromDSpace(m, Median(pair_d))
               : r.ratio                          ? (r.after / r.before - 1.0) * 100.0
                                                  : (r.after - r.before) * 100.0;
    const double alpha = (r.id == MetricId::kP99 || r.id == MetricId::kThroughput) && r.gated
                             ? gated_alpha
                             : family_alpha;
    r.level = 1.0 - alpha;
    double d_low = 0, d_high = 0;
    int sign_rank = -1;  // pairs: the order statistic of the bounds (0: too few pairs for one)
    if (c.source == IntervalSource::kPairs) {
      // The sign test's exact, distribution-free bounds of the median pair change: under no
      // change each pair is as likely worse as better, so the false-alarm rate is at most
      // alpha whatever the noise looks like.
      const int n = static_cast<int>(pair_d.size());
      sign_rank = SignTestRank(n, alpha);
      const double inf = std::numeric_limits<double>::infinity();
      d_low = sign_rank > 0 ? pair_d[static_cast<size_t>(sign_rank - 1)] : -inf;
      d_high = sign_rank > 0 ? pair_d[static_cast<size_t>(n - sign_rank)] : inf;
      r.has_interval = true;
      r.low = FromDSpace(m, d_low);
      r.high = FromDSpace(m, d_high);
    } else if (c.source != IntervalSource::kNone) {
      const double tail = ExpandedTailProbability(alpha, n_units);
      d_low = SortedQuantile(dist[m], tail);
      d_high = SortedQuantile(dist[m], 1.0 - tail);
      r.has_interval = true;
      r.low = FromDSpace(m, d_low);
      r.high = FromDSpace(m, d_high);
    }
    if (r.id == MetricId::kThroughput && !judge_throughput) {
      r.verdict = Verdict::kNotJudged;
      r.reason = throughput_reason;
      c.metrics.push_back(r);
      continue;
    }
    const Decision d = Decide(r.change, r.has_interval, r.low, r.high, r.higher_is_worse,
                              r.threshold, r.level, r.ratio ? "%" : "pp");
    r.verdict = d.verdict;
    r.reason = d.reason;
    if (r.verdict == Verdict::kInconclusive && r.has_interval) {
      const double bad = r.higher_is_worse ? r.change : -r.change;
      const double t_d = r.ratio ? std::log1p(r.threshold / 100.0) : r.threshold;
      const double d_point =
          c.source == IntervalSource::kPairs ? Median(pair_d) : DSpace(m, r.before, r.after);
      r.more_runs =
          sign_rank == 0
              ? SignTestMinimumN(alpha) - static_cast<int>(pair_d.size())
              : MoreRunsNeeded(n_eff, (d_high - d_low) / 2.0,
                               r.higher_is_worse ? d_point : -d_point, t_d,
                               std::fabs(bad) > r.threshold);
      r.reason += fmt::format("; about {}{} more run(s) per side would decide{}",
                              r.more_runs >= 1000 ? "1000+" : "",
                              r.more_runs >= 1000 ? "" : std::to_string(r.more_runs),
                              c.source == IntervalSource::kSegments
                                  ? " (scaled from within-run noise; between-run drift may need "
                                    "more)"
                                  : "");
    }
    if (r.gated && r.verdict == Verdict::kRegression) c.internal_regression = true;
    c.metrics.push_back(r);
  }
  {
    std::vector<double> eb, ea;
    for (const RunResult& x : before) eb.push_back(static_cast<double>(x.total_errors));
    for (const RunResult& x : after) ea.push_back(static_cast<double>(x.total_errors));
    c.errors_before = Median(eb);
    c.errors_after = Median(ea);
  }

  // --- Context warnings.
  for (const auto* side : {&before, &after}) {
    for (const RunResult& r : *side) {
      const RunResult& ref = before.front();
      if ((!r.host.empty() && !ref.host.empty() && r.host != ref.host) ||
          (!r.cpu_model.empty() && !ref.cpu_model.empty() && r.cpu_model != ref.cpu_model)) {
        c.warnings.push_back(
            fmt::format("{} ran on {} ({}), {} on {} ({}): the comparison "
                        "measures the machines too",
                        ref.path, ref.host, ref.cpu_model, r.path, r.host, r.cpu_model));
      }
      if (ref.elapsed_seconds > 0 &&
          std::fabs(r.elapsed_seconds / ref.elapsed_seconds - 1.0) > 0.2) {
        c.warnings.push_back(
            fmt::format("{} measured {:.0f} s, {} {:.0f} s: runs of different "
                        "lengths have different tail noise",
                        ref.path, ref.elapsed_seconds, r.path, r.elapsed_seconds));
      }
      if (!r.validation_passed) {
        const std::string failed = r.FailedChecks();
        c.notes.push_back(fmt::format("{} failed its scenario's validation limits: {}", r.path,
                                      failed.empty() ? "see the file" : failed));
      }
      if (!r.server_saturated) {
        c.notes.push_back(fmt::format(
            "{} does not say whether the server kept up (no rate.server_saturated: written by an "
            "older loadtest); taken as not saturated",
            r.path));
      }
    }
  }

  // --- Runs that measured no build: a saturated after run is a regression whatever the
  // intervals say; a failed validation rules out "within target".
  std::string saturated_after, failed_after;
  for (const RunResult& r : after) {
    if (r.server_saturated.value_or(false)) {
      saturated_after += (saturated_after.empty() ? "" : "; ") + r.path + " (" + r.SaturationText() + ")";
    } else if (!r.validation_passed) {
      failed_after += (failed_after.empty() ? "" : "; ") + r.path + " (" + r.FailedChecks() + ")";
    }
  }
  if (!saturated_after.empty()) {
    c.rule = RunRule::kAfterSaturated;
    c.rule_text = fmt::format(
        "the server could not keep up with the after build: {}; it kept up with every before "
        "run, so the after build no longer sustains the scenario's rate (a regression whatever "
        "the intervals say)",
        saturated_after);
    c.internal_regression = true;
  } else if (!failed_after.empty()) {
    c.rule = RunRule::kAfterFailedValidation;
    c.rule_text = "the after run failed its scenario's validation: " + failed_after;
  }
  std::sort(c.warnings.begin(), c.warnings.end());
  c.warnings.erase(std::unique(c.warnings.begin(), c.warnings.end()), c.warnings.end());

  // --- Calibration: warn when the threshold sits below the measured A/A noise.
  if (calibration != nullptr) {
    if (!calibration->scenario_hash.empty() && calibration->scenario_hash != c.scenario_hash) {
      c.notes.push_back(
          fmt::format("calibration {} was measured on another scenario (hash {}); "
                      "not applied",
                      calibration->path, calibration->scenario_hash));
    } else {
      for (const MetricResult& r : c.metrics) {
        if (!r.gated || !r.ratio) continue;
        const auto it = calibration->noise_floor_pct.find(r.key);
        if (it != calibration->noise_floor_pct.end() && it->second > r.threshold) {
          c.warnings.push_back(fmt::format(
              "{}: the {:.1f}% threshold is below this machine's A/A noise floor of {:.1f}% "
              "({}, {}): expect inconclusive verdicts; repeat runs or use engram-perf ab",
              r.name, r.threshold, it->second, calibration->path, calibration->created_utc));
        }
      }
    }
  }

  // --- Competitive positioning (data from the baselines file, nothing compiled in).
  if (options.competitive) {
    c.baselines_path = baselines->path;
    const MetricResult& p99 = c.metric(MetricId::kP99);
    for (const CompetitiveBaseline& b : baselines->Find(c.scenario_stem, kMetricP99Ms)) {
      Positioning p;
      p.baseline = b;
      p.latency = true;
      p.before = p99.before;
      p.after = p99.after;
      p.before_advantage_pct = (*b.value - p.before) / *b.value * 100.0;
      p.after_advantage_pct = (*b.value - p.after) / *b.value * 100.0;
      if (p.after > *b.value) {
        p.failed = true;
        p.status =
            fmt::format("SLOWER than {} ({:.3f}ms vs {:.2f}ms P99)", b.system, p.after, *b.value);
      } else if (p.after_advantage_pct < p.before_advantage_pct &&
                 (p99.verdict == Verdict::kRegression || p99.verdict == Verdict::kInconclusive)) {
        p.lost_ground = true;
        p.status = "Still competitive but lost ground (WARNING)";
      } else if (p.after_advantage_pct < p.before_advantage_pct) {
        p.status = fmt::format(
            "BETTER (within {:.0f}% threshold; advantage {:+.1f}pp, within "
            "noise)",
            options.threshold_pct, p.after_advantage_pct - p.before_advantage_pct);
      } else {
        p.status = fmt::format("BETTER (within {:.0f}% threshold)", options.threshold_pct);
      }
      c.positioning.push_back(p);
    }
    const MetricResult& tput = c.metric(MetricId::kThroughput);
    for (const CompetitiveBaseline& b : baselines->Find(c.scenario_stem, kMetricThroughput)) {
      Positioning p;
      p.baseline = b;
      p.latency = false;
      p.before = tput.before;
      p.after = tput.after;
      p.before_advantage_pct = (p.before - *b.value) / *b.value * 100.0;
      p.after_advantage_pct = (p.after - *b.value) / *b.value * 100.0;
      std::vector<double> targets;
      for (const RunResult& r : after) targets.push_back(r.target_ops_per_sec);
      const double target = Median(targets);
      bool after_limited = false;
      for (const RunResult& r : after) after_limited = after_limited || r.ServerLimited();
      if (p.after >= *b.value) {
        p.status = fmt::format("BETTER ({:.1f} ops/s vs {:.0f} QPS)", p.after, *b.value);
      } else if (target > 0 && target < *b.value && !after_limited) {
        p.comparable = false;
        p.status = fmt::format(
            "not comparable: the schedule asks for {:.0f} ops/s, below {}'s "
            "{:.0f} QPS, and was met; throughput here is fixed by the schedule",
            target, b.system, *b.value);
      } else {
        p.failed = true;
        p.status =
            fmt::format("BELOW {} ({:.1f} ops/s vs {:.0f} QPS)", b.system, p.after, *b.value);
      }
      c.positioning.push_back(p);
    }
    if (c.positioning.empty()) {
      c.notes.push_back(
          fmt::format("no competitor figure in {} names scenario '{}': positioning "
                      "not checked",
                      baselines->path, c.scenario_stem.empty() ? "(unknown)" : c.scenario_stem));
    }
  }

  // --- The gate.
  bool positioning_failed = false;
  for (const Positioning& p : c.positioning) positioning_failed = positioning_failed || p.failed;
  c.competitive_regression = options.competitive && (c.internal_regression || positioning_failed);
  c.exit_code = c.competitive_regression ? kExitCompetitiveRegression
                : c.internal_regression  ? kExitRegression
                                         : kExitOk;

  const MetricResult& p99 = c.metric(MetricId::kP99);
  const double reliable =
      p99.has_interval ? options.threshold_pct + (p99.high - p99.low) / 2.0 : 0.0;
  c.promise = fmt::format(
      "Gate: flags a change that exceeds {:.0f}% with {:.0f}% confidence. A gated metric ({}) "
      "regresses when its estimate is more than {:.0f}% worse AND its one-sided {:.1f}% {} "
      "bound excludes no change (Bonferroni over {} metric{}); error rate regresses above "
      "+{:.0f}pp. A true change of exactly {:.0f}% is flagged about half the time{}.",
      options.threshold_pct, options.confidence * 100.0,
      judge_throughput ? "P99 latency, throughput, error rate" : "P99 latency, error rate",
      options.threshold_pct, (1.0 - gated_alpha) * 100.0,
      c.source == IntervalSource::kPairs ? "sign-test" : "bootstrap", c.gated_statistical,
      c.gated_statistical == 1 ? "" : "s", options.error_rate_threshold_pp, options.threshold_pct,
      p99.has_interval ? fmt::format("; at this noise level P99 changes above ~{:.0f}% are "
                                     "flagged reliably",
                                     reliable)
                       : "");
  return c;
}

double MetricValue(const RunResult& r, MetricId id) {
  switch (id) {
    case MetricId::kP50:
      return r.p50_latency_ms;
    case MetricId::kP95:
      return r.p95_latency_ms;
    case MetricId::kP99:
      return r.p99_latency_ms;
    case MetricId::kThroughput:
      return r.overall_throughput;
    case MetricId::kErrorRate:
      return r.overall_error_rate;
  }
  return 0;
}

}  // namespace engram::analysis
