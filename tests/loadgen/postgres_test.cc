// The PostgreSQL peer against a real PostgreSQL: the harness starts and stops a private server
// (as root it runs it as an unprivileged user; pinned, its backends inherit the CPU); the
// driver preloads a generated graph, verifies it, and answers 1- and 2-hop traversals with the
// nodes, hops and limit behaviour of a breadth-first search over the same generated edges and
// of engram's own Space::Neighbors; the measured path (the runner, the event loop) returns the
// same rows, fails late requests as timeouts and counts an unsupported kind as such.
//
// These tests need PostgreSQL's server binaries (scripts/install_deps.sh --test installs
// postgresql-15). Without them they fail, saying so, unless ENGRAM_SKIP_PG_TESTS=1.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>

#include "core/clock.h"
#include "loadgen/kind_filter.h"
#include "loadgen/peers/postgres_driver.h"
#include "loadgen/peers/postgres_server.h"
#include "loadgen/preload.h"
#include "test_util.h"

namespace engram::loadgen::peers {
namespace {

using workload::OpKind;

#define REQUIRE_POSTGRES()                                                                   \
  do {                                                                                       \
    if (auto bin = FindPostgresBinDir(); !bin.ok()) {                                        \
      const char* skip = std::getenv("ENGRAM_SKIP_PG_TESTS");                                \
      if (skip != nullptr && std::string(skip) == "1") GTEST_SKIP() << bin.error().message(); \
      FAIL() << bin.error().message() << " (ENGRAM_SKIP_PG_TESTS=1 skips these tests)";      \
    }                                                                                        \
  } while (0)

// The uid a process runs as, from /proc (-1 if it is gone).
long UidOf(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  for (std::string key; f >> key;) {
    if (key == "Uid:") {
      long uid = -1;
      f >> uid;
      return uid;
    }
    std::string rest;
    std::getline(f, rest);
  }
  return -1;
}

std::set<int> CpusOf(pid_t pid) {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::set<int> out;
  if (sched_getaffinity(pid, sizeof(set), &set) != 0) return out;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &set)) out.insert(c);
  }
  return out;
}

std::string QueryOne(const std::string& conninfo, const std::string& sql) {
  PGconn* c = PQconnectdb(conninfo.c_str());
  EXPECT_EQ(PQstatus(c), CONNECTION_OK) << PQerrorMessage(c);
  PGresult* r = PQexec(c, sql.c_str());
  std::string v = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "";
  PQclear(r);
  PQfinish(c);
  return v;
}

TEST(PostgresServerTest, StartsOnLoopbackAcceptsQueriesAndStopsRemovingItsDirectory) {
  REQUIRE_POSTGRES();
  auto s = PostgresServer::Start(PostgresServerOptions{});
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  PostgresServer& server = **s;
  const std::string dir = server.dir();
  const pid_t pid = server.pid();
  EXPECT_TRUE(std::filesystem::exists(dir + "/data/PG_VERSION"));
  EXPECT_NE(server.version().find("PostgreSQL"), std::string::npos) << server.version();
  EXPECT_EQ(QueryOne(server.conninfo(), "SELECT 40 + 2"), "42");
  EXPECT_EQ(QueryOne(server.conninfo(), "SHOW listen_addresses"), "127.0.0.1");
  EXPECT_EQ(QueryOne(server.conninfo(), "SHOW jit"), "off");
  // As root the postmaster runs as an unprivileged user (initdb and postgres refuse root).
  if (geteuid() == 0) {
    EXPECT_GT(UidOf(pid), 0);
    EXPECT_NE(server.user(), "root");
  } else {
    EXPECT_EQ(UidOf(pid), static_cast<long>(geteuid()));
  }
  ASSERT_TRUE(server.Stop().ok());
  EXPECT_NE(kill(pid, 0), 0) << "the postmaster still runs";
  EXPECT_FALSE(std::filesystem::exists(dir));
  EXPECT_TRUE(server.Stop().ok());  // idempotent
}

TEST(PostgresServerTest, APinnedServersBackendsRunOnItsCpu) {
  REQUIRE_POSTGRES();
  PostgresServerOptions o;
  o.cpus = {0};
  auto s = PostgresServer::Start(o);
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ(CpusOf((*s)->pid()), std::set<int>{0});
  const std::string backend = QueryOne((*s)->conninfo(), "SELECT pg_backend_pid()");
  ASSERT_FALSE(backend.empty());
  // The backend is gone once the query's connection closed; its sibling, a connection held
  // open, shows the inherited affinity.
  PGconn* c = PQconnectdb((*s)->conninfo().c_str());
  ASSERT_EQ(PQstatus(c), CONNECTION_OK);
  EXPECT_EQ(CpusOf(PQbackendPID(c)), std::set<int>{0});
  PQfinish(c);
}

TEST(PostgresServerTest, MissingBinariesAreNamedWithHowToInstallThem) {
  auto bin = FindPostgresBinDir("/nonexistent/bin");
  ASSERT_FALSE(bin.ok());
  EXPECT_NE(bin.error().message().find("/nonexistent/bin"), std::string::npos);
  PostgresServerOptions o;
  o.bin_dir = "/nonexistent/bin";
  auto s = PostgresServer::Start(o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), StatusCode::kNotFound);
}

// ---------------------------------------------------------------------------------------------

workload::DataSpec Graph(uint64_t nodes) {
  workload::DataSpec d;
  d.num_nodes = nodes;
  d.embedding_dim = 8;
  d.graph.shape = workload::GraphShape::kScaleFree;
  d.graph.avg_degree = 6;
  return d;
}

using testing::QuietPreload;

// Breadth-first layers over the generated edges, both directions: node -> hop, up to `hops`.
std::map<uint64_t, int> Bfs(const workload::DatasetGenerator& data, uint64_t start, int hops) {
  std::vector<std::set<uint64_t>> adj(data.num_nodes());
  for (uint64_t i = 0; i < data.num_nodes(); ++i) {
    for (const auto& e : data.EdgesFrom(i)) {
      adj[e.from].insert(e.to);
      adj[e.to].insert(e.from);
    }
  }
  std::map<uint64_t, int> hop{{start, 0}};
  std::vector<uint64_t> frontier{start};
  for (int h = 1; h <= hops; ++h) {
    std::vector<uint64_t> next;
    for (uint64_t u : frontier) {
      for (uint64_t v : adj[u]) {
        if (hop.emplace(v, h).second) next.push_back(v);
      }
    }
    frontier = std::move(next);
  }
  hop.erase(start);
  return hop;
}

// What a traversal returned is what BFS gives, within the limit: exactly the BFS set when it
// fits; else `limit` rows, every one at its BFS hop, and every layer before the last returned
// one complete (a limit only cuts the last layer reached).
void ExpectBfsWithinLimit(const std::map<uint64_t, int>& bfs, const std::vector<std::pair<uint64_t, int>>& got,
                          int limit, const std::string& what) {
  std::map<uint64_t, int> seen;
  for (const auto& [id, hop] : got) {
    EXPECT_TRUE(seen.emplace(id, hop).second) << what << ": n" << id << " twice";
    auto it = bfs.find(id);
    ASSERT_NE(it, bfs.end()) << what << ": n" << id << " is not within reach";
    EXPECT_EQ(hop, it->second) << what << ": n" << id;
  }
  if (static_cast<int>(bfs.size()) <= limit) {
    EXPECT_EQ(seen, bfs) << what;
    return;
  }
  ASSERT_EQ(static_cast<int>(got.size()), limit) << what;
  int last = 0;
  for (const auto& [id, hop] : got) last = std::max(last, hop);
  for (const auto& [id, hop] : bfs) {
    if (hop < last) {
      EXPECT_TRUE(seen.count(id)) << what << ": n" << id << " (hop " << hop << ") missing";
    }
  }
}

class PostgresDriverTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!FindPostgresBinDir().ok()) return;
    auto s = PostgresServer::Start(PostgresServerOptions{});
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    server_ = std::move(s).value().release();
    data_ = new workload::DatasetGenerator(Graph(400), 11);
    PostgresDriverOptions o;
    o.conninfo = server_->conninfo();
    o.connections = 4;
    driver_ = new PostgresDriver(o);
    ASSERT_TRUE(driver_->Check().ok());
    auto r = Preload(driver_, *data_, QuietPreload(), nullptr);
    ASSERT_TRUE(r.ok()) << r.error().ToString();
    preload_ = new PreloadReport(*r);
  }
  static void TearDownTestSuite() {
    delete driver_;
    delete preload_;
    delete data_;
    delete server_;
  }
  void SetUp() override {
    REQUIRE_POSTGRES();
    ASSERT_NE(driver_, nullptr) << "the suite's server did not start or the preload failed";
  }

  static std::vector<std::pair<uint64_t, int>> Traverse(uint64_t start, int hops, int limit) {
    auto rows = driver_->Neighbors(start, hops, limit);
    EXPECT_TRUE(rows.ok()) << rows.error().ToString();
    std::vector<std::pair<uint64_t, int>> out;
    if (rows.ok()) {
      for (const auto& r : *rows) out.emplace_back(r.id, r.hop);
    }
    return out;
  }

  static PostgresServer* server_;
  static PostgresDriver* driver_;
  static workload::DatasetGenerator* data_;
  static PreloadReport* preload_;
};
PostgresServer* PostgresDriverTest::server_ = nullptr;
PostgresDriver* PostgresDriverTest::driver_ = nullptr;
workload::DatasetGenerator* PostgresDriverTest::data_ = nullptr;
PreloadReport* PostgresDriverTest::preload_ = nullptr;

TEST_F(PostgresDriverTest, PreloadStoresEveryNodeAndBothDirectionsOfEveryEdge) {
  EXPECT_TRUE(preload_->preloaded);
  EXPECT_EQ(preload_->verified_count, 400u);
  uint64_t generated = 0;
  for (uint64_t i = 0; i < data_->num_nodes(); ++i) generated += data_->EdgesFrom(i).size();
  EXPECT_EQ(preload_->edges_loaded, generated);
  auto spaces = driver_->ListSpaces();
  ASSERT_TRUE(spaces.ok());
  ASSERT_EQ(spaces->size(), 1u);
  EXPECT_EQ((*spaces)[0].name, "default");
  EXPECT_EQ((*spaces)[0].episodes, 400u);
  EXPECT_EQ((*spaces)[0].edges, 2 * generated);  // a scale-free graph has no edge twice
}

TEST_F(PostgresDriverTest, OneAndTwoHopNeighboursAreTheBreadthFirstLayers) {
  for (uint64_t start : {0u, 1u, 7u, 150u, 399u}) {
    for (int hops : {1, 2}) {
      const std::string what = "n" + std::to_string(start) + ", " + std::to_string(hops) + " hops";
      ExpectBfsWithinLimit(Bfs(*data_, start, hops), Traverse(start, hops, 100000), 100000, what);
    }
  }
}

TEST_F(PostgresDriverTest, ALimitCutsOnlyTheLastLayerReached) {
  // n0 is the hub of a scale-free graph: its 2-hop neighbourhood is most of the graph.
  const auto bfs = Bfs(*data_, 0, 2);
  ASSERT_GT(bfs.size(), 30u);
  int first_layer = 0;
  for (const auto& [id, hop] : bfs) first_layer += hop == 1;
  for (int limit : {1, 5, first_layer, first_layer + 3, static_cast<int>(bfs.size()) - 1}) {
    ExpectBfsWithinLimit(bfs, Traverse(0, 2, limit), limit, "limit " + std::to_string(limit));
  }
}

// engram links each stored episode to similar ones on its own (SpaceOptions::auto_link_k), so
// its graph is the dataset's links and more. Exported from engram (its 1-hop neighbours) and
// loaded with edges_file, PostgreSQL holds the same graph and answers what Neighbors answers.
TEST_F(PostgresDriverTest, WithEngramsGraphItAnswersWhatEngramsNeighborsAnswers) {
  auto engine = testing::InProcess(8);
  ASSERT_TRUE(Preload(engine.get(), *data_, QuietPreload(), nullptr).ok());
  Space* space = engine->engine()->GetSpace("default").value();
  const std::string file = ::testing::TempDir() + "/engram_edges_" + std::to_string(getpid()) + ".tsv";
  {
    std::ofstream out(file);
    for (uint64_t i = 0; i < data_->num_nodes(); ++i) {
      for (const auto& h : space->Neighbors(workload::DatasetGenerator::NodeId(i), 1, 100000).value()) {
        out << i << "\t" << h.id.substr(1) << "\t" << h.weight << "\n";
      }
    }
  }
  PostgresDriverOptions o;
  o.conninfo = server_->conninfo();
  o.schema = "engram_copy";
  o.connections = 1;
  o.edges_file = file;
  PostgresDriver copy(o);
  ASSERT_TRUE(copy.Check().ok());
  ASSERT_TRUE(Preload(&copy, *data_, QuietPreload(), nullptr).ok());
  std::filesystem::remove(file);
  EXPECT_EQ(copy.ListSpaces()->at(0).edges, engine->ListSpaces()->at(0).edges);
  EXPECT_GT(copy.ListSpaces()->at(0).edges, driver_->ListSpaces()->at(0).edges);
  for (uint64_t start : {0u, 3u, 42u, 321u}) {
    std::map<std::string, int> engram, pg;
    for (const auto& h : space->Neighbors(workload::DatasetGenerator::NodeId(start), 2, 100000).value()) {
      engram[h.id] = h.hop;
    }
    for (const auto& r : copy.Neighbors(start, 2, 100000).value()) pg[workload::DatasetGenerator::NodeId(r.id)] = r.hop;
    EXPECT_EQ(pg, engram) << "n" << start;
  }
}

TEST_F(PostgresDriverTest, AMissingStartIsNotFoundAndBadArgumentsAreRefused) {
  auto missing = driver_->Neighbors(4000, 2, 10);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), StatusCode::kNotFound);
  EXPECT_EQ(driver_->Neighbors(1, 7, 10).error().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(driver_->Neighbors(1, 2, 0).error().code(), StatusCode::kInvalidArgument);
}

TEST_F(PostgresDriverTest, PreloadingAgainIsRefusedAsLeftoverData) {
  auto again = Preload(driver_, *data_, QuietPreload(), nullptr);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(again.error().message().find("leftover"), std::string::npos) << again.error().message();
}

TEST_F(PostgresDriverTest, ThePeerContextRecordsVersionSqlIndexesAndSettings) {
  auto ctx = driver_->PeerContext();
  ASSERT_TRUE(ctx.ok()) << ctx.error().ToString();
  EXPECT_NE(std::string(ctx->at("server_version").as_string()).find("PostgreSQL"), std::string::npos);
  EXPECT_NE(std::string(ctx->at("traversal_sql_2_hops").as_string()).find("WITH h0"), std::string::npos);
  EXPECT_EQ(ctx->at("nodes").as_uint64(), 400u);
  EXPECT_EQ(std::string(ctx->at("target").as_string()), "postgresql://127.0.0.1:" + std::to_string(server_->port()) + "/postgres");
  EXPECT_EQ(ctx->at("settings").at("jit").as_string(), "off");
  EXPECT_EQ(ctx->at("settings").at("shared_buffers").as_string(), "512MB");
  bool pkey = false;
  for (const auto& ix : ctx->at("indexes").as_array()) {
    pkey = pkey || std::string(ix.as_string()).find("edges_pkey ON engram_graph.edges USING btree (src, dst)") !=
                       std::string::npos;
  }
  EXPECT_TRUE(pkey);
}

// A ScheduleSource over hand-made requests, all due now.
class ListSource : public ScheduleSource {
 public:
  explicit ListSource(std::vector<RequestPtr> r) : requests_(std::move(r)) {}
  RequestPtr TryNext(bool* over) override {
    *over = next_ == requests_.size();
    return *over ? nullptr : std::move(requests_[next_++]);
  }
  bool Aborted() override { return false; }
  void Dispatched(const Request&) override {}
  int64_t SpinNanos(int64_t) const override { return 0; }

 private:
  std::vector<RequestPtr> requests_;
  size_t next_ = 0;
};

RequestPtr TraversalRequest(uint64_t index, uint64_t start, int hops, int limit, int64_t timeout_ns) {
  workload::Operation op;
  op.index = index;
  op.kind = OpKind::kTraversal;
  op.space = "default";
  op.params.hops = hops;
  op.params.max_results = limit;
  op.has_target = true;
  op.target_node = start;
  op.target_id = workload::DatasetGenerator::NodeId(start);
  auto r = std::make_unique<Request>();
  r->index = index;
  r->kind = op.kind;
  r->want_ids = true;
  r->op = op;
  r->intended_ns = MonoNanos();
  r->deadline_ns = r->intended_ns + timeout_ns;
  return r;
}

// Runs `requests` through one measured phase (the event loop); their completions by index.
std::vector<RequestPtr> RunPhase(PostgresDriver* driver, std::vector<RequestPtr> requests, int connections) {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<RequestPtr> done;
  const size_t n = requests.size();
  DriverCallbacks cb;
  cb.done = [&](RequestPtr r) {
    std::lock_guard lock(mu);
    done.push_back(std::move(r));
    cv.notify_all();
  };
  EXPECT_TRUE(driver->Begin(connections, cb).ok());
  ListSource source(std::move(requests));
  EXPECT_FALSE(driver->RunSchedule(&source));
  {
    std::unique_lock lock(mu);
    EXPECT_TRUE(cv.wait_for(lock, std::chrono::seconds(60), [&] { return done.size() == n; }));
  }
  driver->End();
  std::sort(done.begin(), done.end(), [](const auto& a, const auto& b) { return a->index < b->index; });
  return done;
}

TEST_F(PostgresDriverTest, TheMeasuredPathReturnsTheSameRowsOnEveryConnection) {
  std::vector<RequestPtr> requests;
  const std::vector<std::pair<uint64_t, int>> cases = {{0, 1}, {0, 2}, {5, 2}, {77, 1}, {200, 2}, {399, 2}};
  for (int round = 0; round < 3; ++round) {
    for (size_t i = 0; i < cases.size(); ++i) {
      const uint64_t index = round * cases.size() + i;
      requests.push_back(TraversalRequest(index, cases[i].first, cases[i].second, 50, 30'000'000'000));
    }
  }
  auto done = RunPhase(driver_, std::move(requests), 3);
  ASSERT_EQ(done.size(), 3 * cases.size());
  for (const auto& r : done) {
    const auto& [start, hops] = cases[r->index % cases.size()];
    ASSERT_EQ(r->error, ErrorKind::kNone) << r->error_detail;
    EXPECT_GE(r->sent_ns, r->intended_ns);
    EXPECT_GE(r->done_ns, r->sent_ns);
    std::vector<std::pair<uint64_t, int>> got;
    const auto bfs = Bfs(*data_, start, hops);
    for (const auto& id : r->result_ids) {
      const uint64_t node = std::stoull(id.substr(1));
      got.emplace_back(node, bfs.count(node) ? bfs.at(node) : -1);
    }
    ExpectBfsWithinLimit(bfs, got, 50, "request " + std::to_string(r->index));
  }
}

TEST_F(PostgresDriverTest, ALateAnswerFailsAsATimeoutAndTheConnectionRecovers) {
  // Hold a lock the traversal needs, so that it cannot answer before its deadline.
  PGconn* locker = PQconnectdb(server_->conninfo().c_str());
  ASSERT_EQ(PQstatus(locker), CONNECTION_OK);
  PQclear(PQexec(locker, "BEGIN; LOCK TABLE engram_graph.edges IN ACCESS EXCLUSIVE MODE"));
  std::mutex mu;
  std::condition_variable cv;
  std::vector<RequestPtr> done;
  DriverCallbacks cb;
  cb.done = [&](RequestPtr r) {
    std::lock_guard lock(mu);
    done.push_back(std::move(r));
    cv.notify_all();
  };
  ASSERT_TRUE(driver_->Begin(1, cb).ok());
  driver_->Submit(TraversalRequest(0, 3, 2, 10, 200'000'000));
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(60), [&] { return done.size() == 1; }));
  }
  EXPECT_EQ(done[0]->error, ErrorKind::kTimeout) << done[0]->error_detail;
  EXPECT_GE(done[0]->done_ns, done[0]->deadline_ns);
  PQclear(PQexec(locker, "COMMIT"));
  PQfinish(locker);
  driver_->Submit(TraversalRequest(1, 3, 2, 10, 30'000'000'000));
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(60), [&] { return done.size() == 2; }));
  }
  EXPECT_EQ(done[1]->error, ErrorKind::kNone) << done[1]->error_detail;
  EXPECT_FALSE(done[1]->result_ids.empty());
  driver_->End();
}

TEST_F(PostgresDriverTest, AnUnsupportedKindSentAnywayFailsAsNotSupported) {
  auto r = TraversalRequest(0, 3, 2, 10, 30'000'000'000);
  r->kind = OpKind::kStore;
  r->op->kind = OpKind::kStore;
  std::vector<RequestPtr> requests;
  requests.push_back(std::move(r));
  auto done = RunPhase(driver_, std::move(requests), 1);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0]->error, ErrorKind::kOther);
  EXPECT_NE(done[0]->error_detail.find("not supported"), std::string::npos) << done[0]->error_detail;
}

std::string MixedScenario(double rate) {
  return R"(name = "mixed"
description = "traversal with other kinds"
seed = 5
[duration]
total_seconds = 1
[arrival]
pattern = "constant"
rate = )" + std::to_string(rate) + R"(
[operations]
traversal_weight = 0.7
store_weight = 0.2
recall_weight = 0.1
[operations.traversal]
hops = 2
max_results = 100
[data]
num_nodes = 400
embedding_dim = 8
graph = { shape = "scale_free", avg_degree = 6 }
preload = true
[connections]
count = 4
)";
}

TEST_F(PostgresDriverTest, UnsupportedKindsAreRefusedUnlessFilteredAndThenReportedPerKind) {
  workload::Scenario s = testing::Scenario(MixedScenario(200));
  auto refused = FilterKinds(&s, {}, *driver_);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message().find("Store (20%)"), std::string::npos) << refused.error().message();
  EXPECT_NE(refused.error().message().find("--only-kinds traversal"), std::string::npos) << refused.error().message();
  EXPECT_FALSE(FilterKinds(&s, {OpKind::kTraversal, OpKind::kStore}, *driver_).ok());

  auto f = FilterKinds(&s, {OpKind::kTraversal}, *driver_);
  ASSERT_TRUE(f.ok()) << f.error().ToString();
  EXPECT_DOUBLE_EQ(f->kept_share, 0.7);
  EXPECT_DOUBLE_EQ(s.arrival->rate, 140);
  EXPECT_EQ(s.weight(OpKind::kStore), 0);
  ASSERT_EQ(f->excluded.size(), 2u);
  const auto ctx = KindFilterContext(*f, 140, "postgres");
  const auto& excluded = ctx.at("kinds_not_run").as_array();
  EXPECT_EQ(excluded[0].at("kind").as_string(), "Store");
  EXPECT_EQ(excluded[0].at("expected_operations").as_uint64(), 40u);
  EXPECT_EQ(excluded[0].at("reason").as_string(), "not supported by the postgres driver");
  EXPECT_NE(DescribeKindFilter(*f, 140, "postgres").find("Recall 10% (~20 ops, not supported by postgres)"),
            std::string::npos)
      << DescribeKindFilter(*f, 140, "postgres");

  // The filtered scenario runs through the runner: every operation a traversal, none failed.
  RunOptions o = testing::Quiet();
  o.preload = false;  // the suite's graph is the scenario's (same seed and shape are not needed: count only)
  Runner runner(s, o, driver_);
  ASSERT_TRUE(runner.Init().ok());
  auto report = runner.Run();
  ASSERT_TRUE(report.ok()) << report.error().ToString();
  const OpReport& trav = report->kinds[static_cast<int>(OpKind::kTraversal)];
  EXPECT_EQ(trav.count, report->scheduled);
  EXPECT_EQ(trav.errors, 0u);
  EXPECT_EQ(report->total_operations(), report->scheduled);
  EXPECT_EQ(report->kinds[static_cast<int>(OpKind::kStore)].count, 0u);
}

}  // namespace
}  // namespace engram::loadgen::peers
