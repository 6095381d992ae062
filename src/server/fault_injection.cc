#include "server/fault_injection.h"

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
  stall_ns_ = other.stall_ns_;
  period_ns_ = other.period_ns_;
  origin_ns_ = other.origin_ns_;
  counter_.store(other.counter_.load());
  return *this;
}

Result<FaultInjector> FaultInjector::Parse(std::string_view delay_spec, std::string_view stall_spec) {
  FaultInjector f;
  f.origin_ns_ = MonoNanos();
  while (!delay_spec.empty()) {
    const size_t comma = delay_spec.find(',');
    std::string_view item = delay_spec.substr(0, comma);
    delay_spec = comma == std::string_view::npos ? std::string_view() : delay_spec.substr(comma + 1);
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      return Status::InvalidArgument("--inject-delay item '", item, "' is not OP=DURATION");
    }
    const std::string_view name = item.substr(0, eq), value = item.substr(eq + 1);
    const Op op = OpFromName(name);
    if (op == Op::kUnknown) return Status::InvalidArgument("--inject-delay: unknown operation '", name, "'");
    Range r;
    const size_t tilde = value.find('~');
    ENGRAM_ASSIGN_OR_RETURN(r.lo, ParseDuration(value.substr(0, tilde)));
    r.hi = r.lo;
    if (tilde != std::string_view::npos) {
      ENGRAM_ASSIGN_OR_RETURN(r.hi, ParseDuration(value.substr(tilde + 1)));
      if (r.hi < r.lo) return Status::InvalidArgument("--inject-delay range '", value, "' is reversed");
    }
    f.delays_[static_cast<size_t>(op)] = r;
    f.enabled_ = true;
  }
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

int64_t FaultInjector::DelayFor(Op op, int64_t now_ns) const {
  if (!enabled_) return 0;
  int64_t wait = 0;
  if (stall_ns_ > 0) {
    const int64_t phase = (now_ns - origin_ns_) % period_ns_;
    if (phase < stall_ns_) wait = stall_ns_ - phase;
  }
  const Range& r = delays_[static_cast<size_t>(op)];
  if (r.hi > 0) {
    int64_t d = r.lo;
    if (r.hi > r.lo) {
      Rng rng = Rng::Stream(0xFA17, counter_.fetch_add(1, std::memory_order_relaxed));
      d += static_cast<int64_t>(rng.Below(static_cast<uint64_t>(r.hi - r.lo + 1)));
    }
    wait += d;
  }
  return wait;
}

std::string FaultInjector::Describe() const {
  if (!enabled_) return "off";
  std::ostringstream out;
  const char* sep = "";
  for (size_t i = 0; i < delays_.size(); ++i) {
    if (delays_[i].hi == 0) continue;
    out << sep << OpName(static_cast<Op>(i)) << "=" << delays_[i].lo << "ns";
    if (delays_[i].hi != delays_[i].lo) out << "~" << delays_[i].hi << "ns";
    sep = ", ";
  }
  if (stall_ns_ > 0) out << sep << "stall " << stall_ns_ << "ns every " << period_ns_ << "ns";
  return out.str();
}

}  // namespace engram::server
