#include "core/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <thread>
#include <vector>

#include "core/random.h"

namespace engram {
namespace {

constexpr int64_t kHourNs = int64_t{3600} * 1000 * 1000 * 1000;
constexpr double kQuantiles[] = {0.0, 0.5, 0.9, 0.99, 0.999, 0.9999, 1.0};

// The exact percentile of a sorted sample under the HdrHistogram convention: the smallest v
// with at least ceil(q * n) values <= v.
int64_t ExactQuantile(const std::vector<int64_t>& sorted, double q) {
  uint64_t rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(sorted.size())));
  rank = std::clamp<uint64_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

std::vector<int64_t> Sample(size_t n, const std::function<int64_t(Rng&)>& draw, uint64_t seed) {
  Rng rng(seed);
  std::vector<int64_t> v(n);
  for (auto& x : v) x = draw(rng);
  return v;
}

int64_t LogNormal200us(Rng& rng) {
  return std::llround(std::exp(std::log(200e3) + 1.5 * rng.Normal()));
}
int64_t Uniform1To1e9(Rng& rng) { return 1 + static_cast<int64_t>(rng.Below(1000000000)); }
int64_t Exponential1ms(Rng& rng) { return std::llround(rng.Exponential(1e-6)); }

void ExpectSameQueries(const Histogram& a, const Histogram& b) {
  EXPECT_EQ(a.count(), b.count());
  EXPECT_EQ(a.min(), b.min());
  EXPECT_EQ(a.max(), b.max());
  EXPECT_EQ(a.sum(), b.sum());
  EXPECT_EQ(a.overflow_count(), b.overflow_count());
  for (double q : kQuantiles) EXPECT_EQ(a.ValueAtQuantile(q), b.ValueAtQuantile(q)) << q;
  EXPECT_TRUE(a == b);
}

TEST(HistogramTest, QuantilesOfMillionSamplesAreWithinPointOnePercent) {
  struct Case {
    const char* name;
    int64_t (*draw)(Rng&);
  };
  const Case cases[] = {{"lognormal(200us, 1.5)", LogNormal200us},
                        {"uniform(1, 1e9)", Uniform1To1e9},
                        {"exponential(1ms)", Exponential1ms}};
  double worst = 0;
  uint64_t seed = 7;
  for (const Case& c : cases) {
    std::vector<int64_t> values = Sample(1000000, c.draw, seed++);
    Histogram h;
    for (int64_t v : values) h.Record(v);
    std::sort(values.begin(), values.end());
    EXPECT_EQ(h.count(), values.size());
    EXPECT_EQ(h.min(), values.front());
    EXPECT_EQ(h.max(), values.back());
    for (double q : kQuantiles) {
      const int64_t exact = ExactQuantile(values, q);
      const int64_t got = h.ValueAtQuantile(q);
      // The convention reports the bucket's highest value: never below the exact value.
      EXPECT_GE(got, exact) << c.name << " q=" << q;
      const double rel = exact == 0 ? (got == 0 ? 0.0 : 1.0)
                                    : std::abs(static_cast<double>(got - exact)) / exact;
      EXPECT_LE(rel, 0.001) << c.name << " q=" << q << " exact=" << exact << " got=" << got;
      worst = std::max(worst, rel);
    }
  }
  std::printf("worst relative quantile error: %.6f%%\n", worst * 100);
  RecordProperty("worst_relative_error_ppm", static_cast<int>(std::lround(worst * 1e6)));
}

TEST(HistogramTest, EveryValueWithinRangeIsReportedWithinPointOnePercent) {
  // One value per histogram, across every power of two up to the top: q=0.5 of a sample of one
  // is that value, so only the bucket width shows.
  double worst = 0;
  Rng rng(3);
  for (int bits = 1; bits <= 42; ++bits) {
    for (int k = 0; k < 200; ++k) {
      const int64_t lo = int64_t{1} << (bits - 1);
      const int64_t v = std::min<int64_t>(lo + static_cast<int64_t>(rng.Below(lo)),
                                          Histogram::highest_trackable());
      const int64_t high = Histogram::HighestEquivalentValue(v);
      ASSERT_LE(Histogram::LowestEquivalentValue(v), v);
      ASSERT_GE(high, v);
      worst = std::max(worst, static_cast<double>(high - v) / static_cast<double>(v));
    }
  }
  EXPECT_LT(worst, 1.0 / 1024);
}

TEST(HistogramTest, NothingIsDropped) {
  const int64_t ten_hours = 10 * kHourNs;
  Histogram h;
  h.Record(0);
  h.Record(-5);
  h.Record(1);
  h.Record(kHourNs);
  h.Record(ten_hours);
  EXPECT_GE(Histogram::highest_trackable(), kHourNs);
  EXPECT_EQ(h.count(), 5u);
  EXPECT_EQ(h.min(), 0);  // negative values count as 0
  EXPECT_EQ(h.max(), ten_hours);
  EXPECT_EQ(h.overflow_count(), 1u);
  EXPECT_EQ(h.ValueAtQuantile(1.0), ten_hours);
  EXPECT_EQ(h.ValueAtQuantile(0.0), 0);
  EXPECT_EQ(h.ValueAtQuantile(0.4), 0);  // rank 2: the clamped negative
  EXPECT_EQ(h.ValueAtQuantile(0.6), 1);
  EXPECT_NEAR(static_cast<double>(h.ValueAtQuantile(0.8)), static_cast<double>(kHourNs),
              kHourNs * 0.001);
  EXPECT_EQ(h.sum(), static_cast<uint64_t>(1 + kHourNs + ten_hours));
  uint64_t bucket_total = 0;
  h.ForEachBucket([&](int64_t low, int64_t high, uint64_t n) {
    EXPECT_LE(low, high);
    bucket_total += n;
  });
  EXPECT_EQ(bucket_total, h.count());
}

TEST(HistogramTest, RecordNEqualsRepeatedRecord) {
  Histogram a, b;
  a.RecordN(12345, 1000);
  a.RecordN(-1, 3);
  a.RecordN(99, 0);  // records nothing, does not touch min
  for (int i = 0; i < 1000; ++i) b.Record(12345);
  for (int i = 0; i < 3; ++i) b.Record(0);
  ExpectSameQueries(a, b);
  EXPECT_DOUBLE_EQ(a.mean(), 12345.0 * 1000 / 1003);
}

TEST(HistogramTest, EmptyAndResetHistogramsAnswerZero) {
  Histogram h;
  EXPECT_TRUE(h.empty());
  EXPECT_EQ(h.ValueAtQuantile(0.99), 0);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.max(), 0);
  EXPECT_EQ(h.mean(), 0.0);
  EXPECT_EQ(h.CountAtOrBelow(100), 0u);
  h.Record(500);
  h.Record(10 * kHourNs);
  EXPECT_FALSE(h.empty());
  h.Reset();
  EXPECT_TRUE(h.empty());
  EXPECT_EQ(h.overflow_count(), 0u);
  EXPECT_TRUE(h == Histogram());
}

TEST(HistogramTest, MergeEqualsHistogramOfUnion) {
  const std::vector<int64_t> xs = Sample(200000, LogNormal200us, 11);
  const std::vector<int64_t> ys = Sample(100000, Uniform1To1e9, 12);
  Histogram a, b, all;
  for (int64_t v : xs) a.Record(v), all.Record(v);
  for (int64_t v : ys) b.Record(v), all.Record(v);
  b.Record(-7), all.Record(-7);
  b.Record(20 * kHourNs), all.Record(20 * kHourNs);
  Histogram merged = a;
  merged.Merge(b);
  ExpectSameQueries(merged, all);
  // Merging an empty histogram, or into one, changes nothing.
  Histogram empty;
  merged.Merge(empty);
  ExpectSameQueries(merged, all);
  empty.Merge(all);
  ExpectSameQueries(empty, all);
}

TEST(HistogramTest, EncodeDecodeRoundTripIsExact) {
  std::vector<Histogram> cases(3);
  for (int64_t v : Sample(300000, Exponential1ms, 21)) cases[1].Record(v);
  cases[1].Record(-3);
  cases[1].RecordN(30 * kHourNs, 2);
  cases[2].RecordN(5 * kHourNs, 4);  // only overflow values
  for (const Histogram& h : cases) {
    const std::string text = h.Encode();
    ASSERT_EQ(text.rfind("HLL1:", 0), 0u);
    for (char c : text) ASSERT_TRUE(c > ' ' && c < 127) << "non-printable byte " << int(c);
    Result<Histogram> back = Histogram::Decode(text);
    ASSERT_TRUE(back.ok()) << back.error().ToString();
    ExpectSameQueries(*back, h);
    EXPECT_EQ(back->Encode(), text);
    for (int64_t v : {0, 1, 1000, 1000000, 1000000000}) {
      EXPECT_EQ(back->CountAtOrBelow(v), h.CountAtOrBelow(v));
    }
  }
  std::printf("encoded size of 300k exponential samples: %zu chars\n", cases[1].Encode().size());
}

TEST(HistogramTest, DecodeRejectsCorruptInput) {
  Histogram h;
  for (int64_t v : Sample(2000, LogNormal200us, 31)) h.Record(v);
  const std::string text = h.Encode();
  for (std::string_view bad :
       {std::string_view(""), std::string_view("hello"), std::string_view("HLL1:"),
        std::string_view("HLL1:!!!!"), std::string_view("HLL1:AAAA"),
        std::string_view("HLL1:AAAAAAAAAAAAAAAAAAAA"), std::string_view("HLL1:AA=A")}) {
    EXPECT_FALSE(Histogram::Decode(bad).ok()) << bad;
  }
  std::string version2 = text;
  version2[3] = '2';
  Result<Histogram> v2 = Histogram::Decode(version2);
  ASSERT_FALSE(v2.ok());
  EXPECT_NE(v2.error().message().find("version 'HLL2'"), std::string::npos)
      << v2.error().message();
  // Every truncation and every single-character change is rejected, never a crash.
  for (size_t len = 0; len < text.size(); ++len) {
    EXPECT_FALSE(Histogram::Decode(std::string_view(text).substr(0, len)).ok()) << len;
  }
  for (size_t i = 5; i < text.size(); ++i) {
    std::string damaged = text;
    damaged[i] = damaged[i] == 'A' ? 'B' : 'A';
    if (damaged[i] == '=' || text[i] == '=') continue;
    EXPECT_FALSE(Histogram::Decode(damaged).ok()) << "position " << i;
  }
}

TEST(HistogramTest, CountAtOrBelowIsMonotoneAndExactAtBucketBoundaries) {
  std::vector<int64_t> values = Sample(200000, LogNormal200us, 41);
  values.push_back(15 * kHourNs);
  Histogram h;
  for (int64_t v : values) h.Record(v);
  std::sort(values.begin(), values.end());
  auto exact = [&](int64_t v) {
    return static_cast<uint64_t>(std::upper_bound(values.begin(), values.end(), v) -
                                 values.begin());
  };
  uint64_t previous = 0;
  Rng rng(42);
  for (int64_t v = -1; v < 30 * kHourNs; v = v + 1 + v / 97 + static_cast<int64_t>(rng.Below(3))) {
    const uint64_t n = h.CountAtOrBelow(v);
    ASSERT_GE(n, previous) << v;
    previous = n;
    const int64_t boundary = Histogram::HighestEquivalentValue(v);
    if (boundary <= Histogram::highest_trackable()) {
      ASSERT_EQ(h.CountAtOrBelow(boundary), exact(boundary)) << boundary;
    }
  }
  EXPECT_EQ(h.CountAtOrBelow(h.max()), h.count());
  EXPECT_EQ(h.CountAtOrBelow(h.max() - 1), h.count() - 1);
  EXPECT_EQ(h.CountAtOrBelow(h.min() - 1), 0u);
  EXPECT_EQ(h.CountAtOrBelow(std::numeric_limits<int64_t>::max()), h.count());
}

TEST(AtomicHistogramTest, ConcurrentRecordsEqualPlainHistogram) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 250000;
  auto value = [](Rng& rng, int i) {
    if (i % 50000 == 7) return 12 * kHourNs;  // some overflow
    if (i % 50000 == 9) return int64_t{-4};   // some non-positive
    return LogNormal200us(rng);
  };
  AtomicHistogram shared;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Rng rng = Rng::Stream(99, static_cast<uint64_t>(t));
      for (int i = 0; i < kPerThread; ++i) shared.Record(value(rng, i));
    });
  }
  for (auto& th : threads) th.join();
  Histogram plain;
  for (int t = 0; t < kThreads; ++t) {
    Rng rng = Rng::Stream(99, static_cast<uint64_t>(t));
    for (int i = 0; i < kPerThread; ++i) plain.Record(value(rng, i));
  }
  const Histogram snap = shared.Snapshot();
  EXPECT_EQ(snap.count(), 1000000u);
  ExpectSameQueries(snap, plain);
}

TEST(AtomicHistogramTest, EmptySnapshotIsEmpty) {
  AtomicHistogram shared;
  EXPECT_TRUE(shared.Snapshot() == Histogram());
  shared.RecordN(5, 0);
  EXPECT_TRUE(shared.Snapshot().empty());
}

}  // namespace
}  // namespace engram
