#include "loadgen/saturation.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>

#include "core/histogram.h"
#include "loadgen/report.h"

namespace engram::loadgen {

namespace json = boost::json;

namespace {

std::string Ms(double ms) { return ms < 10 ? fmt::format("{:.3f} ms", ms) : fmt::format("{:.0f} ms", ms); }
std::string Limit(double x) { return fmt::format("{:g}", x); }

// The backlog of each scheduled second (due minus completed, cumulative) and its trend.
void AssessBacklog(const SaturationInput& in, SaturationAssessment* a) {
  size_t scheduled = 0;
  for (size_t s = 0; s < in.target_ops.size(); ++s) {
    if (in.target_ops[s] > 0) scheduled = s + 1;
  }
  a->scheduled_seconds = static_cast<int>(scheduled);
  std::vector<double> backlog;
  int64_t due = 0, done = 0;
  for (size_t s = 0; s < scheduled; ++s) {
    due += static_cast<int64_t>(in.target_ops[s]);
    done += s < in.completed.size() ? static_cast<int64_t>(in.completed[s]) : 0;
    backlog.push_back(static_cast<double>(due - done));
    a->backlog_peak = std::max(a->backlog_peak, due - done);
  }
  a->backlog_end = backlog.empty() ? 0 : static_cast<int64_t>(backlog.back());
  if (backlog.size() >= 2) {
    const double n = static_cast<double>(backlog.size());
    const double mean_x = (n - 1) / 2;
    double mean_y = 0;
    for (double y : backlog) mean_y += y;
    mean_y /= n;
    double sxy = 0, sxx = 0;
    for (size_t i = 0; i < backlog.size(); ++i) {
      const double dx = static_cast<double>(i) - mean_x;
      sxy += dx * (backlog[i] - mean_y);
      sxx += dx * dx;
    }
    a->backlog_slope_per_sec = sxy / sxx;
  }
  a->backlog_limit = std::max(static_cast<double>(in.connections), a->limits.backlog_seconds * in.target_ops_per_sec) +
                     in.target_ops_per_sec * in.generator_lag_p99_ms / 1000.0;
  const double rise = a->backlog_slope_per_sec * static_cast<double>(std::max<size_t>(scheduled, 1) - 1);
  a->backlog_growing = static_cast<double>(a->backlog_end) > a->backlog_limit && rise > a->backlog_limit;
  if (a->backlog_growing) {
    a->reasons.push_back(fmt::format(
        "backlog grew: {} operations due but not completed at the end of the schedule, peak {} (limit {:.0f}), "
        "trend {:+.1f}/s over {} s",
        a->backlog_end, a->backlog_peak, a->backlog_limit, a->backlog_slope_per_sec, scheduled));
  }
}

}  // namespace

SaturationAssessment AssessSaturation(const SaturationInput& in, const SaturationLimits& limits) {
  SaturationAssessment a;
  a.limits = limits;

  // Rule 1: schedule lag, and whose it was.
  a.schedule_lag_p99_ms = in.schedule_lag_p99_ms;
  a.generator_lag_p99_ms = in.generator_lag_p99_ms;
  a.lag_over_limit = in.schedule_lag_p99_ms > limits.lag_p99_ms;
  a.lag_from_server = a.lag_over_limit && in.schedule_lag_p99_ms > 2 * in.generator_lag_p99_ms;
  for (size_t s = 0; s < in.lag_p99_ms.size(); ++s) {
    if (in.lag_p99_ms[s] > limits.lag_p99_ms) {
      ++a.seconds_lag_over_limit;
      if (a.first_second_lag_over_limit < 0) a.first_second_lag_over_limit = static_cast<int64_t>(s);
    }
  }
  if (a.lag_from_server) {
    std::string when;
    if (a.first_second_lag_over_limit >= 0) {
      when = fmt::format("; over the limit in {} of {} s, first in second {}", a.seconds_lag_over_limit,
                         in.lag_p99_ms.size(), a.first_second_lag_over_limit);
    }
    a.reasons.push_back(fmt::format(
        "schedule lag P99 {} > {} ms, mostly waiting for a connection the server held (the generator's own lag "
        "P99 {}){}",
        Ms(in.schedule_lag_p99_ms), Limit(limits.lag_p99_ms), Ms(in.generator_lag_p99_ms), when));
  }

  // Rule 2: a growing backlog.
  AssessBacklog(in, &a);

  // Rule 3: shed answers and timeouts.
  a.shed = in.shed;
  a.timeouts = in.timeouts;
  a.overload_share = in.operations > 0 ? static_cast<double>(in.shed + in.timeouts) / static_cast<double>(in.operations) : 0;
  a.overloaded = a.overload_share > limits.overload_share;
  if (a.overloaded) {
    a.reasons.push_back(fmt::format("overloaded: {} shed (429/503 with Retry-After) and {} timed out of {} operations "
                                    "({:.2f}% > {:g}%)",
                                    in.shed, in.timeouts, in.operations, 100 * a.overload_share,
                                    100 * limits.overload_share));
  }
  a.server_saturated = a.lag_from_server || a.backlog_growing || a.overloaded;
  return a;
}

SaturationInput SaturationInputOf(const RunReport& r, int connections) {
  SaturationInput in;
  in.target_ops_per_sec = r.target_ops_per_sec;
  in.connections = connections;
  in.schedule_lag_p99_ms = static_cast<double>(r.schedule_lag.ValueAtQuantile(0.99)) / 1e6;
  in.generator_lag_p99_ms = static_cast<double>(r.generator_lag.ValueAtQuantile(0.99)) / 1e6;
  in.operations = r.total_operations();
  in.shed = r.errors_by_kind[static_cast<size_t>(ErrorKind::kShed)];
  in.timeouts = r.errors_by_kind[static_cast<size_t>(ErrorKind::kTimeout)];
  for (const TimelineEntry& t : r.timeline) {
    in.target_ops.push_back(t.target_ops);
    in.completed.push_back(t.ops);
    double lag = 0;
    if (!t.lag_histogram.empty()) {
      if (auto h = Histogram::Decode(t.lag_histogram); h.ok()) lag = static_cast<double>(h->ValueAtQuantile(0.99)) / 1e6;
    }
    in.lag_p99_ms.push_back(lag);
  }
  return in;
}

SaturationAssessment AssessSaturation(const RunReport& r, int connections, const SaturationLimits& limits) {
  return AssessSaturation(SaturationInputOf(r, connections), limits);
}

std::string SaturationAssessment::Summary() const {
  if (server_saturated) {
    std::string out = "SATURATED: ";
    for (size_t i = 0; i < reasons.size(); ++i) out += (i > 0 ? "; " : "") + reasons[i];
    return out;
  }
  return fmt::format("kept up: schedule lag P99 {} (limit {} ms{}), backlog at the end {} (limit {:.0f}, trend {:+.1f}/s), "
                     "{} shed, {} timed out",
                     Ms(schedule_lag_p99_ms), Limit(limits.lag_p99_ms),
                     lag_over_limit ? ", over it by the generator's own lag" : "", backlog_end, backlog_limit,
                     backlog_slope_per_sec, shed, timeouts);
}

json::object SaturationToJson(const SaturationAssessment& s) {
  json::object o;
  o["server_saturated"] = s.server_saturated;
  json::array reasons;
  for (const auto& r : s.reasons) reasons.emplace_back(r);
  o["reasons"] = std::move(reasons);
  o["sustainable"] = s.sustainable();
  o["limits"] = json::object{{"schedule_lag_p99_ms", s.limits.lag_p99_ms},
                             {"backlog_seconds", s.limits.backlog_seconds},
                             {"overload_share", s.limits.overload_share}};
  o["schedule_lag_p99_ms"] = s.schedule_lag_p99_ms;
  o["generator_lag_p99_ms"] = s.generator_lag_p99_ms;
  o["lag_over_limit"] = s.lag_over_limit;
  o["lag_from_server"] = s.lag_from_server;
  o["seconds_lag_over_limit"] = s.seconds_lag_over_limit;
  if (s.first_second_lag_over_limit >= 0) {
    o["first_second_lag_over_limit"] = s.first_second_lag_over_limit;
  } else {
    o["first_second_lag_over_limit"] = nullptr;
  }
  o["scheduled_seconds"] = s.scheduled_seconds;
  o["backlog_end"] = s.backlog_end;
  o["backlog_peak"] = s.backlog_peak;
  o["backlog_slope_per_sec"] = s.backlog_slope_per_sec;
  o["backlog_limit"] = s.backlog_limit;
  o["backlog_growing"] = s.backlog_growing;
  o["shed"] = s.shed;
  o["timeouts"] = s.timeouts;
  o["overload_share"] = s.overload_share;
  o["overloaded"] = s.overloaded;
  return o;
}

}  // namespace engram::loadgen
