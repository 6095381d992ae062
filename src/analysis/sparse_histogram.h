// SparseHistogram: the non-empty buckets of a core Histogram, and BlockSet, which merges any
// multiset of them quickly.
//
// Why not keep core::Histogram: a decoded Histogram holds all 33,793 slots (264 KiB). The
// bootstrap merges a few blocks thousands of times, and a merge over the dense array would
// dominate. BlockSet maps every block's buckets onto the sorted union of the buckets present
// in any block, so a merge is a few hundred additions and a percentile one scan of the union.
// Percentiles follow the core Histogram's convention exactly (ValueAtQuantile), so a merge of
// all blocks answers like Histogram::Merge of the decoded histograms. Each block keeps its
// cumulative counts over the union, so a percentile of any resample is a binary search over
// the union summing one prefix count per chosen block: O(k log U), not O(U), per resample.
//
// Threading: values; const methods may run concurrently.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/histogram.h"

namespace engram::analysis {

struct SparseHistogram {
  struct Bucket {
    int64_t low = 0;  // inclusive value range of the bucket
    int64_t high = 0;
    uint64_t count = 0;
  };
  std::vector<Bucket> buckets;  // increasing by low; counts > 0
  uint64_t count = 0;
  int64_t min = 0;  // exact smallest and largest value (0 when empty)
  int64_t max = 0;

  static SparseHistogram From(const Histogram& h);
  // Histogram::ValueAtQuantile on the same data.
  int64_t ValueAtQuantile(double q) const;
  // Every value multiplied by `factor` > 0 (bucket bounds, min and max; counts unchanged): the
  // histogram of the same requests had each taken `factor` times as long.
  SparseHistogram Scaled(double factor) const;
};

// Per-block figures the bootstrap needs: latency buckets, operations, errors and seconds.
struct Block {
  SparseHistogram latency;
  uint64_t ops = 0;
  uint64_t errors = 0;
  double seconds = 0;
};

// Statistics of the union of some blocks.
struct BlockStats {
  double p50 = 0, p95 = 0, p99 = 0;  // units of the histograms
  double throughput = 0;             // ops / second
  double error_rate = 0;             // errors / ops (0 when no ops)
};

class BlockSet {
 public:
  explicit BlockSet(std::vector<Block> blocks);

  size_t size() const { return blocks_.size(); }
  // Statistics of the union of blocks[indices[i]] (indices may repeat: a bootstrap resample).
  BlockStats Evaluate(std::span<const uint32_t> indices) const;

 private:
  // How many values of the chosen blocks fall in union buckets 0..key.
  uint64_t CountThrough(std::span<const uint32_t> indices, size_t key) const;

  std::vector<Block> blocks_;
  std::vector<int64_t> key_high_;  // the union's buckets: highest value of each
  std::vector<uint64_t> prefix_;   // blocks x union: cumulative count through each bucket
};

}  // namespace engram::analysis
