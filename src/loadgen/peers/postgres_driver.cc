#include "loadgen/peers/postgres_driver.h"

#include <libpq-fe.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>

#include <poll.h>

#include <cctype>
#include <charconv>
#include <cstring>
#include <fstream>
#include <iterator>
#include <condition_variable>
#include <optional>
#include <thread>

#include "core/clock.h"
#include "loadgen/conn_queue.h"
#include "loadgen/schedule_loop.h"

namespace engram::loadgen::peers {

namespace asio = boost::asio;
namespace json = boost::json;
using workload::OpKind;

namespace {

constexpr int kMaxHops = 6;        // engram's Space::Neighbors accepts 1..6
constexpr int kMaxLimit = 100000;  // and a limit of 1..100000

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

std::string Oneline(const char* message) {
  std::string s = message == nullptr ? "" : message;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (char& c : s) {
    if (c == '\n') c = ' ';
  }
  return s;
}

bool ValidIdentifier(const std::string& s) {
  if (s.empty() || s.size() > 63 || !(std::islower(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  for (char c : s) {
    if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_')) {
      return false;
    }
  }
  return true;
}

// Node "n<i>" of the dataset -> i.
Result<uint64_t> NodeIndex(const std::string& id) {
  uint64_t v = 0;
  if (id.size() < 2 || id[0] != 'n') {
    return Status::InvalidArgument("the postgres driver stores the dataset's nodes (n<i>) only, not '", id, "'");
  }
  auto [p, ec] = std::from_chars(id.data() + 1, id.data() + id.size(), v);
  if (ec != std::errc() || p != id.data() + id.size()) return Status::InvalidArgument("bad node id '", id, "'");
  return v;
}

uint64_t ParseU64(const char* s) {
  uint64_t v = 0;
  std::from_chars(s, s + std::strlen(s), v);
  return v;
}

void Quiet(void* /*arg*/, const char* /*message*/) {}  // NOTICEs (IF NOT EXISTS ...) are not ours to print

// A blocking connection. `session` runs right after connecting (SET ...; PREPARE ...).
Result<PGconn*> Connect(const std::string& conninfo, const std::string& session) {
  PGconn* c = PQconnectdb(conninfo.c_str());
  if (c == nullptr || PQstatus(c) != CONNECTION_OK) {
    std::string msg = c == nullptr ? "out of memory" : Oneline(PQerrorMessage(c));
    if (c != nullptr) PQfinish(c);
    return Status::Unavailable("cannot connect to PostgreSQL (", conninfo, "): ", msg);
  }
  PQsetNoticeProcessor(c, Quiet, nullptr);
  if (!session.empty()) {
    PgResult r(PQexec(c, session.c_str()));
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
      std::string msg = Oneline(PQresultErrorMessage(r.get()));
      PQfinish(c);
      return Status::Unavailable("setting up a PostgreSQL session: ", msg);
    }
  }
  return c;
}

// Runs `sql` (one or more statements); the last result, or the error with its SQLSTATE
// (23505, a unique violation, becomes AlreadyExists: leftover data).
Result<PgResult> Exec(PGconn* c, const std::string& sql, const std::vector<std::string>& params = {}) {
  std::vector<const char*> values;
  for (const auto& p : params) values.push_back(p.c_str());
  PgResult r(params.empty() ? PQexec(c, sql.c_str())
                            : PQexecParams(c, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                                           nullptr, nullptr, 0));
  const ExecStatusType st = PQresultStatus(r.get());
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return r;
  const char* state = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE);
  std::string msg = r ? Oneline(PQresultErrorMessage(r.get())) : Oneline(PQerrorMessage(c));
  if (state != nullptr && std::string_view(state) == "23505") return Status::AlreadyExists(msg);
  if (PQstatus(c) != CONNECTION_OK) return Status::Unavailable("PostgreSQL connection lost: ", msg);
  return Status::Internal("PostgreSQL: ", msg);
}

Status Copy(PGconn* c, const std::string& sql, const std::string& rows) {
  PgResult start(PQexec(c, sql.c_str()));
  if (PQresultStatus(start.get()) != PGRES_COPY_IN) {
    return Status::Internal("PostgreSQL: ", sql, ": ", Oneline(PQresultErrorMessage(start.get())));
  }
  if (PQputCopyData(c, rows.data(), static_cast<int>(rows.size())) != 1 || PQputCopyEnd(c, nullptr) != 1) {
    return Status::Unavailable("PostgreSQL COPY failed: ", Oneline(PQerrorMessage(c)));
  }
  Status st;
  while (PGresult* raw = PQgetResult(c)) {
    PgResult r(raw);
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK && st.ok()) {
      const char* state = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE);
      std::string msg = Oneline(PQresultErrorMessage(r.get()));
      st = state != nullptr && std::string_view(state) == "23505" ? Status::AlreadyExists(msg)
                                                                   : Status::Internal("PostgreSQL: ", msg);
    }
  }
  return st;
}

std::string StatementName(int hops) { return "engram_traversal_" + std::to_string(hops); }

// The session of a measured connection: generic plans from the first execution (the
// statement's shape does not depend on its parameters, and planning a custom plan each time
// costs about as much as running it), and the traversal statement for every hop count.
std::string MeasuredSession(const std::string& schema) {
  std::string s = "SET plan_cache_mode = force_generic_plan;";
  for (int h = 1; h <= kMaxHops; ++h) {
    s += "PREPARE " + StatementName(h) + "(bigint, bigint) AS " + PostgresDriver::TraversalSql(schema, h) + ";";
  }
  return s;
}

}  // namespace

std::string PostgresDriver::TraversalSql(const std::string& schema, int hops) {
  const std::string& s = schema;
  std::string sql = fmt::format("WITH h0 AS (SELECT id FROM {}.nodes WHERE id = $1)", s);
  for (int k = 1; k <= hops; ++k) {
    sql += fmt::format(", h{} AS (SELECT DISTINCT e.dst AS id FROM h{} JOIN {}.edges e ON e.src = h{}.id WHERE e.dst <> $1",
                       k, k - 1, s, k - 1);
    for (int j = 1; j < k; ++j) sql += fmt::format(" AND NOT EXISTS (SELECT 1 FROM h{0} WHERE h{0}.id = e.dst)", j);
    sql += ")";
  }
  sql += " SELECT id, 0 AS hop FROM h0";
  for (int k = 1; k <= hops; ++k) sql += fmt::format(" UNION ALL SELECT id, {} FROM h{}", k, k);
  sql += " LIMIT $2";
  return sql;
}

// ---------------------------------------------------------------------------------------------
// Control connections.

struct PostgresDriver::Control {
  PGconn* pg = nullptr;
  ~Control() {
    if (pg != nullptr) PQfinish(pg);
  }
};

Result<std::unique_ptr<PostgresDriver::Control>> PostgresDriver::TakeControl() {
  {
    std::lock_guard lock(mu_);
    if (!idle_controls_.empty()) {
      auto c = std::move(idle_controls_.back());
      idle_controls_.pop_back();
      if (PQstatus(c->pg) == CONNECTION_OK) return c;
    }
  }
  auto c = std::make_unique<Control>();
  const std::string session = fmt::format("SET statement_timeout = {}", options_.control_timeout.count());
  ENGRAM_ASSIGN_OR_RETURN(c->pg, Connect(options_.conninfo, session));
  return c;
}

void PostgresDriver::GiveBack(std::unique_ptr<Control> c) {
  std::lock_guard lock(mu_);
  idle_controls_.push_back(std::move(c));
}

// ---------------------------------------------------------------------------------------------
// The measured phase: one io thread, one libpq connection per Conn, one request in flight on
// each.

struct PostgresDriver::Pool {
  asio::io_context ioc{1};
  DriverCallbacks callbacks;
  ConnQueue<Conn> waiting{&callbacks};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::thread thread;
  std::optional<asio::steady_timer> sweeper;
  std::optional<ScheduleLoop> schedule;
  std::atomic<bool> stopping{false};
  std::string conninfo, session;  // to reconnect after a timeout

  void Sweep() {
    waiting.ExpireDue();
    if (stopping.load()) return;
    sweeper->expires_after(std::chrono::milliseconds(10));
    sweeper->async_wait([this](boost::system::error_code ec) {
      if (!ec) Sweep();
    });
  }
};

class PostgresDriver::Conn {
 public:
  explicit Conn(PGconn* pg) : pg_(pg) {}
  ~Conn() { Close(); }

  bool connected() const { return pg_ != nullptr && PQstatus(pg_) == CONNECTION_OK; }

  // Joins a phase's event loop. On the io thread.
  void Attach(Pool* pool) {
    pool_ = pool;
    timer_.emplace(pool->ioc);
    if (connected()) {
      PQsetnonblocking(pg_, 1);
      sock_.emplace(pool->ioc, PQsocket(pg_));
    }
  }
  // Leaves it (the asio objects belong to its io_context). On the io thread.
  void Detach() {
    timer_.reset();
    Release();
    pool_ = nullptr;
  }

  // REQUIRES: on the io thread, no request active.
  void Start(RequestPtr r) {
    req_ = std::move(r);
    ++seq_;
    const int64_t now = MonoNanos();
    if (now >= req_->deadline_ns) {
      pool_->waiting.ExpireUnsent(std::move(req_), now);
      return TakeNext();
    }
    req_->sent_ns = now;
    pool_->waiting.Sent(*req_);
    const workload::Operation& op = *req_->op;
    if (op.kind != OpKind::kTraversal) {
      return Finish(ErrorKind::kOther, fmt::format("{} operations are not supported by the postgres driver",
                                                   workload::OpKindName(op.kind)));
    }
    if (op.params.hops < 1 || op.params.hops > kMaxHops || op.params.max_results < 1 ||
        op.params.max_results > kMaxLimit) {
      return Finish(ErrorKind::kHttp4xx, "hops must be in [1, 6] and the limit in [1, 100000]");
    }
    if (!connected() && !Reconnect()) return Finish(ErrorKind::kConnection, "no connection to PostgreSQL");
    timer_->expires_at(AtMono(req_->deadline_ns));
    timer_->async_wait([this, seq = seq_](boost::system::error_code ec) { OnTimer(seq, ec); });
    start_ = std::to_string(op.target_node);
    limit_ = std::to_string(op.params.max_results + 1);  // + the start's own row
    const char* values[2] = {start_.c_str(), limit_.c_str()};
    outcome_ = ErrorKind::kNone;
    detail_.clear();
    if (PQsendQueryPrepared(pg_, StatementName(op.params.hops).c_str(), 2, values, nullptr, nullptr, 0) != 1) {
      return Fail(ErrorKind::kConnection, "send failed: " + Oneline(PQerrorMessage(pg_)));
    }
    Flush();
  }

  // Gives this (idle) connection the queue's head, or parks it. On the io thread.
  void TakeNext() {
    if (RequestPtr next = pool_->waiting.NextFor(this)) Start(std::move(next));
  }

 private:
  void Flush() {
    const int f = PQflush(pg_);
    if (f < 0) return Fail(ErrorKind::kConnection, "send failed: " + Oneline(PQerrorMessage(pg_)));
    ArmWait(f == 0 ? Wait::kRead : Wait::kWrite);
  }

  void OnReadable() {
    if (PQconsumeInput(pg_) != 1) return Fail(ErrorKind::kConnection, "read failed: " + Oneline(PQerrorMessage(pg_)));
    while (PQisBusy(pg_) == 0) {
      PGresult* raw = PQgetResult(pg_);
      if (raw == nullptr) return Finish(outcome_, detail_);  // the statement is complete
      PgResult res(raw);
      Take(res.get());
    }
    ArmWait(Wait::kRead);
  }

  // Waits until the socket is readable (or writable) and continues with OnReadable() (or
  // Flush()). asio's epoll reactor is edge-triggered and remembers no readiness for a wait
  // that was not registered yet, while libpq does not drain the socket on each read: bytes
  // that arrived before the wait was registered would wait for the deadline. So the socket is
  // polled once right after registering: if it is ready already, the registered wait is
  // disowned (its token is stale) and the continuation posted; anything arriving later
  // completes the registered wait.
  enum class Wait { kRead, kWrite };
  void ArmWait(Wait w) {
    const uint64_t token = ++wait_token_;
    sock_->async_wait(w == Wait::kRead ? asio::posix::stream_descriptor::wait_read
                                       : asio::posix::stream_descriptor::wait_write,
                      [this, w, token](boost::system::error_code ec) {
                        if (!ec) Continue(w, token);  // else cancelled
                      });
    struct pollfd p = {PQsocket(pg_), static_cast<short>(w == Wait::kRead ? POLLIN : POLLOUT), 0};
    if (poll(&p, 1, 0) > 0) {
      ++wait_token_;
      asio::post(pool_->ioc, [this, w, token = wait_token_] { Continue(w, token); });
    }
  }
  void Continue(Wait w, uint64_t token) {
    if (token != wait_token_ || !req_) return;  // disowned, or the request is over
    if (w == Wait::kRead) return OnReadable();
    Flush();
  }

  // One result of the statement: rows, or an error.
  void Take(PGresult* res) {
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
      outcome_ = ErrorKind::kHttp5xx;
      detail_ = "PostgreSQL: " + Oneline(PQresultErrorMessage(res));
      return;
    }
    const int n = PQntuples(res);
    if (n == 0 || std::string_view(PQgetvalue(res, 0, 1)) != "0") {
      outcome_ = ErrorKind::kHttp4xx;  // engram answers 404 for a start that does not exist
      detail_ = "no node n" + start_;
      return;
    }
    if (req_->want_ids) {
      for (int i = 1; i < n; ++i) req_->result_ids.push_back("n" + std::string(PQgetvalue(res, i, 0)));
    }
  }

  void OnTimer(uint64_t seq, boost::system::error_code ec) {
    if (ec || seq != seq_ || !req_) return;
    // A late answer must not be read as the next request's: drop the connection (the server
    // notices and ends the backend), fail the request, connect again.
    Close();
    Finish(ErrorKind::kTimeout, "no answer before the deadline");
  }

  void Fail(ErrorKind kind, std::string detail) {
    Close();
    Finish(kind, std::move(detail));
  }

  void Finish(ErrorKind kind, std::string detail) {
    if (timer_) timer_->cancel();
    req_->done_ns = MonoNanos();
    req_->error = kind;
    if (kind != ErrorKind::kNone) req_->error_detail = std::move(detail);
    ++seq_;  // a pending timer belongs to this request
    ++wait_token_;  // and so does a pending wait
    RequestPtr done = std::move(req_);
    pool_->waiting.Done(std::move(done));
    TakeNext();
  }

  // Blocking, on the io thread: only after a timeout or a lost connection.
  bool Reconnect() {
    Close();
    auto c = Connect(pool_->conninfo, pool_->session);
    if (!c.ok()) return false;
    pg_ = *c;
    PQsetnonblocking(pg_, 1);
    sock_.emplace(pool_->ioc, PQsocket(pg_));
    return true;
  }

  // The socket belongs to libpq: asio lets go of it before PQfinish closes it.
  void Release() {
    if (!sock_) return;
    boost::system::error_code ignored;
    sock_->cancel(ignored);
    (void)sock_->release();
    sock_.reset();
  }
  void Close() {
    Release();
    if (pg_ != nullptr) PQfinish(pg_);
    pg_ = nullptr;
  }

  PGconn* pg_;
  Pool* pool_ = nullptr;
  std::optional<asio::posix::stream_descriptor> sock_;
  std::optional<asio::steady_timer> timer_;
  RequestPtr req_;
  uint64_t seq_ = 0;
  uint64_t wait_token_ = 0;  // the wait whose completion continues the request
  std::string start_, limit_, detail_;
  ErrorKind outcome_ = ErrorKind::kNone;
};

// ---------------------------------------------------------------------------------------------

PostgresDriver::PostgresDriver(PostgresDriverOptions options)
    : options_(std::move(options)), connections_(std::max(1, options_.connections)) {
  // "postgresql://host:port/dbname" from the connection string (no password, no options).
  std::string host = "localhost", port = "5432", db;
  if (PQconninfoOption* opts = PQconninfoParse(options_.conninfo.c_str(), nullptr)) {
    for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o) {
      if (o->val == nullptr || *o->val == '\0') continue;
      const std::string_view key = o->keyword;
      if (key == "host") host = o->val;
      if (key == "port") port = o->val;
      if (key == "dbname") db = o->val;
      if (key == "user" && db.empty()) db = o->val;
    }
    PQconninfoFree(opts);
  }
  target_ = fmt::format("postgresql://{}:{}/{}", host, port, db);
}

PostgresDriver::~PostgresDriver() { End(); }

std::string PostgresDriver::target() const { return target_; }

Status PostgresDriver::Check() {
  if (!ValidIdentifier(options_.schema)) {
    return Status::InvalidArgument("--pg-schema '", options_.schema, "' must be a lower-case SQL identifier");
  }
  ENGRAM_ASSIGN_OR_RETURN(std::unique_ptr<Control> c, TakeControl());
  const std::string& s = options_.schema;
  // The tables exist from here on, so that the statements can be prepared now (before the
  // preload) and a count finds an empty graph rather than an error.
  ENGRAM_RETURN_IF_ERROR(
      Exec(c->pg, fmt::format("CREATE SCHEMA IF NOT EXISTS {0};"
                              "CREATE TABLE IF NOT EXISTS {0}.spaces (id serial PRIMARY KEY, name text UNIQUE NOT NULL,"
                              " dim int NOT NULL, edges bigint NOT NULL DEFAULT 0);"
                              "CREATE TABLE IF NOT EXISTS {0}.nodes (id bigint PRIMARY KEY, space int NOT NULL);"
                              "CREATE TABLE IF NOT EXISTS {0}.edges (src bigint NOT NULL, dst bigint NOT NULL,"
                              " weight real NOT NULL);"
                              "CREATE UNLOGGED TABLE IF NOT EXISTS {0}.edges_in (src bigint NOT NULL,"
                              " dst bigint NOT NULL, weight real NOT NULL)",
                              s))
          .error()
          .WithContext("creating the schema"));
  GiveBack(std::move(c));
  // The measured phase's connections, opened now (see the header).
  const std::string session = MeasuredSession(s);
  std::lock_guard lock(mu_);
  while (static_cast<int>(spare_conns_.size()) < options_.connections) {
    ENGRAM_ASSIGN_OR_RETURN(PGconn * pg, Connect(options_.conninfo, session));
    spare_conns_.push_back(std::make_unique<Conn>(pg));
  }
  return Status::Ok();
}

Result<int> PostgresDriver::SpaceId(Control* c, const std::string& space) {
  {
    std::lock_guard lock(mu_);
    if (auto it = space_ids_.find(space); it != space_ids_.end()) return it->second;
  }
  ENGRAM_ASSIGN_OR_RETURN(PgResult r, Exec(c->pg, fmt::format("SELECT id FROM {}.spaces WHERE name = $1", options_.schema),
                                           {space}));
  if (PQntuples(r.get()) != 1) return Status::NotFound("no space '", space, "' in PostgreSQL");
  const int id = std::atoi(PQgetvalue(r.get(), 0, 0));
  std::lock_guard lock(mu_);
  space_ids_[space] = id;
  return id;
}

Result<bool> PostgresDriver::CreateSpace(const std::string& name, uint32_t dim) {
  ENGRAM_ASSIGN_OR_RETURN(std::unique_ptr<Control> c, TakeControl());
  ENGRAM_ASSIGN_OR_RETURN(
      PgResult r, Exec(c->pg,
                       fmt::format("INSERT INTO {}.spaces (name, dim) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING "
                                   "RETURNING id",
                                   options_.schema),
                       {name, std::to_string(dim)}));
  const bool created = PQntuples(r.get()) == 1;
  GiveBack(std::move(c));
  return created;
}

Result<std::vector<SpaceInfo>> PostgresDriver::ListSpaces() {
  ENGRAM_ASSIGN_OR_RETURN(std::unique_ptr<Control> c, TakeControl());
  ENGRAM_ASSIGN_OR_RETURN(PgResult r, Exec(c->pg, fmt::format("SELECT s.name, s.dim, (SELECT count(*) FROM {0}.nodes n "
                                                              "WHERE n.space = s.id), s.edges FROM {0}.spaces s ORDER BY s.id",
                                                              options_.schema)));
  std::vector<SpaceInfo> out;
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    out.push_back(SpaceInfo{PQgetvalue(r.get(), i, 0), static_cast<uint32_t>(ParseU64(PQgetvalue(r.get(), i, 1))),
                            ParseU64(PQgetvalue(r.get(), i, 2)), ParseU64(PQgetvalue(r.get(), i, 3))});
  }
  GiveBack(std::move(c));
  return out;
}

Status PostgresDriver::LoadBatch(const std::string& space, std::span<const workload::EpisodeSpec> nodes,
                                 std::span<const workload::Edge> links) {
  ENGRAM_ASSIGN_OR_RETURN(std::unique_ptr<Control> c, TakeControl());
  ENGRAM_ASSIGN_OR_RETURN(int space_id, SpaceId(c.get(), space));
  std::string node_rows, edge_rows;
  node_rows.reserve(nodes.size() * 16);
  for (const auto& n : nodes) {
    ENGRAM_ASSIGN_OR_RETURN(uint64_t id, NodeIndex(n.id));
    node_rows += fmt::format("{}\t{}\n", id, space_id);
  }
  edge_rows.reserve(links.size() * 24);
  for (const auto& e : links) edge_rows += fmt::format("{}\t{}\t{}\n", e.from, e.to, e.weight);
  const std::string& s = options_.schema;
  // One transaction per batch: it is stored whole or not at all, as engram's bulk API does.
  Status st = Exec(c->pg, "BEGIN").error();
  if (st.ok()) st = Copy(c->pg, fmt::format("COPY {}.nodes (id, space) FROM STDIN", s), node_rows);
  if (st.ok() && !edge_rows.empty()) st = Copy(c->pg, fmt::format("COPY {}.edges_in (src, dst, weight) FROM STDIN", s), edge_rows);
  st = st.ok() ? Exec(c->pg, "COMMIT").error() : st;
  if (!st.ok()) {
    (void)Exec(c->pg, "ROLLBACK");
    return st;
  }
  GiveBack(std::move(c));
  return Status::Ok();
}

Status PostgresDriver::FinishPreload() {
  ENGRAM_ASSIGN_OR_RETURN(std::unique_ptr<Control> c, TakeControl());
  if (!options_.edges_file.empty()) {
    // The file's edges replace the dataset's links staged by the batches.
    std::ifstream in(options_.edges_file, std::ios::binary);
    if (!in) return Status::NotFound("cannot read the edges file ", options_.edges_file);
    std::string rows((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ENGRAM_RETURN_IF_ERROR(Exec(c->pg, fmt::format("TRUNCATE {}.edges_in", options_.schema)).error());
    ENGRAM_RETURN_IF_ERROR(Copy(c->pg, fmt::format("COPY {}.edges_in (src, dst, weight) FROM STDIN", options_.schema), rows)
                               .WithContext("loading " + options_.edges_file));
  }
  // Both directions of every staged edge merged with what is there, duplicates (an edge
  // created from both ends) kept once with the larger weight, self-loops dropped: engram's
  // AddEdge. Written in (src, dst) order, so that a node's neighbours share pages; the primary
  // key is built afterwards (faster than maintaining it row by row). The table keeps its
  // identity, so the prepared statements stay valid (PostgreSQL re-plans them).
  ENGRAM_RETURN_IF_ERROR(
      Exec(c->pg,
           fmt::format("BEGIN;"
                       "ALTER TABLE {0}.edges DROP CONSTRAINT IF EXISTS edges_pkey;"
                       "CREATE TEMP TABLE edges_merged ON COMMIT DROP AS SELECT src, dst, max(weight) AS weight FROM"
                       " (SELECT src, dst, weight FROM {0}.edges UNION ALL SELECT src, dst, weight FROM {0}.edges_in"
                       " UNION ALL SELECT dst, src, weight FROM {0}.edges_in) e WHERE src <> dst GROUP BY src, dst;"
                       "TRUNCATE {0}.edges;"
                       "INSERT INTO {0}.edges SELECT src, dst, weight FROM edges_merged ORDER BY src, dst;"
                       "ALTER TABLE {0}.edges ADD CONSTRAINT edges_pkey PRIMARY KEY (src, dst);"
                       "TRUNCATE {0}.edges_in;"
                       "UPDATE {0}.spaces s SET edges = (SELECT count(*) FROM {0}.edges e JOIN {0}.nodes n ON n.id = e.src"
                       " WHERE n.space = s.id);"
                       "COMMIT",
                       options_.schema))
          .error()
          .WithContext("building the edges table"));
  ENGRAM_RETURN_IF_ERROR(
      Exec(c->pg, fmt::format("VACUUM (ANALYZE) {0}.nodes, {0}.edges, {0}.spaces", options_.schema)).error());
  GiveBack(std::move(c));
  return Status::Ok();
}

Result<std::vector<NeighborRow>> PostgresDriver::Neighbors(uint64_t start, int hops, int limit) {
  if (hops < 1 || hops > kMaxHops || limit < 1 || limit > kMaxLimit) {
    return Status::InvalidArgument("hops must be in [1, 6] and the limit in [1, 100000]");
  }
  ENGRAM_ASSIGN_OR_RETURN(std::unique_ptr<Control> c, TakeControl());
  ENGRAM_ASSIGN_OR_RETURN(PgResult r, Exec(c->pg, TraversalSql(options_.schema, hops),
                                           {std::to_string(start), std::to_string(limit + 1)}));
  GiveBack(std::move(c));
  const int n = PQntuples(r.get());
  if (n == 0) return Status::NotFound("no node n", start);
  std::vector<NeighborRow> out;
  for (int i = 1; i < n; ++i) {
    out.push_back(NeighborRow{ParseU64(PQgetvalue(r.get(), i, 0)), std::atoi(PQgetvalue(r.get(), i, 1))});
  }
  return out;
}

Result<json::object> PostgresDriver::PeerContext() {
  ENGRAM_ASSIGN_OR_RETURN(std::unique_ptr<Control> c, TakeControl());
  json::object o;
  o["system"] = "postgresql";
  ENGRAM_ASSIGN_OR_RETURN(PgResult v, Exec(c->pg, "SELECT version()"));
  o["server_version"] = PQgetvalue(v.get(), 0, 0);
  o["libpq_version"] = PQlibVersion();
  o["target"] = target();
  o["connections"] = connections_;
  o["session"] = "SET plan_cache_mode = force_generic_plan; PREPARE engram_traversal_<hops>(bigint, bigint) AS <traversal_sql>";
  o["traversal_sql_2_hops"] = TraversalSql(options_.schema, 2);
  o["parameters"] = "$1 = the start node's index, $2 = limit + 1 (the first row is the start itself, hop 0)";
  ENGRAM_ASSIGN_OR_RETURN(
      PgResult s, Exec(c->pg, "SELECT name, current_setting(name) FROM pg_settings WHERE name IN ("
                              "'shared_buffers', 'work_mem', 'effective_cache_size', 'random_page_cost', 'jit', "
                              "'max_parallel_workers_per_gather', 'autovacuum', 'fsync', 'synchronous_commit', "
                              "'full_page_writes', 'wal_level', 'max_connections', 'huge_pages', 'listen_addresses') "
                              "ORDER BY name"));
  json::object settings;
  for (int i = 0; i < PQntuples(s.get()); ++i) {
    settings[PQgetvalue(s.get(), i, 0)] = PQgetvalue(s.get(), i, 1);  // as SHOW says it: "512MB"
  }
  o["settings"] = std::move(settings);
  ENGRAM_ASSIGN_OR_RETURN(
      PgResult ix, Exec(c->pg, "SELECT indexdef FROM pg_indexes WHERE schemaname = $1 ORDER BY indexname",
                        {options_.schema}));
  json::array indexes;
  for (int i = 0; i < PQntuples(ix.get()); ++i) indexes.emplace_back(PQgetvalue(ix.get(), i, 0));
  o["indexes"] = std::move(indexes);
  ENGRAM_ASSIGN_OR_RETURN(
      PgResult sz, Exec(c->pg, fmt::format("SELECT (SELECT count(*) FROM {0}.nodes), (SELECT count(*) FROM {0}.edges),"
                                           " pg_total_relation_size('{0}.nodes'), pg_total_relation_size('{0}.edges')",
                                           options_.schema)));
  o["edges_source"] = options_.edges_file.empty() ? std::string("the dataset's links")
                                                   : "the file " + options_.edges_file;
  o["nodes"] = ParseU64(PQgetvalue(sz.get(), 0, 0));
  o["directed_edges"] = ParseU64(PQgetvalue(sz.get(), 0, 1));
  o["nodes_bytes"] = ParseU64(PQgetvalue(sz.get(), 0, 2));
  o["edges_bytes"] = ParseU64(PQgetvalue(sz.get(), 0, 3));
  GiveBack(std::move(c));
  return o;
}

void PostgresDriver::Prepare(const workload::Operation& op, Request* request) const { request->op = op; }

Status PostgresDriver::Begin(int connections, DriverCallbacks callbacks) {
  ENGRAM_CHECK(!pool_);
  ENGRAM_CHECK(callbacks.done);
  const int n = std::max(1, connections);
  std::vector<std::unique_ptr<Conn>> conns;
  {
    std::lock_guard lock(mu_);
    while (!spare_conns_.empty() && static_cast<int>(conns.size()) < n) {
      if (spare_conns_.back()->connected()) conns.push_back(std::move(spare_conns_.back()));
      spare_conns_.pop_back();
    }
  }
  const std::string session = MeasuredSession(options_.schema);
  while (static_cast<int>(conns.size()) < n) {
    ENGRAM_ASSIGN_OR_RETURN(PGconn * pg, Connect(options_.conninfo, session));
    conns.push_back(std::make_unique<Conn>(pg));
  }
  connections_ = n;
  pool_ = std::make_unique<Pool>();
  Pool& p = *pool_;
  p.callbacks = std::move(callbacks);
  p.conninfo = options_.conninfo;
  p.session = session;
  p.work.emplace(p.ioc.get_executor());
  p.sweeper.emplace(p.ioc);
  p.schedule.emplace(p.ioc, [&p](RequestPtr r) {
    if (Conn* conn = p.waiting.Claim(&r)) conn->Start(std::move(r));
  });
  for (auto& c : conns) {
    c->Attach(&p);
    p.waiting.Park(c.get());
  }
  {
    std::lock_guard lock(mu_);
    for (auto& c : conns) spare_conns_.push_back(std::move(c));  // owned here, used by the pool until End()
  }
  p.thread = std::thread([&p] { p.ioc.run(); });
  asio::post(p.ioc, [&p] { p.Sweep(); });
  return Status::Ok();
}

void PostgresDriver::Submit(RequestPtr r) {
  Pool& p = *pool_;
  asio::post(p.ioc, [&p, r = std::move(r)]() mutable {
    if (Conn* conn = p.waiting.Claim(&r)) conn->Start(std::move(r));
  });
}

bool PostgresDriver::RunSchedule(ScheduleSource* source) {
  ENGRAM_CHECK(pool_);
  return pool_->schedule->Run(source);
}

void PostgresDriver::End() {
  if (!pool_) return;
  Pool& p = *pool_;
  p.stopping.store(true);
  std::mutex mu;
  std::condition_variable cv;
  bool detached = false;
  asio::post(p.ioc, [&] {
    if (p.sweeper) p.sweeper->cancel();
    if (p.schedule) p.schedule->Cancel();
    std::lock_guard lock(mu_);
    for (auto& c : spare_conns_) c->Detach();
    std::lock_guard lock2(mu);
    detached = true;
    cv.notify_all();
  });
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return detached; });
  }
  p.work.reset();
  p.thread.join();
  last_peak_ = p.waiting.peak_on_wire();
  pool_.reset();
}

int64_t PostgresDriver::inflight() const { return pool_ ? pool_->waiting.on_wire() : 0; }
int64_t PostgresDriver::peak_inflight() const { return pool_ ? pool_->waiting.peak_on_wire() : last_peak_; }

}  // namespace engram::loadgen::peers
