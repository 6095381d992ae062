#include "kernels/kernels.h"
#include "kernels/dot_int8_vnni.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/random.h"
#include "hwy/targets.h"

namespace engram::kernels {
namespace {

// Sizes around every vector width Highway may pick (4, 8 or 16 floats) plus real embedding sizes.
constexpr size_t kSizes[] = {0, 1, 3, 7, 8, 15, 16, 17, 31, 64, 100, 768, 1000};
// Offsets in floats from a 64-byte aligned start: 1 and 3 make every vector load unaligned.
constexpr size_t kOffsets[] = {0, 1, 3};

// Tolerances, each relative to the scale the error can actually be measured against:
// Sums of products (SIMD adds in a different order, in float): relative to sum |a_i b_i|, which
// bounds the rounding error even when the dot product itself cancels to near zero.
constexpr double kDotTolerance = 1e-5;
// Squared norms and normalization have no cancellation: relative to the result.
constexpr double kNormTolerance = 2e-6;
// Cosine lies in [-1, 1]: absolute.
constexpr double kCosineTolerance = 1e-6;
// Exp is accurate to 1 ulp, but its argument age/tau is a float quotient carrying up to half an
// ulp of error, which exp turns into a relative error of |age/tau| * 2^-24 in the result. So:
// 2e-6 relative plus that amount.
constexpr double kDecayTolerance = 2e-6;
constexpr double kFloatEpsilonHalf = 0x1.0p-24;
// Values below this are underflow (strengths are at most 1); only their absolute size matters.
constexpr double kUnderflow = 1e-37;

// Runs `body` once for every Highway target compiled into the library that this CPU supports
// (e.g. SSE4, AVX2, AVX3), so a bug in a narrower target is caught on a machine that would
// otherwise only ever dispatch to the widest one.
template <class Body>
void ForEachTarget(const Body& body) {
  for (const int64_t target : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(target);
    SCOPED_TRACE(hwy::TargetName(target));
    ASSERT_STREQ(DispatchedTargetName(), hwy::TargetName(target));
    body();
  }
  hwy::SetSupportedTargetsForTest(0);
}

// A float array starting `offset` floats after a 64-byte boundary.
class Buffer {
 public:
  Buffer(size_t n, size_t offset) : storage_(n + offset + 16) {
    const auto base = reinterpret_cast<uintptr_t>(storage_.data());
    const size_t skip = ((64 - base % 64) % 64) / sizeof(float);
    data_ = storage_.data() + skip + offset;
  }
  float* data() { return data_; }
  float& operator[](size_t i) { return data_[i]; }

 private:
  std::vector<float> storage_;
  float* data_;
};

void FillNormal(Rng& rng, float* p, size_t n) {
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<float>(rng.Normal());
}

double SumAbsProducts(const float* a, const float* b, size_t n) {
  double sum = 0.0;
  for (size_t i = 0; i < n; ++i) sum += std::fabs(static_cast<double>(a[i]) * b[i]);
  return sum;
}

TEST(KernelsTest, DispatchedTargetIsTheBestSupportedOne) {
  const std::vector<int64_t> targets = hwy::SupportedAndGeneratedTargets();
  ASSERT_FALSE(targets.empty());
  // Lower bits are better targets in Highway's numbering.
  const int64_t best = *std::min_element(targets.begin(), targets.end());
  EXPECT_STREQ(DispatchedTargetName(), hwy::TargetName(best));
}

TEST(KernelsTest, DotMatchesScalarForAllSizesAndOffsets) {
  ForEachTarget([] {
    Rng rng(1);
    for (const size_t n : kSizes) {
      for (const size_t offset : kOffsets) {
        Buffer a(n, offset), b(n, offset + 1);
        FillNormal(rng, a.data(), n);
        FillNormal(rng, b.data(), n);
        const double expected = scalar::Dot(a.data(), b.data(), n);
        const double scale = SumAbsProducts(a.data(), b.data(), n);
        EXPECT_NEAR(Dot(a.data(), b.data(), n), expected, kDotTolerance * scale)
            << "n=" << n << " offset=" << offset;
      }
    }
  });
}

// Values that exercise every branch of a binary16 conversion: zeros, ties between two halves
// (1 + 2^-11 rounds to even, 1 + 3 * 2^-11 up), the largest half, overflow to infinity, the
// smallest normal and subnormal halves and what underflows to zero.
constexpr float kHalfEdgeCases[] = {
    0.0f, -0.0f, 1.0f, -1.0f, 1.0f + 0x1.0p-11f, 1.0f + 3 * 0x1.0p-11f, 65504.0f, 65520.0f, 1e6f,
    -1e6f, 0x1.0p-14f, 0x1.0p-24f, 0x1.0p-26f, 0x1.8p-24f, 3.0e-5f, -7.1e-6f, 0.1f, 0.333333f};

TEST(KernelsTest, ToHalfRoundsExactlyLikeTheScalarDefinitionOnEveryTarget) {
  ForEachTarget([] {
    Rng rng(21);
    for (const size_t n : kSizes) {
      for (const size_t offset : kOffsets) {
        Buffer a(n, offset);
        FillNormal(rng, a.data(), n);
        for (size_t i = 0; i < n; ++i) a[i] *= static_cast<float>(std::ldexp(1.0, static_cast<int>(i % 40) - 30));
        std::vector<uint16_t> got(n + 1, 0xABCD), want(n);
        ToHalf(a.data(), n, got.data());
        scalar::ToHalf(a.data(), n, want.data());
        for (size_t i = 0; i < n; ++i) ASSERT_EQ(got[i], want[i]) << "n=" << n << " i=" << i << " x=" << a[i];
        EXPECT_EQ(got[n], 0xABCD) << "wrote past the end, n=" << n;
      }
    }
    const size_t n = std::size(kHalfEdgeCases);
    std::vector<uint16_t> got(n), want(n);
    ToHalf(kHalfEdgeCases, n, got.data());
    scalar::ToHalf(kHalfEdgeCases, n, want.data());
    for (size_t i = 0; i < n; ++i) EXPECT_EQ(got[i], want[i]) << "x=" << kHalfEdgeCases[i];
  });
}

TEST(KernelsTest, HalfConversionIsIeeeBinary16) {
  // Bit patterns from the IEEE 754 binary16 format, independent of any conversion code.
  uint16_t h[std::size(kHalfEdgeCases)];
  scalar::ToHalf(kHalfEdgeCases, std::size(kHalfEdgeCases), h);
  EXPECT_EQ(h[0], 0x0000);
  EXPECT_EQ(h[1], 0x8000);
  EXPECT_EQ(h[2], 0x3C00);
  EXPECT_EQ(h[3], 0xBC00);
  EXPECT_EQ(h[4], 0x3C00);  // tie, to even
  EXPECT_EQ(h[5], 0x3C02);  // tie, to even (up)
  EXPECT_EQ(h[6], 0x7BFF);  // largest finite
  EXPECT_EQ(h[7], 0x7C00);  // rounds up to infinity
  EXPECT_EQ(h[8], 0x7C00);
  EXPECT_EQ(h[9], 0xFC00);
  EXPECT_EQ(h[10], 0x0400);  // smallest normal
  EXPECT_EQ(h[11], 0x0001);  // smallest subnormal
  EXPECT_EQ(h[12], 0x0000);  // underflows
  EXPECT_EQ(h[13], 0x0002);  // 1.5 x smallest subnormal: tie, to even
  EXPECT_EQ(h[16], 0x2E66);  // 0.1
  for (size_t i = 0; i < std::size(kHalfEdgeCases); ++i) {
    const float back = scalar::HalfToFloat(h[i]);
    const float x = kHalfEdgeCases[i];
    if (std::fabs(x) <= 65504.0f && std::fabs(x) >= 0x1.0p-14f) {
      EXPECT_LE(std::fabs(back - x), std::fabs(x) * 0x1.0p-11f) << "x=" << x;  // half an ulp
    }
  }
}

TEST(KernelsTest, DotHalfMatchesScalarAndStaysCloseToTheFloatDot) {
  ForEachTarget([] {
    Rng rng(22);
    for (const size_t n : kSizes) {
      for (const size_t offset : kOffsets) {
        Buffer a(n, offset), b(n, offset + 1);
        FillNormal(rng, a.data(), n);
        FillNormal(rng, b.data(), n);
        Normalize(a.data(), n);
        Normalize(b.data(), n);
        std::vector<uint16_t> ha(n + offset), hb(n + 1);
        ToHalf(a.data(), n, ha.data() + offset);  // odd offsets: unaligned half loads
        ToHalf(b.data(), n, hb.data() + 1);
        const double scale = SumAbsProducts(a.data(), b.data(), n);
        const float got = DotHalf(ha.data() + offset, hb.data() + 1, n);
        EXPECT_NEAR(got, scalar::DotHalf(ha.data() + offset, hb.data() + 1, n), kDotTolerance * scale)
            << "n=" << n << " offset=" << offset;
        // Each value carries at most 2^-11 relative rounding, so each product 2^-10.
        EXPECT_NEAR(got, scalar::Dot(a.data(), b.data(), n), 0x1.0p-10 * scale + kDotTolerance * scale)
            << "n=" << n << " offset=" << offset;
      }
    }
  });
}

TEST(KernelsTest, DotInt8WithVnniIsExactIncludingTheExtremesAndPartialChunks) {
  if (!internal::CpuHasAvx512Vnni()) GTEST_SKIP() << "this CPU has no AVX-512 VNNI";
  Rng rng(29);
  for (size_t n = 0; n <= 300; ++n) {
    for (const size_t offset : kOffsets) {
      std::vector<int8_t> a(n + offset), b(n + 1);
      for (size_t i = 0; i < n; ++i) {
        a[offset + i] = static_cast<int8_t>(static_cast<int>(rng.Next() % 255) - 127);
        b[1 + i] = static_cast<int8_t>(static_cast<int>(rng.Next() % 255) - 127);
      }
      ASSERT_EQ(internal::DotInt8Vnni(a.data() + offset, b.data() + 1, n), scalar::DotInt8(a.data() + offset, b.data() + 1, n))
          << "n=" << n << " offset=" << offset;
    }
  }
  // The largest sums the contract allows, both signs, with the bias in the way: the biased sum
  // of 127s overflows 32 bits and must come out exact.
  const size_t n = (size_t{1} << 17) - 1;
  std::vector<int8_t> plus(n, 127), minus(n, -127);
  EXPECT_EQ(internal::DotInt8Vnni(plus.data(), plus.data(), n), int32_t{127 * 127} * static_cast<int32_t>(n));
  EXPECT_EQ(internal::DotInt8Vnni(plus.data(), minus.data(), n), -int32_t{127 * 127} * static_cast<int32_t>(n));
  EXPECT_EQ(internal::DotInt8Vnni(minus.data(), plus.data(), n), -int32_t{127 * 127} * static_cast<int32_t>(n));
  EXPECT_EQ(internal::DotInt8Vnni(minus.data(), minus.data(), n), int32_t{127 * 127} * static_cast<int32_t>(n));
  EXPECT_EQ(kernels::BestDotInt8(), &internal::DotInt8Vnni);
}

TEST(KernelsTest, DotInt8IsExactOnEveryTargetIncludingTheExtremes) {
  ForEachTarget([] {
    Rng rng(23);
    for (const size_t n : kSizes) {
      for (const size_t offset : kOffsets) {
        std::vector<int8_t> a(n + offset), b(n + 1);
        for (size_t i = 0; i < n; ++i) {
          a[offset + i] = static_cast<int8_t>(static_cast<int>(rng.Next() % 255) - 127);
          b[1 + i] = static_cast<int8_t>(static_cast<int>(rng.Next() % 255) - 127);
        }
        EXPECT_EQ(internal::DotInt8Highway(a.data() + offset, b.data() + 1, n), scalar::DotInt8(a.data() + offset, b.data() + 1, n))
            << "n=" << n << " offset=" << offset;
      }
    }
    // The largest sums the contract allows, both signs: every int16 pair product is 2 * 127^2.
    const size_t n = (size_t{1} << 17) - 1;
    std::vector<int8_t> plus(n, 127), minus(n, -127);
    EXPECT_EQ(internal::DotInt8Highway(plus.data(), plus.data(), n), int32_t{127 * 127} * static_cast<int32_t>(n));
    EXPECT_EQ(internal::DotInt8Highway(plus.data(), minus.data(), n), -int32_t{127 * 127} * static_cast<int32_t>(n));
  });
}

TEST(KernelsTest, ToInt8CodesReconstructWithinHalfAStepAndKeepTheDotClose) {
  Rng rng(24);
  for (const size_t n : kSizes) {
    if (n == 0) continue;
    std::vector<float> a(n), b(n);
    FillNormal(rng, a.data(), n);
    FillNormal(rng, b.data(), n);
    Normalize(a.data(), n);
    Normalize(b.data(), n);
    std::vector<int8_t> qa(n), qb(n);
    const float sa = ToInt8(a.data(), n, qa.data());
    const float sb = ToInt8(b.data(), n, qb.data());
    float max_abs = 0;
    for (float x : a) max_abs = std::max(max_abs, std::fabs(x));
    EXPECT_FLOAT_EQ(sa, max_abs / 127.0f) << "n=" << n;
    bool has_extreme = false;
    for (size_t i = 0; i < n; ++i) {
      EXPECT_GE(qa[i], -127);
      EXPECT_LE(std::fabs(qa[i] * sa - a[i]), 0.5001f * sa) << "n=" << n << " i=" << i;
      has_extreme |= std::abs(qa[i]) == 127;
    }
    EXPECT_TRUE(has_extreme) << "the largest value maps to +-127, n=" << n;
    // Each value moves by at most half a step, so the dot moves by at most
    // sum(|a_i| sb/2 + |b_i| sa/2 + sa sb/4).
    double bound = 0;
    for (size_t i = 0; i < n; ++i) bound += std::fabs(a[i]) * sb / 2 + std::fabs(b[i]) * sa / 2 + sa * sb / 4;
    const double approx = static_cast<double>(sa) * sb * DotInt8(qa.data(), qb.data(), n);
    EXPECT_NEAR(approx, scalar::Dot(a.data(), b.data(), n), bound * 1.001 + 1e-7) << "n=" << n;
  }
  std::vector<float> zero(5, 0.0f);
  std::vector<int8_t> codes(5, 9);
  EXPECT_EQ(ToInt8(zero.data(), zero.size(), codes.data()), 0.0f);
  EXPECT_EQ(codes, std::vector<int8_t>(5, 0));
}

TEST(KernelsTest, SquaredNormMatchesScalar) {
  ForEachTarget([] {
    Rng rng(2);
    for (const size_t n : kSizes) {
      for (const size_t offset : kOffsets) {
        Buffer a(n, offset);
        FillNormal(rng, a.data(), n);
        const double expected = scalar::SquaredNorm(a.data(), n);
        EXPECT_NEAR(SquaredNorm(a.data(), n), expected, kNormTolerance * expected)
            << "n=" << n << " offset=" << offset;
      }
    }
  });
}

TEST(KernelsTest, NormalizeGivesUnitNormAndReturnsTheOriginalNorm) {
  ForEachTarget([] {
    Rng rng(3);
    for (const size_t n : kSizes) {
      if (n == 0) continue;
      for (const size_t offset : kOffsets) {
        Buffer a(n, offset), reference(n, 0);
        FillNormal(rng, a.data(), n);
        std::copy(a.data(), a.data() + n, reference.data());
        const float expected_norm = scalar::Normalize(reference.data(), n);
        EXPECT_NEAR(Normalize(a.data(), n), expected_norm, kNormTolerance * expected_norm);
        EXPECT_NEAR(scalar::SquaredNorm(a.data(), n), 1.0, kNormTolerance) << "n=" << n;
        for (size_t i = 0; i < n; ++i) {
          ASSERT_NEAR(a[i], reference[i], kNormTolerance) << "n=" << n << " i=" << i;
        }
      }
    }
  });
}

TEST(KernelsTest, NormalizeLeavesAZeroVectorAlone) {
  ForEachTarget([] {
    std::vector<float> zero(17, 0.0f);
    EXPECT_EQ(Normalize(zero.data(), zero.size()), 0.0f);
    for (const float x : zero) EXPECT_EQ(x, 0.0f);
    EXPECT_EQ(Normalize(nullptr, 0), 0.0f);
  });
}

TEST(KernelsTest, BatchDotMatchesScalarOnContiguousAndScatteredRows) {
  ForEachTarget([] {
    Rng rng(4);
    for (const size_t dim : kSizes) {
      for (const size_t count : {0, 1, 3, 4, 5, 9}) {
        const size_t offset = dim % 3;
        Buffer query(dim, offset), rows(count * dim, offset + 1);
        FillNormal(rng, query.data(), dim);
        FillNormal(rng, rows.data(), count * dim);
        // The scattered rows are copies in separately allocated, differently aligned buffers.
        std::vector<Buffer> scattered;
        std::vector<const float*> pointers;
        scattered.reserve(count);
        for (size_t i = 0; i < count; ++i) {
          scattered.emplace_back(dim, (offset + i) % 4);
          std::copy(rows.data() + i * dim, rows.data() + (i + 1) * dim, scattered[i].data());
          pointers.push_back(scattered[i].data());
        }
        std::vector<float> out(count, -1.0f), out_ptrs(count, -1.0f), expected(count);
        BatchDot(query.data(), rows.data(), count, dim, out.data());
        BatchDotPtrs(query.data(), pointers.data(), count, dim, out_ptrs.data());
        scalar::BatchDot(query.data(), rows.data(), count, dim, expected.data());
        for (size_t i = 0; i < count; ++i) {
          const double scale = SumAbsProducts(query.data(), rows.data() + i * dim, dim);
          EXPECT_NEAR(out[i], expected[i], kDotTolerance * scale)
              << "dim=" << dim << " count=" << count << " row=" << i;
          EXPECT_NEAR(out_ptrs[i], expected[i], kDotTolerance * scale)
              << "dim=" << dim << " count=" << count << " row=" << i;
        }
      }
    }
  });
}

TEST(KernelsTest, BatchCosineMatchesScalar) {
  ForEachTarget([] {
    Rng rng(5);
    for (const size_t dim : kSizes) {
      for (const size_t count : {0, 1, 4, 7}) {
        Buffer query(dim, 1), rows(count * dim, 3);
        FillNormal(rng, query.data(), dim);
        FillNormal(rng, rows.data(), count * dim);
        std::vector<float> out(count, -2.0f), expected(count);
        BatchCosine(query.data(), rows.data(), count, dim, out.data());
        scalar::BatchCosine(query.data(), rows.data(), count, dim, expected.data());
        for (size_t i = 0; i < count; ++i) {
          EXPECT_NEAR(out[i], expected[i], kCosineTolerance)
              << "dim=" << dim << " count=" << count << " row=" << i;
        }
      }
    }
  });
}

TEST(KernelsTest, CosineIsOneWithItselfAndZeroWithTheZeroVector) {
  ForEachTarget([] {
    Rng rng(6);
    for (const size_t dim : {1, 7, 17, 768}) {
      // Rows: the query itself, the zero vector, the query scaled by 3, and its negation.
      std::vector<float> query(dim), rows(5 * dim, 0.0f);
      FillNormal(rng, query.data(), dim);
      for (size_t i = 0; i < dim; ++i) {
        rows[i] = query[i];
        rows[2 * dim + i] = 3.0f * query[i];
        rows[3 * dim + i] = -query[i];
        rows[4 * dim + i] = query[i];
      }
      std::vector<float> out(5);
      BatchCosine(query.data(), rows.data(), 5, dim, out.data());
      EXPECT_NEAR(out[0], 1.0f, 1e-6) << "dim=" << dim;
      EXPECT_EQ(out[1], 0.0f) << "dim=" << dim;
      EXPECT_NEAR(out[2], 1.0f, 1e-6) << "dim=" << dim;
      EXPECT_NEAR(out[3], -1.0f, 1e-6) << "dim=" << dim;
      EXPECT_NEAR(out[4], 1.0f, 1e-6) << "dim=" << dim;  // goes through the one-row path

      const std::vector<float> zero_query(dim, 0.0f);
      BatchCosine(zero_query.data(), rows.data(), 5, dim, out.data());
      for (const float c : out) EXPECT_EQ(c, 0.0f) << "dim=" << dim;
    }
  });
}

// Strengths in [0, 1), ages uniform in [0, max_age).
void FillDecayInputs(Rng& rng, float* strength, float* age, size_t n, double max_age) {
  for (size_t i = 0; i < n; ++i) {
    strength[i] = static_cast<float>(rng.Uniform());
    age[i] = static_cast<float>(rng.Uniform() * max_age);
  }
}

TEST(KernelsTest, DecayExponentialMatchesScalar) {
  constexpr double kDay = 86400.0;
  ForEachTarget([] {
    Rng rng(7);
    // tau of one day keeps results well above underflow; tau of an hour over 30 days drives most
    // of them into it.
    for (const float tau : {86400.0f, 3600.0f, 1.0f}) {
      for (const size_t n : kSizes) {
        for (const size_t offset : kOffsets) {
          Buffer strength(n, offset), age(n, offset + 2);
          FillDecayInputs(rng, strength.data(), age.data(), n, 30 * kDay);
          std::vector<float> out(n), expected(n);
          DecayExponential(strength.data(), age.data(), n, tau, out.data());
          scalar::DecayExponential(strength.data(), age.data(), n, tau, expected.data());
          for (size_t i = 0; i < n; ++i) {
            const double x = static_cast<double>(age[i]) / tau;
            const double tolerance =
                (kDecayTolerance + x * kFloatEpsilonHalf) * expected[i] + kUnderflow;
            ASSERT_NEAR(out[i], expected[i], tolerance)
                << "tau=" << tau << " n=" << n << " i=" << i << " age=" << age[i];
          }
        }
      }
    }
  });
}

TEST(KernelsTest, DecayPowerLawMatchesScalar) {
  constexpr double kDay = 86400.0;
  ForEachTarget([] {
    Rng rng(8);
    for (const float alpha : {0.5f, 1.5f}) {
      // tau = 30 days puts many ages at age/tau << 1, where Log1p's small-argument accuracy counts.
      for (const float tau : {3600.0f, 30 * 86400.0f}) {
        for (const size_t n : kSizes) {
          for (const size_t offset : kOffsets) {
            Buffer strength(n, offset), age(n, offset + 1);
            FillDecayInputs(rng, strength.data(), age.data(), n, 30 * kDay);
            std::vector<float> out(n), expected(n);
            DecayPowerLaw(strength.data(), age.data(), n, tau, alpha, out.data());
            scalar::DecayPowerLaw(strength.data(), age.data(), n, tau, alpha, expected.data());
            for (size_t i = 0; i < n; ++i) {
              ASSERT_NEAR(out[i], expected[i], kDecayTolerance * expected[i] + kUnderflow)
                  << "alpha=" << alpha << " tau=" << tau << " n=" << n << " i=" << i
                  << " age=" << age[i];
            }
          }
        }
      }
    }
  });
}

TEST(KernelsTest, DecayOfAgeZeroReturnsTheStrength) {
  ForEachTarget([] {
    Rng rng(9);
    for (const size_t n : kSizes) {
      std::vector<float> strength(n), age(n, 0.0f), out(n);
      for (float& s : strength) s = static_cast<float>(rng.Uniform());
      DecayExponential(strength.data(), age.data(), n, 3600.0f, out.data());
      EXPECT_EQ(out, strength) << "n=" << n;
      DecayPowerLaw(strength.data(), age.data(), n, 3600.0f, 0.5f, out.data());
      EXPECT_EQ(out, strength) << "n=" << n;
    }
  });
}

TEST(KernelsTest, DecayInPlaceEqualsDecayIntoAnotherArray) {
  ForEachTarget([] {
    Rng rng(10);
    for (const size_t n : kSizes) {
      std::vector<float> strength(n), age(n), out(n);
      FillDecayInputs(rng, strength.data(), age.data(), n, 86400.0);
      std::vector<float> in_place = strength;
      DecayExponential(strength.data(), age.data(), n, 3600.0f, out.data());
      DecayExponential(in_place.data(), age.data(), n, 3600.0f, in_place.data());
      EXPECT_EQ(in_place, out) << "n=" << n;
      in_place = strength;
      DecayPowerLaw(strength.data(), age.data(), n, 3600.0f, 0.5f, out.data());
      DecayPowerLaw(in_place.data(), age.data(), n, 3600.0f, 0.5f, in_place.data());
      EXPECT_EQ(in_place, out) << "n=" << n;
    }
  });
}

// A graph of incoming edges in CSR form.
struct Graph {
  std::vector<uint32_t> row;
  std::vector<uint32_t> col;
  std::vector<float> weight;
  size_t num_nodes() const { return row.size() - 1; }
  SpreadGraph Sliced() const {
    SpreadGraph g;
    g.Assign(row.data(), col.data(), weight.data(), num_nodes());
    return g;
  }
};

// `num_edges` edges with uniform targets and sources, weights in [0, max_weight), plus
// `hub_edges` more edges into node 0 (a row far longer than SpreadGraph::kMaxSlicedRow).
Graph RandomGraph(uint64_t seed, size_t num_nodes, size_t num_edges, size_t hub_edges,
                  float max_weight) {
  Rng rng(seed);
  struct Edge {
    uint32_t dst, src;
    float weight;
  };
  std::vector<Edge> edges;
  for (size_t e = 0; e < num_edges + hub_edges; ++e) {
    const auto dst = static_cast<uint32_t>(e < hub_edges ? 0 : rng.Below(num_nodes));
    const auto src = static_cast<uint32_t>(rng.Below(num_nodes));
    edges.push_back({dst, src, static_cast<float>(rng.Uniform() * max_weight)});
  }
  std::stable_sort(edges.begin(), edges.end(),
                   [](const Edge& a, const Edge& b) { return a.dst < b.dst; });
  Graph g;
  g.row.assign(num_nodes + 1, 0);
  for (const Edge& e : edges) {
    ++g.row[e.dst + 1];
    g.col.push_back(e.src);
    g.weight.push_back(e.weight);
  }
  for (size_t v = 0; v < num_nodes; ++v) g.row[v + 1] += g.row[v];
  return g;
}

// Node v has degrees[v] incoming edges from random sources, weights in [0, 0.3).
Graph GraphWithDegrees(uint64_t seed, const std::vector<uint32_t>& degrees) {
  Rng rng(seed);
  Graph g;
  g.row.push_back(0);
  for (const uint32_t d : degrees) {
    for (uint32_t k = 0; k < d; ++k) {
      g.col.push_back(static_cast<uint32_t>(rng.Below(degrees.size())));
      g.weight.push_back(static_cast<float>(0.3 * rng.Uniform()));
    }
    g.row.push_back(static_cast<uint32_t>(g.col.size()));
  }
  return g;
}

// One SIMD step over `sliced` against the scalar reference over `g`, with a third of the nodes
// active: same count, every activation within 1e-6.
void ExpectStepMatchesScalar(const Graph& g, const SpreadGraph& sliced, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> act(g.num_nodes());
  for (float& a : act) a = rng.Uniform() < 0.3 ? static_cast<float>(rng.Uniform()) : 0.0f;
  std::vector<float> next(g.num_nodes(), -1.0f), expected(g.num_nodes());
  const size_t count = SpreadStep(sliced, act.data(), 0.5f, 0.8f, 0.01f, next.data());
  const size_t expected_count =
      scalar::SpreadStep(g.row.data(), g.col.data(), g.weight.data(), g.num_nodes(), act.data(),
                         0.5f, 0.8f, 0.01f, expected.data());
  EXPECT_EQ(count, expected_count);
  for (size_t v = 0; v < g.num_nodes(); ++v) ASSERT_NEAR(next[v], expected[v], 1e-6) << "v=" << v;
}

TEST(KernelsTest, SpreadStepOnAHandComputedGraph) {
  // Incoming edges (source -> node, weight); powers of two, so every sum is exact in any order.
  //   node 0: 1 (0.5), 3 (1)          s = 0.25 + 0.25 = 0.5   x = 0.5*1 + 0.5*0.5 = 0.75
  //   node 1: 0 (1), 2 (0.5)          s = 1 + 0 = 1           x = 0.5*0.5 + 0.5*1 = 0.75
  //   node 2: 0 (2), 1 (1), 3 (1)     s = 2.75                x = 0 + 1.375 -> clamped to 1
  //   node 3: none                                            x = 0.5*0.25 = 0.125
  //   node 4: none                                            x = 0.0625 < 0.1 -> 0
  //   node 5: 2 (1)                   s = 0                   x = 0
  const Graph g = {{0, 2, 4, 7, 7, 7, 8},
                   {1, 3, 0, 2, 0, 1, 3, 2},
                   {0.5f, 1.0f, 1.0f, 0.5f, 2.0f, 1.0f, 1.0f, 1.0f}};
  const std::vector<float> act = {1.0f, 0.5f, 0.0f, 0.25f, 0.125f, 0.0f};
  const std::vector<float> expected = {0.75f, 0.75f, 1.0f, 0.125f, 0.0f, 0.0f};
  const SpreadGraph sliced = g.Sliced();
  EXPECT_EQ(sliced.num_nodes(), 6u);
  EXPECT_EQ(sliced.num_edges(), 8u);
  ForEachTarget([&] {
    std::vector<float> next(act.size(), -1.0f);
    EXPECT_EQ(SpreadStep(sliced, act.data(), 0.5f, 0.5f, 0.1f, next.data()), 4u);
    EXPECT_EQ(next, expected);
    std::fill(next.begin(), next.end(), -1.0f);
    EXPECT_EQ(scalar::SpreadStep(g.row.data(), g.col.data(), g.weight.data(), act.size(),
                                 act.data(), 0.5f, 0.5f, 0.1f, next.data()),
              4u);
    EXPECT_EQ(next, expected);
    SpreadGraph empty;
    EXPECT_EQ(SpreadStep(empty, act.data(), 0.5f, 0.5f, 0.1f, next.data()), 0u);
    empty.Assign(g.row.data(), g.col.data(), g.weight.data(), 0);
    EXPECT_EQ(SpreadStep(empty, act.data(), 0.5f, 0.5f, 0.1f, next.data()), 0u);
  });
}

TEST(KernelsTest, SpreadStepMatchesScalarOnRandomGraphs) {
  // 1000 nodes / 5000 edges as in the benchmark, then the same with a 3000-edge hub.
  for (const size_t hub_edges : {0, 3000}) {
    SCOPED_TRACE(testing::Message() << "hub_edges=" << hub_edges);
    const Graph g = RandomGraph(11, 1000, 5000, hub_edges, 0.3f);
    const SpreadGraph sliced = g.Sliced();
    ForEachTarget([&] { ExpectStepMatchesScalar(g, sliced, 12); });
  }
}

TEST(KernelsTest, SpreadStepMatchesScalarAroundSliceAndLongRowBoundaries) {
  constexpr uint32_t kMax = SpreadGraph::kMaxSlicedRow;
  // Node counts around the slice width of 16; degrees from 0 up to just past the longest row a
  // slice takes, so slices, padding lanes, a partial last slice and long rows all occur.
  for (const size_t n : {1, 2, 15, 16, 17, 31, 33, 100}) {
    for (const uint32_t top : {0u, 1u, 7u, kMax, kMax + 1}) {
      std::vector<uint32_t> degrees(n);
      for (size_t v = 0; v < n; ++v) degrees[v] = static_cast<uint32_t>((v * 7919) % (top + 1));
      degrees[n / 2] = top;
      SCOPED_TRACE(testing::Message() << "n=" << n << " top=" << top);
      const Graph g = GraphWithDegrees(n * 100 + top, degrees);
      const SpreadGraph sliced = g.Sliced();
      EXPECT_EQ(sliced.num_edges(), g.col.size());
      ForEachTarget([&] { ExpectStepMatchesScalar(g, sliced, n + top); });
    }
  }
}

TEST(KernelsTest, SpreadGraphPaddingStaysSmall) {
  // Sorting rows by length bounds the padding by 15 lanes per unit of the longest sliced row.
  const Graph uniform = RandomGraph(11, 1000, 5000, 0, 0.3f);
  const SpreadGraph a = uniform.Sliced();
  EXPECT_LE(a.num_slots(), a.num_edges() * 105 / 100);
  const Graph hub = RandomGraph(11, 1000, 5000, 3000, 0.3f);
  const SpreadGraph b = hub.Sliced();
  EXPECT_LE(b.num_slots(), b.num_edges() + 15 * SpreadGraph::kMaxSlicedRow);
  std::vector<uint32_t> skewed(1000);
  for (size_t v = 0; v < skewed.size(); ++v) skewed[v] = static_cast<uint32_t>(1000 / (v + 1));
  const SpreadGraph c = GraphWithDegrees(3, skewed).Sliced();
  EXPECT_LE(c.num_slots(), c.num_edges() + 15 * SpreadGraph::kMaxSlicedRow);
}

TEST(KernelsTest, SpreadGraphReassignedEqualsFreshlyBuilt) {
  const Graph big = RandomGraph(21, 1000, 5000, 3000, 0.3f);
  const Graph small = RandomGraph(22, 37, 150, 80, 0.3f);
  SpreadGraph reused = big.Sliced();
  reused.Assign(small.row.data(), small.col.data(), small.weight.data(), small.num_nodes());
  EXPECT_EQ(reused.num_nodes(), 37u);
  EXPECT_EQ(reused.num_edges(), 230u);
  ExpectStepMatchesScalar(small, reused, 23);
}

TEST(KernelsTest, HundredSpreadStepsStayWithinOneTenThousandthOfScalar) {
  // Mean weight 0.2: the gain 0.5 + 0.8 * 5 * 0.2 exceeds 1, so activation spreads from the
  // seeds over the graph instead of dying out, and every step has work to compare.
  const Graph g = RandomGraph(13, 1000, 5000, 0, 0.4f);
  const SpreadGraph sliced = g.Sliced();
  ForEachTarget([&] {
    const size_t n = g.num_nodes();
    std::vector<float> act(n, 0.0f), next(n), ref_act(n, 0.0f), ref_next(n);
    Rng rng(14);
    for (int s = 0; s < 10; ++s) act[rng.Below(n)] = 1.0f;
    ref_act = act;
    size_t count = 0;
    for (int step = 0; step < 100; ++step) {
      count = SpreadStep(sliced, act.data(), 0.5f, 0.8f, 0.01f, next.data());
      scalar::SpreadStep(g.row.data(), g.col.data(), g.weight.data(), n, ref_act.data(), 0.5f, 0.8f,
                         0.01f, ref_next.data());
      act.swap(next);
      ref_act.swap(ref_next);
      double max_diff = 0.0;
      for (size_t v = 0; v < n; ++v) {
        max_diff = std::max(max_diff, std::fabs(static_cast<double>(act[v]) - ref_act[v]));
      }
      ASSERT_LE(max_diff, 1e-4) << "step=" << step;
    }
    // The walk neither died out nor trivially stayed at the seeds.
    EXPECT_GT(count, 10u);
  });
}

}  // namespace
}  // namespace engram::kernels
