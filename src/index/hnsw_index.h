// HnswIndex: approximate nearest-neighbour search over unit vectors, by inner product.
//
// hnswlib's HierarchicalNSW does the graph work; its distance function is ours (the
// Highway-dispatched kernels::Dot), so a portable build gets the CPU's full SIMD width instead
// of the SSE that hnswlib compiles to without -march. Vectors must be normalised by the caller:
// similarity is the inner product, which equals cosine for unit vectors.
//
// Threading: Add(), Search(), MarkDeleted() and Neighbors() may run concurrently with each
// other (hnswlib locks per node). Capacity grows by doubling; the growth takes an exclusive
// lock, so it briefly waits for searches in flight, and so does the very first Add() (see
// Add()). Save() must not run with concurrent Add().
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "core/status.h"

namespace hnswlib {
template <typename T> class HierarchicalNSW;
}

namespace engram::index {

// How the index stores its copy of each vector: the bits per value. Queries are encoded the same
// way, so the similarities Search() reports carry the encoding's error; the engine re-scores its
// results from the exact float embeddings it keeps.
// - kInt8 (the default): int8 codes and a float scale per vector (kernels::ToInt8), a dot
//   product off by ~5e-4 for unit 768-d vectors. At 100K x 768 against binary16: inserts 0.68x
//   and searches 0.73x the time, 0.55x the memory; recall@10 0.951 against 0.961 when the
//   index's own top 10 is taken, 0.963 when its top 20 is re-ranked by float as the engine does
//   (benches/eval/index_precision_ab, docs/engine_performance.md "Index vectors as int8").
// - kFloat16: IEEE binary16, a dot product off by ~1e-5. Against float32: inserts 16-19%
//   cheaper, search time and recall unchanged.
// - kFloat32: the vectors as given.
enum class VectorPrecision : uint8_t { kFloat32 = 32, kFloat16 = 16, kInt8 = 8 };

// The bits per value a precision may be given as: what `engram start --vector-bits`, the API's
// `vector_bits` and a stored space's options accept.
inline constexpr std::array<int, 3> kVectorPrecisionBits = {8, 16, 32};

// The precision of `bits` per value, or nullopt if no precision has that many.
constexpr std::optional<VectorPrecision> VectorPrecisionFromBits(int64_t bits) {
  for (int b : kVectorPrecisionBits) {
    if (bits == b) return static_cast<VectorPrecision>(b);
  }
  return std::nullopt;
}

// "int8", "binary16" or "float32".
constexpr const char* VectorPrecisionName(VectorPrecision p) {
  switch (p) {
    case VectorPrecision::kInt8: return "int8";
    case VectorPrecision::kFloat16: return "binary16";
    case VectorPrecision::kFloat32: break;
  }
  return "float32";
}

struct HnswOptions {
  size_t m = 16;                 // graph degree (hnswlib M); level 0 keeps 2*m links
  size_t ef_construction = 128;  // candidate list size while inserting
  // Default candidate list size while searching. 96 is the smallest of 80, 88, 96, ... that
  // gave recall@10 >= 0.95 on 100K near-uniform 768-d vectors (the hardest case) with M 16 and
  // ef_construction 128; clustered data needs less (docs/engine_performance.md has the sweep).
  size_t ef_search = 96;
  size_t initial_capacity = 1024;
  uint64_t random_seed = 100;    // hnswlib's level generator seed
  VectorPrecision precision = VectorPrecision::kInt8;
};

struct Neighbor {
  uint32_t slot = 0;        // the caller's label for the vector
  float similarity = 0.0f;  // inner product with the query
};

class HnswIndex {
 public:
  HnswIndex(size_t dim, const HnswOptions& options);
  ~HnswIndex();
  HnswIndex(const HnswIndex&) = delete;
  HnswIndex& operator=(const HnswIndex&) = delete;

  // Inserts `vec` (dim floats, unit length) under `slot`. If `links` is not null, it receives
  // the new node's level-0 neighbours chosen by the HNSW heuristic, with their similarity
  // (computed at the index's precision): the engine uses them as association edges, so a
  // remember does not search twice.
  Status Add(uint32_t slot, const float* vec, std::vector<Neighbor>* links = nullptr);

  // Up to k neighbours of `query`, most similar first, similarities at the index's precision.
  // ef <= 0 means the default ef_search; the effective list size is max(ef, k).
  std::vector<Neighbor> Search(const float* query, size_t k, int ef = 0) const;

  // Excludes `slot` from future results (hnswlib keeps the node as a routing point).
  Status MarkDeleted(uint32_t slot);

  size_t size() const;  // vectors added, including deleted ones
  size_t capacity() const;
  size_t dim() const { return dim_; }
  const HnswOptions& options() const { return options_; }
  // Approximate memory held by the index in bytes.
  size_t MemoryBytes() const;

  // Writes the index to `path` (atomically, through a temporary file) / reads it back.
  Status Save(const std::string& path) const;
  static Result<std::unique_ptr<HnswIndex>> Load(const std::string& path, size_t dim,
                                                 const HnswOptions& options);

 private:
  class Space;
  void GrowIfFull();
  // `vec` in the stored format: itself (float32), or encoded into `record` (float16, int8).
  const void* Stored(const float* vec, std::vector<uint8_t>* record) const;
  // The level-0 best-first search of hnswlib's searchBaseLayerST (same candidates, same list
  // size rule, same result), with its memory access reordered: the unvisited neighbours of a
  // node are collected first and each one's whole record is prefetched a few distances ahead
  // (hnswlib fetches one cache line of the next neighbour; an int8 record is 13). Returns up to
  // `ef` (distance, internal id) pairs, nearest first. REQUIRES: grow_mu_ held (shared).
  std::vector<std::pair<float, uint32_t>> SearchLevel0(uint32_t entry, const void* query, size_t ef) const;
  // hnswlib's addPoint for a new label, with the layer search done as SearchLevel0 does it
  // (unvisited neighbours collected under the node's lock, which is not held during the
  // distances, and their records prefetched ahead): an insert's time is mostly that search,
  // bound by memory like a query's. Returns the internal id; throws std::runtime_error as
  // addPoint does when the index is full.
  // REQUIRES: grow_mu_ held (shared); an entry point exists; `label` not in the index.
  uint32_t InsertNew(const void* record, size_t label);
  float Distance(const void* a, const void* b) const;  // 1 - dot, in the stored format

  size_t dim_;
  HnswOptions options_;
  std::unique_ptr<Space> space_;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> hnsw_;
  mutable std::shared_mutex grow_mu_;  // exclusive while resizing or inserting the first vector
  std::atomic<bool> has_entry_point_{false};  // set once an insert has completed
};

// hnswlib exactly as it ships (its own compile-time SIMD inner product and searchKnn), for
// measuring the engine against the bare library in the same run. The engine never uses it.
// It lives here because hnswlib 0.6's headers define globals and may be included by one
// translation unit per binary only. Add() may run concurrently with itself.
class BareHnswlib {
 public:
  BareHnswlib(size_t dim, const HnswOptions& options, size_t capacity);
  ~BareHnswlib();
  void Add(uint32_t label, const float* vec);
  void SetEf(size_t ef);
  std::vector<Neighbor> Search(const float* query, size_t k) const;  // most similar first

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Exact search by brute force: the reference that recall@k is measured against.
// rows: count unit vectors of dim floats, contiguous. Returns the k best, most similar first.
std::vector<Neighbor> ExactSearch(const float* query, const float* rows, size_t count,
                                  size_t dim, size_t k);

}  // namespace engram::index
