#include "benchgate/compare.h"

#include <cmath>
#include <cstdio>
#include <sstream>

#include "benchgate/json_util.h"
#include "benchgate/stats.h"

namespace engram::benchgate {

const char* VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kPass: return "pass";
    case Verdict::kRegression: return "REGRESSION";
    case Verdict::kImprovement: return "improved";
    case Verdict::kNoisy: return "noisy";
    case Verdict::kNew: return "new";
  }
  return "?";
}

int Comparison::Count(Verdict v) const {
  int n = 0;
  for (const auto& r : rows) n += r.verdict == v;
  return n;
}

int Comparison::ExitCode(bool fail_on_noisy) const {
  if (!compared) return 0;
  if (Count(Verdict::kRegression) > 0) return 1;
  if (fail_on_noisy && Count(Verdict::kNoisy) > 0) return 3;
  return 0;
}

namespace {

uint64_t NameSeed(uint64_t seed, const std::string& name) {
  return Fnv1a64(name, seed ^ kFnv1a64Basis);
}

std::string Fixed(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), fmt, v);
  return buf;
}

}  // namespace

Comparison CompareSets(const ResultSet& baseline, const ResultSet& current,
                       const CompareOptions& options) {
  Comparison c;
  c.mode = options.mode;
  c.compared = true;
  c.threshold = options.threshold;
  c.injected_slowdown = current.injected_slowdown;
  c.baseline_description = Describe(baseline.fingerprint);
  c.current_description = Describe(current.fingerprint);
  c.differences = Differences(baseline.fingerprint, current.fingerprint, options.mode);
  // One-sided test per direction at 1 - confidence; the interval shown is the two-sided one
  // whose ends are those one-sided bounds (90% for confidence 0.95).
  const double alpha = 1.0 - options.confidence;
  const bool wall = options.mode == Mode::kWallTime;

  std::vector<size_t> gated;  // rows with a baseline, in the Holm family
  std::vector<double> p_slower, p_faster;
  for (const auto& [name, cur] : current.benchmarks) {
    if (wall ? !cur.has_wall_time() : !cur.has_instructions()) continue;
    RowResult row;
    row.benchmark = name;
    auto it = baseline.benchmarks.find(name);
    const bool has_base = it != baseline.benchmarks.end() &&
                          (wall ? it->second.has_wall_time() : it->second.has_instructions());
    if (!has_base) {
      row.verdict = Verdict::kNew;
      row.current = wall ? Median(cur.samples_ns) : cur.instructions;
      row.note = "no baseline";
      c.rows.push_back(row);
      continue;
    }
    const BenchmarkResult& base = it->second;
    if (wall) {
      const RatioInterval ri = BootstrapRatioOfMedians(
          Sample{base.samples_ns, base.groups}, Sample{cur.samples_ns, cur.groups},
          options.resamples, 2.0 * options.confidence - 1.0, NameSeed(options.seed, name));
      row.baseline = Median(base.samples_ns);
      row.current = Median(cur.samples_ns);
      row.change = ri.estimate - 1.0;
      row.low = ri.low - 1.0;
      row.high = ri.high - 1.0;
      row.by_process = ri.by_process;
      gated.push_back(c.rows.size());
      p_slower.push_back(ri.p_slower);
      p_faster.push_back(ri.p_faster);
    } else {
      row.baseline = base.instructions;
      row.current = cur.instructions;
      row.change = cur.instructions / base.instructions - 1.0;
      row.low = row.high = row.change;
      row.p_adjusted = 0.0;
      row.verdict = row.change > options.threshold    ? Verdict::kRegression
                    : row.change < -options.threshold ? Verdict::kImprovement
                                                      : Verdict::kPass;
    }
    c.rows.push_back(row);
  }
  if (wall && !gated.empty()) {
    const std::vector<double> adj_slower = options.holm ? HolmAdjust(p_slower) : p_slower;
    const std::vector<double> adj_faster = options.holm ? HolmAdjust(p_faster) : p_faster;
    for (size_t k = 0; k < gated.size(); ++k) {
      RowResult& row = c.rows[gated[k]];
      const bool slower = row.change >= 0;
      row.p_adjusted = slower ? adj_slower[k] : adj_faster[k];
      const bool significant = row.p_adjusted <= alpha;
      const double width = row.high - row.low;
      if (row.change > options.threshold && significant) {
        row.verdict = Verdict::kRegression;
      } else if (row.change < -options.threshold && significant) {
        row.verdict = Verdict::kImprovement;
      } else if (std::fabs(row.change) > options.threshold) {
        row.verdict = Verdict::kNoisy;
        row.note = "beyond threshold but not significant (adj. p " + Fixed("%.3f", row.p_adjusted) + ")";
      } else if (width > options.max_interval_width) {
        row.verdict = Verdict::kNoisy;
        row.note = "interval wider than " + Fixed("%.0f%%", 100 * options.max_interval_width);
      } else {
        row.verdict = Verdict::kPass;
      }
      if (!row.by_process && row.note.empty()) row.note = "one process per side: interval optimistic";
    }
  }
  for (const auto& [name, base] : baseline.benchmarks) {
    const bool has = wall ? base.has_wall_time() : base.has_instructions();
    auto it = current.benchmarks.find(name);
    const bool measured = it != current.benchmarks.end() &&
                          (wall ? it->second.has_wall_time() : it->second.has_instructions());
    if (has && !measured) c.not_measured.push_back(name);
  }
  return c;
}

namespace {

// "isa_flags, simd_target" of the differences with `matters` equal to `which`, unrecorded ones
// left out.
std::string FieldNames(const std::vector<FieldDifference>& differences, bool which) {
  std::string out;
  for (const FieldDifference& d : differences) {
    if (d.matters == which && !d.unrecorded) out += (out.empty() ? "" : ", ") + d.field;
  }
  return out;
}

std::string UnrecordedNote(const std::vector<FieldDifference>& differences) {
  std::string fields;
  for (const FieldDifference& d : differences) {
    if (d.unrecorded) fields += (fields.empty() ? "" : ", ") + d.field;
  }
  if (fields.empty()) return "";
  return " Not checked, because one side does not record them: " + fields + ".";
}

}  // namespace

Comparison Compare(const BaselinesFile& baselines, const ResultSet& current,
                   const CompareOptions& options) {
  const std::string mode = ModeName(options.mode);
  if (const ResultSet* match = FindBaseline(baselines, current.fingerprint, options.mode)) {
    Comparison c = CompareSets(*match, current, options);
    if (!c.differences.empty()) {
      const std::string fields = FieldNames(c.differences, false);
      const std::string how = fields.empty() ? std::string("matches in every field it records")
                                             : std::string("differs only in fields that cannot "
                                                           "change ") +
                                                   QuantityName(options.mode) + " (" + fields + ")";
      c.message = "COMPARED: no " + mode + " baseline has exactly this fingerprint; the closest " +
                  how + ", so it is compared." + UnrecordedNote(c.differences);
    }
    return c;
  }
  const ResultSet* closest = ClosestBaseline(baselines, current.fingerprint, options.mode);
  if (closest != nullptr && options.force) {
    Comparison c = CompareSets(*closest, current, options);
    c.forced = true;
    c.message = "FORCED: comparing against the baseline of a different fingerprint (it differs "
                "in " + FieldNames(c.differences, true) + ", which can change " +
                QuantityName(options.mode) +
                "); the verdicts mix code changes with machine and build differences.";
    return c;
  }
  Comparison c;
  c.mode = options.mode;
  c.threshold = options.threshold;
  c.current_description = Describe(current.fingerprint);
  c.injected_slowdown = current.injected_slowdown;
  if (closest == nullptr) {
    c.message = "NOT COMPARED: the baselines file has no " + mode +
                " baselines at all. Record some with scripts/update_baselines.sh.";
    return c;
  }
  c.baseline_description = Describe(closest->fingerprint);
  c.differences = Differences(closest->fingerprint, current.fingerprint, options.mode);
  c.message = "NOT COMPARED: no " + mode + " baseline for this machine and build. The closest " +
              "differs in " + FieldNames(c.differences, true) + ", which can change " +
              QuantityName(options.mode) + ", so its numbers say nothing about this change. " +
              "Record a baseline for this fingerprint with scripts/update_baselines.sh, or pass " +
              "--force to compare anyway.";
  return c;
}

namespace {

std::string HumanTime(double ns) {
  if (ns >= 1e9) return Fixed("%.3f s", ns / 1e9);
  if (ns >= 1e6) return Fixed("%.3f ms", ns / 1e6);
  if (ns >= 1e3) return Fixed("%.2f us", ns / 1e3);
  return Fixed("%.1f ns", ns);
}

std::string HumanCount(double v) {
  std::string digits = Fixed("%.0f", v);
  std::string out;
  const size_t n = digits.size();
  for (size_t i = 0; i < n; ++i) {
    out.push_back(digits[i]);
    if ((n - i - 1) % 3 == 0 && i + 1 < n) out.push_back(',');
  }
  return out;
}

std::string Value(const Comparison& c, double v) {
  return c.mode == Mode::kWallTime ? HumanTime(v) : HumanCount(v);
}

std::string Percent(double v) { return Fixed("%+.2f%%", 100 * v); }

std::string Interval(const Comparison& c, const RowResult& r) {
  if (r.verdict == Verdict::kNew) return "";
  if (c.mode == Mode::kInstructions) return "exact";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "[%+.2f%%, %+.2f%%]", 100 * r.low, 100 * r.high);
  return buf;
}

std::string Header(const Comparison& c) {
  std::ostringstream out;
  out << "Mode: " << ModeName(c.mode) << "   threshold: " << Fixed("%.1f%%", 100 * c.threshold);
  if (c.mode == Mode::kWallTime) {
    out << "   interval: bootstrap 5th-95th percentile of the change (its ends are the one-sided "
           "95% bounds); verdicts Holm-adjusted";
  }
  out << "\n";
  if (!c.current_description.empty()) out << "This machine/build: " << c.current_description << "\n";
  if (!c.baseline_description.empty()) out << "Baseline:           " << c.baseline_description << "\n";
  for (const auto& d : c.differences) out << "  " << DescribeDifference(d) << "\n";
  if (!c.injected_slowdown.empty()) {
    out << "NOTE: the measured binaries ran with an injected slowdown of " << c.injected_slowdown
        << " (ENGRAM_BENCH_SLOWDOWN)\n";
  }
  if (!c.message.empty()) out << c.message << "\n";
  return out.str();
}

std::string Summary(const Comparison& c) {
  std::ostringstream out;
  if (!c.compared) {
    out << "Result: not compared (exit 0).\n";
    return out.str();
  }
  if (!c.not_measured.empty()) {
    out << c.not_measured.size() << " baseline benchmark(s) not measured in this run:";
    for (const auto& n : c.not_measured) out << " " << n;
    out << "\n";
  }
  out << "Result: " << c.Count(Verdict::kRegression) << " regression(s), "
      << c.Count(Verdict::kImprovement) << " improvement(s), " << c.Count(Verdict::kNoisy)
      << " noisy, " << c.Count(Verdict::kPass) << " pass, " << c.Count(Verdict::kNew) << " new -> "
      << (c.Count(Verdict::kRegression) > 0 ? "FAIL" : "PASS") << "\n";
  return out.str();
}

}  // namespace

std::string FormatTable(const Comparison& c) {
  std::ostringstream out;
  out << Header(c);
  if (c.compared) {
    size_t w = 9;
    for (const auto& r : c.rows) w = std::max(w, r.benchmark.size());
    char line[512];
    std::snprintf(line, sizeof(line), "%-*s  %16s  %16s  %9s  %22s  %-10s  %s\n",
                  static_cast<int>(w), "benchmark", "baseline", "current", "change",
                  c.mode == Mode::kWallTime ? "90% interval" : "interval", "verdict", "note");
    out << line << std::string(w + 90, '-') << "\n";
    for (const auto& r : c.rows) {
      std::snprintf(line, sizeof(line), "%-*s  %16s  %16s  %9s  %22s  %-10s  %s\n",
                    static_cast<int>(w), r.benchmark.c_str(),
                    r.verdict == Verdict::kNew ? "-" : Value(c, r.baseline).c_str(),
                    Value(c, r.current).c_str(),
                    r.verdict == Verdict::kNew ? "" : Percent(r.change).c_str(),
                    Interval(c, r).c_str(), VerdictName(r.verdict), r.note.c_str());
      out << line;
    }
  }
  out << Summary(c);
  return out.str();
}

std::string FormatMarkdown(const Comparison& c) {
  std::ostringstream out;
  out << "### Performance gate (" << ModeName(c.mode) << ")\n\n```\n" << Header(c) << "```\n\n";
  if (c.compared) {
    out << "| benchmark | baseline | current | change | interval | verdict |\n"
        << "|---|---:|---:|---:|---|---|\n";
    for (const auto& r : c.rows) {
      out << "| `" << r.benchmark << "` | "
          << (r.verdict == Verdict::kNew ? "-" : Value(c, r.baseline)) << " | "
          << Value(c, r.current) << " | " << (r.verdict == Verdict::kNew ? "" : Percent(r.change))
          << " | " << Interval(c, r) << " | "
          << (r.verdict == Verdict::kRegression ? "**REGRESSION**" : VerdictName(r.verdict))
          << (r.note.empty() ? "" : " (" + r.note + ")") << " |\n";
    }
    out << "\n";
  }
  out << Summary(c);
  return out.str();
}

}  // namespace engram::benchgate
