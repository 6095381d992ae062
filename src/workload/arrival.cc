#include "workload/arrival.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/random.h"
#include "core/status.h"

namespace engram::workload {

namespace {

constexpr double kTwoPi = 2.0 * std::numbers::pi;

bool IsPoisson(const ArrivalPattern& p) {
  return p.spacing == Spacing::kPoisson || p.kind == PatternKind::kPoisson ||
         p.kind == PatternKind::kExponential;
}

RateCurve::Piece Linear(double t0, double d, double r0, double r1) {
  RateCurve::Piece p;
  p.shape = RateCurve::Piece::Shape::kLinear;
  p.t0 = t0;
  p.t1 = t0 + d;
  p.r0 = r0;
  p.r1 = r1;
  return p;
}

// Appends the pieces of one phase starting at t0.
void AppendPhase(const Phase& phase, double t0, std::vector<RateCurve::Piece>* out) {
  const ArrivalPattern& a = phase.pattern;
  const double d = phase.duration_sec;
  const bool poisson = IsPoisson(a);
  const size_t first = out->size();
  switch (a.kind) {
    case PatternKind::kConstant:
    case PatternKind::kPoisson:
    case PatternKind::kExponential:
      out->push_back(Linear(t0, d, a.rate, a.rate));
      break;
    case PatternKind::kRamp:
      out->push_back(Linear(t0, d, a.from_rate, a.to_rate));
      break;
    case PatternKind::kStep: {
      const size_t n = a.rates.size();
      double start = 0;
      for (size_t j = 0; start < d; ++j) {
        const bool last = j + 1 >= n;
        const double end = last ? d : std::min(static_cast<double>(j + 1) * a.step_sec, d);
        const double r = a.rates[std::min(j, n - 1)];
        RateCurve::Piece p = Linear(t0 + start, 0, r, r);
        p.t1 = t0 + end;
        out->push_back(p);
        start = end;
      }
      // Pieces share boundaries exactly: the next piece's t0 is this one's t1.
      break;
    }
    case PatternKind::kPeriodicBurst: {
      RateCurve::Piece p;
      p.shape = RateCurve::Piece::Shape::kBurst;
      p.t0 = t0;
      p.t1 = t0 + d;
      p.r0 = a.base_rate;
      p.r1 = a.burst_rate;
      p.on = a.burst_duration_sec;
      p.period = a.burst_period_sec;
      out->push_back(p);
      break;
    }
    case PatternKind::kDiurnal: {
      RateCurve::Piece p;
      p.shape = RateCurve::Piece::Shape::kSine;
      p.t0 = t0;
      p.t1 = t0 + d;
      p.r0 = a.base_rate;
      p.r1 = a.amplitude;
      p.period = a.period_sec;
      out->push_back(p);
      break;
    }
  }
  for (size_t i = first; i < out->size(); ++i) {
    (*out)[i].poisson = poisson;
  }
}

// Expected operations of one phase on its own.
double PhaseOps(const Phase& phase) {
  std::vector<RateCurve::Piece> pieces;
  AppendPhase(phase, 0, &pieces);
  double total = 0;
  for (const auto& p : pieces) {
    total += p.Integral(p.t1 - p.t0);
  }
  return total;
}

}  // namespace

double RateCurve::Piece::Rate(double tau) const {
  switch (shape) {
    case Shape::kLinear: {
      const double d = t1 - t0;
      return d > 0 ? r0 + (r1 - r0) * (tau / d) : r0;
    }
    case Shape::kBurst:
      return std::fmod(tau, period) < on ? r1 : r0;
    case Shape::kSine:
      return r0 + r1 * std::sin(kTwoPi * tau / period);
  }
  return 0;
}

double RateCurve::Piece::Integral(double tau) const {
  switch (shape) {
    case Shape::kLinear: {
      const double d = t1 - t0;
      if (r0 == r1 || d <= 0) {
        return r0 * tau;
      }
      return r0 * tau + (r1 - r0) * tau * tau / (2.0 * d);
    }
    case Shape::kBurst: {
      const double per_period = r1 * on + r0 * (period - on);
      const double full = std::floor(tau / period);
      const double rem = tau - full * period;
      const double part = rem < on ? r1 * rem : r1 * on + r0 * (rem - on);
      return full * per_period + part;
    }
    case Shape::kSine:
      return r0 * tau + r1 * period / kTwoPi * (1.0 - std::cos(kTwoPi * tau / period));
  }
  return 0;
}

double RateCurve::Piece::Invert(double x) const {
  const double d = t1 - t0;
  double tau = 0;
  if (x <= 0) {
    return 0;
  }
  switch (shape) {
    case Shape::kLinear: {
      if (r0 == r1) {
        tau = x / r0;  // constant rate: exactly x / r, so op k of constant(r) is at k / r
      } else {
        // Solve r0 tau + (r1 - r0) tau^2 / (2d) = x in the form that stays accurate when
        // r1 - r0 is small or r0 is zero.
        const double disc = std::max(0.0, r0 * r0 + 2.0 * (r1 - r0) * x / d);
        const double denom = r0 + std::sqrt(disc);
        tau = denom > 0 ? 2.0 * x / denom : d;
      }
      break;
    }
    case Shape::kBurst: {
      const double per_period = r1 * on + r0 * (period - on);
      const double full = std::floor(x / per_period);
      const double rem = x - full * per_period;
      double in_period;
      if (rem < r1 * on) {
        in_period = rem / r1;
      } else {
        in_period = r0 > 0 ? on + (rem - r1 * on) / r0 : on;
      }
      tau = full * period + in_period;
      break;
    }
    case Shape::kSine: {
      // Integral is increasing (rate >= 0); Newton's method kept inside a shrinking bracket.
      double lo = 0, hi = d;
      tau = std::min(x / r0, d);
      for (int it = 0; it < 200; ++it) {
        const double f = Integral(tau) - x;
        if (f == 0) {
          break;
        }
        if (f > 0) {
          hi = tau;
        } else {
          lo = tau;
        }
        if (hi - lo <= 1e-12 * std::max(1.0, hi)) {
          break;
        }
        const double r = Rate(tau);
        double next = r > 0 ? tau - f / r : lo - 1;
        if (!(next > lo && next < hi)) {
          next = 0.5 * (lo + hi);
        }
        if (std::fabs(next - tau) <= 1e-13 * std::max(1.0, tau)) {
          tau = next;
          break;
        }
        tau = next;
      }
      break;
    }
  }
  return std::clamp(tau, 0.0, d);
}

RateCurve::RateCurve(const ScheduleSpec& spec) {
  double t = 0;
  if (spec.warmup_seconds > 0) {
    Phase w;
    w.duration_sec = spec.warmup_seconds;
    w.pattern = spec.warmup;
    AppendPhase(w, 0, &pieces_);
    for (auto& p : pieces_) {
      p.warmup = true;
    }
    t = spec.warmup_seconds;
  }
  measured_start_ = t;
  for (const Phase& phase : spec.phases) {
    AppendPhase(phase, t, &pieces_);
    t = pieces_.empty() ? t + phase.duration_sec : pieces_.back().t1;
  }
  end_ = t;
  double lambda = 0;
  for (auto& p : pieces_) {
    p.lambda0 = lambda;
    p.lambda1 = lambda + p.Integral(p.t1 - p.t0);
    lambda = p.lambda1;
  }
}

double RateCurve::RateAt(double t) const {
  if (pieces_.empty() || t < 0 || t >= end_) {
    return 0;
  }
  auto it = std::upper_bound(pieces_.begin(), pieces_.end(), t,
                             [](double v, const Piece& p) { return v < p.t0; });
  const Piece& p = *(it - 1);
  return p.Rate(t - p.t0);
}

double RateCurve::Integral(double t) const {
  if (pieces_.empty() || t <= 0) {
    return 0;
  }
  if (t >= end_) {
    return pieces_.back().lambda1;
  }
  auto it = std::upper_bound(pieces_.begin(), pieces_.end(), t,
                             [](double v, const Piece& p) { return v < p.t0; });
  const Piece& p = *(it - 1);
  return p.lambda0 + p.Integral(t - p.t0);
}

ScheduleSpec ScheduleSpecFor(const Scenario& scenario, std::optional<double> measured_seconds) {
  ScheduleSpec spec;
  spec.seed = scenario.seed;
  spec.phases = scenario.MeasuredPhases();
  if (measured_seconds.has_value()) {
    const double want = *measured_seconds;
    std::vector<Phase> cut;
    double t = 0;
    for (const Phase& p : spec.phases) {
      if (t >= want) {
        break;
      }
      Phase q = p;
      q.duration_sec = std::min(p.duration_sec, want - t);
      t += q.duration_sec;
      cut.push_back(q);
    }
    if (t < want && !cut.empty()) {
      Phase& last = cut.back();
      if (last.pattern.kind == PatternKind::kRamp) {  // all phases ran in full
        Phase hold;
        hold.name = last.name + " (held)";
        hold.duration_sec = want - t;
        hold.pattern.kind = PatternKind::kConstant;
        hold.pattern.rate = last.pattern.to_rate;
        hold.pattern.spacing = last.pattern.spacing;
        cut.push_back(hold);
      } else {
        last.duration_sec += want - t;
      }
    }
    spec.phases = std::move(cut);
  }
  spec.warmup_seconds = scenario.warmup_seconds;
  const Phase first = scenario.MeasuredPhases().front();
  spec.warmup.kind = PatternKind::kConstant;
  spec.warmup.spacing = IsPoisson(first.pattern) ? Spacing::kPoisson : Spacing::kEven;
  spec.warmup.rate = scenario.warmup_rate.has_value() ? *scenario.warmup_rate
                                                      : PhaseOps(first) / first.duration_sec;
  return spec;
}

double ExpectedOperations(const ScheduleSpec& spec, bool include_warmup) {
  RateCurve curve(spec);
  const double total = curve.Integral(curve.end_seconds());
  return include_warmup ? total : total - curve.Integral(curve.measured_start_seconds());
}

ArrivalSchedule::ArrivalSchedule(const ScheduleSpec& spec, uint32_t shard_index,
                                 uint32_t shard_count)
    : curve_(spec),
      arrival_seed_(Mix64(spec.seed, kArrivalStreamTag)),
      shard_index_(shard_index),
      shard_count_(shard_count) {
  ENGRAM_CHECK(shard_count >= 1 && shard_index < shard_count);
  measured_start_ns_ = std::llround(curve_.measured_start_seconds() * 1e9);
  end_ns_ = std::llround(curve_.end_seconds() * 1e9);
  const auto& pieces = curve_.pieces();
  while (piece_ < pieces.size() && 0.0 >= pieces[piece_].lambda1) {
    ++piece_;
  }
  // T_0: 0 for even spacing (the first operation starts the run), one Exp(1) draw for Poisson.
  if (piece_ < pieces.size() && pieces[piece_].poisson) {
    target_ = Rng::Stream(arrival_seed_, 0).Exponential(1.0);
  }
}

void ArrivalSchedule::AdvanceTarget() {
  // The spacing of the piece holding T_k decides the step to T_{k+1}.
  const bool poisson = curve_.pieces()[piece_].poisson;
  ++next_index_;
  target_ += poisson ? Rng::Stream(arrival_seed_, next_index_).Exponential(1.0) : 1.0;
}

bool ArrivalSchedule::Next(ScheduledOp* op) {
  const auto& pieces = curve_.pieces();
  while (!done_) {
    while (piece_ < pieces.size() && target_ >= pieces[piece_].lambda1) {
      ++piece_;
    }
    if (piece_ >= pieces.size()) {
      done_ = true;
      break;
    }
    const RateCurve::Piece& p = pieces[piece_];
    const uint64_t k = next_index_;
    const double x = target_ - p.lambda0;
    AdvanceTarget();
    if (k % shard_count_ != shard_index_) {
      continue;
    }
    const double t = p.t0 + p.Invert(x);
    op->index = k;
    op->offset_ns = std::llround(t * 1e9);
    op->warmup = p.warmup;
    return true;
  }
  return false;
}

bool ArrivalSchedule::Next(int64_t* offset_ns) {
  ScheduledOp op;
  if (!Next(&op)) {
    return false;
  }
  *offset_ns = op.offset_ns;
  return true;
}

std::vector<uint64_t> CountPerSecond(const ScheduleSpec& spec, bool measured_only) {
  ArrivalSchedule schedule(spec);
  const int64_t origin = measured_only ? schedule.measured_start_ns() : 0;
  const int64_t span = schedule.end_ns() - origin;
  std::vector<uint64_t> counts(static_cast<size_t>((span + 999'999'999) / 1'000'000'000), 0);
  ScheduledOp op;
  while (schedule.Next(&op)) {
    if (measured_only && op.warmup) {
      continue;
    }
    const int64_t rel = op.offset_ns - origin;
    if (rel < 0) {
      continue;
    }
    const size_t s = static_cast<size_t>(rel / 1'000'000'000);
    if (s < counts.size()) {
      ++counts[s];
    }
  }
  return counts;
}

}  // namespace engram::workload
