// Did the server keep up? The rule that marks a run `server_saturated` (docs/loadtest.md
// "Server saturation"), and the one definition of a sustainable rate that `engram-perf
// capacity` searches with. Both call AssessSaturation(); nothing else decides either.
//
// A run is server-saturated when any of these holds (limits in SaturationLimits, written into
// every result's `saturation.limits`):
//  1. lag:      the schedule-lag P99 of the measured phase is above 1 ms AND more than twice the
//               generator's own lag P99, so most of the lateness was waiting for a connection the
//               server still held (its backpressure), not the generator being late;
//  2. backlog:  the backlog (operations due by the end of a second minus operations completed
//               by then) ends the schedule above its limit AND its least-squares trend over the
//               schedule rose by more than that limit: the queue grew over the run. The limit is
//               max(connections, 0.1 s x target rate) plus what the generator's own lag P99
//               explains (target rate x that lag), so a late generator alone cannot trip it;
//  3. overload: shed answers (429/503 with Retry-After) and timeouts are more than 0.1% of the
//               measured operations.
// A rate is *sustainable* when the run is not server-saturated and its schedule-lag P99 is at
// most 1 ms whoever caused the lag (a late generator proves nothing about the server).
//
// It reads only what every result file holds (per-second target_ops, ops and lag, the lag
// totals, errors by kind), so it can be re-run on a file written earlier.
//
// Threading: values and pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

namespace engram::loadgen {

struct RunReport;

struct SaturationLimits {
  double lag_p99_ms = 1.0;       // schedule-lag P99 over the measured phase, at most
  double backlog_seconds = 0.1;  // backlog limit: this many seconds of the target rate...
                                 // ...but never below the connections
  double overload_share = 0.001; // shed + timed-out operations, at most this share
};

// What the rule reads. SaturationInputOf() fills it from a run; tests build it by hand.
struct SaturationInput {
  double target_ops_per_sec = 0;
  int connections = 0;  // connections (in-process: workers)
  double schedule_lag_p99_ms = 0;
  double generator_lag_p99_ms = 0;
  uint64_t operations = 0;  // measured operations completed (success + error)
  uint64_t shed = 0;        // answered 429/503 with Retry-After
  uint64_t timeouts = 0;
  std::vector<uint64_t> target_ops;  // per second of the measured phase: intended starts
  std::vector<uint64_t> completed;   // per second: completions
  std::vector<double> lag_p99_ms;    // per second: schedule-lag P99 of its sends (may be empty)
};

struct SaturationAssessment {
  SaturationLimits limits;
  bool server_saturated = false;
  std::vector<std::string> reasons;  // one per rule that fired; empty when the server kept up

  // Rule 1.
  double schedule_lag_p99_ms = 0;
  double generator_lag_p99_ms = 0;
  bool lag_over_limit = false;   // schedule-lag P99 above the limit, whoever caused it
  bool lag_from_server = false;  // ... and above twice the generator's own lag P99
  int seconds_lag_over_limit = 0;            // seconds whose own lag P99 was over the limit
  int64_t first_second_lag_over_limit = -1;  // -1: none
  // Rule 2.
  int scheduled_seconds = 0;   // seconds of the measured phase with operations due
  int64_t backlog_end = 0;     // at the end of the last scheduled second
  int64_t backlog_peak = 0;    // largest over the scheduled seconds
  double backlog_slope_per_sec = 0;  // least-squares trend over the scheduled seconds
  double backlog_limit = 0;
  bool backlog_growing = false;
  // Rule 3.
  uint64_t shed = 0, timeouts = 0;
  double overload_share = 0;  // (shed + timeouts) / operations
  bool overloaded = false;

  // The sustainable-rate predicate of engram-perf capacity.
  bool sustainable() const { return !server_saturated && !lag_over_limit; }
  // One line: "kept up: ..." or "SATURATED: reason; reason".
  std::string Summary() const;
};

SaturationAssessment AssessSaturation(const SaturationInput& in, const SaturationLimits& limits = {});
SaturationInput SaturationInputOf(const RunReport& r, int connections);
SaturationAssessment AssessSaturation(const RunReport& r, int connections, const SaturationLimits& limits = {});

// The result file's `saturation` object (docs/result_schema.md).
boost::json::object SaturationToJson(const SaturationAssessment& s);

}  // namespace engram::loadgen
