// The open-loop runner: one timing wrapper around every driver.
//
// Run() checks the target, preloads (or finds) the dataset, then sends every operation of the
// schedule at its intended start time whether or not earlier ones have returned, waits for the
// last one to complete or time out, computes search recall on a sample, and returns the
// report of docs/result_schema.md.
//
// Sending (why it is built this way, see LESSONS.md "Coordinated omission"):
//  - Intended start times come from the ArrivalSchedule, fixed before the run; the sender
//    sleeps to each absolute deadline on the monotonic clock (clock_nanosleep, then a short
//    spin) and never waits for a response. Operations are generated ahead of time on worker
//    threads (pipeline.h), so generation never delays a send.
//  - A driver that keeps the schedule itself (Driver::RunsSchedule(): the HTTP driver with one
//    io thread) gets the whole schedule instead, and its event loop does the sending, with the
//    same stamps (intended, deadline, dispatch) and the same accounting.
//  - latency = completion - intended start; service time = completion - actual send;
//    schedule lag = actual send - intended start. A request that finds every connection busy
//    waits in the driver's queue with its latency clock already running.
//  - The generator's own lag (until it sent a request or queued it behind busy connections)
//    decides `generator_saturated`; a loud warning is printed when it is set.
//  - Nothing is capped or dropped: every scheduled operation completes (success or error,
//    timeouts included) or, if the run is aborted, is counted as unsent.
//  - Warm-up operations run on the same schedule before the measured phase and are counted
//    separately, outside every figure.
//
// Threading: Init() and Run() from one thread; Run() blocks and starts its own threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "core/status.h"
#include "loadgen/driver.h"
#include "loadgen/report.h"
#include "workload/arrival.h"
#include "workload/scenario.h"

namespace engram::loadgen {

enum class ProgressMode {
  kAuto,   // an updating line when stderr is a terminal, else a line every 10 s
  kTty,    // always the updating line
  kLines,  // a line every 10 s
  kQuiet,  // nothing but warnings
};

struct RunOptions {
  std::optional<double> duration_seconds;  // --duration: the measured duration
  std::optional<double> target_rate;       // --target-rate: scale the curve to this mean
  std::optional<uint64_t> seed;            // --seed
  std::optional<double> warmup_seconds;    // --warmup
  std::optional<int> connections;          // --connections (default: the scenario's)
  bool preload = true;                     // false: --no-preload
  bool allow_leftover = false;             // --allow-leftover-data
  uint32_t shard_index = 0, shard_count = 1;
  int64_t timeout_ms = 10000;              // a request's deadline is intended start + this
  int generator_threads = 2;
  size_t max_ahead = 4096;                 // requests generated ahead, at most
  size_t preload_batch = 500;
  int preload_concurrency = 4;
  double preload_wait_seconds = 600;       // shards i > 0 wait this long for shard 0's preload
  int recall_samples = 200;                // sampled Search operations, at most
  uint64_t recall_memory_bytes = uint64_t{2} << 30;
  int64_t spin_ns = 50'000;                // spin this close to a deadline instead of sleeping
                                           // (at most a quarter of the gap between operations)
  int segment_seconds = 10;
  bool check_memory = true;                // refuse a dataset whose raw vectors exceed MemAvailable
  // Operation k of the schedule is operation first_op_index + k of the op stream (default 0:
  // the scenario's own operations). Runs against one server that must not repeat each other's
  // stores ("s<index>" ids), such as the steps of engram-perf capacity, start where the last
  // one ended.
  uint64_t first_op_index = 0;
  ProgressMode progress = ProgressMode::kAuto;
  // The loud warnings when the generator or the server could not keep up (off for callers
  // that judge every run themselves, as engram-perf capacity does).
  bool saturation_warnings = true;
  const std::atomic<bool>* abort = nullptr;  // set (e.g. by SIGINT) to stop sending
};

// "42", "0x2A" (any case, underscores allowed) -> value; InvalidArgument otherwise.
Result<uint64_t> ParseSeed(std::string_view text);
// "i/n" with 0 <= i < n -> (i, n).
Result<std::pair<uint32_t, uint32_t>> ParseShard(std::string_view text);
// Multiplies every rate of the scenario (arrival, phases, warm-up rate) by `factor`.
void ScaleRates(workload::Scenario* scenario, double factor);
// The mean offered rate of the measured schedule, ops/s (all shards together).
double MeanRate(const workload::ScheduleSpec& spec);

class Runner {
 public:
  Runner(workload::Scenario scenario, RunOptions options, Driver* driver);

  // Applies the overrides (seed, target rate, warm-up, connections) and builds the schedule.
  // InvalidArgument for values that make no run (a usage error).
  Status Init();
  // The run. Errors mean the run could not happen (unreachable server, preload failed).
  Result<RunReport> Run();

  const workload::Scenario& scenario() const { return scenario_; }
  const workload::ScheduleSpec& schedule() const { return spec_; }
  int connections() const { return connections_; }
  double rate_factor() const { return rate_factor_; }

 private:
  bool Aborted() const { return options_.abort != nullptr && options_.abort->load(); }
  void Say(const std::string& line) const;

  workload::Scenario scenario_;
  RunOptions options_;
  Driver* driver_;
  workload::ScheduleSpec spec_;
  double rate_factor_ = 1.0;
  int connections_ = 32;
  bool tty_ = false;
  bool quiet_ = false;
  bool initialized_ = false;
};

}  // namespace engram::loadgen
