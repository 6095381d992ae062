// The run order of an interleaved A/B comparison (`engram-perf ab`).
//
// Pairs alternate their order, A B, B A, A B, ... (the "ABBA" design): a drift of the machine
// over time (thermal state, a neighbour's load, page cache) then hits both builds alike instead
// of favouring whichever ran first. Interleaving A and B cut the spread of the estimate 3-5x in
// published comparisons (METHODS.md).
#pragma once

#include <vector>

namespace engram::analysis {

struct AbStep {
  int pair = 0;          // 0-based pair index
  bool is_head = false;  // false: base (A, "before"); true: head (B, "after")
};

// 2 * pairs steps: pair i runs A then B when i is even, B then A when i is odd.
inline std::vector<AbStep> AbSchedule(int pairs) {
  std::vector<AbStep> steps;
  for (int i = 0; i < pairs; ++i) {
    const bool head_first = i % 2 == 1;
    steps.push_back({i, head_first});
    steps.push_back({i, !head_first});
  }
  return steps;
}

}  // namespace engram::analysis
