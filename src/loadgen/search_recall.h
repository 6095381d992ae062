// Search quality beside latency: recall@k of the server's k-NN answers against exact search.
//
// For a sample of the run's Search operations the runner keeps the query and the ids the
// server returned. Exact top-k is computed here by brute force over the *preloaded* dataset of
// the query's space (from the embeddings kept during preload, or regenerated from the dataset
// when they were not kept).
//
// Stores made during the run: the server may legitimately return episodes stored during the
// run ("s<index>" ids), which exact search over the preloaded data does not know. If m of the
// k returned ids are such episodes, they occupy m places of the true top-k over everything
// stored, so the remaining k - m true neighbours are the exact top (k - m) of the preloaded
// data; recall for the sample is |returned preloaded ids ∩ exact top (k - m)| / (k - m).
// (This trusts that a returned run-stored episode belongs in the top k; it cannot make a
// wrong preloaded answer count as right.) A sample with m = k is skipped.
//
// Threading: ComputeSearchRecall runs `threads` worker threads and blocks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "loadgen/preload.h"
#include "workload/dataset.h"

namespace engram::loadgen {

struct SearchSample {
  uint64_t index = 0;  // op index
  std::string space;
  std::vector<float> query;
  std::vector<std::string> returned;  // ids, best first
};

struct SearchRecall {
  int k = 0;
  uint64_t samples = 0;      // samples that counted
  double recall_at_k = 0;    // mean over the samples; meaningless when samples == 0
};

// `table` may be null or empty: the embeddings are then regenerated from `data`.
SearchRecall ComputeSearchRecall(const workload::DatasetGenerator& data, const EmbeddingTable* table,
                                 const std::vector<SearchSample>& samples, int k, int threads);

}  // namespace engram::loadgen
