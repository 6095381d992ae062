// The deterministic dataset a scenario names: node i's episode, the association edges node i
// creates, and the memory space it lives in, each computed from (seed, i) alone. Nothing is
// stored, so a 10M-node dataset costs no memory until a loader asks for it, and loaders may
// generate nodes on any number of threads in any order.
//
// Embeddings (embedding_dim floats, unit length):
//   clustered: centroid c (a random unit vector; the node's cluster drawn uniformly) plus
//              Normal(0, std_dev) noise in every component, renormalised. The noise norm is
//              about std_dev * sqrt(dim), so std_dev = 0.1 at 768 dims gives cos(v, c) ~ 0.34,
//              against ~0 for other centroids.
//   uniform:   a normalised standard Gaussian vector (uniform on the sphere).
//   hot_spot:  center (as given, zero-padded) plus Normal(0, std_dev) noise, renormalised.
// Graph shapes (undirected associations, each created by the node with the larger index for
// scale_free, so a loader can add edges as soon as both ends exist):
//   scale_free: node i >= 1 links to ~avg_degree/2 earlier nodes j = floor(i * u^2), u ~ U(0,1).
//               That gives P(j) proportional to j^-1/2, the attachment probability that
//               Barabasi-Albert preferential attachment produces in expectation, without
//               its sequential state; degrees follow a power law with exponent ~3.
//   random:     node i links to ~avg_degree/2 nodes drawn uniformly from all others.
//   none:       no edges.
//
// Threading: const methods are safe to call concurrently.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/random.h"
#include "workload/scenario.h"

namespace engram::workload {

// Episode timestamps are synthetic: a fixed base (2024-01-01T00:00:00Z) plus up to a year,
// never the wall clock, so the dataset is the same on every run.
inline constexpr int64_t kEpisodeEpochMicros = 1'704'067'200'000'000LL;

// One episode as the generator describes it; drivers turn it into a request.
struct EpisodeSpec {
  std::string id;     // "n<i>" for dataset node i, "s<op index>" for a stored one
  std::string space;  // "default" or "space_<k>"
  std::string what;
  int64_t when_micros = 0;  // microseconds since the Unix epoch
  std::string where;
  std::vector<std::string> who;
  std::vector<std::string> tags;
  std::vector<float> embedding;  // embedding_dim values, unit length
  float confidence = 1.0f;       // in [0.5, 1)
  int32_t cluster = -1;          // the cluster drawn (clustered only), else -1
};

struct Edge {
  uint64_t from = 0;  // the node that created the edge
  uint64_t to = 0;
  float weight = 0;  // in [0.1, 1)
};

class DatasetGenerator {
 public:
  DatasetGenerator(const DataSpec& data, uint64_t seed);
  explicit DatasetGenerator(const Scenario& scenario)
      : DatasetGenerator(scenario.data, scenario.seed) {}

  const DataSpec& spec() const { return data_; }
  uint64_t num_nodes() const { return data_.num_nodes; }
  int embedding_dim() const { return data_.embedding_dim; }

  static std::string NodeId(uint64_t i) { return "n" + std::to_string(i); }
  // "default" when memory_spaces == 1, else "space_<s>".
  std::string SpaceName(int s) const;
  std::vector<std::string> SpaceNames() const;
  // Node i's space: round robin, space_(i % memory_spaces).
  std::string SpaceOf(uint64_t i) const;

  // Node i's episode. REQUIRES: i < num_nodes().
  EpisodeSpec Node(uint64_t i) const;
  // The edges node i creates (see the header comment). Duplicates within one node are
  // removed; self-loops never occur.
  std::vector<Edge> EdgesFrom(uint64_t i) const;

  // One draw from the embedding distribution into out[0, dim): returns the cluster or -1.
  int32_t SampleEmbedding(Rng& rng, float* out) const;
  // An episode with all fields drawn from `rng` (the same recipe as Node()).
  EpisodeSpec MakeEpisode(Rng& rng, std::string id, std::string space) const;
  // Cluster j's centroid (unit length). REQUIRES: clustered, j < num_clusters.
  std::vector<double> Centroid(int j) const;

 private:
  void CentroidInto(int j, double* out) const;
  DataSpec data_;
  uint64_t node_seed_, edge_seed_, centroid_seed_;
  std::vector<double> centroids_;  // cached when small enough, else computed per use
};

}  // namespace engram::workload
