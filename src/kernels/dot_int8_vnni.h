// The two implementations behind kernels::DotInt8: the AVX-512 VNNI loop (dot_int8_vnni.cc),
// used where the CPU has VNNI, and the Highway kernel. Tests call each directly to check it
// against the scalar definition.
#pragma once

#include <cstddef>
#include <cstdint>

namespace engram::kernels::internal {

bool CpuHasAvx512Vnni();
// The Highway kernel of the dispatched target (what DotInt8 runs without VNNI).
int32_t DotInt8Highway(const int8_t* a, const int8_t* b, size_t n);
// REQUIRES: CpuHasAvx512Vnni(); codes in [-127, 127]; n < 2^17.
int32_t DotInt8Vnni(const int8_t* a, const int8_t* b, size_t n);

}  // namespace engram::kernels::internal
