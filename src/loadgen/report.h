// The result of a run (or of merged shard runs), and its file: docs/result_schema.md is the
// contract; this is the one writer and the reader `loadtest merge` uses.
//
// A RunReport holds the raw material — counters and HDR histograms — and every figure in the
// file is derived from it when written: overall percentiles from the pooled histogram (never
// from per-operation percentiles), per-second and per-segment figures from their interval
// histograms, which the file also carries encoded. Reading a file back gives the same raw
// material, so shard results merge exactly (histograms add) and figures are recomputed.
//
// Threading: values and pure functions.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include "core/files.h"
#include "core/histogram.h"
#include "core/status.h"
#include "loadgen/recorder.h"
#include "loadgen/saturation.h"
#include "workload/scenario.h"

namespace engram::loadgen {

inline constexpr int kSchemaVersion = 1;
// generator_saturated: the generator's own lag P99 above this (ms), see docs/loadtest.md.
inline constexpr double kSaturationLagMs = 10.0;

struct TimelineEntry {
  int64_t second = 0;  // from the start of the measured phase
  uint64_t target_ops = 0;  // scheduled (intended start in this second)
  uint64_t sent_ops = 0;    // actually sent in this second
  uint64_t ops = 0;         // completed in this second
  uint64_t errors = 0;
  std::string latency_histogram;  // encoded, completions of this second
  std::string lag_histogram;      // encoded, schedule lag of the sends of this second
};

struct Segment {
  int64_t start_second = 0, end_second = 0;  // [start, end)
  uint64_t ops = 0, errors = 0;
  std::string latency_histogram;  // encoded
};

struct OpReport {
  uint64_t count = 0, success = 0, errors = 0;
  Histogram latency;  // ns
};

struct DatasetReport {
  uint64_t nodes_requested = 0, nodes_loaded = 0, verified_count = 0, edges_loaded = 0;
  uint64_t edges_skipped = 0, leftover_episodes = 0;
  double load_seconds = 0;
  bool preloaded = false;
  std::vector<std::string> spaces;
  std::vector<std::string> warnings;
  int recall_k = 0;
  uint64_t recall_samples = 0;
  double recall_at_k = 0;
};

struct ValidationLimits {
  std::optional<double> p99_latency_ms;
  std::optional<double> throughput_ops_sec;
  std::optional<double> max_error_rate;
};

struct ValidationCheck {
  std::string name;
  double limit = 0;
  double actual = 0;
  bool passed = false;
};

struct RunReport {
  std::string config_name;
  double elapsed_seconds = 0;
  std::array<OpReport, workload::kNumOpKinds> kinds;
  Histogram latency;       // pooled, ns
  Histogram service_time;  // pooled, ns
  Histogram schedule_lag;  // ns
  Histogram generator_lag; // ns
  std::array<uint64_t, kNumErrorKinds> errors_by_kind{};

  double target_ops_per_sec = 0;
  uint64_t scheduled = 0, sent = 0;
  int64_t peak_inflight = 0, peak_outstanding = 0;
  double generator_cpu_percent = 0;
  bool generator_saturated = false;
  // Whether the server kept up (saturation.h): set at the end of a run, recomputed from the
  // file's own timeline when a result is read or merged.
  SaturationAssessment saturation;
  uint64_t retries = 0, late_records = 0;

  std::vector<TimelineEntry> timeline;
  std::vector<Segment> segments;
  double warmup_seconds = 0;
  uint64_t warmup_ops = 0, warmup_errors = 0;
  DatasetReport dataset;
  ValidationLimits limits;
  boost::json::object context;
  std::vector<std::string> error_samples;

  uint64_t total_operations() const;
  uint64_t total_errors() const;
  double throughput() const;
  double error_rate() const;
};

std::vector<ValidationCheck> Validate(const RunReport& r);
bool ValidationPassed(const RunReport& r);

// The saturation rule of docs/loadtest.md, from the report's own numbers.
bool GeneratorSaturated(const RunReport& r, int connections);
// The connections (in-process: workers) recorded in the report's context; 0 when absent.
int ContextConnections(const RunReport& r);

boost::json::value ToJson(const RunReport& r);
Result<RunReport> FromJson(const boost::json::value& v);

// Sums counts, merges histograms, timelines (by second) and segments (by start); limits of
// throughput add (each shard checks its share). InvalidArgument for no inputs or different
// scenarios (config_name or scenario_hash).
Result<RunReport> MergeReports(const std::vector<RunReport>& parts, const std::vector<std::string>& sources);

// The human summary printed at the end of a run and by `loadtest merge`.
std::string FormatSummary(const RunReport& r);

using engram::ReadFile;             // core/files.h
using engram::WriteFileAtomically;  // core/files.h
Result<RunReport> ReadReport(const std::string& path);

}  // namespace engram::loadgen
