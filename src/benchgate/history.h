// The performance history: every gate run can append what it measured to a SQLite file
// (default tmp/bench_history.sqlite). Rows are only ever inserted, never updated, so the file
// is an audit trail that a report or a change-point analysis can read back.
//
// Schema:
//   runs(run_id, time, commit_id, fingerprint, description, mode, verdict, label)
//   measurements(run_id, time, commit_id, fingerprint, benchmark, metric, value, verdict)
// metric is median_ns, mean_ns, ci_low_ns, ci_high_ns or sample_ns (one row per sample) in
// wall-time mode, instructions in instruction mode; verdict is set on the main metric's row
// when the run was compared against a baseline. fingerprint is FingerprintKey(fp, mode).
//
// Threading: each call opens and closes its own connection; SQLite serialises writers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "benchgate/compare.h"
#include "benchgate/results.h"
#include "core/status.h"

namespace engram::benchgate {

// Appends one run. `comparison` may be null (a measurement that was not gated).
Result<int64_t> AppendHistory(const std::string& db_path, const ResultSet& measured, Mode mode,
                              const Comparison* comparison, const std::string& label);

struct HistoryPoint {
  int64_t run_id = 0;
  std::string time, commit, fingerprint, description, mode, label, run_verdict;
  std::string benchmark, metric, verdict;
  double value = 0;
};

// All rows except raw samples, oldest run first; `benchmark` filters when not empty.
Result<std::vector<HistoryPoint>> ReadHistory(const std::string& db_path,
                                              const std::string& benchmark = "");

}  // namespace engram::benchgate
