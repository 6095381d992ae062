// What the evaluation programs (engine_eval, index_precision_ab) share: a scenario's dataset
// at a chosen size, exact top-k ground truth, and the thread CPU clock.
#pragma once

#include <time.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "index/hnsw_index.h"
#include "workload/dataset.h"
#include "workload/scenario.h"

namespace engram::eval {

using engram::ThreadCpuNanos;  // core/clock.h

// The scenario at `path` with `total` nodes of `dim` dimensions in one space; std_dev >= 0
// replaces its distribution's per-component noise.
inline Result<workload::Scenario> EvalScenario(const std::string& path, size_t total, int dim, double std_dev) {
  ENGRAM_ASSIGN_OR_RETURN(workload::Scenario s, workload::LoadScenario(path));
  s.data.num_nodes = total;
  s.data.embedding_dim = dim;
  s.data.memory_spaces = 1;
  if (std_dev >= 0) s.data.distribution.std_dev = std_dev;
  return s;
}

// The scenario's node embeddings, row after row (two threads: each node is independent).
inline std::vector<float> GenerateRows(const workload::Scenario& s) {
  const size_t total = s.data.num_nodes, dim = s.data.embedding_dim;
  workload::DatasetGenerator gen(s);
  std::vector<float> rows(total * dim);
  auto fill = [&](size_t from, size_t step) {
    for (size_t i = from; i < total; i += step) {
      auto e = gen.Node(i);
      std::copy(e.embedding.begin(), e.embedding.end(), rows.begin() + i * dim);
    }
  };
  {
    std::jthread a(fill, 0, 2), b(fill, 1, 2);
  }
  return rows;
}

// For each of `nq` queries, the slots of its exact top k among `n` rows, most similar first.
inline std::vector<std::vector<uint32_t>> ExactTopK(const float* queries, size_t nq, const float* rows, size_t n,
                                                    size_t dim, size_t k) {
  std::vector<std::vector<uint32_t>> truth(nq);
  auto exact = [&](size_t from, size_t step) {
    for (size_t q = from; q < nq; q += step) {
      for (const auto& h : index::ExactSearch(queries + q * dim, rows, n, dim, k)) truth[q].push_back(h.slot);
    }
  };
  {
    std::jthread a(exact, 0, 2), b(exact, 1, 2);
  }
  return truth;
}

}  // namespace engram::eval
