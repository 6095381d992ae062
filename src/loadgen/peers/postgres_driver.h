// The PostgreSQL peer: the scenario's graph in PostgreSQL tables, traversal operations as one
// prepared statement, over libpq's asynchronous API on the same kind of event loop as the
// HTTP driver (one io thread keeps the schedule and does the I/O; ConnQueue, ScheduleLoop), so
// that the runner measures both alike: latency from the intended start, service time from
// the send, the same histograms.
//
// Schema (in `options.schema`, created if missing):
//   spaces(id, name, dim, edges)      one row per memory space of the dataset
//   nodes(id bigint PRIMARY KEY, space)  node i of the dataset ("n<i>") as id i
//   edges(src, dst, weight, PRIMARY KEY (src, dst))  both directions of every association,
//                                     duplicates merged with the larger weight (as engram's
//                                     symmetric graph does), rows in (src, dst) order
//   edges_in(src, dst, weight)        the staging table the preload COPYs into
// The preload COPYs each batch's nodes and edges (or, with options.edges_file, the file's
// edges instead of the dataset's); FinishPreload() builds `edges` from the staged ones in one
// statement, adds its primary key (an index-only scan answers "the
// neighbours of x") and runs VACUUM ANALYZE (statistics, and the visibility map those scans
// need).
//
// Traversal (k hops, limit L from a start node s): TraversalSql(k), one layer per hop, each
// the distinct neighbours of the previous layer that are in no earlier one, as a chain of
// materialised CTEs, then layer 0 (the start, so that a missing start is told apart from an
// isolated one), 1, ..., k in that order, LIMIT L + 1. This is engram's breadth-first
// search (Space::Neighbors): the same nodes with the same hop counts; the one difference is
// which nodes of the last layer fill the limit when it cuts a layer (engram: its adjacency
// order; here: the hash aggregate's order). Weights are stored but not returned.
//
// Connections: Check() opens the measured phase's `options.connections` connections and
// prepares the statements there, before the preload, so that connection set-up (a backend
// fork each) is not in the first operations' latency. Begin() opens more if asked for more.
//
// Threading: see driver.h. Control calls (Check, preload, Neighbors) are blocking and
// thread-safe, each on a connection of its own from a small pool.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/json/object.hpp>

#include "loadgen/driver.h"

namespace engram::loadgen::peers {

struct PostgresDriverOptions {
  std::string conninfo;                // libpq connection string or URI
  std::string schema = "engram_graph";
  int connections = 32;                // opened by Check() (Begin() opens more if asked)
  // When set, the edges come from this file instead of the dataset's links: one directed edge
  // a line, "src<TAB>dst<TAB>weight" with node indices (n<src>, n<dst>). It is how the
  // graph engram actually holds (the dataset's links plus the associations engram makes on
  // its own when episodes are stored) is loaded, exported from engram's neighbours route.
  std::string edges_file;
  // Statement, connection and preload timeouts (a libpq statement_timeout on control calls).
  std::chrono::milliseconds control_timeout{600000};
};

struct NeighborRow {
  uint64_t id = 0;  // node index: the dataset's "n<id>"
  int hop = 0;      // 1..hops
};

class PostgresDriver : public Driver {
 public:
  explicit PostgresDriver(PostgresDriverOptions options);
  ~PostgresDriver() override;

  std::string_view name() const override { return "postgres"; }
  // "postgresql://host:port/dbname", from the connection string (no password).
  std::string target() const override;
  Status Check() override;
  Result<bool> CreateSpace(const std::string& name, uint32_t dim) override;
  Result<std::vector<SpaceInfo>> ListSpaces() override;
  Status LoadBatch(const std::string& space, std::span<const workload::EpisodeSpec> nodes,
                   std::span<const workload::Edge> links) override;
  Status FinishPreload() override;
  bool Supports(workload::OpKind kind) const override { return kind == workload::OpKind::kTraversal; }
  void Prepare(const workload::Operation& op, Request* request) const override;
  Status Begin(int connections, DriverCallbacks callbacks) override;
  void Submit(RequestPtr request) override;
  void End() override;
  bool RunsSchedule() const override { return true; }
  bool RunSchedule(ScheduleSource* source) override;
  int concurrency() const override { return connections_; }
  int64_t inflight() const override;
  int64_t peak_inflight() const override;

  // The traversal statement for `hops` (1..6) over `schema`: parameters $1 start, $2 limit + 1.
  static std::string TraversalSql(const std::string& schema, int hops);
  // One traversal on a control connection, with the measured phase's statement: the start's
  // neighbours with their hops, at most `limit`, in layer order. NotFound if no node `start`.
  Result<std::vector<NeighborRow>> Neighbors(uint64_t start, int hops, int limit);
  // For the result's context: the server's version and the settings that matter to a read
  // benchmark (as the server reports them), the traversal SQL, the tables' indexes and sizes,
  // the connections. Needs Check().
  Result<boost::json::object> PeerContext();

  class Conn;
  struct Pool;
  struct Control;

 private:
  Result<std::unique_ptr<Control>> TakeControl();
  void GiveBack(std::unique_ptr<Control> c);
  Result<int> SpaceId(Control* c, const std::string& space);

  PostgresDriverOptions options_;
  std::string target_;
  std::mutex mu_;  // guards the three below
  std::vector<std::unique_ptr<Control>> idle_controls_;
  std::vector<std::unique_ptr<Conn>> spare_conns_;  // opened by Check(), used by Begin()
  std::unordered_map<std::string, int> space_ids_;
  std::unique_ptr<Pool> pool_;
  int connections_ = 1;
  int64_t last_peak_ = 0;
};

}  // namespace engram::loadgen::peers
