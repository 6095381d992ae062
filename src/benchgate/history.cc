#include "benchgate/history.h"

#include <sqlite3.h>

#include <filesystem>
#include <memory>

namespace engram::benchgate {

namespace {

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close(db); }
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Db = std::unique_ptr<sqlite3, DbCloser>;
using Stmt = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS runs(
  run_id INTEGER PRIMARY KEY AUTOINCREMENT,
  time TEXT NOT NULL, commit_id TEXT, fingerprint TEXT NOT NULL, description TEXT,
  mode TEXT NOT NULL, verdict TEXT, label TEXT);
CREATE TABLE IF NOT EXISTS measurements(
  run_id INTEGER NOT NULL REFERENCES runs(run_id),
  time TEXT NOT NULL, commit_id TEXT, fingerprint TEXT NOT NULL,
  benchmark TEXT NOT NULL, metric TEXT NOT NULL, value REAL NOT NULL, verdict TEXT);
CREATE INDEX IF NOT EXISTS measurements_by_benchmark ON measurements(benchmark, metric, run_id);
)sql";

Result<Db> Open(const std::string& path, bool create) {
  if (create) {
    const auto parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent);
  } else if (!std::filesystem::exists(path)) {
    return Status::NotFound("no history database at ", path);
  }
  sqlite3* raw = nullptr;
  const int flags = create ? (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) : SQLITE_OPEN_READONLY;
  if (sqlite3_open_v2(path.c_str(), &raw, flags, nullptr) != SQLITE_OK) {
    Db db(raw);
    return Status::IOError("cannot open ", path, ": ", raw ? sqlite3_errmsg(raw) : "out of memory");
  }
  Db db(raw);
  sqlite3_busy_timeout(raw, 5000);
  if (create) {
    char* err = nullptr;
    if (sqlite3_exec(raw, kSchema, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : "?";
      sqlite3_free(err);
      return Status::IOError(path, ": creating the schema failed: ", msg);
    }
  }
  return db;
}

Result<Stmt> Prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &raw, nullptr) != SQLITE_OK) {
    return Status::Internal("sqlite prepare failed: ", sqlite3_errmsg(db));
  }
  return Stmt(raw);
}

Status Exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "?";
    sqlite3_free(err);
    return Status::IOError("sqlite: ", msg);
  }
  return Status::Ok();
}

void BindText(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_text(s, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}

std::string Column(sqlite3_stmt* s, int i) {
  const unsigned char* t = sqlite3_column_text(s, i);
  return t ? reinterpret_cast<const char*>(t) : "";
}

}  // namespace

Result<int64_t> AppendHistory(const std::string& db_path, const ResultSet& measured, Mode mode,
                              const Comparison* comparison, const std::string& label) {
  ENGRAM_ASSIGN_OR_RETURN(Db db, Open(db_path, /*create=*/true));
  const std::string key = FingerprintKey(measured.fingerprint, mode);
  const std::string time = measured.timestamp;
  std::string run_verdict = "measured";
  if (comparison != nullptr) {
    run_verdict = !comparison->compared ? "not_compared"
                  : comparison->Count(Verdict::kRegression) > 0 ? "fail"
                                                                : "pass";
  }
  ENGRAM_RETURN_IF_ERROR(Exec(db.get(), "BEGIN IMMEDIATE"));
  ENGRAM_ASSIGN_OR_RETURN(Stmt run, Prepare(db.get(),
      "INSERT INTO runs(time, commit_id, fingerprint, description, mode, verdict, label) "
      "VALUES(?,?,?,?,?,?,?)"));
  BindText(run.get(), 1, time);
  BindText(run.get(), 2, measured.commit);
  BindText(run.get(), 3, key);
  BindText(run.get(), 4, Describe(measured.fingerprint));
  BindText(run.get(), 5, ModeName(mode));
  BindText(run.get(), 6, run_verdict);
  // A run with an injected slowdown (the gate's own tests) says so wherever it is shown.
  BindText(run.get(), 7, measured.injected_slowdown.empty()
                             ? label
                             : label + (label.empty() ? "" : " ") + "injected_slowdown=" +
                                   measured.injected_slowdown);
  if (sqlite3_step(run.get()) != SQLITE_DONE) {
    (void)Exec(db.get(), "ROLLBACK");
    return Status::IOError("sqlite insert failed: ", sqlite3_errmsg(db.get()));
  }
  const int64_t run_id = sqlite3_last_insert_rowid(db.get());
  ENGRAM_ASSIGN_OR_RETURN(Stmt row, Prepare(db.get(),
      "INSERT INTO measurements(run_id, time, commit_id, fingerprint, benchmark, metric, value, "
      "verdict) VALUES(?,?,?,?,?,?,?,?)"));
  auto insert = [&](const std::string& bench, const char* metric, double value,
                    const std::string& verdict) -> Status {
    sqlite3_reset(row.get());
    sqlite3_clear_bindings(row.get());
    sqlite3_bind_int64(row.get(), 1, run_id);
    BindText(row.get(), 2, time);
    BindText(row.get(), 3, measured.commit);
    BindText(row.get(), 4, key);
    BindText(row.get(), 5, bench);
    sqlite3_bind_text(row.get(), 6, metric, -1, SQLITE_STATIC);
    sqlite3_bind_double(row.get(), 7, value);
    if (verdict.empty()) {
      sqlite3_bind_null(row.get(), 8);
    } else {
      BindText(row.get(), 8, verdict);
    }
    if (sqlite3_step(row.get()) != SQLITE_DONE) {
      return Status::IOError("sqlite insert failed: ", sqlite3_errmsg(db.get()));
    }
    return Status::Ok();
  };
  for (const auto& [name, b] : measured.benchmarks) {
    std::string verdict;
    if (comparison != nullptr) {
      for (const auto& r : comparison->rows) {
        if (r.benchmark == name) verdict = VerdictName(r.verdict);
      }
    }
    Status st;
    if (mode == Mode::kWallTime && b.has_wall_time()) {
      st = insert(name, "median_ns", b.median_ns, verdict);
      if (st.ok()) st = insert(name, "mean_ns", b.mean_ns, "");
      if (st.ok()) st = insert(name, "ci_low_ns", b.ci_low_ns, "");
      if (st.ok()) st = insert(name, "ci_high_ns", b.ci_high_ns, "");
      for (size_t i = 0; st.ok() && i < b.samples_ns.size(); ++i) {
        st = insert(name, "sample_ns", b.samples_ns[i], "");
      }
    } else if (mode == Mode::kInstructions && b.has_instructions()) {
      st = insert(name, "instructions", b.instructions, verdict);
    }
    if (!st.ok()) {
      (void)Exec(db.get(), "ROLLBACK");
      return st;
    }
  }
  ENGRAM_RETURN_IF_ERROR(Exec(db.get(), "COMMIT"));
  return run_id;
}

Result<std::vector<HistoryPoint>> ReadHistory(const std::string& db_path,
                                              const std::string& benchmark) {
  ENGRAM_ASSIGN_OR_RETURN(Db db, Open(db_path, /*create=*/false));
  ENGRAM_ASSIGN_OR_RETURN(Stmt q, Prepare(db.get(),
      "SELECT r.run_id, r.time, r.commit_id, r.fingerprint, r.description, r.mode, r.label, "
      "r.verdict, m.benchmark, m.metric, m.value, m.verdict FROM measurements m "
      "JOIN runs r ON r.run_id = m.run_id WHERE m.metric <> 'sample_ns' "
      "AND (?1 = '' OR m.benchmark = ?1) ORDER BY r.run_id, m.benchmark, m.metric"));
  BindText(q.get(), 1, benchmark);
  std::vector<HistoryPoint> out;
  int rc;
  while ((rc = sqlite3_step(q.get())) == SQLITE_ROW) {
    HistoryPoint p;
    p.run_id = sqlite3_column_int64(q.get(), 0);
    p.time = Column(q.get(), 1);
    p.commit = Column(q.get(), 2);
    p.fingerprint = Column(q.get(), 3);
    p.description = Column(q.get(), 4);
    p.mode = Column(q.get(), 5);
    p.label = Column(q.get(), 6);
    p.run_verdict = Column(q.get(), 7);
    p.benchmark = Column(q.get(), 8);
    p.metric = Column(q.get(), 9);
    p.value = sqlite3_column_double(q.get(), 10);
    p.verdict = Column(q.get(), 11);
    out.push_back(std::move(p));
  }
  if (rc != SQLITE_DONE) return Status::IOError("sqlite read failed: ", sqlite3_errmsg(db.get()));
  return out;
}

}  // namespace engram::benchgate
