// loadtest's flags for peers (other systems behind the Driver interface) and for the operation
// kind filter: `run --driver postgres --pg-url ... | --pg-managed ...`, `run --only-kinds`,
// and the `pg-server` subcommand that keeps a private PostgreSQL running for a script.
// docs/loadtest.md "PostgreSQL peer" documents them.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "loadgen/driver.h"
#include "loadgen/kind_filter.h"
#include "loadgen/peers/postgres_driver.h"
#include "loadgen/peers/postgres_server.h"
#include "loadgen/report.h"

namespace engram::loadtest {

struct PeerFlags {
  std::string only_kinds;
  std::string pg_url, pg_bin_dir, pg_cpus, pg_schema = "engram_graph", pg_run_as, pg_edges_file;
  bool pg_managed = false, pg_keep_dir = false;
};

void AddPeerRunFlags(CLI::App* run, PeerFlags* flags);

// A peer's driver, and the private server it runs against when --pg-managed started one
// (stopped when this is destroyed, after the driver).
struct PeerDriver {
  std::unique_ptr<loadgen::peers::PostgresServer> server;
  std::unique_ptr<loadgen::peers::PostgresDriver> driver;  // declared last: destroyed first
};
// InvalidArgument for flag errors (exit 2), other errors when the server cannot start (exit 3).
Result<PeerDriver> MakePostgresDriver(const PeerFlags& flags, int connections, bool allow_remote);

// --only-kinds applied to the scenario for `driver` (see kind_filter.h).
Result<loadgen::KindFilter> ApplyKindFilter(const PeerFlags& flags, workload::Scenario* scenario,
                                            const loadgen::Driver& driver);
// Records the filter and the peer's settings in the result's context; returns the lines to
// print after the summary.
std::string AnnotateReport(const loadgen::KindFilter& filter, PeerDriver* peer, const loadgen::Driver& driver,
                           loadgen::RunReport* report);

// `loadtest pg-server`: starts a private PostgreSQL, prints its connection string (and writes
// it to --ready-file), waits for SIGINT/SIGTERM, stops it and removes its directory.
struct PgServerFlags {
  std::string cpus, bin_dir, parent_dir, ready_file, run_as;
  bool keep_dir = false;
};
CLI::App* AddPgServerCommand(CLI::App* app, PgServerFlags* flags);
int RunPgServer(const PgServerFlags& flags);

}  // namespace engram::loadtest
