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
// concurrently on distinct outputs. Nothing here allocates except SpreadGraph::Assign.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

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

// Half precision (IEEE binary16) storage of embeddings. An index that keeps its vectors as
// binary16 reads half the bytes per distance; for unit vectors the rounding (relative 2^-11 per
// value) changes a dot product by about 1e-5, far below the gaps that order neighbours.
//
// out[i] = a[i] rounded to the nearest binary16 (ties to even), as its bit pattern. Values
// beyond the binary16 range become infinities, tiny ones subnormals or zero. The result is the
// same on every CPU (F16C instructions where present, an exact scalar conversion elsewhere).
void ToHalf(const float* a, size_t n, uint16_t* out);

// Dot product of two binary16 vectors, accumulated in float.
float DotHalf(const uint16_t* a, const uint16_t* b, size_t n);

// 8-bit storage: a vector as int8 codes and one float scale, a[i] ~= out[i] * scale. An index
// that keeps its vectors this way reads a quarter of float32's bytes per distance, and the
// products are exact integer arithmetic (int16 pair products summed in int32).
//
// Writes out[i] = round(a[i] / scale) (ties to even, within [-127, 127]) and returns
// scale = max|a[i]| / 127, or 0 with all codes 0 for a zero vector. For a unit vector of 768
// values the rounding changes a dot product by about 5e-4: coarse for ranking the final
// neighbours, fine for steering a graph search (callers re-rank with the float vectors).
// Runs once per vector, so it is a plain loop on every CPU (same codes everywhere).
// REQUIRES: a[i] finite.
float ToInt8(const float* a, size_t n, int8_t* out);

// Exact integer dot product of two int8 vectors. REQUIRES: codes in [-127, 127] (as ToInt8
// writes them), n < 2^17 (no int32 overflow). Where the CPU has AVX-512 VNNI this runs a
// vpdpbusd loop (dot_int8_vnni.cc), else the Highway kernel of the dispatched target.
int32_t DotInt8(const int8_t* a, const int8_t* b, size_t n);
// The implementation DotInt8 calls, for callers on a hot path that want no dispatch per call
// (the int8 index's distance), and the name of its target ("AVX512_VNNI" or Highway's).
using DotInt8Fn = int32_t (*)(const int8_t*, const int8_t*, size_t);
DotInt8Fn BestDotInt8();
const char* DotInt8TargetName();

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

// A graph of INCOMING edges in the layout SpreadStep reads, built from compressed sparse rows:
// node v's incoming edges are e in [row[v], row[v+1]), from node col[e] with weight[e].
//
// The layout is sliced ELLPACK (SELL-16-sigma): nodes sorted by in-degree, cut into slices of 16,
// and each slice's edges stored column by column (the k-th edge of its 16 nodes side by side,
// rows shorter than the slice's longest padded with weight 0), so one vector of edges feeds 16
// nodes' sums at once and no per-node horizontal sum or branch on the row length is needed.
// Sorting makes the padding small (at most 15 x kMaxSlicedRow slots in all). Rows longer than
// kMaxSlicedRow (hubs) are kept in CSR form and summed one by one. Building costs three to four
// steps; against the CSR kernel this replaced, the layout pays from about four steps over the same
// graph (docs/benchmarks.md).
//
// Ownership and threading: owns copies of the edges (the CSR arrays may be freed after Assign).
// Immutable between Assigns, so any number of SpreadSteps may read one graph concurrently.
class SpreadGraph {
 public:
  // Rows longer than this many edges are summed separately instead of padding a slice.
  static constexpr uint32_t kMaxSlicedRow = 64;

  // Replaces the graph; reuses this object's capacity.
  // REQUIRES: row has num_nodes + 1 non-decreasing entries; col[e] < num_nodes; num_nodes and
  // row[num_nodes] below 2^31.
  void Assign(const uint32_t* row, const uint32_t* col, const float* weight, size_t num_nodes);

  size_t num_nodes() const { return num_nodes_; }
  // Edges as given (without padding).
  size_t num_edges() const { return num_edges_; }
  // Edge slots SpreadStep reads, padding included (>= num_edges(); a measure of the overhead).
  size_t num_slots() const { return col_.size() + long_col_.size(); }

 private:
  friend size_t SpreadStep(const SpreadGraph& graph, const float* act, float retain, float decay,
                           float threshold, float* next);

  size_t num_nodes_ = 0;
  size_t num_edges_ = 0;
  // Slice s holds nodes node_[16 s .. 16 s + 16) (the last slice may hold fewer) and edge slots
  // col_/weight_[slice_begin_[s], slice_begin_[s + 1]), 16 per edge column. A padding slot has
  // weight 0 and as source the lane's own node (past the last node: the slice's first node).
  std::vector<uint32_t> slice_begin_, node_, col_;
  std::vector<float> weight_;
  // Rows longer than kMaxSlicedRow, as CSR: node long_node_[i] has edges
  // [long_row_[i], long_row_[i + 1]) of long_col_/long_weight_.
  std::vector<uint32_t> long_node_, long_row_, long_col_;
  std::vector<float> long_weight_;
  std::vector<uint32_t> scratch_;  // Assign's counting sort
};

// One synchronous spreading-activation step in pull form over `graph`, the same computation as
// scalar::SpreadStep over the CSR arrays the graph was built from:
// for v in [0, num_nodes): s = sum over v's incoming edges e of weight[e] * act[col[e]];
// x = retain * act[v] + decay * s; x = min(x, 1); next[v] = (x < threshold) ? 0 : x.
// Returns the number of nodes with next[v] > 0. act and next have graph.num_nodes() entries.
// REQUIRES: act[] is finite (a padding slot multiplies a weight of 0 by its own node's act);
// next does not overlap act.
size_t SpreadStep(const SpreadGraph& graph, const float* act, float retain, float decay,
                  float threshold, float* next);

// Name of the Highway target the dispatcher chose on this CPU, e.g. "AVX2", "AVX3" (recorded in
// benchmark contexts so results from different machines are not compared blindly).
const char* DispatchedTargetName();

// The plain-loop definitions of the kernels above: same signatures and contracts, double
// accumulation, libm exp/pow. Slow on purpose; they are the reference, not a fallback.
// SpreadStep's reference reads the CSR arrays a SpreadGraph is built from, not the graph.
namespace scalar {

float Dot(const float* a, const float* b, size_t n);
float SquaredNorm(const float* a, size_t n);
float Normalize(float* a, size_t n);
void ToHalf(const float* a, size_t n, uint16_t* out);
float DotHalf(const uint16_t* a, const uint16_t* b, size_t n);
int32_t DotInt8(const int8_t* a, const int8_t* b, size_t n);
// The float value of one binary16 bit pattern (exact).
float HalfToFloat(uint16_t h);
void BatchDot(const float* query, const float* rows, size_t count, size_t dim, float* out);
void BatchDotPtrs(const float* query, const float* const* rows, size_t count, size_t dim,
                  float* out);
void BatchCosine(const float* query, const float* rows, size_t count, size_t dim, float* out);
void DecayExponential(const float* strength, const float* age, size_t n, float tau, float* out);
void DecayPowerLaw(const float* strength, const float* age, size_t n, float tau, float alpha,
                   float* out);
// REQUIRES: row has num_nodes + 1 non-decreasing entries; col[e] < num_nodes; next does not
// overlap act.
size_t SpreadStep(const uint32_t* row, const uint32_t* col, const float* weight, size_t num_nodes,
                  const float* act, float retain, float decay, float threshold, float* next);

}  // namespace scalar
}  // namespace engram::kernels
