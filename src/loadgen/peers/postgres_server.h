// A private PostgreSQL server for one measurement: initdb into a fresh temporary directory,
// a postmaster listening on 127.0.0.1 only (on a free port) and on a unix socket inside that
// directory, settings for a read benchmark, optionally pinned to CPUs (the backends inherit
// the affinity), stopped by its PID and the directory removed afterwards.
//
// initdb and postgres refuse to run as root. When this process is root, both run as an
// unprivileged user instead (`postgres` when it exists, as Debian's package creates it, else
// `nobody`; or the one named), which owns the temporary directory; otherwise they run as the
// calling user. Authentication is `trust`: the server accepts any local connection as its
// superuser `postgres`, which is what a benchmark on a private machine needs and no more.
//
// Threading: one thread uses a PostgresServer at a time.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "loadgen/peers/child_process.h"

namespace engram::loadgen::peers {

using Settings = std::vector<std::pair<std::string, std::string>>;

struct PostgresServerOptions {
  // Where initdb and postgres are; "" = found by FindPostgresBinDir().
  std::string bin_dir;
  // The temporary directory is created under this one; "" = $TMPDIR, else /tmp.
  std::string parent_dir;
  // Pin the postmaster, and so every backend it forks, to these CPUs; empty = no pinning.
  std::vector<int> cpus;
  // When running as root: the user that runs initdb and postgres ("" = postgres, else nobody).
  std::string run_as;
  // The settings of BenchmarkSettings() are applied; these are appended (and win).
  Settings extra_settings;
  std::chrono::seconds start_timeout{60};
  // Keep the directory (data and log) after Stop(), for a post-mortem.
  bool keep_dir = false;
};

// The settings written to postgresql.conf for a read benchmark (besides listen_addresses,
// port and unix_socket_directories), each with the reason in docs/loadtest.md "PostgreSQL
// peer": 512MB shared buffers (the 100K-node graph and its indexes are 90-230 MB, so every
// read is a buffer hit), work_mem 32MB (the 2-hop DISTINCT hashes stay in memory), no JIT
// (it costs milliseconds of compilation on a sub-millisecond query), no parallel query (one
// core), no autovacuum (no background work during the measured phase: the load ends with an
// explicit VACUUM ANALYZE), fsync/synchronous_commit/full_page_writes off and wal_level
// minimal (only the bulk load writes; they make it faster and change no read).
Settings BenchmarkSettings();

// The directory holding initdb and postgres: `hint` if given (an error if they are not
// there), else $ENGRAM_PG_BIN_DIR, else /usr/lib/postgresql/15/bin, else the newest
// /usr/lib/postgresql/*/bin, else `pg_config --bindir`. NotFound, saying how to install
// PostgreSQL 15, when none holds them.
Result<std::string> FindPostgresBinDir(const std::string& hint = "");

class PostgresServer {
 public:
  // initdb, configure, start, wait until it accepts connections. Errors say which step failed
  // with the tail of its log.
  static Result<std::unique_ptr<PostgresServer>> Start(const PostgresServerOptions& options);
  // Stop()s.
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // Fast shutdown (SIGINT to the postmaster: sessions are disconnected), SIGKILL after 30 s;
  // then the directory is removed unless keep_dir. Idempotent.
  Status Stop();

  // libpq connection string: "host=127.0.0.1 port=P user=postgres dbname=postgres".
  std::string conninfo() const;
  int port() const { return port_; }
  pid_t pid() const { return postmaster_ ? postmaster_->pid() : 0; }
  const std::string& dir() const { return dir_; }  // data in dir()/data, log in dir()/postgres.log
  const std::string& bin_dir() const { return bin_dir_; }
  // `postgres --version`, e.g. "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)".
  const std::string& version() const { return version_; }
  // Every setting written to postgresql.conf, in order.
  const Settings& settings() const { return settings_; }
  // The user the server runs as.
  const std::string& user() const { return user_; }

 private:
  PostgresServer() = default;
  Status Launch(const PostgresServerOptions& options, const std::optional<RunAs>& run_as);

  std::string bin_dir_, dir_, version_, user_;
  int port_ = 0;
  bool keep_dir_ = false;
  Settings settings_;
  std::unique_ptr<ChildProcess> postmaster_;
};

}  // namespace engram::loadgen::peers
