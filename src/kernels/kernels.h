// SIMD kernels for the hot loops of Engram: similarity of embeddings, memory decay and one step
// of spreading activation over the association graph.
//
// Each function in engram::kernels picks the best instruction set of the running CPU at its first
// call (Highway dynamic dispatch: SSE4, AVX2 or AVX-512 from one portable binary). Each has a
// plain-loop twin with the same signature in engram::kernels::scalar (scalar_kernels.cc) that
// defines what the kernel computes; tests and benchmarks compare the two.
//
// Inputs may have any length (including 0) and any alignment. Results are not bit-identical to the
// scalar twins: SIMD versions sum in a different order and use Highway's polynomial Exp/Log1p, so
// they agree within the tolerances stated in tests/kernels/kernels_test.cc.
//
// Threading: all functions are pure apart from writing their output arguments, so they may run
// concurrently on distinct outputs. Nothing here allocates.
#pragma once

#include <cstddef>
#include <cstdint>

namespace engram::kernels {

// Dot product of a[0..n) and b[0..n).
float Dot(const float* a, const float* b, size_t n);

// Squared L2 norm of a[0..n).
float SquaredNorm(const float* a, size_t n);

// Scales a[0..n) to unit length in place; returns the original norm. A zero vector is left alone
// (and 0 returned) rather than filled with NaN.
float Normalize(float* a, size_t n);

// out[i] = Dot(query, rows + i*dim, dim) for i in [0, count); rows contiguous, row stride dim.
void BatchDot(const float* query, const float* rows, size_t count, size_t dim, float* out);

// Same as BatchDot over rows given by pointer (rows scattered in memory).
void BatchDotPtrs(const float* query, const float* const* rows, size_t count, size_t dim,
                  float* out);

// Cosine similarity without assuming unit vectors: out[i] = dot / (|query| |row_i|), and 0 where
// either norm is 0.
void BatchCosine(const float* query, const float* rows, size_t count, size_t dim, float* out);

// Exponential decay: out[i] = strength[i] * exp(-age[i] / tau).
// REQUIRES: tau > 0. out may be the same pointer as strength (but must not partially overlap).
void DecayExponential(const float* strength, const float* age, size_t n, float tau, float* out);

// Power-law decay: out[i] = strength[i] * (1 + age[i]/tau)^(-alpha).
// REQUIRES: tau > 0, age[i] >= 0. out may be the same pointer as strength (but must not partially
// overlap).
void DecayPowerLaw(const float* strength, const float* age, size_t n, float tau, float alpha,
                   float* out);

// One synchronous spreading-activation step in pull form over a CSR graph of INCOMING edges:
// for v in [0, num_nodes): s = sum_{e in [row[v], row[v+1])} weight[e] * act[col[e]];
// x = retain * act[v] + decay * s; x = min(x, 1); next[v] = (x < threshold) ? 0 : x.
// Returns the number of nodes with next[v] > 0.
// REQUIRES: row has num_nodes + 1 non-decreasing entries; col[e] < num_nodes < 2^31 (Highway
// gathers take signed 32-bit indices); next does not overlap act.
size_t SpreadStep(const uint32_t* row, const uint32_t* col, const float* weight, size_t num_nodes,
                  const float* act, float retain, float decay, float threshold, float* next);

// Name of the Highway target the dispatcher chose on this CPU, e.g. "AVX2", "AVX3" (recorded in
// benchmark contexts so results from different machines are not compared blindly).
const char* DispatchedTargetName();

// The plain-loop definitions of the kernels above: same signatures and contracts, double
// accumulation, libm exp/pow. Slow on purpose; they are the reference, not a fallback.
namespace scalar {

float Dot(const float* a, const float* b, size_t n);
float SquaredNorm(const float* a, size_t n);
float Normalize(float* a, size_t n);
void BatchDot(const float* query, const float* rows, size_t count, size_t dim, float* out);
void BatchDotPtrs(const float* query, const float* const* rows, size_t count, size_t dim,
                  float* out);
void BatchCosine(const float* query, const float* rows, size_t count, size_t dim, float* out);
void DecayExponential(const float* strength, const float* age, size_t n, float tau, float* out);
void DecayPowerLaw(const float* strength, const float* age, size_t n, float tau, float alpha,
                   float* out);
size_t SpreadStep(const uint32_t* row, const uint32_t* col, const float* weight, size_t num_nodes,
                  const float* act, float retain, float decay, float threshold, float* next);

}  // namespace scalar
}  // namespace engram::kernels
