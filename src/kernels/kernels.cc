// SIMD kernels with Highway dynamic dispatch.
//
// foreach_target.h re-includes this file once per target Highway can compile for (SSE4, AVX2,
// AVX3 = AVX-512, ... on x86), each copy in its own namespace with that target's compiler flags,
// and HWY_EXPORT builds a table of the copies. The first HWY_DYNAMIC_DISPATCH call checks the
// CPU and later calls jump straight to the best copy, so the library needs no -march flag and
// still uses AVX-512 where the CPU has it.
//
// Tails: Highway 1.0 has no LoadN, and a full-width load past the end of an array can fault on a
// page boundary, so a partial last vector is copied into a zero-padded stack buffer first
// (LoadPartial/StorePartial). The zero padding is chosen so the padded lanes contribute nothing.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/kernels.h"
#include "kernels/dot_int8_vnni.h"

#ifndef ENGRAM_KERNELS_SPREAD_VIEW_ONCE
#define ENGRAM_KERNELS_SPREAD_VIEW_ONCE
namespace engram::kernels {
// Nodes per slice of a SpreadGraph: one AVX-512 vector of floats. Fixed rather than the dispatched
// target's width, so one graph serves every target (AVX2 processes a slice as two halves).
constexpr size_t kSpreadSliceWidth = 16;

// A SpreadGraph's arrays as the dispatched kernel reads them (see the members in kernels.h).
struct SpreadView {
  size_t num_nodes, num_slices, num_sliced, num_long;
  const uint32_t *slice_begin, *node, *col;
  const float* weight;
  const uint32_t *long_node, *long_row, *long_col;
  const float* long_weight;
};
}  // namespace engram::kernels
#endif

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/kernels.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/contrib/math/math-inl.h"

HWY_BEFORE_NAMESPACE();
namespace engram::kernels {
namespace HWY_NAMESPACE {

namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;

// Loads p[0..count) into the low lanes of a vector whose other lanes are zero.
// REQUIRES: count < Lanes(d).
template <class D, typename T>
HWY_INLINE hn::Vec<D> LoadPartial(D d, const T* HWY_RESTRICT p, size_t count) {
  HWY_ALIGN T buf[HWY_MAX_BYTES / sizeof(T)] = {};
  std::memcpy(buf, p, count * sizeof(T));
  return hn::Load(d, buf);
}

// Stores the low `count` lanes of v to p[0..count).
template <class D, typename T>
HWY_INLINE void StorePartial(D d, hn::Vec<D> v, T* HWY_RESTRICT p, size_t count) {
  HWY_ALIGN T buf[HWY_MAX_BYTES / sizeof(T)];
  hn::Store(v, d, buf);
  std::memcpy(p, buf, count * sizeof(T));
}

HWY_INLINE float ReduceSum(DF d, VF v) { return hn::GetLane(hn::SumOfLanes(d, v)); }

// Four independent accumulators: an FMA has a latency of about four cycles and two can issue per
// cycle, so a single accumulator would leave most of the FMA units idle.
float DotKernel(const float* HWY_RESTRICT a, const float* HWY_RESTRICT b, size_t n) {
  const DF d;
  const size_t N = hn::Lanes(d);
  VF s0 = hn::Zero(d), s1 = hn::Zero(d), s2 = hn::Zero(d), s3 = hn::Zero(d);
  size_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    s0 = hn::MulAdd(hn::LoadU(d, a + i), hn::LoadU(d, b + i), s0);
    s1 = hn::MulAdd(hn::LoadU(d, a + i + N), hn::LoadU(d, b + i + N), s1);
    s2 = hn::MulAdd(hn::LoadU(d, a + i + 2 * N), hn::LoadU(d, b + i + 2 * N), s2);
    s3 = hn::MulAdd(hn::LoadU(d, a + i + 3 * N), hn::LoadU(d, b + i + 3 * N), s3);
  }
  for (; i + N <= n; i += N) s0 = hn::MulAdd(hn::LoadU(d, a + i), hn::LoadU(d, b + i), s0);
  if (i < n) s1 = hn::MulAdd(LoadPartial(d, a + i, n - i), LoadPartial(d, b + i, n - i), s1);
  return ReduceSum(d, hn::Add(hn::Add(s0, s1), hn::Add(s2, s3)));
}

float SquaredNormKernel(const float* a, size_t n) { return DotKernel(a, a, n); }

// binary16 <-> float. Highway's DemoteTo rounds to nearest even with F16C (AVX2 and AVX-512
// targets) but truncates in its SSE4 emulation, so targets without F16C use the scalar
// conversion, which is the definition; PromoteTo is exact on every target.
using DH = hn::Rebind<hwy::float16_t, DF>;

void ToHalfKernel(const float* HWY_RESTRICT a, size_t n, uint16_t* HWY_RESTRICT out) {
#if HWY_TARGET <= HWY_AVX2
  const DF d;
  const DH dh;
  const size_t N = hn::Lanes(d);
  auto* h = reinterpret_cast<hwy::float16_t*>(out);
  size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(hn::DemoteTo(dh, hn::LoadU(d, a + i)), dh, h + i);
  if (i < n) StorePartial(dh, hn::DemoteTo(dh, LoadPartial(d, a + i, n - i)), h + i, n - i);
#else
  scalar::ToHalf(a, n, out);
#endif
}

float DotHalfKernel(const uint16_t* HWY_RESTRICT a, const uint16_t* HWY_RESTRICT b, size_t n) {
  const DF d;
  const DH dh;
  const size_t N = hn::Lanes(d);
  const auto* ha = reinterpret_cast<const hwy::float16_t*>(a);
  const auto* hb = reinterpret_cast<const hwy::float16_t*>(b);
  auto load = [&](const hwy::float16_t* p) { return hn::PromoteTo(d, hn::LoadU(dh, p)); };
  VF s0 = hn::Zero(d), s1 = hn::Zero(d), s2 = hn::Zero(d), s3 = hn::Zero(d);
  size_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    s0 = hn::MulAdd(load(ha + i), load(hb + i), s0);
    s1 = hn::MulAdd(load(ha + i + N), load(hb + i + N), s1);
    s2 = hn::MulAdd(load(ha + i + 2 * N), load(hb + i + 2 * N), s2);
    s3 = hn::MulAdd(load(ha + i + 3 * N), load(hb + i + 3 * N), s3);
  }
  for (; i + N <= n; i += N) s0 = hn::MulAdd(load(ha + i), load(hb + i), s0);
  if (i < n) {
    s1 = hn::MulAdd(hn::PromoteTo(d, LoadPartial(dh, ha + i, n - i)),
                    hn::PromoteTo(d, LoadPartial(dh, hb + i, n - i)), s1);
  }
  return ReduceSum(d, hn::Add(hn::Add(s0, s1), hn::Add(s2, s3)));
}

// int8 codes widen to int16 lanes; ReorderWidenMulAccumulate multiplies neighbouring pairs and
// adds them into int32 lanes (one vpmaddwd on x86), so nothing rounds or overflows: |a*b| <= 127^2
// and n < 2^17 keeps every int32 lane sum below 2^31. Two accumulator pairs hide the latency.
using DI16 = hn::ScalableTag<int16_t>;
using DI32 = hn::RepartitionToWide<DI16>;
using DI8 = hn::Rebind<int8_t, DI16>;  // half a vector of codes, one per int16 lane

int32_t DotInt8Kernel(const int8_t* HWY_RESTRICT a, const int8_t* HWY_RESTRICT b, size_t n) {
  const DI16 d16;
  const DI32 d32;
  const DI8 d8;
  const size_t N = hn::Lanes(d16);
  auto load = [&](const int8_t* p) { return hn::PromoteTo(d16, hn::LoadU(d8, p)); };
  auto s0 = hn::Zero(d32), t0 = hn::Zero(d32), s1 = hn::Zero(d32), t1 = hn::Zero(d32);
  size_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    s0 = hn::ReorderWidenMulAccumulate(d32, load(a + i), load(b + i), s0, t0);
    s1 = hn::ReorderWidenMulAccumulate(d32, load(a + i + N), load(b + i + N), s1, t1);
  }
  for (; i + N <= n; i += N) s0 = hn::ReorderWidenMulAccumulate(d32, load(a + i), load(b + i), s0, t0);
  if (i < n) {
    s1 = hn::ReorderWidenMulAccumulate(d32, hn::PromoteTo(d16, LoadPartial(d8, a + i, n - i)),
                                       hn::PromoteTo(d16, LoadPartial(d8, b + i, n - i)), s1, t1);
  }
  const auto sum = hn::Add(hn::RearrangeToOddPlusEven(s0, t0), hn::RearrangeToOddPlusEven(s1, t1));
  return hn::GetLane(hn::SumOfLanes(d32, sum));
}

// Multiplies a[0..n) by `factor` in place.
void ScaleInPlace(float* HWY_RESTRICT a, size_t n, float factor) {
  const DF d;
  const size_t N = hn::Lanes(d);
  const VF f = hn::Set(d, factor);
  size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(hn::Mul(hn::LoadU(d, a + i), f), d, a + i);
  if (i < n) StorePartial(d, hn::Mul(LoadPartial(d, a + i, n - i), f), a + i, n - i);
}

float NormalizeKernel(float* a, size_t n) {
  const float norm = std::sqrt(DotKernel(a, a, n));
  if (norm == 0.0f) return 0.0f;
  ScaleInPlace(a, n, 1.0f / norm);
  return norm;
}

// out[0..4) = dot(q, r0..r3). Four rows share each load of the query, which is what makes a
// batch faster than four Dot calls; unrolling by two along the row gives eight accumulators to
// cover the FMA latency.
void Dot4(const float* HWY_RESTRICT q, const float* HWY_RESTRICT r0,
          const float* HWY_RESTRICT r1, const float* HWY_RESTRICT r2,
          const float* HWY_RESTRICT r3, size_t dim, float* HWY_RESTRICT out) {
  const DF d;
  const size_t N = hn::Lanes(d);
  VF a0 = hn::Zero(d), a1 = hn::Zero(d), a2 = hn::Zero(d), a3 = hn::Zero(d);
  VF b0 = hn::Zero(d), b1 = hn::Zero(d), b2 = hn::Zero(d), b3 = hn::Zero(d);
  size_t i = 0;
  for (; i + 2 * N <= dim; i += 2 * N) {
    const VF qa = hn::LoadU(d, q + i);
    const VF qb = hn::LoadU(d, q + i + N);
    a0 = hn::MulAdd(qa, hn::LoadU(d, r0 + i), a0);
    a1 = hn::MulAdd(qa, hn::LoadU(d, r1 + i), a1);
    a2 = hn::MulAdd(qa, hn::LoadU(d, r2 + i), a2);
    a3 = hn::MulAdd(qa, hn::LoadU(d, r3 + i), a3);
    b0 = hn::MulAdd(qb, hn::LoadU(d, r0 + i + N), b0);
    b1 = hn::MulAdd(qb, hn::LoadU(d, r1 + i + N), b1);
    b2 = hn::MulAdd(qb, hn::LoadU(d, r2 + i + N), b2);
    b3 = hn::MulAdd(qb, hn::LoadU(d, r3 + i + N), b3);
  }
  for (; i + N <= dim; i += N) {
    const VF qa = hn::LoadU(d, q + i);
    a0 = hn::MulAdd(qa, hn::LoadU(d, r0 + i), a0);
    a1 = hn::MulAdd(qa, hn::LoadU(d, r1 + i), a1);
    a2 = hn::MulAdd(qa, hn::LoadU(d, r2 + i), a2);
    a3 = hn::MulAdd(qa, hn::LoadU(d, r3 + i), a3);
  }
  if (i < dim) {
    const size_t rest = dim - i;
    const VF qa = LoadPartial(d, q + i, rest);
    b0 = hn::MulAdd(qa, LoadPartial(d, r0 + i, rest), b0);
    b1 = hn::MulAdd(qa, LoadPartial(d, r1 + i, rest), b1);
    b2 = hn::MulAdd(qa, LoadPartial(d, r2 + i, rest), b2);
    b3 = hn::MulAdd(qa, LoadPartial(d, r3 + i, rest), b3);
  }
  out[0] = ReduceSum(d, hn::Add(a0, b0));
  out[1] = ReduceSum(d, hn::Add(a1, b1));
  out[2] = ReduceSum(d, hn::Add(a2, b2));
  out[3] = ReduceSum(d, hn::Add(a3, b3));
}

void BatchDotKernel(const float* query, const float* rows, size_t count, size_t dim,
                    float* out) {
  size_t i = 0;
  for (; i + 4 <= count; i += 4) {
    const float* r = rows + i * dim;
    Dot4(query, r, r + dim, r + 2 * dim, r + 3 * dim, dim, out + i);
  }
  for (; i < count; ++i) out[i] = DotKernel(query, rows + i * dim, dim);
}

void BatchDotPtrsKernel(const float* query, const float* const* rows, size_t count, size_t dim,
                        float* out) {
  size_t i = 0;
  for (; i + 4 <= count; i += 4) {
    Dot4(query, rows[i], rows[i + 1], rows[i + 2], rows[i + 3], dim, out + i);
  }
  for (; i < count; ++i) out[i] = DotKernel(query, rows[i], dim);
}

// dot / (|q| |r|), or 0 when either norm is 0 (a zero vector has no direction).
HWY_INLINE float CosineFrom(float dot, float query_norm, float row_squared_norm) {
  const float denom = query_norm * std::sqrt(row_squared_norm);
  return denom == 0.0f ? 0.0f : dot / denom;
}

// Cosine of q against r0..r3: the dot products and the rows' squared norms in one pass over the
// rows, so each row is read once (the rows, not the arithmetic, bound this loop).
void Cosine4(const float* HWY_RESTRICT q, float query_norm, const float* HWY_RESTRICT r0,
             const float* HWY_RESTRICT r1, const float* HWY_RESTRICT r2,
             const float* HWY_RESTRICT r3, size_t dim, float* HWY_RESTRICT out) {
  const DF d;
  const size_t N = hn::Lanes(d);
  VF d0 = hn::Zero(d), d1 = hn::Zero(d), d2 = hn::Zero(d), d3 = hn::Zero(d);
  VF n0 = hn::Zero(d), n1 = hn::Zero(d), n2 = hn::Zero(d), n3 = hn::Zero(d);
  size_t i = 0;
  for (; i + N <= dim; i += N) {
    const VF qv = hn::LoadU(d, q + i);
    const VF v0 = hn::LoadU(d, r0 + i);
    const VF v1 = hn::LoadU(d, r1 + i);
    const VF v2 = hn::LoadU(d, r2 + i);
    const VF v3 = hn::LoadU(d, r3 + i);
    d0 = hn::MulAdd(qv, v0, d0);
    n0 = hn::MulAdd(v0, v0, n0);
    d1 = hn::MulAdd(qv, v1, d1);
    n1 = hn::MulAdd(v1, v1, n1);
    d2 = hn::MulAdd(qv, v2, d2);
    n2 = hn::MulAdd(v2, v2, n2);
    d3 = hn::MulAdd(qv, v3, d3);
    n3 = hn::MulAdd(v3, v3, n3);
  }
  if (i < dim) {
    const size_t rest = dim - i;
    const VF qv = LoadPartial(d, q + i, rest);
    const VF v0 = LoadPartial(d, r0 + i, rest);
    const VF v1 = LoadPartial(d, r1 + i, rest);
    const VF v2 = LoadPartial(d, r2 + i, rest);
    const VF v3 = LoadPartial(d, r3 + i, rest);
    d0 = hn::MulAdd(qv, v0, d0);
    n0 = hn::MulAdd(v0, v0, n0);
    d1 = hn::MulAdd(qv, v1, d1);
    n1 = hn::MulAdd(v1, v1, n1);
    d2 = hn::MulAdd(qv, v2, d2);
    n2 = hn::MulAdd(v2, v2, n2);
    d3 = hn::MulAdd(qv, v3, d3);
    n3 = hn::MulAdd(v3, v3, n3);
  }
  out[0] = CosineFrom(ReduceSum(d, d0), query_norm, ReduceSum(d, n0));
  out[1] = CosineFrom(ReduceSum(d, d1), query_norm, ReduceSum(d, n1));
  out[2] = CosineFrom(ReduceSum(d, d2), query_norm, ReduceSum(d, n2));
  out[3] = CosineFrom(ReduceSum(d, d3), query_norm, ReduceSum(d, n3));
}

void BatchCosineKernel(const float* query, const float* rows, size_t count, size_t dim,
                       float* out) {
  const float query_norm = std::sqrt(DotKernel(query, query, dim));
  size_t i = 0;
  for (; i + 4 <= count; i += 4) {
    const float* r = rows + i * dim;
    Cosine4(query, query_norm, r, r + dim, r + 2 * dim, r + 3 * dim, dim, out + i);
  }
  for (; i < count; ++i) {
    const float* r = rows + i * dim;
    out[i] = CosineFrom(DotKernel(query, r, dim), query_norm, DotKernel(r, r, dim));
  }
}

// The decay factor is computed from age/tau by a true division, not a multiplication by 1/tau:
// exp amplifies an absolute error in its argument into a relative error of the result, and at
// age/tau ~ 80 the extra rounding of a reciprocal would cost about 1e-5 relative.
// strength and out are deliberately not HWY_RESTRICT: they may be the same array. Each vector is
// loaded before it is stored, so the exact alias is safe.
void DecayExponentialKernel(const float* strength, const float* HWY_RESTRICT age, size_t n,
                            float tau, float* out) {
  const DF d;
  const size_t N = hn::Lanes(d);
  const VF neg_tau = hn::Set(d, -tau);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const VF factor = hn::Exp(d, hn::Div(hn::LoadU(d, age + i), neg_tau));
    hn::StoreU(hn::Mul(hn::LoadU(d, strength + i), factor), d, out + i);
  }
  if (i < n) {
    const size_t rest = n - i;
    const VF factor = hn::Exp(d, hn::Div(LoadPartial(d, age + i, rest), neg_tau));
    StorePartial(d, hn::Mul(LoadPartial(d, strength + i, rest), factor), out + i, rest);
  }
}

// (1 + x)^(-alpha) as exp(-alpha * log1p(x)): Log1p keeps full precision for young memories
// (x << 1), where log(1 + x) would lose the low bits of x.
void DecayPowerLawKernel(const float* strength, const float* HWY_RESTRICT age, size_t n,
                         float tau, float alpha, float* out) {
  const DF d;
  const size_t N = hn::Lanes(d);
  const VF inv_tau = hn::Set(d, 1.0f / tau);  // a multiply per lane instead of a divide
  const VF one = hn::Set(d, 1.0f);
  if (alpha == 0.5f) {
    // The default exponent: strength * (1 + x)^-0.5 = strength / sqrt(1 + x). A square root and
    // a divide (both correctly rounded, exact at age 0) cost far less than exp(log1p()).
    auto decay = [&](VF s, VF a) { return hn::Div(s, hn::Sqrt(hn::MulAdd(a, inv_tau, one))); };
    size_t i = 0;
    for (; i + N <= n; i += N) {
      hn::StoreU(decay(hn::LoadU(d, strength + i), hn::LoadU(d, age + i)), d, out + i);
    }
    if (i < n) {
      const size_t rest = n - i;
      StorePartial(d, decay(LoadPartial(d, strength + i, rest), LoadPartial(d, age + i, rest)), out + i, rest);
    }
    return;
  }
  const VF neg_alpha = hn::Set(d, -alpha);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const VF log_base = hn::Log1p(d, hn::Mul(hn::LoadU(d, age + i), inv_tau));
    const VF factor = hn::Exp(d, hn::Mul(neg_alpha, log_base));
    hn::StoreU(hn::Mul(hn::LoadU(d, strength + i), factor), d, out + i);
  }
  if (i < n) {
    const size_t rest = n - i;
    const VF log_base = hn::Log1p(d, hn::Mul(LoadPartial(d, age + i, rest), inv_tau));
    const VF factor = hn::Exp(d, hn::Mul(neg_alpha, log_base));
    StorePartial(d, hn::Mul(LoadPartial(d, strength + i, rest), factor), out + i, rest);
  }
}

// Spreading activation over a SpreadGraph (kernels.h explains the sliced layout). Per slice of
// 16 nodes, each edge column is one multiply-add of 16 weights by 16 source activations, so the
// 16 sums come out in lanes, in node order of the slice, with no horizontal sums. The sums are
// scattered into next[] (as scratch), long rows are added one by one, and a last vector pass over
// next[] in node order applies retain/decay/clamp/threshold.
//
// The source activations are loaded one by one, not with a hardware gather: on the AMD EPYC the
// benchmarks run on, a 16-lane vgatherdps takes ~0.37 ns per lane against ~0.21 ns per scalar
// load, and this step measured 1.18x slower with gathers (docs/benchmarks.md). The compiler
// builds the vector from the loads with inserts.
constexpr size_t kSliceWidth = kSpreadSliceWidth;

// base[idx[0..N)] as a vector.
template <class D>
HWY_INLINE hn::Vec<D> LoadIndexed(D d, const float* HWY_RESTRICT base,
                                  const uint32_t* HWY_RESTRICT idx) {
  HWY_ALIGN float buf[HWY_MAX_BYTES / sizeof(float)];
  for (size_t j = 0; j < hn::Lanes(d); ++j) buf[j] = base[idx[j]];
  return hn::Load(d, buf);
}

// Sums of the 16 rows of one slice of `len` edge columns into sums[0, 16).
HWY_INLINE void SliceSums(const uint32_t* HWY_RESTRICT col, const float* HWY_RESTRICT weight,
                          size_t len, const float* HWY_RESTRICT act, float* HWY_RESTRICT sums) {
  const DF d;
  const size_t N = hn::Lanes(d);
  for (size_t part = 0; part < kSliceWidth; part += N) {  // one pass on AVX-512, two on AVX2
    const uint32_t* c = col + part;
    const float* w = weight + part;
    const float* const w_end = w + len * kSliceWidth;
    // Two accumulators: one measured 17% slower (the multiply-add latency shows), four no faster.
    VF s0 = hn::Zero(d), s1 = hn::Zero(d);
    for (; w + 2 * kSliceWidth <= w_end; w += 2 * kSliceWidth, c += 2 * kSliceWidth) {
      s0 = hn::MulAdd(hn::LoadU(d, w), LoadIndexed(d, act, c), s0);
      s1 = hn::MulAdd(hn::LoadU(d, w + kSliceWidth), LoadIndexed(d, act, c + kSliceWidth), s1);
    }
    if (w < w_end) s0 = hn::MulAdd(hn::LoadU(d, w), LoadIndexed(d, act, c), s0);
    hn::Store(hn::Add(s0, s1), d, sums + part);
  }
}

// The activation sum of one long row.
float RowSum(const uint32_t* HWY_RESTRICT col, const float* HWY_RESTRICT weight,
             const float* HWY_RESTRICT act, size_t begin, size_t end) {
  const DF d;
  const size_t N = hn::Lanes(d);
  VF s0 = hn::Zero(d), s1 = hn::Zero(d);
  size_t e = begin;
  for (; e + 2 * N <= end; e += 2 * N) {
    s0 = hn::MulAdd(hn::LoadU(d, weight + e), LoadIndexed(d, act, col + e), s0);
    s1 = hn::MulAdd(hn::LoadU(d, weight + e + N), LoadIndexed(d, act, col + e + N), s1);
  }
  float sum = ReduceSum(d, hn::Add(s0, s1));
  for (; e < end; ++e) sum += weight[e] * act[col[e]];
  return sum;
}

// next[v] for v in [0, n) from act[v] and the incoming sums, which are read from next[] itself;
// returns how many are > 0.
size_t UpdateNodes(const float* HWY_RESTRICT act, size_t n, float retain, float decay,
                   float threshold, float* next) {
  const DF d;
  const size_t N = hn::Lanes(d);
  const VF retain_v = hn::Set(d, retain);
  const VF decay_v = hn::Set(d, decay);
  const VF threshold_v = hn::Set(d, threshold);
  const VF one = hn::Set(d, 1.0f);
  const VF zero = hn::Zero(d);
  size_t active = 0;
  size_t i = 0;
  for (; i + N <= n; i += N) {
    VF x = hn::MulAdd(retain_v, hn::LoadU(d, act + i), hn::Mul(decay_v, hn::LoadU(d, next + i)));
    x = hn::Min(x, one);
    x = hn::IfThenZeroElse(hn::Lt(x, threshold_v), x);
    hn::StoreU(x, d, next + i);
    active += hn::CountTrue(d, hn::Gt(x, zero));
  }
  if (i < n) {
    // Padding lanes hold act = sums = 0, so x = 0 there and they are never counted.
    const size_t rest = n - i;
    VF x = hn::MulAdd(retain_v, LoadPartial(d, act + i, rest),
                      hn::Mul(decay_v, LoadPartial(d, next + i, rest)));
    x = hn::Min(x, one);
    x = hn::IfThenZeroElse(hn::Lt(x, threshold_v), x);
    StorePartial(d, x, next + i, rest);
    active += hn::CountTrue(d, hn::Gt(x, zero));
  }
  return active;
}

size_t SpreadStepKernel(const SpreadView& g, const float* HWY_RESTRICT act, float retain,
                        float decay, float threshold, float* HWY_RESTRICT next) {
  HWY_ALIGN float sums[kSliceWidth];
  for (size_t s = 0; s < g.num_slices; ++s) {
    const size_t begin = g.slice_begin[s];
    SliceSums(g.col + begin, g.weight + begin, (g.slice_begin[s + 1] - begin) / kSliceWidth, act,
              sums);
    const size_t first = s * kSliceWidth;
    const size_t count = std::min(kSliceWidth, g.num_sliced - first);
    for (size_t j = 0; j < count; ++j) next[g.node[first + j]] = sums[j];
  }
  for (size_t i = 0; i < g.num_long; ++i) {
    next[g.long_node[i]] =
        RowSum(g.long_col, g.long_weight, act, g.long_row[i], g.long_row[i + 1]);
  }
  return UpdateNodes(act, g.num_nodes, retain, decay, threshold, next);
}

const char* TargetNameKernel() { return hwy::TargetName(HWY_TARGET); }

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace engram::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace engram::kernels {

HWY_EXPORT(DotKernel);
HWY_EXPORT(SquaredNormKernel);
HWY_EXPORT(ToHalfKernel);
HWY_EXPORT(DotHalfKernel);
HWY_EXPORT(DotInt8Kernel);
HWY_EXPORT(NormalizeKernel);
HWY_EXPORT(BatchDotKernel);
HWY_EXPORT(BatchDotPtrsKernel);
HWY_EXPORT(BatchCosineKernel);
HWY_EXPORT(DecayExponentialKernel);
HWY_EXPORT(DecayPowerLawKernel);
HWY_EXPORT(SpreadStepKernel);
HWY_EXPORT(TargetNameKernel);

float Dot(const float* a, const float* b, size_t n) {
  return HWY_DYNAMIC_DISPATCH(DotKernel)(a, b, n);
}

float SquaredNorm(const float* a, size_t n) {
  return HWY_DYNAMIC_DISPATCH(SquaredNormKernel)(a, n);
}

float Normalize(float* a, size_t n) { return HWY_DYNAMIC_DISPATCH(NormalizeKernel)(a, n); }

void ToHalf(const float* a, size_t n, uint16_t* out) { HWY_DYNAMIC_DISPATCH(ToHalfKernel)(a, n, out); }

float DotHalf(const uint16_t* a, const uint16_t* b, size_t n) {
  return HWY_DYNAMIC_DISPATCH(DotHalfKernel)(a, b, n);
}

float ToInt8(const float* a, size_t n, int8_t* out) {
  float max_abs = 0.0f;
  for (size_t i = 0; i < n; ++i) max_abs = std::max(max_abs, std::fabs(a[i]));
  if (max_abs == 0.0f) {
    std::memset(out, 0, n);
    return 0.0f;
  }
  const float inv = 127.0f / max_abs;
  for (size_t i = 0; i < n; ++i) {
    out[i] = static_cast<int8_t>(std::clamp(std::nearbyint(a[i] * inv), -127.0f, 127.0f));
  }
  return max_abs / 127.0f;
}

namespace internal {
int32_t DotInt8Highway(const int8_t* a, const int8_t* b, size_t n) { return HWY_DYNAMIC_DISPATCH(DotInt8Kernel)(a, b, n); }
}  // namespace internal

DotInt8Fn BestDotInt8() {
  static const DotInt8Fn best = internal::CpuHasAvx512Vnni() ? &internal::DotInt8Vnni : &internal::DotInt8Highway;
  return best;
}

const char* DotInt8TargetName() { return internal::CpuHasAvx512Vnni() ? "AVX512_VNNI" : DispatchedTargetName(); }

int32_t DotInt8(const int8_t* a, const int8_t* b, size_t n) { return BestDotInt8()(a, b, n); }

void BatchDot(const float* query, const float* rows, size_t count, size_t dim, float* out) {
  HWY_DYNAMIC_DISPATCH(BatchDotKernel)(query, rows, count, dim, out);
}

void BatchDotPtrs(const float* query, const float* const* rows, size_t count, size_t dim,
                  float* out) {
  HWY_DYNAMIC_DISPATCH(BatchDotPtrsKernel)(query, rows, count, dim, out);
}

void BatchCosine(const float* query, const float* rows, size_t count, size_t dim, float* out) {
  HWY_DYNAMIC_DISPATCH(BatchCosineKernel)(query, rows, count, dim, out);
}

void DecayExponential(const float* strength, const float* age, size_t n, float tau, float* out) {
  HWY_DYNAMIC_DISPATCH(DecayExponentialKernel)(strength, age, n, tau, out);
}

void DecayPowerLaw(const float* strength, const float* age, size_t n, float tau, float alpha,
                   float* out) {
  HWY_DYNAMIC_DISPATCH(DecayPowerLawKernel)(strength, age, n, tau, alpha, out);
}

size_t SpreadStep(const SpreadGraph& graph, const float* act, float retain, float decay,
                  float threshold, float* next) {
  SpreadView view;
  view.num_nodes = graph.num_nodes_;
  view.num_slices = graph.slice_begin_.empty() ? 0 : graph.slice_begin_.size() - 1;
  view.num_sliced = graph.node_.size();
  view.num_long = graph.long_node_.size();
  view.slice_begin = graph.slice_begin_.data();
  view.node = graph.node_.data();
  view.col = graph.col_.data();
  view.weight = graph.weight_.data();
  view.long_node = graph.long_node_.data();
  view.long_row = graph.long_row_.data();
  view.long_col = graph.long_col_.data();
  view.long_weight = graph.long_weight_.data();
  return HWY_DYNAMIC_DISPATCH(SpreadStepKernel)(view, act, retain, decay, threshold, next);
}

const char* DispatchedTargetName() { return HWY_DYNAMIC_DISPATCH(TargetNameKernel)(); }

}  // namespace engram::kernels
#endif  // HWY_ONCE
