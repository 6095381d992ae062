// RunResult: the part of a loadtest result file (docs/result_schema.md, schema_version 1) that
// the comparison needs, loaded and checked.
//
// Loading is strict: a file that is missing, is not JSON, lacks a field the comparison reads,
// carries another schema version or holds an undecodable histogram is refused with a Status
// that names the file and the field. Fields the comparison does not read are not checked.
//
// Threading: values; safe to copy between threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "analysis/sparse_histogram.h"
#include "core/status.h"

namespace engram::analysis {

// One time block of the measured phase (the `segments` array).
struct Segment {
  double start_second = 0;
  double end_second = 0;
  uint64_t ops = 0;
  uint64_t errors = 0;
  SparseHistogram latency;  // units of the encoded histogram (Engram records nanoseconds)

  double seconds() const { return end_second - start_second; }
};

// One entry of validation.checks.
struct ValidationCheck {
  std::string name;
  double limit = 0;
  double actual = 0;
  bool passed = true;
};

struct RunResult {
  std::string path;  // where it was loaded from ("<memory>" when parsed from text)

  // Top-level fields (the earlier system's names and units).
  std::string config_name;
  double elapsed_seconds = 0;
  uint64_t total_operations = 0;
  uint64_t total_errors = 0;
  double overall_throughput = 0;  // ops/s
  double overall_error_rate = 0;  // fraction
  double p50_latency_ms = 0;
  double p95_latency_ms = 0;
  double p99_latency_ms = 0;

  // rate
  double target_ops_per_sec = 0;  // 0 when the schedule had no target (unbounded)
  double achieved_ops_per_sec = 0;
  bool generator_saturated = false;
  // rate.server_saturated: the server could not keep up (docs/loadtest.md "Server
  // saturation"). nullopt when the file predates the field (an older loadtest): unknown.
  std::optional<bool> server_saturated;
  std::vector<std::string> saturation_reasons;  // saturation.reasons, when given
  double schedule_lag_p99_ms = 0;               // rate.schedule_lag_ms.p99 (0 when absent)

  // context
  std::string scenario_path;  // may be empty
  std::string scenario_hash;
  std::string seed_text;   // as written, e.g. "0xdeadbeef"
  uint64_t seed = 0;       // parsed
  std::string time_utc;    // may be empty
  std::string host;        // may be empty
  std::string cpu_model;   // may be empty
  int cores = 0;           // context.cores, 0 when absent
  std::string git_commit;  // may be empty

  bool validation_passed = true;
  std::vector<ValidationCheck> checks;
  std::vector<Segment> segments;

  // The scenario's file name without directory and extension ("hybrid_production_100k"),
  // or "" when the result does not name its scenario file.
  std::string ScenarioStem() const;
  // The max_error_rate check, if the scenario set one.
  std::optional<ValidationCheck> ErrorRateCheck() const;
  // "expected_p99_latency_ms (limit 10, actual 1503)" for each failed check, joined by ", ".
  std::string FailedChecks() const;
  // "server_saturated: reason; reason" (or just the flag when the file gives no reasons).
  std::string SaturationText() const;
  // True when the server, not the schedule or the client, limited the rate: the generator was
  // not saturated and achieved fell below 90% of a positive target.
  bool ServerLimited() const;
};

// Parses a result document. `name` is used in messages and stored as `path`.
Result<RunResult> ParseRunResult(std::string_view json_text, std::string_view name);
// Reads and parses a result file.
Result<RunResult> LoadRunResult(const std::string& path);

// Parses a seed written as decimal or 0x-prefixed hex (the loadtest --seed syntax).
Result<uint64_t> ParseSeed(std::string_view text);

}  // namespace engram::analysis
