// Latency histograms: HDR-style log-linear buckets with constant relative precision.
//
// Why a histogram and not a list of samples or a running percentile estimate:
//  - Nothing is dropped. The earlier system's histogram capped at ~65 ms and ignored record
//    errors, so the slowest requests vanished from the tail. Here every value is counted: values
//    <= 0 land in the zero bucket, values above highest_trackable() (~73 minutes in ns) land in
//    an overflow bucket that percentile queries report as the exact max seen.
//  - Coordinated omission is the caller's job, but this type must not undo it: the load
//    generator records completion minus *intended* start, so one server stall becomes many large
//    values, and all of them must fit. Hence the range of an hour, not a second.
//  - Never average percentiles. The P99 of a pooled run is not the mean (or max) of per-thread
//    P99s. Keep one Histogram per thread per operation and Merge() them (merging adds counts and
//    equals recording the union); take percentiles from the merged histogram only.
//
// Layout (the HdrHistogram layout with lowest discernible value 1 and 3 significant digits):
// values 0..2047 each have their own bucket; above that, every power-of-two range [2^k, 2^k+1)
// is split into 1024 equal buckets of width 2^(k-10). A value is reported back as the highest
// value of its bucket, which is above it by less than 1/1024 (0.098%) of the value.
// 32 power-of-two ranges cover 0 .. 2^42-1 ns (4.4e12 ns, ~73 min): 33,792 buckets plus one
// overflow slot, kept as one flat array of uint64_t = 264 KiB per histogram (Histogram and
// AtomicHistogram alike), allocated in full at construction so Record never allocates.
//
// Units are the caller's; Engram records nanoseconds.
//
// Threading: a Histogram is a value with no internal synchronization. Give each thread its own
// (the load generator keeps one per thread per operation) and Merge() under the caller's
// synchronization; const methods may run concurrently with each other. AtomicHistogram is the
// exception: any number of threads may Record() into it concurrently without locks, and
// Snapshot() may run concurrently with them.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace engram {

namespace internal {
// The bucket layout shared by Histogram and AtomicHistogram.
struct HistogramLayout {
  static constexpr int kSubBucketHalfCountMagnitude = 10;
  static constexpr int64_t kSubBucketHalfCount = int64_t{1} << kSubBucketHalfCountMagnitude;
  static constexpr int64_t kSubBucketCount = 2 * kSubBucketHalfCount;  // 2048
  static constexpr uint64_t kSubBucketMask = kSubBucketCount - 1;
  static constexpr int kMaxValueBits = 42;
  static constexpr int64_t kHighestTrackable = (int64_t{1} << kMaxValueBits) - 1;
  // Power-of-two ranges: bucket 0 holds 0..2047, bucket b >= 1 holds [2^(b+10), 2^(b+11)).
  static constexpr int kBucketCount = kMaxValueBits - kSubBucketHalfCountMagnitude;  // 32
  static constexpr size_t kCountsLen =
      static_cast<size_t>(kBucketCount + 1) * static_cast<size_t>(kSubBucketHalfCount);
  static constexpr size_t kOverflowSlot = kCountsLen;  // counts above kHighestTrackable
  static constexpr size_t kSlots = kCountsLen + 1;

  // Slot of a value, REQUIRES: 0 <= v <= kHighestTrackable. Branch-free.
  static size_t CountsIndex(int64_t v) {
    const uint64_t u = static_cast<uint64_t>(v);
    const int bucket = 63 - kSubBucketHalfCountMagnitude - std::countl_zero(u | kSubBucketMask);
    const uint64_t sub = u >> bucket;
    return (static_cast<size_t>(bucket) << kSubBucketHalfCountMagnitude) + sub;
  }
  // Slot of any value: <= 0 goes to slot 0, above the range to kOverflowSlot.
  static size_t SlotFor(int64_t v) {
    const int64_t clamped = v < 0 ? 0 : (v > kHighestTrackable ? kHighestTrackable : v);
    const size_t idx = CountsIndex(clamped);
    return v > kHighestTrackable ? kOverflowSlot : idx;
  }
  // Lowest and highest value of slot i < kCountsLen.
  static int64_t SlotLow(size_t i) {
    if (i < static_cast<size_t>(kSubBucketCount)) return static_cast<int64_t>(i);
    const int bucket = static_cast<int>(i >> kSubBucketHalfCountMagnitude) - 1;
    const int64_t sub = static_cast<int64_t>(i & (kSubBucketHalfCount - 1)) + kSubBucketHalfCount;
    return sub << bucket;
  }
  static int64_t SlotHigh(size_t i) {
    if (i < static_cast<size_t>(kSubBucketCount)) return static_cast<int64_t>(i);
    const int bucket = static_cast<int>(i >> kSubBucketHalfCountMagnitude) - 1;
    return SlotLow(i) + (int64_t{1} << bucket) - 1;
  }
};
}  // namespace internal

class AtomicHistogram;

// A single-threaded latency histogram. Record is O(1), allocation-free and branch-light (it is
// on the load generator's hot path). Copyable; a moved-from Histogram may only be assigned to
// or destroyed.
class Histogram {
  using Layout = internal::HistogramLayout;

 public:
  Histogram();

  // Records one value. Values <= 0 count as 0; values above highest_trackable() count in the
  // overflow bucket. Never drops a value.
  void Record(int64_t v) {
    v = v < 0 ? 0 : v;
    counts_[Layout::SlotFor(v)] += 1;
    count_ += 1;
    sum_ += static_cast<uint64_t>(v);
    min_ = v < min_ ? v : min_;
    max_ = v > max_ ? v : max_;
  }
  // Records `n` copies of `v` (n == 0 records nothing).
  void RecordN(int64_t v, uint64_t n) {
    if (n == 0) return;
    v = v < 0 ? 0 : v;
    counts_[Layout::SlotFor(v)] += n;
    count_ += n;
    sum_ += static_cast<uint64_t>(v) * n;
    min_ = v < min_ ? v : min_;
    max_ = v > max_ ? v : max_;
  }
  // Adds other's counts to this one; afterwards this equals a histogram of the union.
  void Merge(const Histogram& other);
  // Back to empty; keeps the allocation.
  void Reset();

  uint64_t count() const { return count_; }
  bool empty() const { return count_ == 0; }
  // Exact smallest and largest recorded value (after clamping <= 0 to 0); 0 when empty.
  int64_t min() const { return count_ == 0 ? 0 : min_; }
  int64_t max() const { return max_; }
  // Exact sum of recorded values. It wraps past 2^64 (584 years of summed nanoseconds).
  uint64_t sum() const { return sum_; }
  // Exact mean (sum / count); 0 when empty.
  double mean() const;
  // Values counted above highest_trackable(); included in count().
  uint64_t overflow_count() const { return counts_[Layout::kOverflowSlot]; }

  // The HdrHistogram convention: the smallest recorded v such that at least ceil(q * count)
  // values are <= v, reported as the highest value of v's bucket clamped to max() (so within
  // 0.1% above the exact sample percentile). q = 0 (and any q whose rank is 1) gives min(),
  // q = 1 gives max(); a rank in the overflow bucket gives max(). q outside [0, 1] is clamped.
  // Returns 0 when empty. O(number of buckets).
  int64_t ValueAtQuantile(double q) const;

  // How many recorded values are <= v, for Prometheus cumulative `le` buckets. Exact when
  // v < min(), v >= max(), or v is a bucket's highest value (HighestEquivalentValue(v) == v,
  // true for every v < 2048). Otherwise v's whole bucket is counted, i.e. values in
  // (v, HighestEquivalentValue(v)], which are within 0.1% of v. Between highest_trackable()
  // and max() overflow values are not counted (their individual values are not kept).
  // Monotone in v.
  uint64_t CountAtOrBelow(int64_t v) const;

  // Calls fn(low, high, count) for each non-empty bucket in increasing order; low and high are
  // the bucket's inclusive value range. The overflow bucket, if non-empty, comes last as
  // (highest_trackable() + 1, max(), overflow_count()). The counts add up to count().
  template <typename Fn>
  void ForEachBucket(Fn&& fn) const {
    for (size_t i = 0; i < Layout::kCountsLen; ++i) {
      if (counts_[i] != 0) fn(Layout::SlotLow(i), Layout::SlotHigh(i), counts_[i]);
    }
    if (overflow_count() != 0) fn(highest_trackable() + 1, max_, overflow_count());
  }

  // The largest value with its own bucket: 2^42 - 1 (~73 minutes in nanoseconds).
  static constexpr int64_t highest_trackable() { return Layout::kHighestTrackable; }
  // The inclusive range of values that share v's bucket (and so are reported alike).
  // Values <= 0 map to 0; values above highest_trackable() to the overflow range
  // [highest_trackable() + 1, INT64_MAX].
  static int64_t LowestEquivalentValue(int64_t v);
  static int64_t HighestEquivalentValue(int64_t v);

  // A printable ASCII encoding for result files: "HLL1:" followed by base64 of a varint
  // run-length encoding of the non-empty buckets, count, min, max, sum and overflow, and a
  // 32-bit checksum. About 4 characters per non-empty bucket: tens of bytes for a narrow
  // distribution, ~30 KiB for 300k samples spread over four decades; bounded by ~500 KiB.
  std::string Encode() const;
  // The inverse of Encode(): Decode(h.Encode()) == h. Rejects a wrong prefix or version,
  // invalid base64, truncation, a checksum mismatch or inconsistent contents with a non-OK
  // Status (never crashes).
  static Result<Histogram> Decode(std::string_view text);

  // Same counts, count, min, max and sum: every query answers alike.
  bool operator==(const Histogram& other) const;

 private:
  friend class AtomicHistogram;

  std::vector<uint64_t> counts_;  // Layout::kSlots entries; the last is the overflow count
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  int64_t min_ = std::numeric_limits<int64_t>::max();  // sentinel while empty
  int64_t max_ = 0;
};

// A Histogram that many threads record into concurrently without locks (server metrics).
// Same bucket layout and footprint (264 KiB). Each Record is one relaxed-or-release atomic add
// on the bucket, one on the sum, and a load (a CAS only on a new extreme) for min and max.
// Snapshot() while threads record is safe: every value whose bucket the snapshot counts also
// has its min/max visible, but the sum may already include values still being recorded.
// Quiesce writers for an exact snapshot. Not copyable or movable.
class AtomicHistogram {
  using Layout = internal::HistogramLayout;

 public:
  AtomicHistogram();
  AtomicHistogram(const AtomicHistogram&) = delete;
  AtomicHistogram& operator=(const AtomicHistogram&) = delete;

  void Record(int64_t v) { RecordN(v, 1); }
  void RecordN(int64_t v, uint64_t n);
  // A plain Histogram of everything recorded so far; its count is the sum of bucket counts.
  Histogram Snapshot() const;

  static constexpr int64_t highest_trackable() { return Layout::kHighestTrackable; }

 private:
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // Layout::kSlots entries
  std::atomic<uint64_t> sum_{0};
  std::atomic<int64_t> min_{std::numeric_limits<int64_t>::max()};
  std::atomic<int64_t> max_{0};
};

inline void AtomicHistogram::RecordN(int64_t v, uint64_t n) {
  if (n == 0) return;
  v = v < 0 ? 0 : v;
  // Extremes first, then the bucket with release: a Snapshot that sees the bucket increment
  // (acquire) also sees min/max cover this value.
  int64_t cur = min_.load(std::memory_order_relaxed);
  while (v < cur && !min_.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
  }
  cur = max_.load(std::memory_order_relaxed);
  while (v > cur && !max_.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
  }
  sum_.fetch_add(static_cast<uint64_t>(v) * n, std::memory_order_relaxed);
  counts_[Layout::SlotFor(v)].fetch_add(n, std::memory_order_release);
}

}  // namespace engram
