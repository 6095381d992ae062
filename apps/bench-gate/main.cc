// bench-gate: the performance regression gate. Measures benchmark binaries (wall time or
// callgrind instruction counts), compares against the baseline for this machine-and-build
// fingerprint, appends to the history, and renders the history as HTML.
//
//   bench-gate run      measure + compare + history (what scripts/benchmark_regression.sh runs)
//   bench-gate measure  measure only, write a result-set JSON
//   bench-gate compare  compare a result set (or Google Benchmark JSON files) against baselines
//   bench-gate update   measure and rewrite the baseline of this fingerprint, print the diff
//   bench-gate report   write the history as a self-contained HTML page, change points marked
//   bench-gate history  print the history as text (--change-points: the change points per series)
//   bench-gate fingerprint  print this machine's fingerprint and the fields each mode compares
//
// A baseline is compared when its fingerprint matches in every field that can change the mode's
// numbers (src/benchgate/fingerprint.h); the table lists the fields that differ and whether
// they can.
//
// Exit codes: 0 pass (or not compared: no baseline whose fingerprint may be compared),
// 1 regression, 2 usage or I/O error, 3 noisy results with --fail-on-noisy.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "benchgate/changepoint.h"
#include "benchgate/compare.h"
#include "benchgate/fingerprint.h"
#include "benchgate/history.h"
#include "benchgate/json_util.h"
#include "benchgate/libraries.h"
#include "benchgate/report.h"
#include "benchgate/results.h"
#include "benchgate/runner.h"

namespace engram::benchgate {
namespace {

constexpr int kExitError = 2;

struct Flags {
  // mode
  bool instructions = false;
  std::string mode;  // wall_time | instructions | both (update)
  // measuring
  std::vector<std::string> binaries, baseline_binaries;
  std::vector<std::string> env, baseline_env;  // KEY=VALUE
  std::string filter = ".";
  int processes = 5, repetitions = 3;
  double min_time = 0.05;
  std::string time_metric = "cpu_time";
  int64_t iterations = 4;
  std::string valgrind = "valgrind";
  std::string collect_function = "*BM_*(benchmark::State&*";
  std::string work_dir = "tmp/benchgate";
  bool no_rdtscp_patch = false;
  std::string commit;
  bool quiet = false;
  // comparing
  std::string baselines = "benches/regression/baselines.json";
  std::string current;
  std::vector<std::string> current_gbench, baseline_gbench;
  std::string fingerprint_file, baseline_fingerprint_file;
  CompareOptions compare;
  bool no_holm = false;
  bool fail_on_noisy = false;
  std::string markdown;
  std::string out;
  // history
  std::string history = "tmp/bench_history.sqlite";
  bool no_history = false;
  std::string label;
  // update
  bool dry_run = false;
  // report / history
  std::string title = "Engram performance history";
  std::string benchmark;
  int limit = 50;
  bool change_points = false;
  ChangePointOptions change_point;
};

int Fail(const Status& st) {
  std::fprintf(stderr, "bench-gate: %s\n", st.ToString().c_str());
  return kExitError;
}

Result<std::vector<Mode>> ModesFrom(const Flags& f, bool allow_both) {
  if (f.instructions) return std::vector<Mode>{Mode::kInstructions};
  if (f.mode.empty() || f.mode == "wall_time" || f.mode == "wall") return std::vector<Mode>{Mode::kWallTime};
  if (f.mode == "instructions") return std::vector<Mode>{Mode::kInstructions};
  if (f.mode == "both" && allow_both) return std::vector<Mode>{Mode::kWallTime, Mode::kInstructions};
  return Status::InvalidArgument("--mode must be wall_time or instructions",
                                 allow_both ? " or both" : "", ", not '", f.mode, "'");
}

Result<Fingerprint> LoadFingerprint(const std::string& path) {
  if (path.empty()) return DetectHost();
  ENGRAM_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  ENGRAM_ASSIGN_OR_RETURN(boost::json::value v, ParseJson(text));
  if (!v.is_object()) return Status::InvalidArgument(path, ": not a JSON object");
  const boost::json::object& o = v.as_object();
  if (const auto* fp = o.if_contains("fingerprint"); fp != nullptr && fp->is_object()) {
    return FingerprintFromJson(fp->as_object());
  }
  return FingerprintFromJson(o);
}

Result<EnvList> ParseEnv(const std::vector<std::string>& items) {
  EnvList env;
  for (const std::string& item : items) {
    const size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Status::InvalidArgument("environment setting '", item, "' is not KEY=VALUE");
    }
    env.emplace_back(item.substr(0, eq), item.substr(eq + 1));
  }
  return env;
}

WallTimeOptions WallOptionsFrom(const Flags& f) {
  WallTimeOptions o;
  o.binaries = f.binaries;
  o.filter = f.filter;
  o.processes = f.processes;
  o.repetitions = f.repetitions;
  o.min_time = f.min_time;
  o.time_metric = f.time_metric;
  o.work_dir = f.work_dir;
  o.verbose = !f.quiet;
  return o;
}

InstructionOptions InstructionOptionsFrom(const Flags& f) {
  InstructionOptions o;
  o.binaries = f.binaries;
  o.filter = f.filter;
  o.iterations = f.iterations;
  o.valgrind = f.valgrind;
  o.work_dir = f.work_dir;
  o.patch_rdtscp = !f.no_rdtscp_patch;
  o.collect_function = f.collect_function;
  o.verbose = !f.quiet;
  return o;
}

Result<ResultSet> Measure(const Flags& f, Mode mode) {
  const Fingerprint host = DetectHost();
  ENGRAM_ASSIGN_OR_RETURN(EnvList env, ParseEnv(f.env));
  Result<ResultSet> set = Status::Internal("unreachable");
  if (mode == Mode::kWallTime) {
    WallTimeOptions o = WallOptionsFrom(f);
    o.env = env;
    set = MeasureWallTime(o, host);
  } else {
    InstructionOptions o = InstructionOptionsFrom(f);
    o.env = env;
    set = MeasureInstructions(o, host);
  }
  if (!set) return set;
  const Fingerprint fp = set->fingerprint;
  StampResultSet(*set, fp, f.commit);
  return set;
}

// A/B: the baseline binaries (e.g. the merge base's build) and the current ones measured in
// the same job. Returns {baseline, current}.
Result<std::pair<ResultSet, ResultSet>> MeasureAB(const Flags& f, Mode mode) {
  const Fingerprint host = DetectHost();
  ENGRAM_ASSIGN_OR_RETURN(EnvList env, ParseEnv(f.env));
  ENGRAM_ASSIGN_OR_RETURN(EnvList base_env, ParseEnv(f.baseline_env));
  std::pair<ResultSet, ResultSet> out;
  if (mode == Mode::kWallTime) {
    WallTimeOptions o = WallOptionsFrom(f);
    o.binaries = f.baseline_binaries;
    o.env = base_env;
    ENGRAM_ASSIGN_OR_RETURN(out, MeasureWallTimeAB(o, f.binaries, env, host));
  } else {
    InstructionOptions a = InstructionOptionsFrom(f);
    a.binaries = f.baseline_binaries;
    a.env = base_env;
    a.tag = "A_";
    ENGRAM_ASSIGN_OR_RETURN(out.first, MeasureInstructions(a, host));
    InstructionOptions b = InstructionOptionsFrom(f);
    b.env = env;
    b.tag = "B_";
    ENGRAM_ASSIGN_OR_RETURN(out.second, MeasureInstructions(b, host));
  }
  StampResultSet(out.first, out.first.fingerprint, "baseline");
  StampResultSet(out.second, out.second.fingerprint, f.commit);
  return out;
}

// Current measurement for `compare`: a result-set file, or Google Benchmark JSON files.
Result<ResultSet> LoadCurrent(const Flags& f) {
  if (!f.current.empty()) return ReadResultSet(f.current);
  if (f.current_gbench.empty()) {
    return Status::InvalidArgument("give --current FILE or --current-gbench FILE...");
  }
  ResultSet set;
  ENGRAM_ASSIGN_OR_RETURN(Fingerprint fp, LoadFingerprint(f.fingerprint_file));
  StampResultSet(set, fp, f.commit);
  std::vector<GbFile> files;
  for (const std::string& path : f.current_gbench) {
    ENGRAM_ASSIGN_OR_RETURN(GbFile file, ReadGbenchJsonFile(path));
    files.push_back(std::move(file));
  }
  ENGRAM_RETURN_IF_ERROR(AddGbenchSamples(files, f.time_metric, 0, set));
  Summarize(set);
  return set;
}

Result<BaselinesFile> LoadBaselines(const Flags& f) {
  if (f.baseline_gbench.empty()) return ReadBaselines(f.baselines);
  ResultSet set;
  ENGRAM_ASSIGN_OR_RETURN(Fingerprint fp, LoadFingerprint(f.baseline_fingerprint_file.empty()
                                                              ? f.fingerprint_file
                                                              : f.baseline_fingerprint_file));
  StampResultSet(set, fp, "");
  std::vector<GbFile> files;
  for (const std::string& path : f.baseline_gbench) {
    ENGRAM_ASSIGN_OR_RETURN(GbFile file, ReadGbenchJsonFile(path));
    files.push_back(std::move(file));
  }
  ENGRAM_RETURN_IF_ERROR(AddGbenchSamples(files, f.time_metric, 0, set));
  Summarize(set);
  BaselinesFile out;
  out.sets.push_back(std::move(set));
  return out;
}

// Compares (against `ab_baseline` when given, else the baselines file), prints, appends
// history; returns the exit code.
int CompareAndReport(const Flags& f, const ResultSet& current, Mode mode,
                     const ResultSet* ab_baseline = nullptr) {
  CompareOptions options = f.compare;
  options.mode = mode;
  options.holm = !f.no_holm;
  Comparison c;
  if (ab_baseline != nullptr) {
    c = CompareSets(*ab_baseline, current, options);
    c.message = "A/B: baseline binaries measured in the same job (" +
                std::string(mode == Mode::kWallTime ? "process runs interleaved" : "same valgrind") +
                "), no stored baseline involved.";
  } else {
    if (f.baseline_gbench.empty() && !std::filesystem::exists(f.baselines)) {
      std::fprintf(stderr, "bench-gate: no baselines file at %s (run from the repository root, "
                   "or pass --baselines)\n", f.baselines.c_str());
    }
    auto baselines = LoadBaselines(f);
    if (!baselines) return Fail(baselines.error());
    c = Compare(*baselines, current, options);
  }
  std::cout << FormatTable(c) << std::flush;
  if (!f.markdown.empty()) {
    std::string md = FormatMarkdown(c);
    if (auto old = ReadFile(f.markdown)) md = *old + "\n" + md;  // both modes in one comment
    if (Status st = WriteFileAtomic(f.markdown, md); !st.ok()) return Fail(st);
  }
  if (!f.no_history) {
    auto run = AppendHistory(f.history, current, mode, &c, f.label);
    if (!run) return Fail(run.error().WithContext("appending to the history"));
    std::fprintf(stderr, "history: run %lld appended to %s\n", static_cast<long long>(*run),
                 f.history.c_str());
  }
  return c.ExitCode(f.fail_on_noisy);
}

void AddModeFlags(CLI::App* cmd, Flags& f, bool both) {
  cmd->add_flag("--instructions", f.instructions,
                "Instruction-count mode (callgrind); the same as --mode instructions");
  cmd->add_option("--mode", f.mode,
                  both ? "wall_time, instructions or both (default both)"
                       : "wall_time (default) or instructions");
}

void AddMeasureFlags(CLI::App* cmd, Flags& f) {
  cmd->add_option("--bench", f.binaries, "Google Benchmark binary to run (repeatable)")->required();
  cmd->add_option("--filter", f.filter, "Benchmark regex (Google Benchmark --benchmark_filter)");
  cmd->add_option("--processes", f.processes, "Wall time: process launches per binary (default 5)");
  cmd->add_option("--repetitions", f.repetitions, "Wall time: repetitions per process (default 3)");
  cmd->add_option("--min-time", f.min_time, "Wall time: seconds per repetition (default 0.05)");
  cmd->add_option("--time-metric", f.time_metric, "cpu_time (default) or real_time");
  cmd->add_option("--iterations", f.iterations,
                  "Instructions: n, the runs use n and 2n fixed iterations (default 4)");
  cmd->add_option("--valgrind", f.valgrind, "Valgrind executable (default valgrind)");
  cmd->add_option("--collect-function", f.collect_function,
                  "Instructions: callgrind --toggle-collect pattern for the benchmark body");
  cmd->add_option("--work-dir", f.work_dir, "Raw outputs go here (default tmp/benchgate)");
  cmd->add_flag("--no-rdtscp-patch", f.no_rdtscp_patch,
                "Never rewrite RDTSCP in libraries for Valgrind (see callgrind.h)");
  cmd->add_option("--commit", f.commit, "Source commit recorded with the results");
  cmd->add_option("--env", f.env, "KEY=VALUE added to the benchmark processes' environment");
  cmd->add_flag("--quiet", f.quiet, "No progress on stderr");
}

void AddCompareFlags(CLI::App* cmd, Flags& f) {
  cmd->add_option("--baselines", f.baselines, "Baselines file (default benches/regression/baselines.json)");
  cmd->add_option("--threshold", f.compare.threshold, "Relative change that counts (default 0.05)");
  cmd->add_option("--confidence", f.compare.confidence, "One-sided level of the wall-time test (default 0.95)");
  cmd->add_option("--max-interval", f.compare.max_interval_width,
                  "Wall time: an interval of the change wider than this is noisy (default 0.10)");
  cmd->add_option("--resamples", f.compare.resamples, "Bootstrap resamples (default 2000)");
  cmd->add_option("--seed", f.compare.seed, "Bootstrap seed");
  cmd->add_flag("--no-holm", f.no_holm, "Do not adjust for testing several benchmarks");
  cmd->add_flag("--force", f.compare.force,
                "Compare against the closest baseline even when its fingerprint differs in a "
                "field that can change the numbers (the result is labelled FORCED)");
  cmd->add_flag("--fail-on-noisy", f.fail_on_noisy, "Exit 3 when results are too noisy to decide");
  cmd->add_option("--markdown", f.markdown, "Also append the table as Markdown to this file");
  cmd->add_option("--history", f.history, "SQLite history (default tmp/bench_history.sqlite)");
  cmd->add_flag("--no-history", f.no_history, "Do not append to the history");
  cmd->add_option("--label", f.label, "Label stored with the history rows");
}

int Main(int argc, char** argv) {
  CLI::App app{"bench-gate: Engram's performance regression gate"};
  app.require_subcommand(1);
  Flags f;

  CLI::App* run = app.add_subcommand("run", "Measure, compare against the baseline, append history");
  AddModeFlags(run, f, false);
  AddMeasureFlags(run, f);
  AddCompareFlags(run, f);
  run->add_option("--baseline-bench", f.baseline_binaries,
                  "A/B: compare against these binaries (e.g. the base commit's build) measured in "
                  "the same job instead of the baselines file (repeatable, same order as --bench)");
  run->add_option("--baseline-env", f.baseline_env, "A/B: KEY=VALUE for the baseline side's runs");
  run->add_option("--out", f.out, "Also write the measurement (result-set JSON) here");

  CLI::App* measure = app.add_subcommand("measure", "Measure and write a result-set JSON");
  AddModeFlags(measure, f, false);
  AddMeasureFlags(measure, f);
  measure->add_option("--out", f.out, "Output file")->required();

  CLI::App* compare = app.add_subcommand("compare", "Compare a measurement against baselines");
  AddModeFlags(compare, f, false);
  AddCompareFlags(compare, f);
  compare->add_option("--current", f.current, "Result-set JSON written by measure/run --out");
  compare->add_option("--current-gbench", f.current_gbench,
                      "Google Benchmark JSON files, one per process run");
  compare->add_option("--baseline-gbench", f.baseline_gbench,
                      "Compare against these Google Benchmark JSON files instead of --baselines");
  compare->add_option("--fingerprint", f.fingerprint_file,
                      "Fingerprint JSON for --current-gbench (default: this machine)");
  compare->add_option("--baseline-fingerprint", f.baseline_fingerprint_file,
                      "Fingerprint JSON for --baseline-gbench (default: --fingerprint)");
  compare->add_option("--time-metric", f.time_metric, "cpu_time (default) or real_time");
  compare->add_option("--commit", f.commit, "Commit recorded in the history");

  CLI::App* update = app.add_subcommand("update", "Re-measure and rewrite this fingerprint's baseline");
  AddModeFlags(update, f, true);
  AddMeasureFlags(update, f);
  update->add_option("--baselines", f.baselines, "Baselines file to rewrite");
  update->add_flag("--dry-run", f.dry_run, "Print the diff without writing");

  CLI::App* report = app.add_subcommand("report", "Write the history as a self-contained HTML page");
  report->add_option("--history", f.history, "SQLite history (default tmp/bench_history.sqlite)");
  report->add_option("--out", f.out, "HTML file (default tmp/bench_report.html)");
  report->add_option("--title", f.title, "Page title");
  report->add_option("--min-change", f.change_point.min_relative_change,
                     "Smallest level shift marked as a change point (default 0.025)");

  CLI::App* history = app.add_subcommand("history", "Print the history");
  history->add_option("--history", f.history, "SQLite history (default tmp/bench_history.sqlite)");
  history->add_option("--benchmark", f.benchmark, "Only this benchmark");
  history->add_option("--limit", f.limit, "Last N rows (default 50)");
  history->add_flag("--change-points", f.change_points,
                    "Print the change points of each series instead of the rows (E-divisive "
                    "means; runs with an injected slowdown are left out)");
  history->add_option("--min-change", f.change_point.min_relative_change,
                      "Smallest level shift reported as a change point (default 0.025)");
  history->add_option("--alpha", f.change_point.alpha,
                      "Significance level of the permutation test (default 0.05)");

  CLI::App* fingerprint = app.add_subcommand(
      "fingerprint",
      "Print this machine's fingerprint as JSON, and the fields each mode compares (the "
      "Valgrind fields are filled in by instruction-mode runs)");
  fingerprint->add_option("--bench", f.binaries,
                          "Also record the shared libraries this benchmark binary loads "
                          "(repeatable)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : kExitError;
  }

  if (app.got_subcommand("fingerprint")) {
    Fingerprint fp = DetectHost();
    if (!f.binaries.empty()) {
      auto libraries = LibraryVersions(f.binaries);
      if (!libraries) return Fail(libraries.error());
      fp.libraries = std::move(libraries).value();
    }
    boost::json::object out, fields;
    out["fingerprint"] = FingerprintToJson(fp);
    for (Mode mode : {Mode::kWallTime, Mode::kInstructions}) {
      boost::json::array names;
      for (const std::string& field : FieldsFor(mode)) names.emplace_back(field);
      fields[ModeName(mode)] = std::move(names);
    }
    out["compared_fields"] = std::move(fields);
    std::cout << PrettyJson(out);
    return 0;
  }
  if (app.got_subcommand("run") && !f.baseline_binaries.empty()) {
    auto modes = ModesFrom(f, false);
    if (!modes) return Fail(modes.error());
    auto ab = MeasureAB(f, modes->front());
    if (!ab) return Fail(ab.error());
    if (!f.out.empty()) {
      if (Status st = WriteResultSet(f.out, ab->second); !st.ok()) return Fail(st);
    }
    return CompareAndReport(f, ab->second, modes->front(), &ab->first);
  }
  if (app.got_subcommand("measure") || app.got_subcommand("run")) {
    auto modes = ModesFrom(f, false);
    if (!modes) return Fail(modes.error());
    auto set = Measure(f, modes->front());
    if (!set) return Fail(set.error());
    if (!f.out.empty()) {
      if (Status st = WriteResultSet(f.out, *set); !st.ok()) return Fail(st);
    }
    if (app.got_subcommand("measure")) return 0;
    return CompareAndReport(f, *set, modes->front());
  }
  if (app.got_subcommand("compare")) {
    auto modes = ModesFrom(f, false);
    if (!modes) return Fail(modes.error());
    auto set = LoadCurrent(f);
    if (!set) return Fail(set.error());
    return CompareAndReport(f, *set, modes->front());
  }
  if (app.got_subcommand("update")) {
    if (f.mode.empty() && !f.instructions) f.mode = "both";
    auto modes = ModesFrom(f, true);
    if (!modes) return Fail(modes.error());
    auto baselines = ReadBaselines(f.baselines);
    if (!baselines) return Fail(baselines.error());
    std::string diff;
    for (Mode mode : *modes) {
      auto set = Measure(f, mode);
      if (!set) return Fail(set.error());
      if (!set->injected_slowdown.empty()) {
        return Fail(Status::FailedPrecondition(
            "the binaries ran with ENGRAM_BENCH_SLOWDOWN=", set->injected_slowdown,
            ": refusing to record that as a baseline"));
      }
      diff += std::string(ModeName(mode)) + ":\n" + UpsertBaseline(*baselines, *set, mode);
    }
    std::cout << "Baseline changes for " << f.baselines << (f.dry_run ? " (dry run)" : "")
              << ":\n" << diff;
    if (!f.dry_run) {
      if (Status st = WriteBaselines(f.baselines, *baselines); !st.ok()) return Fail(st);
    }
    return 0;
  }
  if (app.got_subcommand("report")) {
    auto points = ReadHistory(f.history);
    if (!points) return Fail(points.error());
    ReportOptions o;
    o.title = f.title;
    o.source = f.history;
    o.change_point_options = f.change_point;
    const std::string out = f.out.empty() ? "tmp/bench_report.html" : f.out;
    const auto parent = std::filesystem::path(out).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent);
    if (Status st = WriteFileAtomic(out, RenderHtmlReport(*points, o)); !st.ok()) return Fail(st);
    std::cout << "wrote " << out << "\n";
    return 0;
  }
  if (app.got_subcommand("history")) {
    auto points = ReadHistory(f.history, f.benchmark);
    if (!points) return Fail(points.error());
    if (f.change_points) {
      std::cout << FormatChangePoints(GroupHistory(*points, /*skip_injected=*/true),
                                      f.change_point);
      return 0;
    }
    const size_t start = points->size() > static_cast<size_t>(f.limit) ? points->size() - f.limit : 0;
    std::printf("%-5s %-20s %-12s %-12s %-45s %-12s %16s %s\n", "run", "time", "commit", "mode",
                "benchmark", "metric", "value", "verdict");
    for (size_t i = start; i < points->size(); ++i) {
      const HistoryPoint& p = (*points)[i];
      std::printf("%-5lld %-20s %-12s %-12s %-45s %-12s %16.1f %s\n",
                  static_cast<long long>(p.run_id), p.time.c_str(), p.commit.c_str(),
                  p.mode.c_str(), p.benchmark.c_str(), p.metric.c_str(), p.value,
                  p.verdict.c_str());
    }
    return 0;
  }
  return kExitError;
}

}  // namespace
}  // namespace engram::benchgate

int main(int argc, char** argv) {
  try {
    return engram::benchgate::Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench-gate: unexpected error: %s\n", e.what());
    return 2;
  }
}
