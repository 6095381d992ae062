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

#include "analysis/stats.h"

namespace engram::analysis {

namespace json = boost::json;
namespace fs = std::filesystem;

namespace {


}  // namespace

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
    const auto check = r.ErrorRateCheck();
    if (check && (r.overall_error_rate > check->limit || !check->passed)) {
      cal.notes.push_back(fmt::format("{}: error rate {:.2f}% broke its limit {:.2f}%, left out",
                                      r.path, r.overall_error_rate * 100, check->limit * 100));
      continue;
    }
    kept.push_back(std::move(r));
  }
  std::stable_sort(kept.begin(), kept.end(), [](const RunResult& a, const RunResult& b) {
    return a.time_utc != b.time_utc ? a.time_utc < b.time_utc : a.path < b.path;
  });
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
    for (size_t i = 0; i < values.size(); ++i) {
      for (size_t j = i + 1; j < values.size(); ++j)
        diffs.push_back(std::fabs(values[j] - values[i]));
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
  cal.resamples = std::max(copt.resamples, 2000);
  const auto set = [&](size_t s) {
    return std::vector<RunResult>(
        kept.begin() + static_cast<std::ptrdiff_t>(s * cal.set_size),
        kept.begin() + static_cast<std::ptrdiff_t>((s + 1) * cal.set_size));
  };
  for (size_t i = 0; i < sets; ++i) {
    for (size_t j = i + 1; j < sets; ++j) {
      copt.seed = options.compare.seed + cal.comparisons;  // a fresh bootstrap stream per pair
      auto cmp = Compare(set(i), set(j), copt, nullptr, nullptr);
      if (!cmp.ok()) return cmp.error().WithContext("A/A comparison");
      ++cal.comparisons;
      if (cmp->exit_code != kExitOk) ++cal.false_alarms;
      for (const MetricResult& mr : cmp->metrics) {
        MetricNoise& n = cal.metrics[static_cast<int>(mr.id)];
        if (mr.verdict == Verdict::kRegression) ++n.regressions;
        if (mr.verdict == Verdict::kInconclusive) ++n.inconclusive;
      }
    }
  }
  cal.false_alarm_rate = static_cast<double>(cal.false_alarms) / cal.comparisons;
  cal.false_alarm_ci95 = WilsonInterval95(cal.false_alarms, cal.comparisons);
  return cal;
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
  json::array notes;
  for (const auto& n : c.notes) notes.emplace_back(n);
  o["notes"] = std::move(notes);
  o["method"] =
      "A/A: every pair of disjoint time-ordered sets of set_size runs of one build is compared "
      "with the gate's own rule; false_alarm_rate = comparisons that would fail / comparisons "
      "(pairs share runs: the Wilson interval is optimistic). noise_floor = 95th percentile of "
      "|log ratio| over all pairs of single runs.";
  return json::serialize(o) + "\n";
}

std::string CalibrationToText(const Calibration& c) {
  std::string out;
  out += fmt::format("=== A/A Calibration: {} (seed {}) ===\n", c.config_name, c.seed_text);
  out += fmt::format("Runs: {} in sets of {}; {} A/A comparisons at threshold {:.0f}%\n",
                     c.files.size(), c.set_size, c.comparisons, c.threshold_pct);
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
  for (const auto& n : c.notes) out += "Note: " + n + "\n";
  return out;
}

}  // namespace engram::analysis
