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
// Wilson score interval for k successes in n trials at 95% confidence.
std::pair<double, double> WilsonInterval95(int k, int n);

}  // namespace engram::analysis
