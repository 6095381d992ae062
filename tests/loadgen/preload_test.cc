// Preload loads the dataset the scenario names (nodes and edges), verifies it by count, and
// refuses a server that already holds data.
#include <gtest/gtest.h>

#include <set>

#include "loadgen/preload.h"
#include "test_util.h"

namespace engram::loadgen {
namespace {

workload::DataSpec Data(uint64_t nodes, uint32_t dim, workload::GraphShape shape, int spaces = 1) {
  workload::DataSpec d;
  d.num_nodes = nodes;
  d.embedding_dim = static_cast<int>(dim);
  d.memory_spaces = spaces;
  d.graph.shape = shape;
  d.graph.avg_degree = 6;
  return d;
}

PreloadOptions Small() { return testing::QuietPreload(); }

TEST(PreloadTest, LoadsNodesWithTheirEdgesAndVerifiesTheCount) {
  testing::TestServer server(16);
  auto driver = server.Driver();
  const workload::DatasetGenerator data(Data(1500, 16, workload::GraphShape::kScaleFree), 7);
  EmbeddingTable table;
  auto r = Preload(driver.get(), data, Small(), &table);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  uint64_t edges = 0;
  for (uint64_t i = 0; i < data.num_nodes(); ++i) edges += data.EdgesFrom(i).size();
  EXPECT_TRUE(r->preloaded);
  EXPECT_EQ(r->nodes_loaded, 1500u);
  EXPECT_EQ(r->verified_count, 1500u);
  EXPECT_EQ(r->edges_loaded, edges);
  EXPECT_EQ(r->edges_skipped, 0u);
  EXPECT_EQ(r->leftover_episodes, 0u);
  EXPECT_EQ(server.engine()->GetSpace("default").value()->Stats().episodes, 1500u);
  // A dataset edge is in the server's graph.
  Space* space = server.engine()->GetSpace("default").value();
  for (uint64_t i : {1u, 777u, 1499u}) {
    auto hits = space->Neighbors(workload::DatasetGenerator::NodeId(i), 1, 100000);
    ASSERT_TRUE(hits.ok());
    std::set<std::string> ids;
    for (const auto& h : *hits) ids.insert(h.id);
    for (const auto& e : data.EdgesFrom(i)) EXPECT_EQ(ids.count(workload::DatasetGenerator::NodeId(e.to)), 1u) << i;
  }
  // The embeddings were kept for the recall check, row i / S of the node's space.
  ASSERT_EQ(table.rows.at("default").size(), 1500u * 16u);
  const auto node = data.Node(777);
  EXPECT_EQ(std::vector<float>(table.rows.at("default").begin() + 777 * 16, table.rows.at("default").begin() + 778 * 16),
            node.embedding);
}

TEST(PreloadTest, RandomGraphAcrossSpacesLoadsEveryEdgeThatCanExist) {
  testing::TestServer server(16);
  auto driver = server.Driver();
  const workload::DatasetGenerator data(Data(900, 16, workload::GraphShape::kRandom, 3), 11);
  auto r = Preload(driver.get(), data, Small(), nullptr);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  uint64_t same = 0, cross = 0;
  for (uint64_t i = 0; i < data.num_nodes(); ++i) {
    for (const auto& e : data.EdgesFrom(i)) (e.from % 3 == e.to % 3 ? same : cross) += 1;
  }
  EXPECT_EQ(r->edges_loaded, same);  // forward references to later batches included
  EXPECT_EQ(r->edges_skipped, cross);
  EXPECT_EQ(r->verified_count, 900u);
  for (const char* s : {"space_0", "space_1", "space_2"}) {
    EXPECT_EQ(server.engine()->GetSpace(s).value()->Stats().episodes, 300u) << s;
  }
}

TEST(PreloadTest, AServerWithLeftoverDataIsReported) {
  testing::TestServer server(16);
  auto driver = server.Driver();
  const workload::DatasetGenerator data(Data(300, 16, workload::GraphShape::kNone), 3);
  ASSERT_TRUE(Preload(driver.get(), data, Small(), nullptr).ok());
  auto again = Preload(driver.get(), data, Small(), nullptr);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(again.error().message().find("leftover data"), std::string::npos) << again.error().message();
  EXPECT_NE(again.error().message().find("300 episodes"), std::string::npos) << again.error().message();
  // Allowed to load on top, the dataset's ids collide: still reported as leftover data.
  PreloadOptions allow = Small();
  allow.allow_leftover = true;
  auto on_top = Preload(driver.get(), data, allow, nullptr);
  ASSERT_FALSE(on_top.ok());
  EXPECT_NE(on_top.error().message().find("leftover data"), std::string::npos) << on_top.error().message();
}

TEST(PreloadTest, ASpaceOfTheWrongDimensionIsRefused) {
  testing::TestServer server(16);
  auto driver = server.Driver();
  const workload::DatasetGenerator data(Data(10, 32, workload::GraphShape::kNone), 3);
  auto r = Preload(driver.get(), data, Small(), nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("--dim 32"), std::string::npos) << r.error().message();
}

TEST(PreloadTest, RunnerRecordsThePreloadAndRefusesAnUnreachableServer) {
  testing::TestServer server(8);
  auto driver = server.Driver();
  auto r = testing::RunScenario(R"(
name = "p"
description = "p"
[duration]
total_seconds = 0.5
[arrival]
pattern = "constant"
rate = 100.0
[operations]
traversal_weight = 1.0
[data]
num_nodes = 500
embedding_dim = 8
graph = { shape = "scale_free", avg_degree = 4 }
)", driver.get());
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_TRUE(r->dataset.preloaded);
  EXPECT_EQ(r->dataset.nodes_loaded, 500u);
  EXPECT_EQ(r->dataset.verified_count, 500u);
  EXPECT_GT(r->dataset.edges_loaded, 500u);
  EXPECT_EQ(r->total_errors(), 0u);  // every traversal found its start node

  auto e = ParseEndpoint("http://127.0.0.1:1");
  ASSERT_TRUE(Resolve(&*e, false).ok());
  HttpDriverOptions o;
  o.endpoint = *e;
  HttpDriver nowhere(o);
  auto unreachable = testing::RunScenario("name='x'\ndescription='x'\n[arrival]\npattern='constant'\nrate=1.0\n"
                                          "[operations]\nstore_weight=1.0\n",
                                          &nowhere);
  ASSERT_FALSE(unreachable.ok());
  EXPECT_EQ(unreachable.error().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace engram::loadgen
