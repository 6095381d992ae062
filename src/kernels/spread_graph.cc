// SpreadGraph::Assign: CSR of incoming edges -> sliced ELLPACK (see kernels.h).
#include <algorithm>

#include "kernels/kernels.h"

namespace engram::kernels {

// Must match kSpreadSliceWidth in kernels.cc, which reads the layout.
constexpr size_t kSlice = 16;

void SpreadGraph::Assign(const uint32_t* row, const uint32_t* col, const float* weight,
                         size_t num_nodes) {
  num_nodes_ = num_nodes;
  num_edges_ = num_nodes == 0 ? 0 : row[num_nodes] - row[0];
  auto degree = [&](size_t v) { return row[v + 1] - row[v]; };

  // Counting sort of the short rows by degree, longest first (ties in node order), so that each
  // slice's rows have nearly the same length and the padding stays small.
  scratch_.assign(kMaxSlicedRow + 2, 0);
  long_node_.clear();
  for (size_t v = 0; v < num_nodes; ++v) {
    if (degree(v) > kMaxSlicedRow) {
      long_node_.push_back(static_cast<uint32_t>(v));
    } else {
      ++scratch_[kMaxSlicedRow - degree(v) + 1];
    }
  }
  for (size_t i = 1; i < scratch_.size(); ++i) scratch_[i] += scratch_[i - 1];
  node_.resize(num_nodes - long_node_.size());
  for (size_t v = 0; v < num_nodes; ++v) {
    if (degree(v) <= kMaxSlicedRow) {
      node_[scratch_[kMaxSlicedRow - degree(v)]++] = static_cast<uint32_t>(v);
    }
  }

  // Slice s is as long as its first (longest) row.
  const size_t num_slices = (node_.size() + kSlice - 1) / kSlice;
  slice_begin_.resize(num_slices + 1);
  slice_begin_[0] = 0;
  for (size_t s = 0; s < num_slices; ++s) {
    slice_begin_[s + 1] =
        static_cast<uint32_t>(slice_begin_[s] + degree(node_[s * kSlice]) * kSlice);
  }
  col_.resize(slice_begin_[num_slices]);
  weight_.resize(slice_begin_[num_slices]);
  // Filled a column of 16 lanes at a time with selects, so every loop's trip count is 16 or the
  // slice's length. Building the benchmark's graph (1000 nodes, 5000 edges) takes ~8 us here,
  // about four steps; a per-row copy loop measured the same.
  for (size_t s = 0; s < num_slices; ++s) {
    const size_t len = (slice_begin_[s + 1] - slice_begin_[s]) / kSlice;
    uint32_t lane_node[kSlice], lane_degree[kSlice], lane_first[kSlice], lane_last[kSlice];
    for (size_t j = 0; j < kSlice; ++j) {
      // A lane past the last node pads with the slice's first node; its sum is never stored.
      const size_t i = s * kSlice + j;
      const uint32_t v = i < node_.size() ? node_[i] : node_[s * kSlice];
      const uint32_t d = i < node_.size() ? degree(v) : 0;
      lane_node[j] = v;
      lane_degree[j] = d;
      // A row of degree 0 reads edge 0 (which exists whenever len > 0) and discards it.
      lane_first[j] = d > 0 ? row[v] : 0;
      lane_last[j] = d > 0 ? d - 1 : 0;
    }
    uint32_t* out_col = col_.data() + slice_begin_[s];
    float* out_weight = weight_.data() + slice_begin_[s];
    for (uint32_t k = 0; k < len; ++k, out_col += kSlice, out_weight += kSlice) {
      for (size_t j = 0; j < kSlice; ++j) {
        const size_t e = lane_first[j] + std::min(k, lane_last[j]);
        const bool real = k < lane_degree[j];
        out_col[j] = real ? col[e] : lane_node[j];
        out_weight[j] = real ? weight[e] : 0.0f;
      }
    }
  }

  long_row_.assign(1, 0);
  long_col_.clear();
  long_weight_.clear();
  for (const uint32_t v : long_node_) {
    long_col_.insert(long_col_.end(), col + row[v], col + row[v + 1]);
    long_weight_.insert(long_weight_.end(), weight + row[v], weight + row[v + 1]);
    long_row_.push_back(static_cast<uint32_t>(long_col_.size()));
  }
}

}  // namespace engram::kernels
