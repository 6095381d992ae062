#include "workload/op_stream.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace engram::workload {

OpStream::OpStream(const Scenario& scenario)
    : seed_(scenario.seed), params_(scenario.params), dataset_(scenario) {
  double total = 0;
  for (int i = 0; i < kNumOpKinds; ++i) {
    total += scenario.weights[i];
    cumulative_[i] = total;
  }
}

OpKind OpStream::DrawKind(Rng& rng) const {
  const double u = rng.Uniform() * cumulative_.back();
  for (int i = 0; i < kNumOpKinds; ++i) {
    // A kind of weight 0 has an empty interval and can never be drawn.
    if (u < cumulative_[i]) {
      return kAllOpKinds[i];
    }
  }
  // u < total always; guard against rounding by taking the last kind with weight.
  for (int i = kNumOpKinds - 1; i >= 0; --i) {
    if (i == 0 || cumulative_[i] > cumulative_[i - 1]) {
      return kAllOpKinds[i];
    }
  }
  return OpKind::kStore;
}

OpKind OpStream::KindAt(uint64_t index) const {
  Rng rng = Rng::Stream(seed_, index);
  return DrawKind(rng);
}

Operation OpStream::At(uint64_t index) const {
  Rng rng = Rng::Stream(seed_, index);
  Operation op;
  op.index = index;
  op.kind = DrawKind(rng);
  op.params = params_[static_cast<int>(op.kind)];
  const DataSpec& data = dataset_.spec();
  auto random_space = [&] {
    return dataset_.SpaceName(
        static_cast<int>(rng.Below(static_cast<uint64_t>(data.memory_spaces))));
  };
  auto pick_target = [&] {
    op.has_target = true;
    op.target_node = rng.Below(data.num_nodes);
    op.target_id = DatasetGenerator::NodeId(op.target_node);
    op.space = dataset_.SpaceOf(op.target_node);
  };
  switch (op.kind) {
    case OpKind::kStore: {
      std::string space = random_space();
      op.space = space;
      op.episode = dataset_.MakeEpisode(rng, StoreId(index), std::move(space));
      break;
    }
    case OpKind::kRecall:
    case OpKind::kSemanticRecall:
    case OpKind::kBlendedRecall:
    case OpKind::kSearch:
      op.space = random_space();
      op.query.resize(static_cast<size_t>(data.embedding_dim));
      op.query_cluster = dataset_.SampleEmbedding(rng, op.query.data());
      break;
    case OpKind::kPatternCompletion: {
      pick_target();
      const EpisodeSpec node = dataset_.Node(op.target_node);
      const double want = std::ceil(op.params.completion_fraction * data.embedding_dim);
      op.known_dims =
          static_cast<uint32_t>(std::clamp(want, 1.0, static_cast<double>(data.embedding_dim)));
      op.query.assign(node.embedding.begin(), node.embedding.begin() + op.known_dims);
      op.query_cluster = node.cluster;
      std::istringstream words(node.what);
      std::vector<std::string> w;
      for (std::string s; words >> s;) {
        w.push_back(s);
      }
      const size_t keep = std::max<size_t>(1, w.size() / 2);
      for (size_t i = 0; i < keep && i < w.size(); ++i) {
        op.cue_what += (i ? " " : "") + w[i];
      }
      break;
    }
    case OpKind::kTraversal:
    case OpKind::kActivation:
      pick_target();
      break;
    case OpKind::kConsolidation:
      op.space = random_space();
      break;
    case OpKind::kHealth:
      // No space, no payload, no draws: GET /health is the same request every time.
      break;
  }
  return op;
}

}  // namespace engram::workload
