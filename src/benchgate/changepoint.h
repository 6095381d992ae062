// Change-point detection over a benchmark's history: finds the runs where the level of a series
// shifted and stayed shifted, including creeping regressions that no single gate run flagged
// because each step stayed under the threshold.
//
// The method is E-divisive means (Matteson & James 2014, "A nonparametric approach for multiple
// change point analysis of multivariate data"; the method of MongoDB's signal-processing
// library and of Otava/Hunter), with exponent alpha = 1 on one-dimensional series:
//
//   1. For a segment x[a, b) and every split t with at least `min_segment` points on each side,
//      the divergence of the two sides is
//        Q(t) = m n / (m + n) * ( 2/(m n) sum |x_i - y_j|  - 1/C(m,2) sum_{i<k} |x_i - x_k|
//                                                       - 1/C(n,2) sum_{j<k} |y_j - y_k| )
//      (x = the m points left of t, y = the n points from t on): an energy distance, which is
//      large when the two sides have different distributions, here mostly different levels.
//   2. Hierarchical search: among the current segments take the split with the largest Q.
//      Its significance is a permutation test: the segment's points are shuffled `permutations`
//      times (seeded) and the best Q recomputed each time; p = (1 + #{shuffled >= observed}) /
//      (permutations + 1). If p <= alpha the split is kept and both halves are searched again;
//      otherwise the search stops.
//   3. Magnitude filter: a significant split whose adjacent segments' means differ by less than
//      `min_relative_change` is dropped (the smallest first, neighbours re-merged each time).
//      Instruction counts repeat exactly, so any change at all is "significant"; only changes
//      that matter to the gate (about half its threshold) are reported.
//
// Cost: O(n^2) per scan of a segment of n points, times (permutations + 1) per accepted split;
// a history of a few hundred runs takes well under a second per series.
//
// Threading: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "benchgate/history.h"

namespace engram::benchgate {

struct ChangePointOptions {
  size_t min_segment = 3;              // points on each side of a change, at least 2
  double alpha = 0.05;                 // permutation-test significance level
  int permutations = 199;              // shuffles per test
  double min_relative_change = 0.025;  // |mean after / mean before - 1|: half the 5% threshold
  uint64_t seed = 20240601;            // the shuffles' generator (core/random.h)
};

struct ChangePoint {
  size_t index = 0;  // first point of the new level: the change happened between index-1 and index
  double p_value = 1;
  double mean_before = 0, mean_after = 0;  // means of the adjacent segments, after merging
  double relative_change() const { return mean_after / mean_before - 1; }
};

// Change points of `series`, in order of index. Deterministic for given options.
std::vector<ChangePoint> DetectChangePoints(const std::vector<double>& series,
                                            const ChangePointOptions& options = {});

// One benchmark's history on one fingerprint and mode: the gate's main metric per run (median
// time in wall-time mode, instructions in instruction mode), oldest first, with the wall-time
// interval when there is one (NaN otherwise).
struct HistorySeries {
  std::string mode, fingerprint, description, benchmark;
  struct Point {
    int64_t run_id = 0;
    std::string time, commit, verdict, label;
    double value = 0;
    double low = std::numeric_limits<double>::quiet_NaN();
    double high = std::numeric_limits<double>::quiet_NaN();
  };
  std::vector<Point> points;
};

// Groups history rows into series, ordered by (mode, fingerprint, benchmark). Runs labelled
// with an injected slowdown (the gate's own tests) are left out when `skip_injected` is set:
// they are not the code's history.
std::vector<HistorySeries> GroupHistory(const std::vector<HistoryPoint>& rows,
                                        bool skip_injected = false);

// The change points of one series' values.
std::vector<ChangePoint> SeriesChangePoints(const HistorySeries& series,
                                            const ChangePointOptions& options = {});

// Text for `bench-gate history --change-points`: one block per fingerprint and mode, one line
// per benchmark and one per change point (run, commit, time, level before -> after, change, p).
std::string FormatChangePoints(const std::vector<HistorySeries>& series,
                               const ChangePointOptions& options = {});

}  // namespace engram::benchgate
