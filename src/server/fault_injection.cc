#include "server/fault_injection.h"

#include <time.h>

#include <charconv>
#include <cmath>
#include <sstream>

#include "core/clock.h"
#include "core/random.h"

namespace engram::server {

Result<int64_t> ParseDuration(std::string_view text) {
  size_t unit_at = 0;
  while (unit_at < text.size() && (std::isdigit(static_cast<unsigned char>(text[unit_at])) || text[unit_at] == '.')) ++unit_at;
  if (unit_at == 0) return Status::InvalidArgument("duration '", text, "' has no number");
  double value = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + unit_at, value);
  if (ec != std::errc() || p != text.data() + unit_at) return Status::InvalidArgument("bad duration '", text, "'");
  const std::string_view unit = text.substr(unit_at);
  double scale;
  if (unit == "ns") scale = 1;
  else if (unit == "us") scale = 1e3;
  else if (unit == "ms") scale = 1e6;
  else if (unit == "s") scale = 1e9;
  else return Status::InvalidArgument("duration '", text, "' needs a unit: ns, us, ms or s");
  const double ns = value * scale;
  if (!(ns >= 0 && ns <= 3.6e12)) return Status::InvalidArgument("duration '", text, "' is outside 0..1h");
  return static_cast<int64_t>(std::llround(ns));
}

FaultInjector& FaultInjector::operator=(const FaultInjector& other) {
  enabled_ = other.enabled_;
  delays_ = other.delays_;
  cpu_ = other.cpu_;
  stall_ns_ = other.stall_ns_;
  period_ns_ = other.period_ns_;
  origin_ns_ = other.origin_ns_;
  counter_.store(other.counter_.load());
  return *this;
}

namespace {
// "op=DURATION[~DURATION],..." into per-operation ranges; `flag` names the option in errors.
Status ParseRanges(std::string_view spec, std::string_view flag, std::array<FaultInjector::Range, static_cast<size_t>(Op::kCount)>* out) {
  while (!spec.empty()) {
    const size_t comma = spec.find(',');
    std::string_view item = spec.substr(0, comma);
    spec = comma == std::string_view::npos ? std::string_view() : spec.substr(comma + 1);
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) return Status::InvalidArgument(flag, " item '", item, "' is not OP=DURATION");
    const std::string_view name = item.substr(0, eq), value = item.substr(eq + 1);
    const Op op = OpFromName(name);
    if (op == Op::kUnknown) return Status::InvalidArgument(flag, ": unknown operation '", name, "'");
    FaultInjector::Range r;
    const size_t tilde = value.find('~');
    ENGRAM_ASSIGN_OR_RETURN(r.lo, ParseDuration(value.substr(0, tilde)));
    r.hi = r.lo;
    if (tilde != std::string_view::npos) {
      ENGRAM_ASSIGN_OR_RETURN(r.hi, ParseDuration(value.substr(tilde + 1)));
      if (r.hi < r.lo) return Status::InvalidArgument(flag, " range '", value, "' is reversed");
    }
    (*out)[static_cast<size_t>(op)] = r;
  }
  return Status::Ok();
}
}  // namespace

Result<FaultInjector> FaultInjector::Parse(std::string_view delay_spec, std::string_view stall_spec,
                                           std::string_view cpu_spec) {
  FaultInjector f;
  f.origin_ns_ = MonoNanos();
  ENGRAM_RETURN_IF_ERROR(ParseRanges(delay_spec, "--inject-delay", &f.delays_));
  ENGRAM_RETURN_IF_ERROR(ParseRanges(cpu_spec, "--inject-cpu", &f.cpu_));
  for (size_t i = 0; i < f.delays_.size(); ++i) f.enabled_ = f.enabled_ || f.delays_[i].hi > 0 || f.cpu_[i].hi > 0;
  if (!stall_spec.empty()) {
    const size_t slash = stall_spec.find('/');
    if (slash == std::string_view::npos) return Status::InvalidArgument("--inject-stall wants STALL/PERIOD, e.g. 1s/10s");
    ENGRAM_ASSIGN_OR_RETURN(f.stall_ns_, ParseDuration(stall_spec.substr(0, slash)));
    ENGRAM_ASSIGN_OR_RETURN(f.period_ns_, ParseDuration(stall_spec.substr(slash + 1)));
    if (f.period_ns_ <= 0 || f.stall_ns_ >= f.period_ns_) {
      return Status::InvalidArgument("--inject-stall: the stall must be shorter than the period");
    }
    f.enabled_ = f.enabled_ || f.stall_ns_ > 0;
  }
  return f;
}

int64_t FaultInjector::Draw(const Range& r) const {
  if (r.hi <= 0) return 0;
  int64_t d = r.lo;
  if (r.hi > r.lo) {
    Rng rng = Rng::Stream(0xFA17, counter_.fetch_add(1, std::memory_order_relaxed));
    d += static_cast<int64_t>(rng.Below(static_cast<uint64_t>(r.hi - r.lo + 1)));
  }
  return d;
}

int64_t FaultInjector::DelayFor(Op op, int64_t now_ns) const {
  if (!enabled_) return 0;
  int64_t wait = 0;
  if (stall_ns_ > 0) {
    const int64_t phase = (now_ns - origin_ns_) % period_ns_;
    if (phase < stall_ns_) wait = stall_ns_ - phase;
  }
  return wait + Draw(delays_[static_cast<size_t>(op)]);
}

void FaultInjector::BurnCpu(Op op) const {
  if (!enabled_) return;
  const int64_t burn = Draw(cpu_[static_cast<size_t>(op)]);
  if (burn <= 0) return;
  // Spins until this thread has used `burn` more CPU time, so a preempted handler still costs
  // what was asked (a wall-clock spin would cost less on a busy core).
  const int64_t until = ThreadCpuNanos() + burn;
  volatile uint64_t sink = 0;
  while (ThreadCpuNanos() < until) {
    for (int i = 0; i < 256; ++i) sink = sink + static_cast<uint64_t>(i);
  }
}

std::string FaultInjector::Describe() const {
  if (!enabled_) return "off";
  std::ostringstream out;
  const char* sep = "";
  auto ranges = [&](const auto& table, const char* what) {
    for (size_t i = 0; i < table.size(); ++i) {
      if (table[i].hi == 0) continue;
      out << sep << what << OpName(static_cast<Op>(i)) << "=" << table[i].lo << "ns";
      if (table[i].hi != table[i].lo) out << "~" << table[i].hi << "ns";
      sep = ", ";
    }
  };
  ranges(delays_, "");
  ranges(cpu_, "cpu ");
  if (stall_ns_ > 0) out << sep << "stall " << stall_ns_ << "ns every " << period_ns_ << "ns";
  return out.str();
}

}  // namespace engram::server
