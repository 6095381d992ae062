// DotInt8 with AVX-512 VNNI (vpdpbusd: 64 byte products summed into 16 int32 lanes per
// instruction), chosen at run time where the CPU has it; Highway 1.0 has no operation for it.
// vpdpbusd multiplies unsigned by signed bytes, so a's codes are biased by 128 (an XOR with
// 0x80) and the bias is taken out again: a.b = sum((a + 128) * b) - 128 * sum(b), the second
// sum from a vpdpbusd of b with ones in the same loop. Exact; the code is compiled for this
// target alone (target attributes), the rest of the library stays portable.
#include "kernels/dot_int8_vnni.h"

#include <immintrin.h>

namespace engram::kernels::internal {

bool CpuHasAvx512Vnni() {
  static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vnni");
  return has;
}

// GCC 12's AVX-512 headers build some intrinsics (the byte broadcast) from an "undefined"
// vector, which -Wuninitialized reports at every use; the values are fully defined.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
__attribute__((target("avx512f,avx512bw,avx512vnni"))) int32_t DotInt8Vnni(const int8_t* a, const int8_t* b,
                                                                            size_t n) {
  const __m512i bias = _mm512_set1_epi8(static_cast<char>(0x80));
  const __m512i ones = _mm512_set1_epi8(1);
  __m512i acc0 = _mm512_setzero_si512(), acc1 = _mm512_setzero_si512();
  __m512i sum0 = _mm512_setzero_si512(), sum1 = _mm512_setzero_si512();
  size_t i = 0;
  for (; i + 128 <= n; i += 128) {
    const __m512i a0 = _mm512_xor_si512(_mm512_loadu_si512(a + i), bias);
    const __m512i b0 = _mm512_loadu_si512(b + i);
    const __m512i a1 = _mm512_xor_si512(_mm512_loadu_si512(a + i + 64), bias);
    const __m512i b1 = _mm512_loadu_si512(b + i + 64);
    acc0 = _mm512_dpbusd_epi32(acc0, a0, b0);
    sum0 = _mm512_dpbusd_epi32(sum0, ones, b0);
    acc1 = _mm512_dpbusd_epi32(acc1, a1, b1);
    sum1 = _mm512_dpbusd_epi32(sum1, ones, b1);
  }
  for (; i < n; i += 64) {
    // A partial chunk loads zeros past the end: a zero b contributes nothing to either sum.
    const __mmask64 m = n - i >= 64 ? ~__mmask64{0} : (__mmask64{1} << (n - i)) - 1;
    const __m512i a0 = _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, a + i), bias);
    const __m512i b0 = _mm512_maskz_loadu_epi8(m, b + i);
    acc0 = _mm512_dpbusd_epi32(acc0, a0, b0);
    sum0 = _mm512_dpbusd_epi32(sum0, ones, b0);
  }
  // Each lane stays far below 2^31 (n < 2^17), but the biased total may not: the difference is
  // taken modulo 2^32, where it is exact because the true dot product fits an int32.
  const uint32_t biased = static_cast<uint32_t>(_mm512_reduce_add_epi32(_mm512_add_epi32(acc0, acc1)));
  const uint32_t sum_b = static_cast<uint32_t>(_mm512_reduce_add_epi32(_mm512_add_epi32(sum0, sum1)));
  return static_cast<int32_t>(biased - 128u * sum_b);
}
#pragma GCC diagnostic pop

}  // namespace engram::kernels::internal
