#include "benchgate/changepoint.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <tuple>

#include "core/random.h"

namespace engram::benchgate {

namespace {

struct Split {
  size_t at = 0;  // 0: no admissible split
  double q = -INFINITY;
};

// The split t of x[0, n) with the largest Q(t), each side at least min_segment points long.
// Moving t one point right moves x[t-1] from the right side to the left, so the within-side
// sums are updated in O(n) per t and the between-side sum follows from the total.
Split BestSplit(const double* x, size_t n, size_t min_segment) {
  Split best;
  if (n < 2 * min_segment) return best;
  double total = 0;
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = i + 1; j < n; ++j) total += std::fabs(x[i] - x[j]);
  }
  double within_left = 0, within_right = total;
  for (size_t t = 1; t + min_segment <= n; ++t) {
    const double moved = x[t - 1];
    for (size_t i = 0; i + 1 < t; ++i) within_left += std::fabs(x[i] - moved);
    for (size_t j = t; j < n; ++j) within_right -= std::fabs(x[j] - moved);
    if (t < min_segment) continue;
    const double m = static_cast<double>(t), k = static_cast<double>(n - t);
    const double between = total - within_left - within_right;
    const double energy =
        2 * between / (m * k) - within_left / (m * (m - 1) / 2) - within_right / (k * (k - 1) / 2);
    const double q = m * k / (m + k) * energy;
    if (q > best.q) best = {t, q};
  }
  return best;
}

// Permutation p-value of `observed` for the best split of x[0, n).
double PermutationPValue(const double* x, size_t n, double observed,
                         const ChangePointOptions& options, Rng& rng) {
  std::vector<double> shuffled(x, x + n);
  int at_least = 0;
  for (int r = 0; r < options.permutations; ++r) {
    for (size_t i = n - 1; i > 0; --i) std::swap(shuffled[i], shuffled[rng.Below(i + 1)]);
    if (BestSplit(shuffled.data(), n, options.min_segment).q >= observed) ++at_least;
  }
  return (1.0 + at_least) / (options.permutations + 1.0);
}

double MeanOf(const std::vector<double>& x, size_t begin, size_t end) {
  double sum = 0;
  for (size_t i = begin; i < end; ++i) sum += x[i];
  return sum / static_cast<double>(end - begin);
}

double RelativeChange(double before, double after) {
  if (before == 0) return after == 0 ? 0 : INFINITY;
  return after / before - 1;
}

std::string Fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), f, v);
  return buf;
}

// Three significant digits, keeping trailing zeros ("1.40", "65.0", "374").
std::string ThreeDigits(double v) { return Fmt(v >= 100 ? "%.0f" : v >= 10 ? "%.1f" : "%.2f", v); }

// A level in the series' unit: instructions as a count, wall time in ns/us/ms/s.
std::string LevelText(const std::string& mode, double v) {
  if (mode == "instructions") {
    if (v >= 1e6) return Fmt("%.3f M", v / 1e6);
    if (v >= 1e3) return Fmt("%.2f k", v / 1e3);
    return Fmt("%.0f", v);
  }
  if (v >= 1e9) return ThreeDigits(v / 1e9) + " s";
  if (v >= 1e6) return ThreeDigits(v / 1e6) + " ms";
  if (v >= 1e3) return ThreeDigits(v / 1e3) + " us";
  return ThreeDigits(v) + " ns";
}

}  // namespace

std::vector<ChangePoint> DetectChangePoints(const std::vector<double>& series,
                                            const ChangePointOptions& options) {
  const size_t min_segment = std::max<size_t>(options.min_segment, 2);
  ChangePointOptions o = options;
  o.min_segment = min_segment;
  Rng rng(options.seed);
  std::vector<ChangePoint> found;
  std::vector<std::pair<size_t, size_t>> segments = {{0, series.size()}};
  for (;;) {
    // The segment whose best split diverges most.
    size_t which = segments.size();
    Split best;
    for (size_t s = 0; s < segments.size(); ++s) {
      const auto [begin, end] = segments[s];
      const Split split = BestSplit(series.data() + begin, end - begin, min_segment);
      if (split.at != 0 && split.q > best.q) {
        best = split;
        which = s;
      }
    }
    if (which == segments.size() || !(best.q > 0)) break;
    const auto [begin, end] = segments[which];
    const double p = PermutationPValue(series.data() + begin, end - begin, best.q, o, rng);
    if (p > options.alpha) break;
    ChangePoint c;
    c.index = begin + best.at;
    c.p_value = p;
    found.push_back(c);
    segments[which] = {begin, c.index};
    segments.insert(segments.begin() + static_cast<std::ptrdiff_t>(which) + 1, {c.index, end});
  }
  std::sort(found.begin(), found.end(),
            [](const ChangePoint& a, const ChangePoint& b) { return a.index < b.index; });

  // Drop the smallest shift below the minimum magnitude, re-merge, repeat.
  for (;;) {
    size_t smallest = found.size();
    double smallest_change = INFINITY;
    for (size_t i = 0; i < found.size(); ++i) {
      const size_t begin = i == 0 ? 0 : found[i - 1].index;
      const size_t end = i + 1 == found.size() ? series.size() : found[i + 1].index;
      found[i].mean_before = MeanOf(series, begin, found[i].index);
      found[i].mean_after = MeanOf(series, found[i].index, end);
      const double change = std::fabs(RelativeChange(found[i].mean_before, found[i].mean_after));
      if (change < smallest_change) {
        smallest_change = change;
        smallest = i;
      }
    }
    if (smallest == found.size() || smallest_change >= options.min_relative_change) break;
    found.erase(found.begin() + static_cast<std::ptrdiff_t>(smallest));
  }
  return found;
}

std::vector<HistorySeries> GroupHistory(const std::vector<HistoryPoint>& rows, bool skip_injected) {
  // (mode, fingerprint, benchmark) -> run_id -> point
  std::map<std::tuple<std::string, std::string, std::string>,
           std::map<int64_t, HistorySeries::Point>>
      grouped;
  std::map<std::string, std::string> descriptions;
  for (const HistoryPoint& h : rows) {
    if (skip_injected && h.label.find("injected_slowdown=") != std::string::npos) continue;
    const std::string main_metric = h.mode == "instructions" ? "instructions" : "median_ns";
    HistorySeries::Point& p = grouped[{h.mode, h.fingerprint, h.benchmark}][h.run_id];
    p.run_id = h.run_id;
    p.time = h.time;
    p.commit = h.commit;
    p.label = h.label;
    descriptions[h.fingerprint] = h.description;
    if (h.metric == main_metric) {
      p.value = h.value;
      p.verdict = h.verdict;
    } else if (h.metric == "ci_low_ns") {
      p.low = h.value;
    } else if (h.metric == "ci_high_ns") {
      p.high = h.value;
    }
  }
  std::vector<HistorySeries> out;
  for (auto& [key, points] : grouped) {
    HistorySeries s;
    std::tie(s.mode, s.fingerprint, s.benchmark) = key;
    s.description = descriptions[s.fingerprint];
    for (auto& [run, p] : points) s.points.push_back(std::move(p));
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<ChangePoint> SeriesChangePoints(const HistorySeries& series,
                                            const ChangePointOptions& options) {
  std::vector<double> values;
  values.reserve(series.points.size());
  for (const auto& p : series.points) values.push_back(p.value);
  return DetectChangePoints(values, options);
}

std::string FormatChangePoints(const std::vector<HistorySeries>& series,
                               const ChangePointOptions& options) {
  std::string out = "Change points: E-divisive means, minimum segment " +
                    std::to_string(options.min_segment) + " runs, permutation test at alpha " +
                    Fmt("%.3g", options.alpha) + " (" + std::to_string(options.permutations) +
                    " shuffles), minimum change " +
                    Fmt("%.1f%%", 100 * options.min_relative_change) + "\n";
  if (series.empty()) out += "No history.\n";
  std::string section;
  for (const HistorySeries& s : series) {
    if (s.mode + "|" + s.fingerprint != section) {
      section = s.mode + "|" + s.fingerprint;
      out += "\n" + s.mode + " | " + s.description + "\n  (" + s.fingerprint + ")\n";
    }
    char line[256];
    const size_t n = s.points.size();
    if (n < 2 * options.min_segment) {
      std::snprintf(line, sizeof(line), "  %-45s %4zu runs  too few to tell\n", s.benchmark.c_str(),
                    n);
      out += line;
      continue;
    }
    const std::vector<ChangePoint> changes = SeriesChangePoints(s, options);
    std::snprintf(line, sizeof(line), "  %-45s %4zu runs  %s\n", s.benchmark.c_str(), n,
                  changes.empty() ? "no change point"
                  : changes.size() == 1
                      ? "1 change point"
                      : (std::to_string(changes.size()) + " change points").c_str());
    out += line;
    for (const ChangePoint& c : changes) {
      const auto& p = s.points[c.index];
      std::snprintf(line, sizeof(line),
                    "    from run %lld (%s, commit %s): %s -> %s  %+.1f%%  p=%.3f\n",
                    static_cast<long long>(p.run_id), p.time.c_str(), p.commit.c_str(),
                    LevelText(s.mode, c.mean_before).c_str(),
                    LevelText(s.mode, c.mean_after).c_str(), 100 * c.relative_change(), c.p_value);
      out += line;
    }
  }
  return out;
}

}  // namespace engram::benchgate
