// Measuring: runs Google Benchmark binaries and turns their output into a ResultSet.
//
// Wall time: `processes` launches of every binary, interleaved (binary A, binary B, A, B, ...),
// each with `repetitions` repetitions of min_time seconds; every repetition is a sample, tagged
// with its process run, which is the independent unit the bootstrap resamples.
//
// Instruction counts: each benchmark runs alone under `valgrind --tool=callgrind` twice, with
// ENGRAM_BENCH_FIXED_ITERATIONS=n and =2n (the binaries register every benchmark with exactly
// that many iterations, see benches/regression/fixed_iterations.cc and engine_bench.cc).
// Only instructions inside the benchmark body are collected (callgrind --toggle-collect on the
// benchmark functions, by the Google naming convention BM_Name(benchmark::State&, ...)): start-up
// code that calibrates timers loops a time-dependent number of times (libhwy's
// TimerResolution, the framework's CPU-frequency probe) and would make totals differ by
// thousands of instructions between identical runs. Instructions per iteration =
// (Ir(2n) - Ir(n)) / n: the body's one-time work (lazy input generation, the first dispatch,
// counters) is the same in both runs and cancels exactly. The
// dispatched SIMD target under Valgrind is read from the run's JSON context into the
// fingerprint. Counts on the same binary and fingerprint repeat exactly (or to within a few
// instructions per million), so one run per side is enough.
//
// Threading: blocks while the child processes run; one call at a time per work_dir.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "benchgate/fingerprint.h"
#include "benchgate/results.h"
#include "core/status.h"

namespace engram::benchgate {

using EnvList = std::vector<std::pair<std::string, std::string>>;

struct WallTimeOptions {
  std::vector<std::string> binaries;
  EnvList env;                       // extra environment for the benchmark processes
  std::string filter = ".";          // Google Benchmark regex
  int processes = 5;
  int repetitions = 3;
  double min_time = 0.05;            // seconds per repetition (Debian's 1.7: no "s" suffix)
  std::string time_metric = "cpu_time";
  std::string work_dir = "tmp/benchgate";
  bool verbose = true;               // progress on stderr
};

struct InstructionOptions {
  std::vector<std::string> binaries;
  EnvList env;
  std::string tag;                   // prefix of the raw output files (A/B runs)
  std::string filter = ".";
  int64_t iterations = 4;            // n; the second run uses 2n
  std::string valgrind = "valgrind";
  std::string work_dir = "tmp/benchgate";
  bool patch_rdtscp = true;          // only acted on when the CPU hides RDTSCP (callgrind.h)
  // Callgrind collects only inside functions matching this (and what they call). One pattern:
  // callgrind toggles on every entry, so nested matches would switch collection off again.
  std::string collect_function = "*BM_*(benchmark::State&*";
  bool verbose = true;
};

// `host` is DetectHost() (or a test's stand-in); the result carries it, with the libraries the
// binaries load (libraries.h) and, in instruction mode, the Valgrind fields filled in.
Result<ResultSet> MeasureWallTime(const WallTimeOptions& options, const Fingerprint& host);

// A/B wall time in one job: the two sides' process runs alternate (A B, B A, A B, ...), so
// both see the same machine load, drift and neighbours; this is what makes wall time usable on
// a shared machine (a stored baseline from another hour is not). `options` gives the shared
// settings and side A's binaries and env; `b_binaries` and `b_env` side B's. Returns {A, B}.
Result<std::pair<ResultSet, ResultSet>> MeasureWallTimeAB(const WallTimeOptions& options,
                                                          const std::vector<std::string>& b_binaries,
                                                          const EnvList& b_env,
                                                          const Fingerprint& host);
Result<ResultSet> MeasureInstructions(const InstructionOptions& options, const Fingerprint& host);

// The benchmarks of `binary` matching `filter`, as registered (option suffixes removed).
Result<std::vector<std::string>> ListBenchmarks(const std::string& binary, const std::string& filter);

// A Google Benchmark filter matching exactly `name` (with or without an "/iterations:n" suffix).
std::string ExactFilter(const std::string& name);

// Fills platform, cpu, timestamp and commit of a fresh set.
void StampResultSet(ResultSet& set, const Fingerprint& fp, const std::string& commit);

}  // namespace engram::benchgate
