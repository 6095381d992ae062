// Recording completions without losing any and without a shared lock on the hot path.
//
// Every thread that reports sends or completions (HTTP io threads, in-process workers) gets its
// own Recorder: per operation kind a latency histogram (completion - intended start) and a
// service-time histogram (completion - actual send), the schedule-lag histograms, error
// counters, and a small ring of per-second interval histograms. Its mutex is only ever
// contended by the once-a-second harvest, so recording costs an uncontended lock and a few
// histogram increments.
//
// Why latency from the *intended* start: a server that stalls for one second must show up as
// the ~rate operations that were due during the stall all being late, not as one slow request
// (coordinated omission, LESSONS.md). Service time, from the actual send, is what a
// closed-loop client would have reported; it is kept beside latency so the difference shows.
//
// The per-second timeline: Harvest(s) merges every recorder's interval data for second s
// (seconds counted from the start of the measured phase; completions keyed by completion
// time, sends and lag by send time) and resets it. A record that arrives for a second already
// harvested is folded into the next one and counted in late_records(), never dropped.
//
// Threading: RecordSent/RecordDone from any thread; Harvest and Collect from one thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "core/histogram.h"
#include "loadgen/driver.h"
#include "workload/scenario.h"

namespace engram::loadgen {

inline constexpr int kNumErrorKinds = 7;  // ErrorKind values, kNone included

struct OpTotals {
  uint64_t count = 0;    // completed (success + errors)
  uint64_t success = 0;
  uint64_t errors = 0;
  Histogram latency;     // ns, completion - intended start (errors and timeouts included)
  Histogram service;     // ns, completion - actual send (sent operations only)
};

// Everything recorded, merged over all threads.
struct Totals {
  std::array<OpTotals, workload::kNumOpKinds> kinds;
  Histogram schedule_lag;    // ns, actual send - intended start (measured, sent operations)
  Histogram generator_lag;   // ns, the part of the lag the generator caused (see docs)
  std::array<uint64_t, kNumErrorKinds> errors_by_kind{};
  uint64_t sent = 0;         // measured operations actually sent
  uint64_t warmup_ops = 0;
  uint64_t warmup_errors = 0;
  uint64_t late_records = 0;
};

// One second of the measured phase, merged over all threads.
struct SecondData {
  int64_t second = -1;
  Histogram latency;  // completions in this second
  Histogram lag;      // schedule lag of the sends in this second
  uint64_t ops = 0, errors = 0, sent = 0;
};

class RecorderSet {
 public:
  // `measured_start_ns`: absolute MonoNanos of second 0.
  explicit RecorderSet(int64_t measured_start_ns);
  ~RecorderSet();
  RecorderSet(const RecorderSet&) = delete;
  RecorderSet& operator=(const RecorderSet&) = delete;

  void RecordSent(const Request& r);
  void RecordDone(const Request& r);

  // Merges and resets the interval data of every second <= s (anything older that arrived late
  // is folded in). Afterwards records for seconds <= s go to s + 1.
  SecondData Harvest(int64_t s);
  // Merges the totals of every recorder. Call after the run has quiesced.
  Totals Collect() const;

  int64_t measured_start_ns() const { return measured_start_ns_; }
  int64_t SecondOf(int64_t mono_ns) const;

 private:
  class Recorder;
  Recorder* Local();

  const uint64_t id_;
  const int64_t measured_start_ns_;
  std::atomic<int64_t> harvested_upto_{0};  // seconds below this have been harvested
  mutable std::mutex mu_;                   // guards recorders_
  std::vector<std::unique_ptr<Recorder>> recorders_;
  std::atomic<uint64_t> late_{0};
};

}  // namespace engram::loadgen
