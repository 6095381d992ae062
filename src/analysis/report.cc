// The human and JSON renderings of a Comparison. The human format follows spec 000 ("===
// Performance Comparison: Task XXX ===", the Before/After/Change table, the competitive
// positioning block, the COMPETITIVE REGRESSION alert, the PERFORMANCE_LOG.md summary) with an
// interval and a verdict column added.
#include <fmt/format.h>

#include <boost/json.hpp>
#include <cmath>
#include <string>

#include "analysis/compare.h"
#include "analysis/stats.h"

namespace engram::analysis {

namespace json = boost::json;

namespace {

std::string Basename(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string FileLine(const std::vector<std::string>& files) {
  if (files.size() == 1) return Basename(files[0]);
  std::string out = fmt::format("{} runs:", files.size());
  for (const std::string& f : files) out += " " + Basename(f);
  return out;
}

std::string Value(const MetricResult& m, double v) {
  switch (m.id) {
    case MetricId::kThroughput:
      return fmt::format("{:.1f}", v);
    case MetricId::kErrorRate:
      return fmt::format("{:.1f}%", v * 100.0);
    default:
      return fmt::format("{:.3f}", v);
  }
}

std::string Change(const MetricResult& m) {
  if (m.verdict == Verdict::kNotJudged && m.reason.find("zero") != std::string::npos) return "n/a";
  return m.ratio ? fmt::format("{:+.2f}%", m.change) : fmt::format("{:+.1f}pp", m.change);
}

std::string Interval(const MetricResult& m) {
  if (!m.has_interval) return "-";
  return m.ratio ? fmt::format("[{:+.1f}%, {:+.1f}%]", m.low, m.high)
                 : fmt::format("[{:+.1f}pp, {:+.1f}pp]", m.low, m.high);
}

std::string ShortVerdict(const MetricResult& m) {
  std::string v;
  switch (m.verdict) {
    case Verdict::kRegression:
      v = "REGRESSION";
      break;
    case Verdict::kImprovement:
      v = "improvement";
      break;
    case Verdict::kWithinNoise:
      v = "within noise";
      break;
    case Verdict::kInconclusive:
      v = m.more_runs > 0 ? fmt::format("inconclusive (~{}{} more runs)",
                                        m.more_runs >= 1000 ? ">" : "", m.more_runs)
                          : "inconclusive";
      break;
    case Verdict::kNotJudged:
      if (m.reason.find("fixed by the schedule") != std::string::npos) {
        v = "fixed by schedule";
      } else if (m.reason.find("saturated") != std::string::npos) {
        v = "not judged (client saturated)";
      } else {
        v = "not judged";
      }
      break;
  }
  return m.gated ? v : v + " (info)";
}

std::string VerdictWords(Verdict v) {
  switch (v) {
    case Verdict::kRegression:
      return "REGRESSION";
    case Verdict::kImprovement:
      return "improvement";
    case Verdict::kWithinNoise:
      return "within noise";
    case Verdict::kInconclusive:
      return "inconclusive";
    case Verdict::kNotJudged:
      return "not judged";
  }
  return "?";
}

std::string Faster(double advantage_pct) {
  return advantage_pct >= 0 ? fmt::format("{:.1f}% faster", advantage_pct)
                            : fmt::format("{:.1f}% slower", -advantage_pct);
}

std::string More(double advantage_pct) {
  return advantage_pct >= 0 ? fmt::format("{:.1f}% more", advantage_pct)
                            : fmt::format("{:.1f}% less", -advantage_pct);
}

std::string Task(const Comparison& c) { return c.options.task.empty() ? "XXX" : c.options.task; }

std::string ScenarioFile(const Comparison& c) {
  if (!c.scenario_path.empty()) return c.scenario_path;
  return c.options.competitive ? "scenarios/competitive/hybrid_production_100k.toml"
                               : "scenarios/m17_baseline.toml";
}

void PositioningBlock(const Comparison& c, std::string& out, bool alert) {
  out += "Competitive Positioning:\n";
  for (const Positioning& p : c.positioning) {
    const CompetitiveBaseline& b = p.baseline;
    if (p.latency) {
      out += fmt::format("vs {} (baseline: {:.2f}ms P99 latency)\n", b.system, *b.value);
      out += fmt::format("  Source:  {}, {}; {}\n", b.workload, b.date, b.source);
      out += fmt::format("  Before:  {} ({:.3f}ms vs {:.2f}ms)\n", Faster(p.before_advantage_pct),
                         p.before, *b.value);
      out += fmt::format("  After:   {} ({:.3f}ms vs {:.2f}ms)\n", Faster(p.after_advantage_pct),
                         p.after, *b.value);
      if (!alert) {
        out += fmt::format("  Engram:  {:.3f}ms P99\n", p.after);
        out += fmt::format("  Speedup: {}\n", Faster(p.after_advantage_pct));
      }
    } else {
      out += fmt::format("vs {} (baseline: {:.0f} QPS throughput)\n", b.system, *b.value);
      out += fmt::format("  Source:  {}, {}; {}\n", b.workload, b.date, b.source);
      out += fmt::format("  Before:  {:.1f} ops/s ({} than {:.0f} QPS)\n", p.before,
                         More(p.before_advantage_pct), *b.value);
      out += fmt::format("  After:   {:.1f} ops/s ({} than {:.0f} QPS)\n", p.after,
                         More(p.after_advantage_pct), *b.value);
    }
    out += fmt::format("  Status:  {}\n", p.status);
  }
  if (c.positioning.empty()) out += "  (no competitor figure for this scenario; see notes)\n";
}

}  // namespace

std::string RenderText(const Comparison& c) {
  const bool comp = c.options.competitive;
  std::string out;
  out += fmt::format("=== Performance Comparison: Task {}{} ===\n", Task(c),
                     comp ? " (Competitive)" : "");
  out += fmt::format("Before: {}\n", FileLine(c.before_files));
  out += fmt::format("After:  {}\n", FileLine(c.after_files));
  out += fmt::format("Scenario: {} ({}), seed {}, threshold {:.0f}%{}\n\n", c.config_name,
                     ScenarioFile(c), c.seed_text, c.options.threshold_pct,
                     comp ? " (competitive)" : " (internal)");

  // The header as spec 000 prints it, then the two added columns.
  out += fmt::format("{:<55}  {:<22} {}\n", "Metric               Before      After        Change",
                     "Interval", "Verdict");
  out += fmt::format("{:-<20} {:-<10} {:-<10} {:-<12}  {:-<22} {:-<24}\n", "", "", "", "", "", "");
  auto row = [&](const MetricResult& m) {
    out += fmt::format("{:<20} {:>10} {:>10} {:>12}  {:<22} {}\n", m.name, Value(m, m.before),
                       Value(m, m.after), Change(m), Interval(m), ShortVerdict(m));
  };
  for (const MetricResult& m : c.metrics) {
    if (m.id == MetricId::kErrorRate) {
      out += fmt::format("{:<20} {:>10.0f} {:>10.0f} {:>12}\n", "Errors", c.errors_before,
                         c.errors_after, fmt::format("{:+.0f}", c.errors_after - c.errors_before));
    }
    row(m);
  }
  out += "\n";
  if (c.source == IntervalSource::kNone) {
    out += "Intervals: none (fewer than 3 runs per side and no time segments)\n";
  } else if (c.source == IntervalSource::kPairs) {
    const MetricResult& p99 = c.metric(MetricId::kP99);
    out += fmt::format(
        "Intervals: {} interleaved pairs; each change is the median of the per-pair changes and "
        "its bounds are the sign test's order statistics (exact, distribution-free): {:.1f}% "
        "one-sided for gated metrics{}\n",
        c.before_units, p99.level * 100.0,
        SignTestRank(static_cast<int>(c.before_units), 1.0 - p99.level) == 0
            ? fmt::format("; {} pairs are too few for a bound at this level (it needs {})",
                          c.before_units, SignTestMinimumN(1.0 - p99.level))
            : "");
  } else {
    const MetricResult& p99 = c.metric(MetricId::kP99);
    const MetricResult& p50 = c.metric(MetricId::kP50);
    out += fmt::format(
        "Intervals: seeded bootstrap, {} resamples over {} + {} {} (seed {:#x}), expanded "
        "percentile for few units; each end is a one-sided bound: {:.1f}% for gated metrics, "
        "{:.1f}% for the others\n",
        c.resamples, c.before_units, c.after_units,
        c.source == IntervalSource::kSegments ? "time segments" : "runs",
        c.options.seed, p99.level * 100.0, p50.level * 100.0);
  }
  out += "Verdicts:\n";
  for (const MetricResult& m : c.metrics) {
    if (m.gated) out += fmt::format("  {}: {}: {}\n", m.name, VerdictWords(m.verdict), m.reason);
  }
  for (const MetricResult& m : c.metrics) {
    if (!m.gated) {
      out += fmt::format("  {} (not gated): {}: {}\n", m.name, VerdictWords(m.verdict), m.reason);
    }
  }
  out += c.promise + "\n";
  if (c.rule != RunRule::kNone) {
    out += fmt::format("Rule {}: {}\n", RunRuleKey(c.rule), c.rule_text);
  }
  for (const std::string& w : c.warnings) out += "WARNING: " + w + "\n";
  for (const std::string& n : c.notes) out += "Note: " + n + "\n";
  out += "\n";

  const MetricResult& p99 = c.metric(MetricId::kP99);
  const MetricResult& tput = c.metric(MetricId::kThroughput);
  const MetricResult& err = c.metric(MetricId::kErrorRate);

  if (comp && c.exit_code != kExitCompetitiveRegression) {
    PositioningBlock(c, out, false);
    out += "\n";
  }

  std::vector<const MetricResult*> inconclusive;
  for (const MetricResult& m : c.metrics) {
    if (m.gated && m.verdict == Verdict::kInconclusive) inconclusive.push_back(&m);
  }
  const bool failed_validation = c.rule == RunRule::kAfterFailedValidation;
  if (c.exit_code == kExitOk && failed_validation) {
    out += fmt::format(
        "No significant regression detected by the gate ({:.0f}%{} threshold), but NOT within "
        "target: {}\n",
        c.options.threshold_pct, comp ? " competitive" : "", c.rule_text);
  } else if (c.exit_code == kExitOk) {
    out += fmt::format("No significant regressions detected (within {:.0f}%{} threshold)\n",
                       c.options.threshold_pct, comp ? " competitive" : "");
  }
  if (c.exit_code == kExitOk) {
    for (const MetricResult* m : inconclusive) {
      out += fmt::format(
          "Inconclusive: {} {}; about {} more run(s) per side would decide "
          "(ENGRAM_PERF_REPEAT=N, or engram-perf ab)\n",
          m->name, Change(*m), m->more_runs);
    }
    for (const Positioning& p : c.positioning) {
      if (p.lost_ground) {
        out += fmt::format(
            "WARNING: Competitive positioning degraded (now {} than {}, was {})\n"
            "         Consider creating an optimization follow-up task\n",
            Faster(p.after_advantage_pct), p.baseline.system, Faster(p.before_advantage_pct));
      }
    }
  } else if (c.exit_code == kExitRegression) {
    if (c.rule == RunRule::kAfterSaturated) out += "REGRESSION: " + c.rule_text + "\n";
    if (p99.verdict == Verdict::kRegression) {
      out += fmt::format("REGRESSION: P99 latency increased by {:.2f}% (threshold: +{:.0f}%)\n",
                         p99.change, p99.threshold);
    }
    if (tput.gated && tput.verdict == Verdict::kRegression) {
      out += fmt::format("REGRESSION: Throughput decreased by {:.2f}% (threshold: -{:.0f}%)\n",
                         -tput.change, tput.threshold);
    }
    if (err.verdict == Verdict::kRegression) {
      out += fmt::format(
          "REGRESSION: Error rate increased by {:.1f} percentage points "
          "(threshold: +{:.0f}pp)\n",
          err.change, err.threshold);
    }
    out +=
        "Internal regression detected (exit 1): profile, fix and re-run the after check; "
        "see docs/performance_regression_guide.md\n";
  } else {
    const bool exceeds = p99.verdict == Verdict::kRegression ||
                         (tput.gated && tput.verdict == Verdict::kRegression) ||
                         err.verdict == Verdict::kRegression;
    out += "=== COMPETITIVE REGRESSION DETECTED ===\n\n";
    out += fmt::format("Task {} Competitive Performance:\n", Task(c));
    out += fmt::format("Before: P99 {:.3f}ms, {:.1f} QPS\n", p99.before, tput.before);
    out += fmt::format("After:  P99 {:.3f}ms, {:.1f} QPS\n", p99.after, tput.after);
    out += fmt::format(
        "Delta:  {:+.1f}% latency, {:+.1f}% throughput{}{}\n", p99.change, tput.change,
        exceeds ? fmt::format(" (EXCEEDS {:.0f}% THRESHOLD)", c.options.threshold_pct)
                : fmt::format(" (within {:.0f}% threshold)", c.options.threshold_pct),
        err.verdict == Verdict::kRegression
            ? fmt::format(", error rate {:+.1f}pp (EXCEEDS +{:.0f}pp)", err.change, err.threshold)
            : "");
    if (c.rule == RunRule::kAfterSaturated) out += "Saturation: " + c.rule_text + "\n";
    out += "\n";
    PositioningBlock(c, out, true);
    out += "\n";
    const std::string prefix = "competitive_" + Task(c);
    out += fmt::format(
        "Action Required:\n"
        "1. Profile to identify hot spots:\n"
        "   build/release/apps/engram/engram start --port 7432 --data-dir \"$(mktemp -d)\" &\n"
        "   perf record -g -p $! -o perf.data -- sleep 70 &\n"
        "   build/release/apps/loadtest/loadtest run --scenario {} --duration 60 "
        "--endpoint http://127.0.0.1:7432\n\n"
        "2. Check diagnostics for anomalies:\n"
        "   cat tmp/m17_performance/{}_after_*_diag.txt\n\n"
        "3. Review system metrics for resource contention:\n"
        "   cat tmp/m17_performance/{}_after_*_sys.txt\n\n"
        "4. Common causes of competitive regression:\n"
        "   - Lock contention (check the profile for spin and futex time)\n"
        "   - Cache misses (NUMA-awareness degraded)\n"
        "   - Algorithmic complexity increase (O(n) -> O(n^2))\n"
        "   - SIMD vectorization broken (check the simd target in the server's start line)\n\n"
        "5. Fix issues and re-run:\n"
        "   ./scripts/m17_performance_check.sh {} after --competitive\n"
        "   ./scripts/compare_m17_performance.sh {} --competitive\n\n"
        "Cannot proceed to task completion until regression <{:.0f}%\n",
        ScenarioFile(c), prefix, prefix, Task(c), Task(c), c.options.threshold_pct);
  }
  out += "\n";

  // Summary for the performance log.
  const MetricResult& p50 = c.metric(MetricId::kP50);
  const MetricResult& p95 = c.metric(MetricId::kP95);
  out += "Summary for PERFORMANCE_LOG.md:\n";
  out += fmt::format("- Before: P50={:.3f}ms, P95={:.3f}ms, P99={:.3f}ms, {:.1f} ops/s\n",
                     p50.before, p95.before, p99.before, tput.before);
  out += fmt::format("- After:  P50={:.3f}ms, P95={:.3f}ms, P99={:.3f}ms, {:.1f} ops/s\n",
                     p50.after, p95.after, p99.after, tput.after);
  out +=
      fmt::format("- Change: {:+.2f}% P99 latency, {:+.2f}% throughput\n", p99.change, tput.change);
  out += fmt::format("- Verdict: P99 {} {} ({} {} per side); throughput {}\n",
                     VerdictWords(p99.verdict), Interval(p99), c.before_units,
                     IntervalSourceKey(c.source), ShortVerdict(tput));
  for (const Positioning& p : c.positioning) {
    if (p.latency) {
      out += fmt::format("- vs {}: {} ({:.3f}ms vs {:.2f}ms)\n", p.baseline.system,
                         Faster(p.after_advantage_pct), p.after, *p.baseline.value);
    }
  }
  std::string status;
  if (c.exit_code == kExitOk) {
    const Positioning* lat = nullptr;
    for (const Positioning& p : c.positioning) {
      if (p.latency) lat = &p;
    }
    if (failed_validation) {
      // Never "within target" for a run that failed its own scenario's limits.
      status = fmt::format("NOT within {:.0f}% target: the after run failed its scenario's "
                           "validation (no regression shown by the gate)",
                           c.options.threshold_pct);
    } else if (comp && lat != nullptr) {
      status = fmt::format("Competitive advantage {} ({} than {})",
                           lat->lost_ground ? "reduced (WARNING)" : "maintained",
                           Faster(lat->after_advantage_pct), lat->baseline.system);
    } else {
      status = fmt::format("Within {:.0f}% target", c.options.threshold_pct);
    }
    if (!inconclusive.empty()) status += " (inconclusive metrics: see above)";
  } else if (c.exit_code == kExitRegression) {
    status = c.rule == RunRule::kAfterSaturated
                 ? std::string("REGRESSION (the server could not keep up with the after build)")
                 : fmt::format("REGRESSION (exceeds {:.0f}% target)", c.options.threshold_pct);
  } else {
    status = c.rule == RunRule::kAfterSaturated
                 ? std::string("COMPETITIVE REGRESSION (exit 2: the server could not keep up "
                               "with the after build)")
                 : std::string("COMPETITIVE REGRESSION (exit 2)");
  }
  out += "- Status: " + status + "\n";
  return out;
}

std::string RenderJson(const Comparison& c) {
  json::object o;
  o["schema_version"] = 1;
  o["task"] = c.options.task;
  o["mode"] = c.options.competitive ? "competitive" : "internal";
  o["threshold_pct"] = c.options.threshold_pct;
  o["error_rate_threshold_pp"] = c.options.error_rate_threshold_pp;
  o["confidence"] = c.options.confidence;
  auto files = [](const std::vector<std::string>& f) {
    json::array a;
    for (const auto& s : f) a.emplace_back(s);
    return a;
  };
  o["before"] = json::object{{"files", files(c.before_files)}, {"runs", c.before_files.size()}};
  o["after"] = json::object{{"files", files(c.after_files)}, {"runs", c.after_files.size()}};
  o["scenario"] = json::object{{"config_name", c.config_name},
                               {"scenario_path", c.scenario_path},
                               {"scenario", c.scenario_stem},
                               {"scenario_hash", c.scenario_hash},
                               {"seed", c.seed_text}};
  o["interval"] = json::object{{"source", IntervalSourceKey(c.source)},
                               {"before_units", c.before_units},
                               {"after_units", c.after_units},
                               {"resamples", c.resamples},
                               {"bootstrap_seed", fmt::format("{:#x}", c.options.seed)},
                               {"gated_statistical_metrics", c.gated_statistical}};
  json::array metrics;
  for (const MetricResult& m : c.metrics) {
    json::object j;
    j["key"] = m.key;
    j["name"] = m.name;
    j["gated"] = m.gated;
    j["before"] = m.before;
    j["after"] = m.after;
    j["change"] = m.change;
    j["change_unit"] = m.ratio ? "percent" : "percentage_points";
    if (m.has_interval) {
      j["interval"] = json::object{{"low", m.low}, {"high", m.high}, {"one_sided_level", m.level}};
    } else {
      j["interval"] = nullptr;
    }
    j["threshold"] = m.threshold;
    j["verdict"] = VerdictKey(m.verdict);
    j["reason"] = m.reason;
    if (m.more_runs > 0) j["more_runs_per_side"] = m.more_runs;
    metrics.push_back(std::move(j));
  }
  o["metrics"] = std::move(metrics);
  o["errors"] = json::object{{"before", c.errors_before}, {"after", c.errors_after}};
  if (c.options.competitive) {
    json::array pos;
    for (const Positioning& p : c.positioning) {
      pos.push_back(json::object{{"system", p.baseline.system},
                                 {"workload", p.baseline.workload},
                                 {"metric", p.baseline.metric},
                                 {"baseline", *p.baseline.value},
                                 {"unit", p.baseline.unit},
                                 {"source", p.baseline.source},
                                 {"before", p.before},
                                 {"after", p.after},
                                 {"before_advantage_pct", p.before_advantage_pct},
                                 {"after_advantage_pct", p.after_advantage_pct},
                                 {"comparable", p.comparable},
                                 {"failed", p.failed},
                                 {"lost_ground", p.lost_ground},
                                 {"status", p.status}});
    }
    o["competitive"] =
        json::object{{"baselines_file", c.baselines_path}, {"positioning", std::move(pos)}};
  }
  o["rule"] = json::object{{"key", RunRuleKey(c.rule)}, {"text", c.rule_text}};
  o["warnings"] = files(c.warnings);
  o["notes"] = files(c.notes);
  o["promise"] = c.promise;
  o["regression"] =
      json::object{{"internal", c.internal_regression}, {"competitive", c.competitive_regression}};
  o["exit_code"] = c.exit_code;
  return json::serialize(o) + "\n";
}

std::string RenderErrorJson(const Status& error, RunRule rule) {
  json::object o;
  o["schema_version"] = 1;
  o["exit_code"] = kExitError;
  o["error"] = error.message();
  o["rule"] = json::object{{"key", RunRuleKey(rule)}, {"text", rule == RunRule::kNone ? "" : error.message()}};
  return json::serialize(o) + "\n";
}

}  // namespace engram::analysis
