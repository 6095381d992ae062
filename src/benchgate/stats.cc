#include "benchgate/stats.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "core/random.h"

namespace engram::benchgate {

double Mean(const std::vector<double>& v) {
  if (v.empty()) return 0.0;
  return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

double StdDev(const std::vector<double>& v) {
  if (v.size() < 2) return 0.0;
  const double m = Mean(v);
  double ss = 0.0;
  for (double x : v) ss += (x - m) * (x - m);
  return std::sqrt(ss / static_cast<double>(v.size() - 1));
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  const size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
  const double upper = v[mid];
  if (v.size() % 2 == 1) return upper;
  const double lower = *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid));
  return 0.5 * (lower + upper);
}

namespace {

// The samples of each process run.
std::vector<std::vector<double>> ByGroup(const Sample& s) {
  std::map<int, std::vector<double>> groups;
  for (size_t i = 0; i < s.values.size(); ++i) {
    groups[s.groups.empty() ? 0 : s.groups[i]].push_back(s.values[i]);
  }
  std::vector<std::vector<double>> out;
  for (auto& [_, values] : groups) out.push_back(std::move(values));
  return out;
}

// One bootstrap replicate of the median: two-stage when `two_stage`, else flat.
double ResampledMedian(const std::vector<std::vector<double>>& groups,
                       const std::vector<double>& flat, bool two_stage, Rng& rng,
                       std::vector<double>& scratch) {
  scratch.clear();
  if (two_stage) {
    for (size_t g = 0; g < groups.size(); ++g) {
      const std::vector<double>& chosen = groups[rng.Below(groups.size())];
      for (size_t i = 0; i < chosen.size(); ++i) scratch.push_back(chosen[rng.Below(chosen.size())]);
    }
  } else {
    for (size_t i = 0; i < flat.size(); ++i) scratch.push_back(flat[rng.Below(flat.size())]);
  }
  return Median(scratch);
}

double Quantile(std::vector<double>& sorted, double q) {
  // Linear interpolation between order statistics (type 7).
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(sorted.size() - 1, lo + 1);
  return sorted[lo] + (pos - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

}  // namespace

RatioInterval BootstrapRatioOfMedians(const Sample& baseline, const Sample& current,
                                      int resamples, double confidence, uint64_t seed) {
  RatioInterval r;
  const auto base_groups = ByGroup(baseline);
  const auto cur_groups = ByGroup(current);
  r.by_process = base_groups.size() >= 2 && cur_groups.size() >= 2;
  r.estimate = Median(current.values) / Median(baseline.values);
  Rng rng(seed);
  std::vector<double> ratios;
  ratios.reserve(static_cast<size_t>(resamples));
  std::vector<double> scratch;
  int slower_or_equal = 0, faster_or_equal = 0;
  for (int i = 0; i < resamples; ++i) {
    const double b = ResampledMedian(base_groups, baseline.values, r.by_process, rng, scratch);
    const double c = ResampledMedian(cur_groups, current.values, r.by_process, rng, scratch);
    const double ratio = c / b;
    ratios.push_back(ratio);
    // p-values count the replicates on the wrong side of "no change" (ties included), with the
    // +1 correction so a p-value is never 0.
    if (ratio <= 1.0) ++slower_or_equal;
    if (ratio >= 1.0) ++faster_or_equal;
  }
  std::sort(ratios.begin(), ratios.end());
  const double tail = (1.0 - confidence) / 2.0;
  r.low = Quantile(ratios, tail);
  r.high = Quantile(ratios, 1.0 - tail);
  r.p_slower = (1.0 + slower_or_equal) / (1.0 + resamples);
  r.p_faster = (1.0 + faster_or_equal) / (1.0 + resamples);
  return r;
}

std::pair<double, double> BootstrapMedianInterval(const Sample& s, int resamples,
                                                  double confidence, uint64_t seed) {
  const auto groups = ByGroup(s);
  const bool two_stage = groups.size() >= 2;
  Rng rng(seed);
  std::vector<double> medians, scratch;
  for (int i = 0; i < resamples; ++i) {
    medians.push_back(ResampledMedian(groups, s.values, two_stage, rng, scratch));
  }
  std::sort(medians.begin(), medians.end());
  const double tail = (1.0 - confidence) / 2.0;
  return {Quantile(medians, tail), Quantile(medians, 1.0 - tail)};
}

std::vector<double> HolmAdjust(const std::vector<double>& p) {
  const size_t m = p.size();
  std::vector<size_t> order(m);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return p[a] < p[b]; });
  std::vector<double> adjusted(m);
  double running = 0.0;
  for (size_t rank = 0; rank < m; ++rank) {
    const double scaled = std::min(1.0, static_cast<double>(m - rank) * p[order[rank]]);
    running = std::max(running, scaled);
    adjusted[order[rank]] = running;
  }
  return adjusted;
}

}  // namespace engram::benchgate
