// Arrival processes: the intended start time of every operation of a run.
//
// Why intended times: latency is measured from when an operation *should* have started, so a
// server stall shows up as many late operations instead of one slow one (coordinated
// omission; see LESSONS.md). The schedule never waits for responses.
//
// How: a scenario's patterns define a rate curve r(t) over the run (warm-up first, then the
// measured phases). Its integral Lambda(t) counts expected operations. Operation k is placed
// where Lambda reaches a target T_k: with even spacing T_k = k (so a constant rate r gives
// exactly k / r); with Poisson spacing T_k is a sum of Exp(1) draws, which makes the arrivals
// an (inhomogeneous) Poisson process with rate r(t). The Exp(1) draw for operation k comes
// from Rng::Stream(Mix64(seed, kArrivalStreamTag), k), so the schedule depends only on the
// scenario and its seed.
//
// Sharding: operation k belongs to shard k % n. n generators with shards 0..n-1 emit disjoint
// subsets whose union is exactly the unsharded schedule (same indices, same offsets).
//
// Threading: a RateCurve is immutable after construction and may be shared; an
// ArrivalSchedule is a cursor, one per thread.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "workload/scenario.h"

namespace engram::workload {

// Separates the arrival stream from the op stream, which uses Rng::Stream(seed, index).
inline constexpr uint64_t kArrivalStreamTag = 0x4152524956414C53ULL;  // "ARRIVALS"

// Everything the schedule depends on.
struct ScheduleSpec {
  uint64_t seed = kDefaultSeed;
  double warmup_seconds = 0;
  ArrivalPattern warmup;      // constant rate (with a spacing) used during warm-up
  std::vector<Phase> phases;  // the measured part, in order
};

// The scenario's schedule. `measured_seconds` overrides the measured duration (a CLI
// --duration): a shorter run cuts the phases off; a longer one continues the last phase
// (a ramp then holds its to_rate). The warm-up runs at [warmup] rate, or else at the mean
// rate of the first measured phase, with that phase's spacing.
ScheduleSpec ScheduleSpecFor(const Scenario& scenario,
                             std::optional<double> measured_seconds = std::nullopt);

// The rate curve r(t) and its integral, t in seconds from the start of the warm-up.
class RateCurve {
 public:
  explicit RateCurve(const ScheduleSpec& spec);

  double RateAt(double t) const;
  // Integral of r over [0, t]: the expected number of operations started before t.
  double Integral(double t) const;
  double end_seconds() const { return end_; }
  double measured_start_seconds() const { return measured_start_; }

  // One stretch of the curve with a closed form (internal, exposed for the schedule).
  struct Piece {
    enum class Shape { kLinear, kBurst, kSine } shape = Shape::kLinear;
    double t0 = 0, t1 = 0;            // absolute seconds
    double lambda0 = 0, lambda1 = 0;  // Integral(t0), Integral(t1)
    bool poisson = false;
    bool warmup = false;
    // kLinear: rate r0 at t0 to r1 at t1. kBurst: burst rate r1 for the first `on` seconds of
    // every `period`, base rate r0 otherwise. kSine: r0 + r1 * sin(2 pi tau / period).
    double r0 = 0, r1 = 0, on = 0, period = 0;

    double Rate(double tau) const;      // tau = t - t0
    double Integral(double tau) const;  // over [t0, t0 + tau]
    // The tau at which Integral(tau) == x, for 0 <= x <= lambda1 - lambda0.
    double Invert(double x) const;
  };
  const std::vector<Piece>& pieces() const { return pieces_; }

 private:
  std::vector<Piece> pieces_;
  double end_ = 0;
  double measured_start_ = 0;
};

// Expected number of operations in the schedule (the integral of the rate), with or without
// the warm-up.
double ExpectedOperations(const ScheduleSpec& spec, bool include_warmup);

struct ScheduledOp {
  uint64_t index = 0;     // position in the whole schedule (warm-up first); the op stream index
  int64_t offset_ns = 0;  // intended start, from the start of the warm-up
  bool warmup = false;    // true: not part of the measured run
};

// Streams the schedule in order of index (offsets are non-decreasing) without storing it.
class ArrivalSchedule {
 public:
  // REQUIRES: shard_count >= 1 and shard_index < shard_count.
  explicit ArrivalSchedule(const ScheduleSpec& spec, uint32_t shard_index = 0,
                           uint32_t shard_count = 1);

  // The next operation of this shard; false when the schedule is over.
  bool Next(ScheduledOp* op);
  // The same, offset only.
  bool Next(int64_t* offset_ns);

  // Where the measured run starts and the whole schedule ends, from the start of warm-up.
  int64_t measured_start_ns() const { return measured_start_ns_; }
  int64_t end_ns() const { return end_ns_; }
  const RateCurve& curve() const { return curve_; }

 private:
  void AdvanceTarget();  // T_{k+1} from T_k
  RateCurve curve_;
  uint64_t arrival_seed_;
  uint32_t shard_index_, shard_count_;
  uint64_t next_index_ = 0;  // index of the op whose target is target_
  double target_ = 0;
  size_t piece_ = 0;
  bool done_ = false;
  int64_t measured_start_ns_ = 0;
  int64_t end_ns_ = 0;
};

// Test and report helper: operations per whole second of the measured run (entry s counts
// offsets in [s, s+1) seconds after the measured start), or of the whole schedule including
// warm-up when measured_only is false.
std::vector<uint64_t> CountPerSecond(const ScheduleSpec& spec, bool measured_only = true);

}  // namespace engram::workload
