// The sustainable rate of a scenario on this machine (`engram-perf capacity`, docs/capacity.md).
//
// A rate is sustainable when a constant-rate run of the scenario's own operation mix, against
// its dataset at the size the scenario reaches at its end, is judged sustainable by the one
// saturation rule (loadgen/saturation.h): schedule-lag P99 at most 1 ms and the server not
// saturated (no growing backlog, no shedding). The search:
//  1. test the start rate (the scenario's own); if it holds, multiply by `growth` until a rate
//     fails (or max_rate holds); if it fails, divide until one holds (or min_rate fails);
//  2. bisect (geometric midpoints, rounded to 3 significant digits) between the highest rate
//     that held and the lowest that failed until high / low <= 1 + tolerance.
// A rate holds on a majority of up to `repeats` runs (2 of 3 by default), stopping as soon as
// the majority is decided; a run that fails clearly (schedule-lag P99 over 100 ms, a backlog
// ending over ten times its limit, or ten times the shed limit) decides on its own. The search
// stops after max_steps runs or max_seconds, reporting what it knows.
//
// FindSustainableRate() is the search alone, over any measurement function (tests give it a
// fake one); MeasureCapacity() runs it for real: it starts the engram server itself (pinned as
// the check script pins it, on a fresh data directory), preloads, runs the steps through the
// loadgen library, restarts and preloads again when the space has grown too far, and returns
// the entry for the capacity file.
//
// Threading: both block the calling thread; MeasureCapacity pins it (see server_process.h).
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "analysis/capacity_file.h"
#include "core/status.h"

namespace engram::harness {

// What one run at one rate found.
struct StepOutcome {
  bool sustained = false;
  bool clear_failure = false;  // decisive alone (see the header comment)
  analysis::CapacityStep record;
};
// Runs the scenario at `rate` ops/s (attempt 1, 2, ... at that rate).
using MeasureStep = std::function<Result<StepOutcome>(double rate, int attempt)>;

struct SearchOptions {
  double start_rate = 0;
  double growth = 2.0;
  double tolerance = 0.10;
  int repeats = 3;
  double min_rate = 1;
  double max_rate = 1e6;
  int max_steps = 40;
  double max_seconds = 3600;
  // Seconds since the search began; default: the monotonic clock.
  std::function<double()> elapsed_seconds;
  // Called after every run (progress).
  std::function<void(const analysis::CapacityStep&)> on_step;
};

struct SearchResult {
  std::optional<double> sustainable;    // the highest rate that held
  std::optional<double> lowest_failed;  // the lowest rate that failed
  std::string outcome;  // "found", "at_max_rate", "below_min_rate", "budget_exhausted"
  std::string note;
  std::vector<analysis::CapacityStep> steps;
};

// InvalidArgument for options that make no search; a measurement's error ends the search
// with that error.
Result<SearchResult> FindSustainableRate(const SearchOptions& options, const MeasureStep& measure);

// `rate` rounded to 3 significant digits (the rates the search tries).
double RoundRate(double rate);

struct CapacityOptions {
  std::string scenario_path;     // the file to read
  std::string scenario_display;  // how the capacity file names it (repository-relative)
  std::string engram_bin;
  std::vector<std::string> server_args;
  bool pin = true;
  double step_seconds = 15;
  double warmup_seconds = 3;
  double max_growth = 0.25;  // restart once the space exceeds its end size by this fraction
  std::optional<double> start_rate;  // default: the scenario's own rate
  std::optional<int> connections;    // default: the scenario's
  SearchOptions search;              // start_rate is filled in
  std::string work_dir;              // step results, server logs (created)
  bool quiet = false;
  const std::atomic<bool>* abort = nullptr;
};

// The scenario's size at its end: the dataset's nodes (when it preloads) plus the stores of
// its warm-up and measured phase at its own rate.
uint64_t EndOfRunEpisodes(const std::string& scenario_path, std::string* why);

Result<analysis::CapacityEntry> MeasureCapacity(const CapacityOptions& options);

}  // namespace engram::harness
