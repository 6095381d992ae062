// The reference definitions of the kernels: one plain loop each, sums and transcendental
// functions in double so that the only rounding worth mentioning is the final cast to float.
// The SIMD kernels in kernels.cc are tested against these.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/kernels.h"

namespace engram::kernels::scalar {

namespace {

double DotDouble(const float* a, const float* b, size_t n) {
  double sum = 0.0;
  for (size_t i = 0; i < n; ++i) sum += static_cast<double>(a[i]) * b[i];
  return sum;
}

}  // namespace

float Dot(const float* a, const float* b, size_t n) {
  return static_cast<float>(DotDouble(a, b, n));
}

float SquaredNorm(const float* a, size_t n) {
  return static_cast<float>(DotDouble(a, a, n));
}

float Normalize(float* a, size_t n) {
  const double norm = std::sqrt(DotDouble(a, a, n));
  if (norm == 0.0) return 0.0f;
  for (size_t i = 0; i < n; ++i) a[i] = static_cast<float>(a[i] / norm);
  return static_cast<float>(norm);
}

// _Float16 (GCC 12 and Clang 15 on x86-64) converts with IEEE round-to-nearest-even, in
// software where the CPU has no F16C: the definition the SIMD kernel must match bit for bit.
void ToHalf(const float* a, size_t n, uint16_t* out) {
  for (size_t i = 0; i < n; ++i) {
    const _Float16 h = static_cast<_Float16>(a[i]);
    std::memcpy(&out[i], &h, sizeof(h));
  }
}

float HalfToFloat(uint16_t bits) {
  _Float16 h;
  std::memcpy(&h, &bits, sizeof(h));
  return static_cast<float>(h);
}

float DotHalf(const uint16_t* a, const uint16_t* b, size_t n) {
  double sum = 0.0;
  for (size_t i = 0; i < n; ++i) sum += static_cast<double>(HalfToFloat(a[i])) * HalfToFloat(b[i]);
  return static_cast<float>(sum);
}

int32_t DotInt8(const int8_t* a, const int8_t* b, size_t n) {
  int32_t sum = 0;
  for (size_t i = 0; i < n; ++i) sum += int32_t{a[i]} * int32_t{b[i]};
  return sum;
}

void BatchDot(const float* query, const float* rows, size_t count, size_t dim, float* out) {
  for (size_t i = 0; i < count; ++i) out[i] = Dot(query, rows + i * dim, dim);
}

void BatchDotPtrs(const float* query, const float* const* rows, size_t count, size_t dim,
                  float* out) {
  for (size_t i = 0; i < count; ++i) out[i] = Dot(query, rows[i], dim);
}

void BatchCosine(const float* query, const float* rows, size_t count, size_t dim, float* out) {
  const double query_norm = std::sqrt(DotDouble(query, query, dim));
  for (size_t i = 0; i < count; ++i) {
    const float* r = rows + i * dim;
    const double row_norm = std::sqrt(DotDouble(r, r, dim));
    const double denom = query_norm * row_norm;
    out[i] = denom == 0.0 ? 0.0f : static_cast<float>(DotDouble(query, r, dim) / denom);
  }
}

void DecayExponential(const float* strength, const float* age, size_t n, float tau, float* out) {
  for (size_t i = 0; i < n; ++i) {
    out[i] = static_cast<float>(strength[i] * std::exp(-static_cast<double>(age[i]) / tau));
  }
}

void DecayPowerLaw(const float* strength, const float* age, size_t n, float tau, float alpha,
                   float* out) {
  for (size_t i = 0; i < n; ++i) {
    const double base = 1.0 + static_cast<double>(age[i]) / tau;
    out[i] = static_cast<float>(strength[i] * std::pow(base, -static_cast<double>(alpha)));
  }
}

size_t SpreadStep(const uint32_t* row, const uint32_t* col, const float* weight, size_t num_nodes,
                  const float* act, float retain, float decay, float threshold, float* next) {
  size_t active = 0;
  for (size_t v = 0; v < num_nodes; ++v) {
    double s = 0.0;
    for (uint32_t e = row[v]; e < row[v + 1]; ++e) s += static_cast<double>(weight[e]) * act[col[e]];
    const double x = static_cast<double>(retain) * act[v] + static_cast<double>(decay) * s;
    const float clamped = static_cast<float>(std::min(x, 1.0));
    next[v] = clamped < threshold ? 0.0f : clamped;
    if (next[v] > 0.0f) ++active;
  }
  return active;
}

}  // namespace engram::kernels::scalar
