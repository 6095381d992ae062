// Reading Google Benchmark's JSON output (--benchmark_format=json / --benchmark_out).
//
// The format: a "context" object (host, CPU, library build type, plus whatever a binary added
// with AddCustomContext, e.g. our "simd_target") and a "benchmarks" array with one entry per
// run ("run_type": "iteration") and per aggregate ("run_type": "aggregate"). Failed runs carry
// "error_occurred": true and are kept, with their message, rather than dropped.
//
// Threading: plain values and pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace engram::benchgate {

struct GbRun {
  std::string name;           // as reported, e.g. "decay_calculation_10000m/iterations:8"
  std::string benchmark;      // NormalizeBenchmarkName(run_name)
  bool aggregate = false;     // run_type == "aggregate" (mean, median, stddev, cv)
  std::string aggregate_name;
  int64_t repetition_index = 0;
  int64_t iterations = 0;
  double real_time_ns = 0;    // per iteration, converted from time_unit
  double cpu_time_ns = 0;
  bool error = false;
  std::string error_message;
  std::map<std::string, double> counters;  // every other numeric field (user counters)
};

struct GbFile {
  std::map<std::string, std::string> context;  // scalar context entries as text
  std::vector<GbRun> runs;
};

// Drops the suffixes Google Benchmark adds to a run name for its options ("/iterations:8",
// "/repeats:5", "/min_time:0.050", "/threads:1", "/real_time", ...) so the name matches the
// registered one: "engine_search_10k_768d/iterations:4" -> "engine_search_10k_768d".
std::string NormalizeBenchmarkName(std::string_view run_name);

Result<GbFile> ParseGbenchJson(std::string_view text);
Result<GbFile> ReadGbenchJsonFile(const std::string& path);

// Nanoseconds per `unit` ("ns", "us", "ms", "s"); 0 for an unknown unit.
double NanosPerUnit(std::string_view unit);

}  // namespace engram::benchgate
