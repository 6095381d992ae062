#include "workload/dataset.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <string_view>

namespace engram::workload {

namespace {

// Tags that separate the streams derived from one seed.
constexpr uint64_t kNodeTag = 0x4E4F444553ULL;         // "NODES"
constexpr uint64_t kEdgeTag = 0x4544474553ULL;         // "EDGES"
constexpr uint64_t kCentroidTag = 0x43454E5452ULL;     // "CENTR"
constexpr size_t kMaxCachedCentroidValues = 4u << 20;  // 32 MiB of doubles

constexpr int64_t kYearMicros = 365LL * 24 * 3600 * 1'000'000;

constexpr std::array<std::string_view, 20> kPeople = {
    "Alice",   "Bob",  "Carol",  "Dave",  "Erin",   "Frank", "Grace", "Heidi",  "Ivan",   "Judy",
    "Mallory", "Niaj", "Olivia", "Peggy", "Rupert", "Sybil", "Trent", "Victor", "Walter", "Yara"};
constexpr std::array<std::string_view, 10> kVerbs = {
    "discussed", "reviewed",   "planned",    "debugged", "sketched",
    "presented", "questioned", "summarised", "measured", "rewrote"};
constexpr std::array<std::string_view, 10> kObjects = {
    "report", "prototype", "budget",  "schedule", "benchmark",
    "design", "contract",  "dataset", "proposal", "incident"};
constexpr std::array<std::string_view, 24> kTopics = {
    "astronomy", "gardening", "databases", "cooking",    "sailing",   "chess",
    "music",     "finance",   "medicine",  "geology",    "poetry",    "robotics",
    "weather",   "history",   "cycling",   "compilers",  "ecology",   "law",
    "painting",  "networks",  "genetics",  "typography", "economics", "optics"};
constexpr std::array<std::string_view, 12> kPlaces = {
    "kitchen", "office", "library", "lab",     "cafe",         "park",
    "train",   "garage", "studio",  "hallway", "meeting room", "rooftop"};

template <size_t N>
std::string_view Pick(Rng& rng, const std::array<std::string_view, N>& words) {
  return words[rng.Below(N)];
}

// Scales v to unit length, writing floats. A zero vector becomes the first basis vector.
void NormaliseInto(const std::vector<double>& v, float* out) {
  double sum = 0;
  for (double x : v) {
    sum += x * x;
  }
  if (sum <= 0) {
    for (size_t d = 0; d < v.size(); ++d) {
      out[d] = d == 0 ? 1.0f : 0.0f;
    }
    return;
  }
  const double inv = 1.0 / std::sqrt(sum);
  for (size_t d = 0; d < v.size(); ++d) {
    out[d] = static_cast<float>(v[d] * inv);
  }
}

}  // namespace

DatasetGenerator::DatasetGenerator(const DataSpec& data, uint64_t seed)
    : data_(data),
      node_seed_(Mix64(seed, kNodeTag)),
      edge_seed_(Mix64(seed, kEdgeTag)),
      centroid_seed_(Mix64(seed, kCentroidTag)) {
  const auto& dist = data_.distribution;
  if (dist.kind == DistributionKind::kClustered) {
    const size_t values =
        static_cast<size_t>(dist.num_clusters) * static_cast<size_t>(data_.embedding_dim);
    if (values <= kMaxCachedCentroidValues) {
      centroids_.resize(values);
      for (int j = 0; j < dist.num_clusters; ++j) {
        CentroidInto(j, centroids_.data() + static_cast<size_t>(j) * data_.embedding_dim);
      }
    }
  }
  if (dist.kind == DistributionKind::kHotSpot) {
    data_.distribution.center.resize(static_cast<size_t>(data_.embedding_dim), 0.0);
  }
}

std::string DatasetGenerator::SpaceName(int s) const {
  return data_.memory_spaces <= 1 ? std::string("default") : "space_" + std::to_string(s);
}

std::vector<std::string> DatasetGenerator::SpaceNames() const {
  std::vector<std::string> out;
  out.reserve(static_cast<size_t>(data_.memory_spaces));
  for (int s = 0; s < data_.memory_spaces; ++s) {
    out.push_back(SpaceName(s));
  }
  return out;
}

std::string DatasetGenerator::SpaceOf(uint64_t i) const {
  return SpaceName(static_cast<int>(i % static_cast<uint64_t>(data_.memory_spaces)));
}

void DatasetGenerator::CentroidInto(int j, double* out) const {
  Rng rng = Rng::Stream(centroid_seed_, static_cast<uint64_t>(j));
  double sum = 0;
  for (int d = 0; d < data_.embedding_dim; ++d) {
    out[d] = rng.Normal();
    sum += out[d] * out[d];
  }
  const double inv = sum > 0 ? 1.0 / std::sqrt(sum) : 0.0;
  for (int d = 0; d < data_.embedding_dim; ++d) {
    out[d] *= inv;
  }
}

std::vector<double> DatasetGenerator::Centroid(int j) const {
  std::vector<double> c(static_cast<size_t>(data_.embedding_dim));
  if (!centroids_.empty()) {
    std::copy_n(centroids_.begin() + static_cast<ptrdiff_t>(j) * data_.embedding_dim, c.size(),
                c.begin());
  } else {
    CentroidInto(j, c.data());
  }
  return c;
}

int32_t DatasetGenerator::SampleEmbedding(Rng& rng, float* out) const {
  const auto& dist = data_.distribution;
  const size_t dim = static_cast<size_t>(data_.embedding_dim);
  std::vector<double> v(dim);
  int32_t cluster = -1;
  switch (dist.kind) {
    case DistributionKind::kClustered: {
      cluster = static_cast<int32_t>(rng.Below(static_cast<uint64_t>(dist.num_clusters)));
      if (!centroids_.empty()) {
        const double* c = centroids_.data() + static_cast<size_t>(cluster) * dim;
        for (size_t d = 0; d < dim; ++d) {
          v[d] = c[d] + dist.std_dev * rng.Normal();
        }
      } else {
        CentroidInto(cluster, v.data());
        for (size_t d = 0; d < dim; ++d) {
          v[d] += dist.std_dev * rng.Normal();
        }
      }
      break;
    }
    case DistributionKind::kUniform:
      for (size_t d = 0; d < dim; ++d) {
        v[d] = rng.Normal();
      }
      break;
    case DistributionKind::kHotSpot:
      for (size_t d = 0; d < dim; ++d) {
        v[d] = dist.center[d] + dist.std_dev * rng.Normal();
      }
      break;
  }
  NormaliseInto(v, out);
  return cluster;
}

EpisodeSpec DatasetGenerator::MakeEpisode(Rng& rng, std::string id, std::string space) const {
  EpisodeSpec e;
  e.id = std::move(id);
  e.space = std::move(space);
  e.embedding.resize(static_cast<size_t>(data_.embedding_dim));
  e.cluster = SampleEmbedding(rng, e.embedding.data());
  // The topic follows the cluster, so text and embedding agree about what an episode is about.
  const std::string_view topic = e.cluster >= 0
                                     ? kTopics[static_cast<size_t>(e.cluster) % kTopics.size()]
                                     : Pick(rng, kTopics);
  const size_t n_who = 1 + rng.Below(3);
  while (e.who.size() < n_who) {  // distinct people
    const std::string_view p = Pick(rng, kPeople);
    if (std::find(e.who.begin(), e.who.end(), p) == e.who.end()) {
      e.who.emplace_back(p);
    }
  }
  const std::string_view verb = Pick(rng, kVerbs);
  const std::string_view object = Pick(rng, kObjects);
  e.where = std::string(Pick(rng, kPlaces));
  e.what = e.who[0] + " " + std::string(verb) + " the " + std::string(object) + " about " +
           std::string(topic) + " in the " + e.where;
  e.when_micros = kEpisodeEpochMicros + static_cast<int64_t>(rng.Below(kYearMicros));
  e.confidence = static_cast<float>(0.5 + 0.5 * rng.Uniform());
  e.tags = {std::string(topic), std::string(object)};
  return e;
}

EpisodeSpec DatasetGenerator::Node(uint64_t i) const {
  Rng rng = Rng::Stream(node_seed_, i);
  return MakeEpisode(rng, NodeId(i), SpaceOf(i));
}

std::vector<Edge> DatasetGenerator::EdgesFrom(uint64_t i) const {
  std::vector<Edge> edges;
  const GraphShape shape = data_.graph.shape;
  const uint64_t n = data_.num_nodes;
  if (shape == GraphShape::kNone || i >= n) {
    return edges;
  }
  // Nodes a scale-free node can link to: the i earlier ones; a random node: the n - 1 others.
  const uint64_t candidates = shape == GraphShape::kScaleFree ? i : (n > 0 ? n - 1 : 0);
  if (candidates == 0) {
    return edges;
  }
  Rng rng = Rng::Stream(edge_seed_, i);
  // Each edge adds 2 to the degree sum, so avg_degree / 2 edges per node; a fractional part
  // becomes one more edge with that probability.
  const double half = data_.graph.avg_degree / 2.0;
  uint64_t m = static_cast<uint64_t>(std::floor(half));
  if (rng.Uniform() < half - std::floor(half)) {
    ++m;
  }
  m = std::min(m, candidates);
  const uint64_t attempts = 4 * m + 8;
  for (uint64_t a = 0; a < attempts && edges.size() < m; ++a) {
    uint64_t j;
    if (shape == GraphShape::kScaleFree) {
      const double u = rng.Uniform();
      j = std::min(static_cast<uint64_t>(static_cast<double>(i) * u * u), i - 1);
    } else {
      j = rng.Below(n - 1);
      if (j >= i) {
        ++j;  // skip self
      }
    }
    const float weight = static_cast<float>(0.1 + 0.9 * rng.Uniform());
    bool dup = false;
    for (const Edge& e : edges) {
      dup = dup || e.to == j;
    }
    if (!dup) {
      edges.push_back(Edge{i, j, weight});
    }
  }
  return edges;
}

}  // namespace engram::workload
