#include "analysis/calibration.h"

#include "core/clock.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <map>
#include <optional>

#include "analysis/stats.h"
#include "core/random.h"

namespace engram::analysis {

namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

// Subsets of `k` of the pair indices 0..n-1: all of them, in lexicographic order, when there
// are at most `limit`; otherwise `limit` subsets drawn at random (seeded, each without
// repetition, sorted).
std::vector<std::vector<int>> PairSubsets(int n, int k, int limit, uint64_t seed) {
  double total = 1;
  for (int i = 0; i < k; ++i) total = total * (n - i) / (i + 1);
  std::vector<std::vector<int>> out;
  if (total <= std::max(limit, 1)) {
    std::vector<int> c(static_cast<size_t>(k));
    for (int i = 0; i < k; ++i) c[static_cast<size_t>(i)] = i;
    while (true) {
      out.push_back(c);
      int i = k - 1;
      while (i >= 0 && c[static_cast<size_t>(i)] == n - k + i) --i;
      if (i < 0) break;
      ++c[static_cast<size_t>(i)];
      for (int j = i + 1; j < k; ++j) c[static_cast<size_t>(j)] = c[static_cast<size_t>(j - 1)] + 1;
    }
    return out;
  }
  Rng rng(seed ^ 0x5AB5E75ULL);
  std::vector<int> all(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) all[static_cast<size_t>(i)] = i;
  for (int s = 0; s < limit; ++s) {
    for (int i = 0; i < k; ++i) {  // partial Fisher-Yates
      const auto j = i + static_cast<int>(rng.Below(static_cast<uint64_t>(n - i)));
      std::swap(all[static_cast<size_t>(i)], all[static_cast<size_t>(j)]);
    }
    std::vector<int> pick(all.begin(), all.begin() + k);
    std::sort(pick.begin(), pick.end());
    out.push_back(std::move(pick));
  }
  return out;
}

}  // namespace

RunResult ScaleLatency(RunResult run, double factor) {
  run.p50_latency_ms *= factor;
  run.p95_latency_ms *= factor;
  run.p99_latency_ms *= factor;
  for (Segment& s : run.segments) s.latency = s.latency.Scaled(factor);
  return run;
}

Result<std::vector<RunResult>> LoadRunsDir(const std::string& dir,
                                           std::vector<std::string>* skipped) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return Status::NotFound(dir, ": not a directory");
  std::vector<std::string> paths;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (!entry.is_regular_file()) continue;
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() != ".json" || name == "calibration.json") continue;
    paths.push_back(entry.path().string());
  }
  if (ec) return Status::IOError(dir, ": ", ec.message());
  std::sort(paths.begin(), paths.end());
  std::vector<RunResult> runs;
  for (const std::string& p : paths) {
    auto r = LoadRunResult(p);
    if (r.ok()) {
      runs.push_back(std::move(r).value());
    } else if (skipped != nullptr) {
      skipped->push_back(r.error().message());
    }
  }
  return runs;
}

Result<Calibration> Calibrate(std::vector<RunResult> runs, const CalibrationOptions& options) {
  Calibration cal;
  cal.created_utc = FormatUtc(WallMicros());
  cal.set_size = std::max(1, options.set_size);
  cal.threshold_pct = options.compare.threshold_pct;

  // One scenario and seed: the largest group.
  std::map<std::pair<std::string, uint64_t>, int> groups;
  for (const RunResult& r : runs) groups[{r.scenario_hash, r.seed}]++;
  if (groups.empty()) return Status::InvalidArgument("no result files to calibrate on");
  const auto best =
      std::max_element(groups.begin(), groups.end(), [](const auto& a, const auto& b) {
        return a.second < b.second;
      })->first;
  std::vector<RunResult> kept;
  for (RunResult& r : runs) {
    if (std::make_pair(r.scenario_hash, r.seed) != best) {
      cal.notes.push_back(fmt::format("{}: other scenario or seed ({} {}), left out", r.path,
                                      r.config_name, r.seed_text));
      continue;
    }
    // A run that is no baseline (saturated server, failed validation) would be refused by
    // the compare; it measured no build, so it stays out of the calibration too.
    if (const auto refusal = CheckBaseline({r}, nullptr)) {
      cal.notes.push_back(fmt::format("{}: left out ({}): {}", r.path, RunRuleKey(refusal->rule),
                                      refusal->message));
      continue;
    }
    kept.push_back(std::move(r));
  }
  std::stable_sort(kept.begin(), kept.end(), [](const RunResult& a, const RunResult& b) {
    return a.time_utc != b.time_utc ? a.time_utc < b.time_utc : a.path < b.path;
  });
  cal.paired = options.paired;
  // The comparisons to make: (before runs, after runs), in a fixed order.
  std::vector<std::pair<std::vector<RunResult>, std::vector<RunResult>>> comparisons;
  if (options.paired) {
    if (cal.set_size < 3) {
      return Status::InvalidArgument(
          "paired calibration needs --set-size >= 3 (compare uses pairs from 3 on)");
    }
    if (kept.size() % 2 != 0) {
      cal.notes.push_back(fmt::format("{}: the last run has no partner, left out", kept.back().path));
      kept.pop_back();
    }
    cal.pairs = static_cast<int>(kept.size() / 2);
    if (cal.pairs < cal.set_size) {
      return Status::InvalidArgument(fmt::format(
          "paired calibration needs at least {} pairs (--set-size) of one scenario and seed; "
          "found {} usable run(s)",
          cal.set_size, kept.size()));
    }
    std::vector<RunResult> a_side, b_side;
    for (size_t i = 0; i + 1 < kept.size(); i += 2) {
      // engram-perf ab names its runs <task>_before_* and <task>_after_*; without those names
      // the earlier run of a pair is A.
      const bool first_is_b = kept[i].path.find("_after_") != std::string::npos &&
                              kept[i + 1].path.find("_after_") == std::string::npos;
      a_side.push_back(kept[first_is_b ? i + 1 : i]);
      b_side.push_back(kept[first_is_b ? i : i + 1]);
    }
    // A paired comparison of >= 3 pairs reads whole-run values only; without the segments'
    // histograms the thousands of subset copies below are cheap.
    for (auto* side : {&a_side, &b_side}) {
      for (RunResult& r : *side) r.segments.clear();
    }
    for (const auto& subset :
         PairSubsets(cal.pairs, cal.set_size, options.subsets, options.compare.seed)) {
      std::pair<std::vector<RunResult>, std::vector<RunResult>> c;
      for (int i : subset) {
        c.first.push_back(a_side[static_cast<size_t>(i)]);
        c.second.push_back(b_side[static_cast<size_t>(i)]);
      }
      comparisons.push_back(std::move(c));
    }
  } else {
    const size_t sets = kept.size() / static_cast<size_t>(cal.set_size);
    if (sets < 2) {
      return Status::InvalidArgument(fmt::format(
          "calibration needs at least 2 sets of {} run(s) of one scenario and seed; found {} "
          "usable run(s)",
          cal.set_size, kept.size()));
    }
    if (kept.size() % static_cast<size_t>(cal.set_size) != 0) {
      cal.notes.push_back(fmt::format("the last {} run(s) do not fill a set and were left out",
                                      kept.size() % static_cast<size_t>(cal.set_size)));
      kept.resize(sets * static_cast<size_t>(cal.set_size));
    }
    const auto set = [&](size_t s) {
      return std::vector<RunResult>(
          kept.begin() + static_cast<std::ptrdiff_t>(s * cal.set_size),
          kept.begin() + static_cast<std::ptrdiff_t>((s + 1) * cal.set_size));
    };
    for (size_t i = 0; i < sets; ++i) {
      for (size_t j = i + 1; j < sets; ++j) comparisons.emplace_back(set(i), set(j));
    }
  }
  for (const RunResult& r : kept) cal.files.push_back(r.path);
  cal.config_name = kept.front().config_name;
  cal.scenario_hash = kept.front().scenario_hash;
  cal.seed_text = kept.front().seed_text;

  for (int m = 0; m < kMetricCount; ++m) {
    MetricNoise n;
    const auto id = static_cast<MetricId>(m);
    n.key = std::array<const char*, kMetricCount>{"p50_latency", "p95_latency", "p99_latency",
                                                  "throughput", "error_rate"}[m];
    n.ratio = id != MetricId::kErrorRate;
    std::vector<double> values, diffs;
    for (const RunResult& r : kept) {
      const double v = MetricValue(r, id);
      values.push_back(n.ratio ? std::log(std::max(v, 1e-300)) : v * 100.0);
    }
    if (options.paired) {
      for (size_t i = 0; i + 1 < values.size(); i += 2)
        diffs.push_back(std::fabs(values[i + 1] - values[i]));
    } else {
      for (size_t i = 0; i < values.size(); ++i) {
        for (size_t j = i + 1; j < values.size(); ++j)
          diffs.push_back(std::fabs(values[j] - values[i]));
      }
    }
    std::sort(diffs.begin(), diffs.end());
    const double q95 = SortedQuantile(diffs, 0.95);
    n.noise_floor = n.ratio ? std::expm1(q95) * 100.0 : q95;
    double mean = 0;
    for (double v : values) mean += v;
    mean /= static_cast<double>(values.size());
    double var = 0;
    for (double v : values) var += (v - mean) * (v - mean);
    var /= static_cast<double>(std::max<size_t>(1, values.size() - 1));
    n.run_spread = std::sqrt(var) * (n.ratio ? 100.0 : 1.0);
    cal.metrics.push_back(n);
  }

  CompareOptions copt = options.compare;
  copt.competitive = false;
  copt.paired = options.paired;
  cal.resamples = std::max(copt.resamples, 2000);
  for (double pct : options.inject_pct) cal.detections.push_back({.inject_pct = pct});
  for (const auto& [before, after] : comparisons) {
    copt.seed = options.compare.seed + cal.comparisons;  // a fresh bootstrap stream each
    auto cmp = Compare(before, after, copt, nullptr, nullptr);
    if (!cmp.ok()) return cmp.error().WithContext("A/A comparison");
    ++cal.comparisons;
    if (cmp->exit_code != kExitOk) ++cal.false_alarms;
    for (const MetricResult& mr : cmp->metrics) {
      MetricNoise& n = cal.metrics[static_cast<int>(mr.id)];
      if (mr.verdict == Verdict::kRegression) ++n.regressions;
      if (mr.verdict == Verdict::kInconclusive) ++n.inconclusive;
    }
    for (Detection& d : cal.detections) {
      std::vector<RunResult> slower;
      for (const RunResult& r : after) slower.push_back(ScaleLatency(r, 1.0 + d.inject_pct / 100));
      auto inj = Compare(before, slower, copt, nullptr, nullptr);
      if (!inj.ok()) return inj.error().WithContext("detection comparison");
      ++d.comparisons;
      if (inj->exit_code != kExitOk) ++d.detected;
    }
  }
  cal.false_alarm_rate = static_cast<double>(cal.false_alarms) / cal.comparisons;
  cal.false_alarm_ci95 = WilsonInterval95(cal.false_alarms, cal.comparisons);
  for (Detection& d : cal.detections) {
    d.rate = static_cast<double>(d.detected) / d.comparisons;
    d.ci95 = WilsonInterval95(d.detected, d.comparisons);
  }
  return cal;
}

Result<Calibration> CalibrateSweep(const std::vector<RunResult>& runs,
                                   const CalibrationOptions& options, int max_set_size) {
  const int first = options.paired ? 3 : 1;
  const double threshold = options.compare.threshold_pct;
  bool has_goal_injection = false;
  for (double pct : options.inject_pct) has_goal_injection |= pct >= 2 * threshold;
  std::vector<SweepPoint> sweep;
  std::optional<Calibration> chosen, last;
  for (int size = first; size <= max_set_size; ++size) {
    CalibrationOptions opt = options;
    opt.set_size = size;
    auto cal = Calibrate(runs, opt);
    if (!cal.ok()) {
      if (sweep.empty()) return cal.error();
      break;  // not enough runs for this size: the sweep ends here
    }
    SweepPoint p{size, cal->comparisons, cal->false_alarms, cal->false_alarm_rate,
                 cal->detections};
    sweep.push_back(p);
    bool met = p.false_alarm_rate <= kFalseAlarmGoal;
    for (const Detection& d : p.detections) {
      if (d.inject_pct >= 2 * threshold) met = met && d.rate >= kDetectionGoal;
    }
    if (met && !chosen) {
      chosen = *cal;
      chosen->recommended_set_size = size;
    }
    last = std::move(cal).value();
  }
  Calibration out = chosen ? *chosen : *last;
  out.sweep = std::move(sweep);
  if (!chosen) {
    out.notes.push_back(fmt::format(
        "no set size up to {} met the goal (false alarms <= {:.0f}%{}); shown: the largest",
        out.set_size, kFalseAlarmGoal * 100,
        has_goal_injection
            ? fmt::format(", injected >= {:.0f}% caught >= {:.0f}%", 2 * threshold,
                          kDetectionGoal * 100)
            : ""));
  } else if (!has_goal_injection) {
    out.notes.push_back(fmt::format(
        "the recommendation rests on false alarms alone: add --inject {:.0f} to require that a "
        "regression of twice the threshold is caught",
        2 * threshold));
  }
  return out;
}

std::string CalibrationToJson(const Calibration& c) {
  json::object o;
  o["schema_version"] = 1;
  o["created_utc"] = c.created_utc;
  o["runs_dir"] = c.runs_dir;
  o["scenario"] = json::object{
      {"config_name", c.config_name}, {"scenario_hash", c.scenario_hash}, {"seed", c.seed_text}};
  json::array files;
  for (const auto& f : c.files) files.emplace_back(f);
  o["files"] = std::move(files);
  o["runs"] = c.files.size();
  o["set_size"] = c.set_size;
  o["design"] = c.paired ? "paired" : "sequential";
  if (c.paired) o["pairs"] = c.pairs;
  o["threshold_pct"] = c.threshold_pct;
  o["resamples"] = c.resamples;
  o["comparisons"] = c.comparisons;
  o["false_alarms"] = c.false_alarms;
  o["false_alarm_rate"] = c.false_alarm_rate;
  o["false_alarm_rate_ci95"] = json::array{c.false_alarm_ci95.first, c.false_alarm_ci95.second};
  json::object metrics;
  for (const MetricNoise& n : c.metrics) {
    json::object m;
    if (n.ratio) {
      m["noise_floor_pct"] = n.noise_floor;
      m["run_spread_pct"] = n.run_spread;
    } else {
      m["noise_floor_pp"] = n.noise_floor;
      m["run_spread_pp"] = n.run_spread;
    }
    m["regressions"] = n.regressions;
    m["inconclusive"] = n.inconclusive;
    metrics[n.key] = std::move(m);
  }
  o["metrics"] = std::move(metrics);
  json::array detection;
  for (const Detection& d : c.detections) {
    detection.push_back(json::object{{"inject_pct", d.inject_pct},
                                     {"comparisons", d.comparisons},
                                     {"detected", d.detected},
                                     {"rate", d.rate},
                                     {"rate_ci95", json::array{d.ci95.first, d.ci95.second}}});
  }
  o["detection"] = std::move(detection);
  if (!c.sweep.empty()) {
    json::array sweep;
    for (const SweepPoint& p : c.sweep) {
      json::array det;
      for (const Detection& d : p.detections) {
        det.push_back(json::object{{"inject_pct", d.inject_pct}, {"rate", d.rate}});
      }
      sweep.push_back(json::object{{"set_size", p.set_size},
                                   {"comparisons", p.comparisons},
                                   {"false_alarms", p.false_alarms},
                                   {"false_alarm_rate", p.false_alarm_rate},
                                   {"detection", std::move(det)}});
    }
    o["sweep"] = std::move(sweep);
    o["recommended_set_size"] = c.recommended_set_size;
  }
  json::array notes;
  for (const auto& n : c.notes) notes.emplace_back(n);
  o["notes"] = std::move(notes);
  o["method"] =
      c.paired
          ? "A/A paired: consecutive runs form A/B pairs; subsets of set_size pairs are compared "
            "with the gate's own paired rule (as engram-perf ab); false_alarm_rate = comparisons "
            "that would fail / comparisons (subsets share pairs: the Wilson interval is "
            "optimistic). noise_floor = 95th percentile of |log(B/A)| over the pairs. detection: "
            "the same comparisons with the B side's latencies multiplied by 1 + inject_pct/100."
          : "A/A: every pair of disjoint time-ordered sets of set_size runs of one build is "
            "compared with the gate's own rule; false_alarm_rate = comparisons that would fail / "
            "comparisons (pairs share runs: the Wilson interval is optimistic). noise_floor = "
            "95th percentile of |log ratio| over all pairs of single runs. detection: the same "
            "comparisons with the later set's latencies multiplied by 1 + inject_pct/100.";
  return json::serialize(o) + "\n";
}

std::string CalibrationToText(const Calibration& c) {
  std::string out;
  out += fmt::format("=== A/A Calibration: {} (seed {}) ===\n", c.config_name, c.seed_text);
  if (c.paired) {
    out += fmt::format(
        "Runs: {} as {} interleaved A/B pairs; {} A/A comparisons of {} pairs each at threshold "
        "{:.0f}%\n",
        c.files.size(), c.pairs, c.comparisons, c.set_size, c.threshold_pct);
  } else {
    out += fmt::format("Runs: {} in sets of {}; {} A/A comparisons at threshold {:.0f}%\n",
                       c.files.size(), c.set_size, c.comparisons, c.threshold_pct);
  }
  out += fmt::format(
      "False alarms: {} of {} = {:.1f}% (95% Wilson interval {:.1f}%-{:.1f}%, "
      "optimistic: pairs share runs)\n\n",
      c.false_alarms, c.comparisons, c.false_alarm_rate * 100, c.false_alarm_ci95.first * 100,
      c.false_alarm_ci95.second * 100);
  out += fmt::format("{:<14} {:>12} {:>12} {:>12} {:>13}\n", "Metric", "Noise floor", "Run spread",
                     "Regressions", "Inconclusive");
  out += fmt::format("{:-<14} {:-<12} {:-<12} {:-<12} {:-<13}\n", "", "", "", "", "");
  for (const MetricNoise& n : c.metrics) {
    const char* unit = n.ratio ? "%" : "pp";
    out +=
        fmt::format("{:<14} {:>10.2f}{:<2} {:>10.2f}{:<2} {:>12} {:>13}{}\n", n.key, n.noise_floor,
                    unit, n.run_spread, unit, n.regressions, n.inconclusive,
                    n.ratio && n.noise_floor > c.threshold_pct
                        ? fmt::format("  noise floor above the {:.0f}% threshold", c.threshold_pct)
                        : "");
  }
  if (!c.sweep.empty()) {
    out += fmt::format("\nSweep ({} per side):\n", c.paired ? "pairs" : "runs");
    out += fmt::format("{:>8} {:>11} {:>12}", "set size", "comparisons", "false alarms");
    for (const Detection& d : c.sweep.front().detections)
      out += fmt::format(" {:>13}", fmt::format("caught +{:.0f}%", d.inject_pct));
    out += "\n";
    for (const SweepPoint& p : c.sweep) {
      out += fmt::format("{:>8} {:>11} {:>11.1f}%", p.set_size, p.comparisons,
                         p.false_alarm_rate * 100);
      for (const Detection& d : p.detections) out += fmt::format(" {:>12.1f}%", d.rate * 100);
      out += p.set_size == c.recommended_set_size ? "  <- recommended\n" : "\n";
    }
    out += c.recommended_set_size > 0
               ? fmt::format("Recommended: {} {} per side (the smallest that met the goal)\n",
                             c.recommended_set_size, c.paired ? "pairs" : "runs")
               : "Recommended: none met the goal\n";
  }
  if (!c.detections.empty()) out += "\n";
  for (const Detection& d : c.detections) {
    out += fmt::format(
        "Injected +{:.0f}% latency on the B side: caught {} of {} = {:.1f}% (95% Wilson "
        "interval {:.1f}%-{:.1f}%)\n",
        d.inject_pct, d.detected, d.comparisons, d.rate * 100, d.ci95.first * 100,
        d.ci95.second * 100);
  }
  for (const auto& n : c.notes) out += "Note: " + n + "\n";
  return out;
}

}  // namespace engram::analysis
