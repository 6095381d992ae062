// The deterministic operation stream: operation `index` of a run, computed from
// Rng::Stream(scenario.seed, index) and the scenario alone. It does not depend on threads,
// connections, shards or what ran before, so any sender may ask for any index in any order,
// and two runs of the same scenario send the same operations.
//
// Draw order inside one operation (changing it changes every stream; the workload test pins
// a digest): the kind first (one Uniform against the cumulative weights), then the kind's
// payload.
//
// Threading: At() is const and may be called concurrently.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "workload/dataset.h"
#include "workload/scenario.h"

namespace engram::workload {

struct Operation {
  uint64_t index = 0;
  OpKind kind = OpKind::kStore;
  std::string space;  // the memory space the request goes to; empty for Health
  OpParams params;    // the scenario's parameters for this kind
  // Recall, SemanticRecall, BlendedRecall, Search: a query drawn from the dataset's
  // distribution (embedding_dim values, unit length).
  // PatternCompletion: the known part of the target node's embedding, its first
  // known_dims values.
  std::vector<float> query;
  int32_t query_cluster = -1;  // the cluster the query was drawn from (clustered), else -1
  uint32_t known_dims = 0;     // PatternCompletion: ceil(completion_fraction * dim), >= 1
  // Traversal / Activation: the start node; PatternCompletion: the node whose cue is given.
  // Chosen uniformly among the dataset's nodes [0, num_nodes).
  bool has_target = false;
  uint64_t target_node = 0;
  std::string target_id;  // DatasetGenerator::NodeId(target_node)
  std::string cue_what;   // PatternCompletion: the first half of the target's words
  // Store: a fresh episode, id "s<index>", never equal to a dataset node's "n<i>".
  std::optional<EpisodeSpec> episode;
};

class OpStream {
 public:
  explicit OpStream(const Scenario& scenario);

  // Operation `index`.
  Operation At(uint64_t index) const;
  // Only the kind of operation `index` (cheap: one draw).
  OpKind KindAt(uint64_t index) const;

  const DatasetGenerator& dataset() const { return dataset_; }
  static std::string StoreId(uint64_t index) { return "s" + std::to_string(index); }

 private:
  OpKind DrawKind(Rng& rng) const;
  uint64_t seed_;
  std::array<double, kNumOpKinds> cumulative_{};  // cumulative weights, last = total
  std::array<OpParams, kNumOpKinds> params_{};
  DatasetGenerator dataset_;
};

}  // namespace engram::workload
