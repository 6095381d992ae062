#include "analysis/stats.h"

#include <algorithm>
#include <boost/math/distributions/normal.hpp>
#include <boost/math/distributions/students_t.hpp>
#include <cmath>

namespace engram::analysis {

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  const size_t mid = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + mid, values.end());
  if (values.size() % 2 == 1) return values[mid];
  const double upper = values[mid];
  const double lower = *std::max_element(values.begin(), values.begin() + mid);
  return (lower + upper) / 2.0;
}

double SortedQuantile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  p = std::clamp(p, 0.0, 1.0);
  const double h = p * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(h));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (h - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

double ExpandedTailProbability(double alpha, double n) {
  if (!(n >= 2) || !(alpha > 0 && alpha < 0.5)) return alpha;
  const boost::math::students_t t(n - 1);
  const double z = std::sqrt(n / (n - 1)) * boost::math::quantile(t, 1.0 - alpha);
  return boost::math::cdf(boost::math::normal(), -z);
}

int SignTestRank(int n, double alpha) {
  int k = 0;
  double cdf = 0;  // P(Binomial(n, 1/2) <= k), built term by term
  double term = std::pow(0.5, n);
  for (int j = 0; j < n; ++j) {
    cdf += term;
    if (cdf > alpha) break;
    k = j + 1;
    term = term * (n - j) / (j + 1);
  }
  return k;
}

int SignTestMinimumN(double alpha) {
  int n = 1;
  while (n < 64 && SignTestRank(n, alpha) == 0) ++n;
  return n;
}

std::pair<double, double> WilsonInterval95(int k, int n) {
  if (n <= 0) return {0.0, 1.0};
  const double z = 1.959963984540054;
  const double nn = static_cast<double>(n);
  const double p = static_cast<double>(k) / nn;
  const double denom = 1.0 + z * z / nn;
  const double center = (p + z * z / (2.0 * nn)) / denom;
  const double half = z * std::sqrt(p * (1.0 - p) / nn + z * z / (4.0 * nn * nn)) / denom;
  return {std::max(0.0, center - half), std::min(1.0, center + half)};
}

}  // namespace engram::analysis
