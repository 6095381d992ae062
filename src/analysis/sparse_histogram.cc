#include "analysis/sparse_histogram.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace engram::analysis {

namespace {

// The HdrHistogram rank convention of Histogram::ValueAtQuantile: 1-based ceil(q * count),
// clamped to [1, count].
uint64_t RankOf(double q, uint64_t count) {
  if (!(q > 0.0)) q = 0.0;
  if (q > 1.0) q = 1.0;
  const auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count)));
  return std::clamp<uint64_t>(rank, 1, count);
}

}  // namespace

SparseHistogram SparseHistogram::From(const Histogram& h) {
  SparseHistogram s;
  s.count = h.count();
  s.min = h.min();
  s.max = h.max();
  h.ForEachBucket([&](int64_t low, int64_t high, uint64_t count) {
    s.buckets.push_back({low, high, count});
  });
  return s;
}

SparseHistogram SparseHistogram::Scaled(double factor) const {
  const auto scale = [factor](int64_t v) {
    return static_cast<int64_t>(std::llround(static_cast<double>(v) * factor));
  };
  SparseHistogram s = *this;
  for (Bucket& b : s.buckets) {
    b.low = scale(b.low);
    b.high = std::max(b.low, scale(b.high));
  }
  s.min = scale(min);
  s.max = scale(max);
  return s;
}

int64_t SparseHistogram::ValueAtQuantile(double q) const {
  if (count == 0) return 0;
  const uint64_t rank = RankOf(q, count);
  if (rank == 1) return min;
  if (rank == count) return max;
  uint64_t seen = 0;
  for (const Bucket& b : buckets) {
    seen += b.count;
    if (seen >= rank) return std::min(b.high, max);
  }
  return max;
}

BlockSet::BlockSet(std::vector<Block> blocks) : blocks_(std::move(blocks)) {
  // The union of bucket lows, sorted; a bucket is identified by its low value. The overflow
  // bucket's reported high differs per block (it is that block's max), so keep the largest and
  // let the clamp to the merged max below give the right answer.
  std::vector<std::pair<int64_t, int64_t>> all;
  for (const Block& b : blocks_) {
    for (const auto& bucket : b.latency.buckets) all.emplace_back(bucket.low, bucket.high);
  }
  std::sort(all.begin(), all.end());
  std::vector<int64_t> lows;
  for (const auto& [low, high] : all) {
    if (lows.empty() || lows.back() != low) {
      lows.push_back(low);
      key_high_.push_back(high);
    } else {
      key_high_.back() = std::max(key_high_.back(), high);
    }
  }
  const size_t u = lows.size();
  prefix_.assign(blocks_.size() * u, 0);
  for (size_t i = 0; i < blocks_.size(); ++i) {
    uint64_t* row = prefix_.data() + i * u;
    for (const auto& bucket : blocks_[i].latency.buckets) {
      const auto it = std::lower_bound(lows.begin(), lows.end(), bucket.low);
      row[it - lows.begin()] += bucket.count;
    }
    for (size_t k = 1; k < u; ++k) row[k] += row[k - 1];
  }
}

uint64_t BlockSet::CountThrough(std::span<const uint32_t> indices, size_t key) const {
  const size_t u = key_high_.size();
  uint64_t n = 0;
  for (uint32_t i : indices) n += prefix_[i * u + key];
  return n;
}

BlockStats BlockSet::Evaluate(std::span<const uint32_t> indices) const {
  uint64_t count = 0, ops = 0, errors = 0;
  double seconds = 0;
  int64_t min = std::numeric_limits<int64_t>::max(), max = 0;
  for (uint32_t i : indices) {
    const Block& b = blocks_[i];
    count += b.latency.count;
    ops += b.ops;
    errors += b.errors;
    seconds += b.seconds;
    if (b.latency.count > 0) {
      min = std::min(min, b.latency.min);
      max = std::max(max, b.latency.max);
    }
  }
  BlockStats s;
  s.throughput = seconds > 0 ? static_cast<double>(ops) / seconds : 0.0;
  s.error_rate = ops > 0 ? static_cast<double>(errors) / static_cast<double>(ops) : 0.0;
  if (count == 0 || key_high_.empty()) return s;
  auto quantile = [&](double q) -> double {
    const uint64_t rank = RankOf(q, count);
    if (rank == 1) return static_cast<double>(min);
    if (rank == count) return static_cast<double>(max);
    // The first bucket through which at least `rank` values lie.
    size_t lo = 0, hi = key_high_.size() - 1;
    while (lo < hi) {
      const size_t mid = lo + (hi - lo) / 2;
      if (CountThrough(indices, mid) >= rank) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    return static_cast<double>(std::min(key_high_[lo], max));
  };
  s.p50 = quantile(0.50);
  s.p95 = quantile(0.95);
  s.p99 = quantile(0.99);
  return s;
}

}  // namespace engram::analysis
