// engram-perf: the logic behind the spec's performance scripts.
//
//   engram-perf compare --before F... --after F... [--task ID] [--threshold PCT] [--competitive]
//                       [--baselines FILE] [--calibration FILE] [--paired] [--json] [--seed N]
//                       [--resamples B] [--confidence C]
//   engram-perf check TASK before|after [--competitive] [--repeat N] [--json]
//   engram-perf calibrate --runs-dir DIR [--run-command CMD --runs N] [--set-size R]
//                         [--paired [--subsets N]] [--inject PCT]... [--threshold PCT]
//                         [--competitive] [--output FILE] [--json] [--seed N]
//   engram-perf ab --base REV --head REV [--pairs N] [--competitive] [--duration S] [--task ID]
//                  [--base-server-args A] [--head-server-args A] [--threshold PCT]
//                  [--skip-build] [--dry-run] [--json] [--seed N]
//   engram-perf capacity SCENARIO [--start-rate R] [--min-rate R] [--max-rate R] [--growth F]
//                  [--tolerance F] [--repeats N] [--step-seconds S] [--warmup S]
//                  [--max-growth F] [--max-steps N] [--max-minutes M] [--connections N]
//                  [--engram-bin F] [--server-args A] [--no-pin] [--output F] [--json] [--quiet]
//   engram-perf headroom SCENARIO [--capacity-file F] [--max-share F]
//
// Exit codes (spec 000): 0 no regression, 1 internal regression, 2 competitive regression,
// 3 error (missing or invalid files, bad arguments, a run that could not be made). Usage
// errors exit 3, not 2, because 2 already means "competitive regression" to the scripts.
#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <boost/json.hpp>
#include <cstdio>
#include <ctime>
#include <sstream>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <csignal>

#include "analysis/ab_plan.h"
#include "analysis/baselines.h"
#include "analysis/calibration.h"
#include "analysis/capacity_file.h"
#include "analysis/compare.h"
#include "analysis/run_result.h"
#include "harness/capacity.h"
#include "harness/server_process.h"
#include "loadgen/context.h"
#include "loadgen/runner.h"
#include "workload/arrival.h"
#include "workload/scenario.h"

namespace fs = std::filesystem;
using namespace engram;
using namespace engram::analysis;

namespace {

namespace json = boost::json;

constexpr char kBaselinesRel[] = "docs/reference/competitive_baselines.json";
constexpr char kCalibrationRel[] = "tmp/m17_performance/calibration.json";
// The calibration of the paired design (engram-perf ab), kept apart from the sequential one.
constexpr char kAbCalibrationRel[] = "tmp/ab/calibration.json";

// The repository root: $ENGRAM_ROOT, else the first ancestor of the working directory or of
// this executable that holds the baselines file. "" when none is found.
std::string FindRepoRoot() {
  if (const char* env = std::getenv("ENGRAM_ROOT"); env != nullptr && *env != '\0') return env;
  std::vector<fs::path> starts;
  std::error_code ec;
  starts.push_back(fs::current_path(ec));
  starts.push_back(fs::read_symlink("/proc/self/exe", ec).parent_path());
  for (fs::path dir : starts) {
    for (; !dir.empty(); dir = dir.parent_path()) {
      if (fs::exists(dir / kBaselinesRel, ec)) return dir.string();
      if (dir == dir.parent_path()) break;
    }
  }
  return "";
}

Result<uint64_t> SeedOption(const std::string& text) { return ParseSeed(text); }

int Fail(const Status& st, bool json, const char* command, RunRule rule = RunRule::kNone) {
  std::fprintf(stderr, "engram-perf %s: error: %s\n", command, st.message().c_str());
  if (json) std::fputs(RenderErrorJson(st, rule).c_str(), stdout);
  return kExitError;
}

// The results directory: $ENGRAM_PERF_DIR (relative to the working directory), else
// <root>/tmp/m17_performance, as the check and compare scripts have it.
fs::path PerfDir(const std::string& root) {
  const char* env = std::getenv("ENGRAM_PERF_DIR");
  if (env != nullptr && *env != '\0') return fs::absolute(env);
  return fs::path(root.empty() ? fs::current_path().string() : root) / "tmp/m17_performance";
}

// How the capacity file names a scenario: relative to the repository when inside it.
std::string DisplayPath(const std::string& path, const std::string& root) {
  std::error_code ec;
  const fs::path abs = fs::weakly_canonical(fs::absolute(path), ec);
  if (ec || root.empty()) return path;
  const fs::path base = fs::weakly_canonical(root, ec);
  const fs::path rel = abs.lexically_relative(base);
  if (ec || rel.empty() || *rel.begin() == "..") return abs.string();
  return rel.string();
}

// The capacity file compare and headroom read: `given`, else the results directory's.
std::string CapacityPath(const std::string& given, const std::string& root) {
  return given.empty() ? (PerfDir(root) / "capacity.json").string() : given;
}

struct CompareArgs {
  std::vector<std::string> before, after;
  std::string task;
  std::optional<double> threshold;
  bool competitive = false;
  std::string baselines;
  std::string calibration;
  std::string capacity;
  bool paired = false;
  bool json = false;
  std::string seed = "0x5eedc0de";
  int resamples = 2000;
  double confidence = 0.95;
};

Result<std::vector<RunResult>> LoadAll(const std::vector<std::string>& paths) {
  std::vector<RunResult> runs;
  for (const std::string& p : paths) {
    auto r = LoadRunResult(p);
    if (!r.ok()) return r.error();
    runs.push_back(std::move(r).value());
  }
  return runs;
}

int RunCompare(const CompareArgs& a) {
  const char* cmd = "compare";
  auto seed = SeedOption(a.seed);
  if (!seed.ok()) return Fail(seed.error(), a.json, cmd);
  CompareOptions opt;
  opt.task = a.task;
  opt.competitive = a.competitive;
  opt.threshold_pct = a.threshold.value_or(a.competitive ? 10.0 : 5.0);
  opt.seed = *seed;
  opt.resamples = a.resamples;
  opt.confidence = a.confidence;
  opt.paired = a.paired;

  auto before = LoadAll(a.before);
  if (!before.ok()) return Fail(before.error(), a.json, cmd);
  auto after = LoadAll(a.after);
  if (!after.ok()) return Fail(after.error(), a.json, cmd);

  const std::string root = FindRepoRoot();
  std::optional<BaselineFile> baselines;
  if (a.competitive) {
    std::string path = a.baselines;
    if (path.empty()) {
      if (root.empty()) {
        return Fail(Status::NotFound("competitive mode needs ", kBaselinesRel,
                                     ": repository root not found; pass --baselines FILE"),
                    a.json, cmd);
      }
      path = root + "/" + kBaselinesRel;
    }
    auto b = LoadBaselines(path);
    if (!b.ok()) {
      return Fail(b.error().WithContext("competitive mode needs the competitor baselines"), a.json,
                  cmd);
    }
    baselines = std::move(b).value();
  }
  std::optional<CalibrationInfo> calibration;
  std::string calibration_note;
  if (!a.calibration.empty()) {
    auto c = LoadCalibrationInfo(a.calibration);
    if (!c.ok()) return Fail(c.error(), a.json, cmd);
    calibration = std::move(c).value();
  } else if (const std::string rel = a.paired ? kAbCalibrationRel : kCalibrationRel;
             !root.empty() && fs::exists(root + "/" + rel)) {
    auto c = LoadCalibrationInfo(root + "/" + rel);
    if (c.ok()) {
      calibration = std::move(c).value();
    } else {
      calibration_note = "calibration file ignored: " + c.error().message();
    }
  }

  // The capacity file, to name a refused baseline's sustainable rate (optional).
  std::optional<CapacityFile> capacity;
  if (const std::string path = CapacityPath(a.capacity, root); fs::exists(path)) {
    auto f = LoadCapacityFile(path);
    if (f.ok()) {
      capacity = std::move(f).value();
    } else if (!a.capacity.empty()) {
      return Fail(f.error(), a.json, cmd);
    }
  }
  const CapacityFile* cap = capacity ? &*capacity : nullptr;

  auto cmp = Compare(*before, *after, opt, baselines ? &*baselines : nullptr,
                     calibration ? &*calibration : nullptr, cap);
  if (!cmp.ok()) {
    const auto refusal = CheckBaseline(*before, cap);
    return Fail(cmp.error(), a.json, cmd, refusal ? refusal->rule : RunRule::kNone);
  }
  if (!calibration_note.empty()) cmp->notes.push_back(calibration_note);
  const std::string out = a.json ? RenderJson(*cmp) : RenderText(*cmp);
  std::fputs(out.c_str(), stdout);
  std::fflush(stdout);
  return cmp->exit_code;
}

// The exit status of a command run by std::system: its exit code, 128 + signal, or -1.
int SystemStatus(int raw) {
  if (raw == -1) return -1;
  if (WIFEXITED(raw)) return WEXITSTATUS(raw);
  if (WIFSIGNALED(raw)) return 128 + WTERMSIG(raw);
  return -1;
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char ch : s) {
    if (ch == '\'') {
      out += "'\\''";
    } else {
      out += ch;
    }
  }
  return out + "'";
}

struct CalibrateArgs {
  std::string runs_dir;
  std::string run_command;
  int runs = 0;
  int set_size = 1;
  bool paired = false;
  int subsets = 1000;
  int sweep = 0;
  double confidence = 0.95;
  std::vector<double> inject;
  std::optional<double> threshold;
  bool competitive = false;
  std::string output;
  bool json = false;
  std::string seed = "0x5eedc0de";
};

int RunCalibrate(const CalibrateArgs& a) {
  const char* cmd = "calibrate";
  auto seed = SeedOption(a.seed);
  if (!seed.ok()) return Fail(seed.error(), a.json, cmd);
  if (!a.run_command.empty()) {
    if (a.runs < 2)
      return Fail(Status::InvalidArgument("--run-command needs --runs N >= 2"), a.json, cmd);
    std::error_code ec;
    fs::create_directories(a.runs_dir, ec);
    if (ec) return Fail(Status::IOError(a.runs_dir, ": ", ec.message()), a.json, cmd);
    ::setenv("ENGRAM_PERF_DIR", a.runs_dir.c_str(), 1);
    for (int i = 1; i <= a.runs; ++i) {
      std::fprintf(stderr, "engram-perf calibrate: A/A run %d of %d: %s\n", i, a.runs,
                   a.run_command.c_str());
      const int st = SystemStatus(std::system(a.run_command.c_str()));
      if (st != 0 && st != 1) {
        return Fail(Status::Internal("A/A run ", i, " failed: the command exited ", st), a.json,
                    cmd);
      }
    }
  }
  std::vector<std::string> skipped;
  auto runs = LoadRunsDir(a.runs_dir, &skipped);
  if (!runs.ok()) return Fail(runs.error(), a.json, cmd);
  CalibrationOptions opt;
  opt.set_size = a.set_size;
  opt.paired = a.paired;
  opt.subsets = a.subsets;
  opt.inject_pct = a.inject;
  opt.compare.confidence = a.confidence;
  opt.compare.threshold_pct = a.threshold.value_or(a.competitive ? 10.0 : 5.0);
  opt.compare.seed = *seed;
  auto cal = a.sweep > 0 ? CalibrateSweep(*runs, opt, a.sweep)
                         : Calibrate(std::move(runs).value(), opt);
  if (!cal.ok()) return Fail(cal.error(), a.json, cmd);
  cal->runs_dir = a.runs_dir;
  for (const std::string& s : skipped) cal->notes.push_back("skipped " + s);

  std::string output = a.output;
  if (output.empty()) {
    const std::string root = FindRepoRoot();
    output = (root.empty() ? std::string(".") : root) + "/" +
             (a.paired ? kAbCalibrationRel : kCalibrationRel);
  }
  const std::string json = CalibrationToJson(*cal);
  if (output != "-") {
    std::error_code ec;
    if (fs::path(output).has_parent_path())
      fs::create_directories(fs::path(output).parent_path(), ec);
    const std::string tmp = output + ".tmp";
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << json;
    out.close();
    if (!out || (fs::rename(tmp, output, ec), ec)) {
      return Fail(Status::IOError(output, ": cannot write"), a.json, cmd);
    }
  }
  std::fputs(a.json ? json.c_str() : CalibrationToText(*cal).c_str(), stdout);
  if (!a.json && output != "-") std::printf("Written: %s\n", output.c_str());
  return kExitOk;
}

struct AbArgs {
  std::string base, head;
  std::optional<int> pairs;  // default: the paired calibration's recommendation, else 5
  bool competitive = false;
  int duration = 0;
  std::string task = "ab";
  std::string base_server_args, head_server_args;
  double confidence = 0.95;
  std::optional<double> threshold;
  bool skip_build = false;
  bool dry_run = false;
  bool json = false;
  std::string seed = "0x5eedc0de";
};

// Runs `command` and returns its stdout with the trailing newline removed.
Result<std::string> Capture(const std::string& command) {
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) return Status::Internal("cannot run: ", command);
  std::string out;
  char buf[256];
  while (std::fgets(buf, sizeof(buf), p) != nullptr) out += buf;
  const int st = SystemStatus(::pclose(p));
  if (st != 0) return Status::InvalidArgument("'", command, "' exited ", st);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

struct CheckArgs {
  std::string task, phase;
  bool competitive = false;
  int repeat = 0;  // 0: the script's default
  bool json = false;
};

// `engram-perf check`: the spec's check script (which builds, starts the server, runs loadtest
// and writes the files), then a summary of the result files it wrote, as text or JSON.
int RunCheck(const CheckArgs& a) {
  const char* cmd = "check";
  const std::string root = FindRepoRoot();
  if (root.empty()) {
    return Fail(Status::NotFound("check needs the repository (run inside it or set ENGRAM_ROOT)"),
                a.json, cmd);
  }
  if (a.phase != "before" && a.phase != "after") {
    return Fail(Status::InvalidArgument("phase must be 'before' or 'after', not '", a.phase, "'"),
                a.json, cmd);
  }
  const fs::path dir = PerfDir(root);
  const auto listing = [&dir] {
    std::vector<std::string> files;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      if (e.path().extension() == ".json" && e.path().filename() != "calibration.json" &&
          e.path().filename() != "capacity.json")
        files.push_back(e.path().string());
    }
    std::sort(files.begin(), files.end());
    return files;
  };
  const std::vector<std::string> before = listing();
  std::string c = ShellQuote(root + "/scripts/m17_performance_check.sh") + " " +
                  ShellQuote(a.task) + " " + a.phase + (a.competitive ? " --competitive" : "");
  if (a.repeat > 0) c += " --repeat " + std::to_string(a.repeat);
  if (a.json) c += " 1>&2";  // stdout carries the JSON alone
  int status = SystemStatus(std::system(c.c_str()));
  std::vector<std::string> written;
  for (const std::string& f : listing()) {
    if (!std::binary_search(before.begin(), before.end(), f)) written.push_back(f);
  }
  // A script that succeeded must have left a readable result: anything else is not a
  // measurement, and must not exit 0.
  if (status == 0 && written.empty()) {
    return Fail(Status::Internal("the check script exited 0 but wrote no result file in ", dir.string()),
                a.json, cmd);
  }
  if (!a.json) return status;
  json::array results;
  for (const std::string& f : written) {
    auto r = LoadRunResult(f);
    if (!r.ok()) {
      results.push_back(json::object{{"file", f}, {"error", r.error().message()}});
      if (status == 0) status = kExitError;
      continue;
    }
    results.push_back(json::object{{"file", f},
                                   {"p50_latency_ms", r->p50_latency_ms},
                                   {"p95_latency_ms", r->p95_latency_ms},
                                   {"p99_latency_ms", r->p99_latency_ms},
                                   {"overall_throughput", r->overall_throughput},
                                   {"overall_error_rate", r->overall_error_rate},
                                   {"generator_saturated", r->generator_saturated},
                                   {"server_saturated", r->server_saturated
                                                            ? json::value(*r->server_saturated)
                                                            : json::value(nullptr)},
                                   {"validation_passed", r->validation_passed}});
  }
  json::object out{{"command", "check"},
                   {"task", a.task},
                   {"phase", a.phase},
                   {"competitive", a.competitive},
                   {"exit_code", status},
                   {"results", std::move(results)}};
  std::printf("%s\n", json::serialize(out).c_str());
  return status;
}

constexpr int kDefaultAbPairs = 5;

int RunAb(const AbArgs& a) {
  const char* cmd = "ab";
  const std::string root = FindRepoRoot();
  if (root.empty() || !fs::exists(root + "/.git")) {
    return Fail(Status::NotFound("ab needs the git repository (run inside it or set ENGRAM_ROOT)"),
                a.json, cmd);
  }
  int pairs = a.pairs.value_or(0);
  if (a.pairs && pairs < 1) return Fail(Status::InvalidArgument("--pairs must be >= 1"), a.json, cmd);
  if (!a.pairs) {
    pairs = kDefaultAbPairs;
    std::string why = "no paired calibration (engram-perf calibrate --paired --sweep N)";
    if (fs::exists(root + "/" + kAbCalibrationRel)) {
      auto c = LoadCalibrationInfo(root + "/" + kAbCalibrationRel);
      if (c.ok() && c->design == "paired" && c->recommended_set_size > 0) {
        pairs = c->recommended_set_size;
        why = std::string("recommended by ") + kAbCalibrationRel;
      } else if (c.ok()) {
        why = std::string(kAbCalibrationRel) + " recommends no size";
      }
    }
    std::fprintf(stderr, "engram-perf ab: %d pairs (%s)\n", pairs, why.c_str());
  }
  auto rev = [&](const std::string& r) {
    return Capture("git -C " + ShellQuote(root) + " rev-parse --verify --quiet " +
                   ShellQuote(r + "^{commit}"));
  };
  auto base_sha = rev(a.base);
  if (!base_sha.ok())
    return Fail(Status::InvalidArgument("unknown revision '", a.base, "'"), a.json, cmd);
  auto head_sha = rev(a.head);
  if (!head_sha.ok())
    return Fail(Status::InvalidArgument("unknown revision '", a.head, "'"), a.json, cmd);
  const std::string work = root + "/tmp/ab";
  auto tree_for = [&](const std::string& sha) { return work + "/wt-" + sha.substr(0, 12); };
  const std::string base_tree = tree_for(*base_sha), head_tree = tree_for(*head_sha);

  std::vector<std::string> setup;
  for (const auto& [sha, tree] :
       {std::pair{*base_sha, base_tree}, std::pair{*head_sha, head_tree}}) {
    if (!fs::exists(tree) && std::find(setup.begin(), setup.end(), "#" + tree) == setup.end()) {
      setup.push_back("#" + tree);
      setup.push_back("git -C " + ShellQuote(root) + " worktree add --detach " + ShellQuote(tree) +
                      " " + sha);
    }
  }
  if (!a.skip_build) {
    setup.push_back("cd " + ShellQuote(base_tree) + " && scripts/build.sh release engram loadtest");
    if (head_tree != base_tree) {
      setup.push_back("cd " + ShellQuote(head_tree) +
                      " && scripts/build.sh release engram loadtest");
    }
  }
  char stamp[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(stamp, sizeof(stamp), "%Y%m%d_%H%M%S", std::localtime(&now));
  const std::string results =
      work + "/runs-" + base_sha->substr(0, 12) + "-" + head_sha->substr(0, 12) + "-" + stamp;
  // One load generator for both sides (the head's), so only the server differs.
  const char* lt_env = std::getenv("LOADTEST_BIN");
  const std::string loadtest = lt_env != nullptr && *lt_env != '\0'
                                   ? lt_env
                                   : head_tree + "/build/release/apps/loadtest/loadtest";
  std::vector<std::string> runs;
  for (const AbStep& step : AbSchedule(pairs)) {
    const std::string& tree = step.is_head ? head_tree : base_tree;
    std::string c =
        "ENGRAM_SKIP_BUILD=1 ENGRAM_BIN=" + ShellQuote(tree + "/build/release/apps/engram/engram") +
        " LOADTEST_BIN=" + ShellQuote(loadtest) + " ENGRAM_PERF_DIR=" + ShellQuote(results) +
        " ENGRAM_PERF_REPEAT=1";
    if (a.duration > 0) c += " ENGRAM_PERF_DURATION=" + std::to_string(a.duration);
    const std::string& extra = step.is_head ? a.head_server_args : a.base_server_args;
    if (!extra.empty()) c += " ENGRAM_SERVER_ARGS=" + ShellQuote(extra);
    // The head's committed check script, not the working tree's: both sides then run one
    // harness, and editing the working tree during a long ab cannot change it mid-run (bash
    // reads a script as it goes).
    c += " " + ShellQuote(head_tree + "/scripts/m17_performance_check.sh") + " " + ShellQuote(a.task) +
         (step.is_head ? " after" : " before") + (a.competitive ? " --competitive" : "");
    runs.push_back(c);
  }
  if (a.dry_run) {
    std::printf("# engram-perf ab: base %s (%s), head %s (%s), %d pair(s), order ABBA\n",
                a.base.c_str(), base_sha->c_str(), a.head.c_str(), head_sha->c_str(), pairs);
    for (const std::string& s : setup) {
      if (s[0] != '#') std::printf("%s\n", s.c_str());
    }
    for (const std::string& r : runs) std::printf("%s\n", r.c_str());
    std::printf(
        "engram-perf compare --paired --before %s/<task>_before_*.json --after "
        "%s/<task>_after_*.json\n",
        results.c_str(), results.c_str());
    return kExitOk;
  }
  for (const std::string& s : setup) {
    if (s[0] == '#') continue;
    std::fprintf(stderr, "engram-perf ab: %s\n", s.c_str());
    if (const int st = SystemStatus(std::system(s.c_str())); st != 0) {
      return Fail(Status::Internal("'", s, "' exited ", st), a.json, cmd);
    }
  }
  for (size_t i = 0; i < runs.size(); ++i) {
    std::fprintf(stderr, "engram-perf ab: run %zu of %zu: %s\n", i + 1, runs.size(),
                 runs[i].c_str());
    const int st = SystemStatus(std::system(runs[i].c_str()));
    if (st != 0 && st != 1) {
      return Fail(Status::Internal("run ", i + 1, " exited ", st, " (see ", results, ")"), a.json,
                  cmd);
    }
  }
  std::vector<std::string> before, after;
  const std::string prefix = std::string(a.competitive ? "competitive_" : "") + a.task + "_";
  for (const auto& e : fs::directory_iterator(results)) {
    const std::string name = e.path().filename().string();
    if (e.path().extension() != ".json" || name.rfind(prefix, 0) != 0) continue;
    if (name.rfind(prefix + "before_", 0) == 0) before.push_back(e.path().string());
    if (name.rfind(prefix + "after_", 0) == 0) after.push_back(e.path().string());
  }
  std::sort(before.begin(), before.end());
  std::sort(after.begin(), after.end());
  CompareArgs c;
  c.before = before;
  c.after = after;
  c.task = a.task;
  c.threshold = a.threshold;
  c.competitive = a.competitive;
  c.paired = true;
  c.confidence = a.confidence;
  c.json = a.json;
  c.seed = a.seed;
  return RunCompare(c);
}

std::atomic<bool> g_interrupted{false};
void OnInterrupt(int /*sig*/) { g_interrupted.store(true); }

struct CapacityArgs {
  std::string scenario;
  std::optional<double> start_rate;
  double min_rate = 1, max_rate = 1e6, growth = 2.0, tolerance = 0.10;
  int repeats = 3;
  double step_seconds = 15, warmup_seconds = 3, max_growth = 0.25;
  int max_steps = 40;
  double max_minutes = 60;
  std::optional<int> connections;
  std::string engram_bin;
  std::string server_args;
  bool no_pin = false;
  std::string output;
  bool json = false;
  bool quiet = false;
};

std::vector<std::string> SplitArgs(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::string StepLine(const CapacityStep& s, int index, int repeats) {
  return fmt::format(
      "step {:>2}: {:>8.0f} ops/s (run {}/{}): achieved {:.1f}, schedule lag p99 {:.3f} ms (generator "
      "{:.3f}), backlog {} (limit {:.0f}, trend {:+.1f}/s), P99 {:.2f} ms, {} errors, {} shed -> {}{}",
      index, s.rate, s.attempt, repeats, s.achieved_ops_per_sec, s.schedule_lag_p99_ms,
      s.generator_lag_p99_ms, s.backlog_end, s.backlog_limit, s.backlog_slope_per_sec,
      s.p99_latency_ms, s.errors, s.shed, s.verdict, s.reasons.empty() ? "" : " (" + s.reasons[0] + ")");
}

std::string CapacitySummary(const CapacityEntry& e, const std::string& written) {
  std::string out = fmt::format("=== Capacity: {} ({}) ===\n", e.scenario_name, e.scenario_path);
  out += fmt::format("Machine:  {}\n", e.machine.Describe());
  out += fmt::format("Server:   {} on CPUs {}{}, load generator on CPUs {}; {} start(s)\n",
                     e.server_binary, e.server_cpus.empty() ? "(not pinned)" : e.server_cpus,
                     e.server_args.empty() ? "" : ", args " + e.server_args,
                     e.loadgen_cpus.empty() ? "(not pinned)" : e.loadgen_cpus, e.restarts);
  out += fmt::format("Dataset:  {} episodes (the scenario's size at its end); steps of {:g} s after {:g} s warm-up\n",
                     e.dataset_nodes, e.step_seconds, e.warmup_seconds);
  out += fmt::format("{:>9} {:>4} {:>10} {:>11} {:>9} {:>10} {:>9}  {}\n", "rate", "run", "achieved",
                     "lag p99 ms", "backlog", "P99 ms", "shed", "verdict");
  for (const CapacityStep& s : e.steps) {
    out += fmt::format("{:>9.0f} {:>4} {:>10.1f} {:>11.3f} {:>9} {:>10.2f} {:>9}  {}\n", s.rate, s.attempt,
                       s.achieved_ops_per_sec, s.schedule_lag_p99_ms, s.backlog_end, s.p99_latency_ms, s.shed,
                       s.verdict);
  }
  out += fmt::format("Sustainable rate: {}\n", DescribeCapacity(e));
  if (e.lowest_failed_ops_per_sec) out += fmt::format("Lowest rate that failed: {:.0f} ops/s\n", *e.lowest_failed_ops_per_sec);
  out += fmt::format("Outcome: {}{}\n", e.outcome, e.note.empty() ? "" : " (" + e.note + ")");
  if (!written.empty()) out += "Written: " + written + "\n";
  return out;
}

int RunCapacity(const CapacityArgs& a) {
  const char* cmd = "capacity";
  const std::string root = FindRepoRoot();
  if (!fs::exists(a.scenario)) return Fail(Status::NotFound("scenario not found: ", a.scenario), a.json, cmd);
  if (!(a.step_seconds >= 1 && a.step_seconds <= 600)) {
    return Fail(Status::InvalidArgument("--step-seconds must lie in [1, 600]"), a.json, cmd);
  }
  if (!(a.warmup_seconds >= 0 && a.max_growth >= 0 && a.max_minutes > 0)) {
    return Fail(Status::InvalidArgument("--warmup and --max-growth must be >= 0, --max-minutes > 0"), a.json, cmd);
  }
  harness::CapacityOptions o;
  o.scenario_path = a.scenario;
  o.scenario_display = DisplayPath(a.scenario, root);
  const char* bin_env = std::getenv("ENGRAM_BIN");
  o.engram_bin = !a.engram_bin.empty()                       ? a.engram_bin
                 : bin_env != nullptr && *bin_env != '\0'    ? std::string(bin_env)
                 : root.empty()                              ? std::string("engram")
                                                             : root + "/build/release/apps/engram/engram";
  const char* args_env = std::getenv("ENGRAM_SERVER_ARGS");
  o.server_args = SplitArgs(!a.server_args.empty() ? a.server_args : args_env != nullptr ? args_env : "");
  const char* pin_env = std::getenv("ENGRAM_PIN");
  o.pin = !a.no_pin && !(pin_env != nullptr && std::string(pin_env) == "0");
  o.step_seconds = a.step_seconds;
  o.warmup_seconds = a.warmup_seconds;
  o.max_growth = a.max_growth;
  o.start_rate = a.start_rate;
  o.connections = a.connections;
  o.search.min_rate = a.min_rate;
  o.search.max_rate = a.max_rate;
  o.search.growth = a.growth;
  o.search.tolerance = a.tolerance;
  o.search.repeats = a.repeats;
  o.search.max_steps = a.max_steps;
  o.search.max_seconds = a.max_minutes * 60;
  o.quiet = a.quiet;
  o.abort = &g_interrupted;
  const fs::path dir = PerfDir(root);
  char stamp[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(stamp, sizeof(stamp), "%Y%m%d_%H%M%S", std::localtime(&now));
  o.work_dir = (dir / "capacity_runs" / (fs::path(a.scenario).stem().string() + "_" + stamp)).string();
  int index = 0;
  o.search.on_step = [&](const CapacityStep& s) {
    if (!a.quiet) std::fprintf(stderr, "%s\n", StepLine(s, ++index, a.repeats).c_str());
  };
  if (!a.quiet) {
    std::fprintf(stderr, "engram-perf capacity: %s; step runs and server logs in %s\n", o.scenario_display.c_str(),
                 o.work_dir.c_str());
  }
  std::signal(SIGINT, OnInterrupt);
  std::signal(SIGTERM, OnInterrupt);
  auto entry = harness::MeasureCapacity(o);
  if (!entry.ok()) return Fail(entry.error(), a.json, cmd);
  const std::string output = a.output.empty() ? (dir / "capacity.json").string() : a.output;
  std::error_code ec;
  if (fs::path(output).has_parent_path()) fs::create_directories(fs::path(output).parent_path(), ec);
  if (Status st = StoreCapacity(output, *entry); !st.ok()) return Fail(st, a.json, cmd);
  if (a.json) {
    CapacityFile one;
    one.path = output;
    one.Put(*entry);
    std::fputs(CapacityFileToJson(one).c_str(), stdout);
  } else {
    std::fputs(CapacitySummary(*entry, output).c_str(), stdout);
  }
  return kExitOk;
}

struct HeadroomArgs {
  std::string scenario;
  std::string capacity_file;
  double max_share = 0.5;
};

// Prints the scenario's headroom on this machine; 0 also for a warning or a note (the check
// goes on), 3 when the scenario or the capacity file cannot be read.
int RunHeadroom(const HeadroomArgs& a) {
  const char* cmd = "headroom";
  const std::string root = FindRepoRoot();
  auto scenario = workload::LoadScenario(a.scenario);
  if (!scenario.ok()) return Fail(scenario.error(), false, cmd);
  const double rate = loadgen::MeanRate(workload::ScheduleSpecFor(*scenario));
  const std::string path = CapacityPath(a.capacity_file, root);
  std::optional<CapacityFile> file;
  if (fs::exists(path)) {
    auto f = LoadCapacityFile(path);
    if (!f.ok()) return Fail(f.error(), false, cmd);
    file = std::move(f).value();
  }
  const loadgen::MachineInfo m = loadgen::ReadMachineInfo();
  const Headroom h = CheckHeadroom(file ? &*file : nullptr, path, DisplayPath(a.scenario, root),
                                   scenario->content_hash, rate, m.cpu_model, m.cores, a.max_share);
  std::printf("%s\n", h.text.c_str());
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"engram-perf: before/after performance verdicts with confidence intervals"};
  app.require_subcommand(1);

  CompareArgs cmp;
  auto* compare =
      app.add_subcommand("compare",
                         "Compare before/after loadtest results; exit 0 ok, 1 regression, "
                         "2 competitive regression, 3 error");
  compare->add_option("--before", cmp.before, "Result file(s) of the before build (repetitions)")
      ->required()
      ->expected(1, -1);
  compare->add_option("--after", cmp.after, "Result file(s) of the after build (repetitions)")
      ->required()
      ->expected(1, -1);
  compare->add_option("--task", cmp.task, "Task id shown in the report");
  compare
      ->add_option("--threshold", cmp.threshold,
                   "Regression threshold in percent (default 5, competitive 10)")
      ->check(CLI::PositiveNumber);
  compare->add_flag("--competitive", cmp.competitive,
                    "Competitive mode: 10% threshold, positioning against competitor baselines, "
                    "exit 2 on regression");
  compare->add_option("--baselines", cmp.baselines,
                      "Competitor baselines (default docs/reference/competitive_baselines.json)");
  compare->add_option("--calibration", cmp.calibration,
                      "A/A calibration file (default tmp/m17_performance/calibration.json if "
                      "present)");
  compare->add_flag("--paired", cmp.paired,
                    "before[i] and after[i] ran as an interleaved pair (engram-perf ab)");
  compare->add_flag("--json", cmp.json, "Print the comparison as JSON");
  compare->add_option("--seed", cmp.seed, "Bootstrap seed, decimal or 0x hex (default 0x5eedc0de)");
  compare->add_option("--resamples", cmp.resamples, "Bootstrap resamples (at least 2000 are used)");
  compare->add_option("--confidence", cmp.confidence,
                      "Family-wise one-sided confidence over gated metrics (default 0.95)");

  CheckArgs chk;
  auto* check = app.add_subcommand(
      "check",
      "One measurement of this build: runs scripts/m17_performance_check.sh TASK PHASE (build, "
      "server, loadtest, files in $ENGRAM_PERF_DIR) and passes its exit code on");
  check->add_option("task", chk.task, "Task id")->required();
  check->add_option("phase", chk.phase, "before or after")->required();
  check->add_flag("--competitive", chk.competitive, "The competitive scenario");
  check->add_option("--repeat", chk.repeat,
                    "Runs (default: the calibration's recommendation, else 1)")
      ->check(CLI::PositiveNumber);
  check->add_flag("--json", chk.json,
                  "Print a JSON summary of the result files written (the script's output goes "
                  "to stderr)");

  CalibrateArgs cal;
  auto* calibrate = app.add_subcommand(
      "calibrate", "A/A calibration: false-alarm rate and noise floor from runs of one build");
  calibrate->add_option("--runs-dir", cal.runs_dir, "Directory of A/A result files")->required();
  calibrate->add_option("--run-command", cal.run_command,
                        "Command that writes one result into $ENGRAM_PERF_DIR (run --runs times "
                        "first), e.g. 'ENGRAM_SKIP_BUILD=1 scripts/m17_performance_check.sh aa "
                        "before'");
  calibrate->add_option("--runs", cal.runs, "How many times to run --run-command");
  calibrate->add_option("--set-size", cal.set_size,
                        "Runs (with --paired: pairs) per side in each A/A comparison")
      ->check(CLI::PositiveNumber);
  calibrate->add_flag("--paired", cal.paired,
                      "The runs are interleaved A/B pairs of one build (engram-perf ab --base R "
                      "--head R): compare subsets of --set-size pairs as ab does");
  calibrate->add_option("--subsets", cal.subsets,
                        "With --paired: random subsets of pairs to compare when there are more "
                        "(default 1000)")
      ->check(CLI::PositiveNumber);
  calibrate->add_option("--sweep", cal.sweep,
                        "Try every set size up to N and recommend the smallest that meets the "
                        "goal (false alarms <= 1%, injected regressions of twice the threshold "
                        "caught >= 99%); --set-size is then ignored")
      ->check(CLI::PositiveNumber);
  calibrate->add_option("--confidence", cal.confidence,
                        "The compare's family-wise confidence to calibrate (default 0.95)")
      ->check(CLI::Range(0.5, 0.9999));
  calibrate->add_option("--inject", cal.inject,
                        "Also measure detection: latency increases in percent to inject into the "
                        "B side, e.g. --inject 10 --inject 25")
      ->check(CLI::PositiveNumber);
  calibrate->add_option("--threshold", cal.threshold, "Threshold in percent (default 5/10)")
      ->check(CLI::PositiveNumber);
  calibrate->add_flag("--competitive", cal.competitive, "Use the competitive 10% threshold");
  calibrate->add_option("--output", cal.output,
                        "Where to write calibration.json (default "
                        "tmp/m17_performance/calibration.json; '-' for none)");
  calibrate->add_flag("--json", cal.json, "Print the calibration as JSON");
  calibrate->add_option("--seed", cal.seed, "Bootstrap seed");

  AbArgs ab;
  auto* abc = app.add_subcommand(
      "ab", "Interleaved A/B: build two revisions in git worktrees, run them A B B A ..., compare");
  abc->add_option("--base", ab.base, "Base revision (A, before)")->required();
  abc->add_option("--head", ab.head, "Head revision (B, after)")->required();
  abc->add_option("--pairs", ab.pairs,
                  "Number of A/B pairs (default: the recommendation of tmp/ab/calibration.json, "
                  "else 5)");
  abc->add_flag("--competitive", ab.competitive, "Run the competitive scenario");
  abc->add_option("--duration", ab.duration, "Seconds per run (default: the check script's 60)");
  abc->add_option("--task", ab.task, "Task id for the result names (default ab)");
  abc->add_option("--threshold", ab.threshold, "Threshold in percent")->check(CLI::PositiveNumber);
  abc->add_option("--confidence", ab.confidence,
                  "Family-wise one-sided confidence (default 0.95; 0.99 bounds A/A false alarms "
                  "at 1% and needs at least 7 pairs)")
      ->check(CLI::Range(0.5, 0.9999));
  abc->add_option("--base-server-args", ab.base_server_args,
                  "Extra engram flags for the base's runs (ENGRAM_SERVER_ARGS)");
  abc->add_option("--head-server-args", ab.head_server_args,
                  "Extra engram flags for the head's runs, e.g. \"--inject-delay recall=1ms\" to "
                  "check that the gate catches a known slowdown");
  abc->add_flag("--skip-build", ab.skip_build, "Do not build the worktrees");
  abc->add_flag("--dry-run", ab.dry_run, "Print the plan, run nothing");
  abc->add_flag("--json", ab.json, "Print the comparison as JSON");
  abc->add_option("--seed", ab.seed, "Bootstrap seed");

  CapacityArgs capa;
  auto* capacity = app.add_subcommand(
      "capacity",
      "Find the sustainable rate of SCENARIO's real mix and dataset on this machine: starts engram "
      "itself (pinned as the check pins it, fresh data directory), preloads the dataset to its "
      "size at the scenario's end, runs constant-rate steps (grow, then bisect; a rate holds on a "
      "majority of --repeats runs) and stores the result in $ENGRAM_PERF_DIR/capacity.json. "
      "docs/capacity.md");
  capacity->add_option("scenario", capa.scenario, "Scenario file")->required();
  capacity->add_option("--start-rate", capa.start_rate, "First rate, ops/s (default: the scenario's)")
      ->check(CLI::PositiveNumber);
  capacity->add_option("--min-rate", capa.min_rate, "Lowest rate to try (default 1)")->check(CLI::PositiveNumber);
  capacity->add_option("--max-rate", capa.max_rate, "Highest rate to try (default 1e6)")->check(CLI::PositiveNumber);
  capacity->add_option("--growth", capa.growth, "Rate factor while searching upward or downward (default 2)");
  capacity->add_option("--tolerance", capa.tolerance,
                       "Bisect until the lowest failing rate is within this fraction of the highest "
                       "sustained one (default 0.10)");
  capacity->add_option("--repeats", capa.repeats,
                       "Runs per rate at most; a rate holds on a majority (default 3: 2 of 3)")
      ->check(CLI::Range(1, 9));
  capacity->add_option("--step-seconds", capa.step_seconds, "Measured seconds per run (default 15)");
  capacity->add_option("--warmup", capa.warmup_seconds, "Warm-up seconds per run, same rate (default 3)");
  capacity->add_option("--max-growth", capa.max_growth,
                       "Restart the server and preload again once the space exceeds its end size by "
                       "this fraction (default 0.25)");
  capacity->add_option("--max-steps", capa.max_steps, "Runs at most (default 40)")->check(CLI::PositiveNumber);
  capacity->add_option("--max-minutes", capa.max_minutes, "Minutes at most (default 60)");
  capacity->add_option("--connections", capa.connections, "Connections (default: the scenario's)")
      ->check(CLI::Range(1, 65536));
  capacity->add_option("--engram-bin", capa.engram_bin,
                       "Server binary (default $ENGRAM_BIN, else build/release/apps/engram/engram)");
  capacity->add_option("--server-args", capa.server_args,
                       "Extra engram flags, e.g. \"--inject-delay recall=1ms\" (default $ENGRAM_SERVER_ARGS)");
  capacity->add_flag("--no-pin", capa.no_pin,
                     "Do not pin (default: server on CPUs 0..n-2, load generator on CPU n-1; ENGRAM_PIN=0 too)");
  capacity->add_option("--output", capa.output, "Capacity file (default $ENGRAM_PERF_DIR/capacity.json)");
  capacity->add_flag("--json", capa.json, "Print the measured entry as JSON");
  capacity->add_flag("-q,--quiet", capa.quiet, "No progress lines");

  HeadroomArgs head;
  auto* headroom = app.add_subcommand(
      "headroom",
      "Print SCENARIO's rate against its stored sustainable rate on this machine: a WARNING above "
      "--max-share of it, a note naming `engram-perf capacity` when none is stored (exit 0 either way)");
  headroom->add_option("scenario", head.scenario, "Scenario file")->required();
  headroom->add_option("--capacity-file", head.capacity_file,
                       "Capacity file (default $ENGRAM_PERF_DIR/capacity.json)");
  headroom->add_option("--max-share", head.max_share, "Warn above this share of the capacity (default 0.5)")
      ->check(CLI::Range(0.01, 1.0));

  compare->add_option("--capacity", cmp.capacity,
                      "Capacity file naming the sustainable rate when a saturated baseline is "
                      "refused (default $ENGRAM_PERF_DIR/capacity.json if present)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : kExitError;
  }
  try {
    if (compare->parsed()) return RunCompare(cmp);
    if (calibrate->parsed()) return RunCalibrate(cal);
    if (abc->parsed()) return RunAb(ab);
    if (check->parsed()) return RunCheck(chk);
    if (capacity->parsed()) return RunCapacity(capa);
    if (headroom->parsed()) return RunHeadroom(head);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "engram-perf: error: %s\n", e.what());
    return kExitError;
  }
  return kExitError;
}
