#include "workload/dataset.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string>
#include <vector>

namespace engram::workload {
namespace {

DataSpec Data(uint64_t nodes, int dim, DistributionKind kind) {
  DataSpec d;
  d.num_nodes = nodes;
  d.embedding_dim = dim;
  d.distribution.kind = kind;
  return d;
}

double Norm(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += static_cast<double>(x) * x;
  return std::sqrt(s);
}

double Dot(const std::vector<float>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

TEST(DatasetTest, EmbeddingsAreUnitLengthForEveryDistribution) {
  for (DistributionKind kind :
       {DistributionKind::kClustered, DistributionKind::kUniform, DistributionKind::kHotSpot}) {
    DataSpec d = Data(200, 768, kind);
    if (kind == DistributionKind::kHotSpot) d.distribution.center = {0.5, -0.5, 0.25};
    const DatasetGenerator gen(d, 7);
    for (uint64_t i = 0; i < 200; ++i) {
      const EpisodeSpec e = gen.Node(i);
      ASSERT_EQ(e.embedding.size(), 768u);
      EXPECT_NEAR(Norm(e.embedding), 1.0, 1e-5) << DistributionKindName(kind) << " node " << i;
    }
  }
}

TEST(DatasetTest, ClusteredEmbeddingsAreCloserToTheirCentroidThanToOthers) {
  DataSpec d = Data(2000, 768, DistributionKind::kClustered);
  d.distribution.num_clusters = 10;
  d.distribution.std_dev = 0.1;
  const DatasetGenerator gen(d, 0xDEADBEEF);
  std::vector<std::vector<double>> centroids;
  for (int j = 0; j < 10; ++j) centroids.push_back(gen.Centroid(j));
  double own = 0, other = 0;
  int closest_is_own = 0;
  std::set<int> clusters_seen;
  for (uint64_t i = 0; i < 2000; ++i) {
    const EpisodeSpec e = gen.Node(i);
    ASSERT_GE(e.cluster, 0);
    ASSERT_LT(e.cluster, 10);
    clusters_seen.insert(e.cluster);
    int best = -1;
    double best_sim = -2;
    for (int j = 0; j < 10; ++j) {
      const double sim = Dot(e.embedding, centroids[j]);
      if (j == e.cluster) {
        own += sim;
      } else {
        other += sim / 9;
      }
      if (sim > best_sim) best_sim = sim, best = j;
    }
    closest_is_own += best == e.cluster;
  }
  own /= 2000;
  other /= 2000;
  // Noise norm ~ 0.1 * sqrt(768) = 2.77, so cos to the own centroid ~ 1 / sqrt(1 + 7.68).
  EXPECT_NEAR(own, 0.34, 0.03);
  EXPECT_NEAR(other, 0.0, 0.02);
  EXPECT_EQ(closest_is_own, 2000);
  EXPECT_EQ(clusters_seen.size(), 10u);
}

TEST(DatasetTest, HotSpotEmbeddingsLeanTowardsTheCenter) {
  DataSpec d = Data(500, 64, DistributionKind::kHotSpot);
  d.distribution.center = {1.0};
  d.distribution.std_dev = 0.05;
  const DatasetGenerator gen(d, 3);
  double mean_first = 0;
  for (uint64_t i = 0; i < 500; ++i) mean_first += gen.Node(i).embedding[0] / 500.0;
  EXPECT_GT(mean_first, 0.9);
}

TEST(DatasetTest, NodesDependOnlyOnSeedAndIndex) {
  const DataSpec d = Data(1000, 32, DistributionKind::kClustered);
  const DatasetGenerator a(d, 11), b(d, 11), c(d, 12);
  const EpisodeSpec late_first = a.Node(999);  // order of requests does not matter
  const EpisodeSpec x = b.Node(999);
  EXPECT_EQ(late_first.embedding, x.embedding);
  EXPECT_EQ(late_first.what, x.what);
  EXPECT_EQ(late_first.when_micros, x.when_micros);
  EXPECT_NE(c.Node(999).embedding, x.embedding);
  EXPECT_EQ(x.id, "n999");
  EXPECT_GE(x.when_micros, kEpisodeEpochMicros);
  EXPECT_FALSE(x.who.empty());
  EXPECT_EQ(std::set<std::string>(x.who.begin(), x.who.end()).size(), x.who.size());
}

TEST(DatasetTest, SpacesAreAssignedRoundRobin) {
  DataSpec d = Data(10, 8, DistributionKind::kUniform);
  EXPECT_EQ(DatasetGenerator(d, 1).SpaceOf(5), "default");
  d.memory_spaces = 3;
  const DatasetGenerator gen(d, 1);
  EXPECT_EQ(gen.SpaceOf(0), "space_0");
  EXPECT_EQ(gen.SpaceOf(4), "space_1");
  EXPECT_EQ(gen.Node(5).space, "space_2");
  EXPECT_EQ(gen.SpaceNames(), (std::vector<std::string>{"space_0", "space_1", "space_2"}));
}

TEST(DatasetTest, ScaleFreeGraphHasTheRequestedAverageDegreeAndHubs) {
  DataSpec d = Data(20000, 8, DistributionKind::kUniform);
  d.graph.shape = GraphShape::kScaleFree;
  d.graph.avg_degree = 10;
  const DatasetGenerator gen(d, 5);
  std::vector<uint64_t> degree(20000, 0);
  uint64_t edges = 0;
  for (uint64_t i = 0; i < 20000; ++i) {
    for (const Edge& e : gen.EdgesFrom(i)) {
      ASSERT_EQ(e.from, i);
      ASSERT_LT(e.to, i);  // links go to earlier nodes only
      ASSERT_GE(e.weight, 0.1f);
      ++degree[e.from];
      ++degree[e.to];
      ++edges;
    }
  }
  const double avg = 2.0 * static_cast<double>(edges) / 20000.0;
  EXPECT_NEAR(avg, 10.0, 0.3);
  const uint64_t max_degree = *std::max_element(degree.begin(), degree.end());
  EXPECT_GT(max_degree, 100u);  // a heavy tail: hubs far above the mean
}

TEST(DatasetTest, RandomGraphHasTheRequestedAverageDegreeWithoutHubs) {
  DataSpec d = Data(20000, 8, DistributionKind::kUniform);
  d.graph.shape = GraphShape::kRandom;
  d.graph.avg_degree = 7;  // odd: half the nodes create one extra edge
  const DatasetGenerator gen(d, 5);
  std::vector<uint64_t> degree(20000, 0);
  uint64_t edges = 0;
  for (uint64_t i = 0; i < 20000; ++i) {
    for (const Edge& e : gen.EdgesFrom(i)) {
      ASSERT_NE(e.to, e.from);
      ASSERT_LT(e.to, 20000u);
      ++degree[e.from];
      ++degree[e.to];
      ++edges;
    }
  }
  EXPECT_NEAR(2.0 * static_cast<double>(edges) / 20000.0, 7.0, 0.2);
  EXPECT_LT(*std::max_element(degree.begin(), degree.end()), 40u);
  d.graph.shape = GraphShape::kNone;
  EXPECT_TRUE(DatasetGenerator(d, 5).EdgesFrom(10).empty());
}

}  // namespace
}  // namespace engram::workload
