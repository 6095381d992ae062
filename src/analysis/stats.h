// Small statistics helpers shared by compare and calibrate.
#pragma once

#include <utility>
#include <vector>

namespace engram::analysis {

// The median (mean of the middle two for an even count); 0 for an empty vector.
double Median(std::vector<double> values);
// Quantile p in [0, 1] of an ascending vector, linear between order statistics (Hyndman-Fan
// type 7, the default of R and NumPy); 0 for an empty vector.
double SortedQuantile(const std::vector<double>& sorted, double p);
// The tail probability to read from a bootstrap distribution of a statistic of n independent
// units so that its percentile interval keeps its nominal one-sided level `alpha`: Hesterberg's
// expanded percentile interval (The American Statistician 69(4), 2015), which widens the
// interval by sqrt(n / (n - 1)) * t(n-1) / z because a percentile bootstrap over few units is
// too narrow (it ignores the n-1 divisor and the uncertainty of the spread itself). With 6 time
// segments and alpha 0.05 it reads the 1.4% quantile instead of the 5% one. n < 2: alpha.
double ExpandedTailProbability(double alpha, double n);
// The distribution-free one-sided bound of a median from n independent values (the sign test's
// order statistic): the k-th smallest value lies above the median with probability
// P(Binomial(n, 1/2) <= k - 1), so the largest k with that probability <= alpha gives a lower
// bound at level 1 - alpha (and the k-th largest an upper one). Returns k in [1, n], or 0 when
// no order statistic will do: n values bound a median at level 1 - alpha only when
// 0.5^n <= alpha (5 values for 95%, 7 for 99%).
int SignTestRank(int n, double alpha);
// The fewest values for which SignTestRank(n, alpha) >= 1.
int SignTestMinimumN(double alpha);
// Wilson score interval for k successes in n trials at 95% confidence.
std::pair<double, double> WilsonInterval95(int k, int n);

}  // namespace engram::analysis
