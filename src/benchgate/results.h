// Measurements and baselines: one ResultSet is what one gate run measured on one fingerprint
// (wall-time samples and/or instructions per iteration per benchmark); the baselines file is a
// list of ResultSets, one per fingerprint.
//
// File shape (benches/regression/baselines.json), the spec's shape per set plus extensions:
//   {"version": "2.1", "sets": [{"version", "platform", "cpu", "timestamp", "commit",
//     "fingerprint": {...}, "time_metric": "cpu_time", "confidence": 0.95,
//     "baselines": {"<benchmark>": {"mean_ns", "std_dev_ns", "sample_size", "median_ns",
//        "ci_low_ns", "ci_high_ns", "processes", "samples_ns": [...], "sample_groups": [...],
//        "instructions", "instructions_iterations": [n, 2n]}}}]}
// A measurement file written by `bench-gate measure` is one set on its own.
// Versions: 2.1 added "libraries" to the fingerprint (fingerprint.h); 2.0 sets and files read
// as they are, their libraries not recorded; the spec's single-set shape (1.0) reads as one
// set. A file of a later major version is refused rather than misread.
//
// Threading: values and pure functions, apart from the file reads and writes.
#pragma once

#include <boost/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "benchgate/fingerprint.h"
#include "benchgate/gbench_json.h"
#include "core/status.h"

namespace engram::benchgate {

inline constexpr char kFormatVersion[] = "2.1";

struct BenchmarkResult {
  // Wall-time mode: time per iteration of each repetition, and the process run it came from.
  std::vector<double> samples_ns;
  std::vector<int> groups;
  // Summary of the samples (Summarize fills these).
  double mean_ns = 0, std_dev_ns = 0, median_ns = 0, ci_low_ns = 0, ci_high_ns = 0;
  int processes = 0;
  // Instruction-count mode: instructions per iteration (0 = not measured) and the two
  // iteration counts it was differenced from.
  double instructions = 0;
  std::vector<int64_t> instruction_iterations;

  bool has_wall_time() const { return !samples_ns.empty(); }
  bool has_instructions() const { return instructions > 0; }
};

struct ResultSet {
  std::string version = kFormatVersion;
  std::string platform;   // "x86_64-linux"
  std::string cpu;        // CPU model
  std::string timestamp;  // when last written
  std::string commit;     // source commit measured
  Fingerprint fingerprint;
  std::string time_metric = "cpu_time";  // or "real_time": what samples_ns holds
  double confidence = 0.95;
  std::string injected_slowdown;         // from the binaries' context; never in a baseline
  std::map<std::string, BenchmarkResult> benchmarks;

  bool HasMode(Mode mode) const;
};

// Fills mean, std_dev, median, interval and process count of every benchmark with samples.
void Summarize(ResultSet& set, int resamples = 2000, uint64_t seed = 0x5EED);

// Adds the iteration runs of Google Benchmark files (one file = one process run, group = its
// index in `files` plus `first_group`) to `set` as wall-time samples. Aggregates are skipped;
// a failed run is an error naming the benchmark.
Status AddGbenchSamples(const std::vector<GbFile>& files, const std::string& time_metric,
                        int first_group, ResultSet& set);

boost::json::object ResultSetToJson(const ResultSet& set);
Result<ResultSet> ResultSetFromJson(const boost::json::object& o);
Result<ResultSet> ReadResultSet(const std::string& path);
Status WriteResultSet(const std::string& path, const ResultSet& set);

struct BaselinesFile {
  std::vector<ResultSet> sets;
};

// A missing file reads as no sets (first run on a new project).
Result<BaselinesFile> ReadBaselines(const std::string& path);
Status WriteBaselines(const std::string& path, const BaselinesFile& file);
std::string BaselinesToText(const BaselinesFile& file);

// The set holding `mode` data that `fp`'s measurements may be compared with: its fingerprint
// differs from `fp` in no field that can change them (Differences, AnyMatters). An identical
// fingerprint is preferred, then the fewest differences. nullptr when there is none.
const ResultSet* FindBaseline(const BaselinesFile& file, const Fingerprint& fp, Mode mode);
// The set holding `mode` data with the fewest differences that matter, then the fewest in all
// (what a refusal names, and what --force compares against), or nullptr.
const ResultSet* ClosestBaseline(const BaselinesFile& file, const Fingerprint& fp, Mode mode);

// Writes the `mode` data of `measured` into the set of the same fingerprint (created if none):
// benchmarks measured replace their old values of that mode; others are kept. Returns a
// human-readable diff of what changed, for review.
std::string UpsertBaseline(BaselinesFile& file, const ResultSet& measured, Mode mode);

}  // namespace engram::benchgate
