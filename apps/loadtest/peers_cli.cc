#include "peers_cli.h"

#include <libpq-fe.h>
#include <signal.h>

#include <charconv>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "loadgen/report.h"

namespace engram::loadtest {

using loadgen::peers::PostgresDriver;
using loadgen::peers::PostgresDriverOptions;
using loadgen::peers::PostgresServer;
using loadgen::peers::PostgresServerOptions;

namespace {

// "0", "0,1", "0-3" -> CPUs.
Result<std::vector<int>> ParseCpus(const std::string& text) {
  std::vector<int> out;
  size_t at = 0;
  while (at < text.size()) {
    const size_t comma = std::min(text.find(',', at), text.size());
    const std::string part = text.substr(at, comma - at);
    at = comma + 1;
    const size_t dash = part.find('-');
    int a = -1, b = -1;
    const char* p = part.data();
    const char* end = part.data() + part.size();
    if (dash == std::string::npos) {
      auto r = std::from_chars(p, end, a);
      b = a;
      if (r.ec != std::errc() || r.ptr != end) a = -1;
    } else {
      auto r1 = std::from_chars(p, p + dash, a);
      auto r2 = std::from_chars(p + dash + 1, end, b);
      if (r1.ec != std::errc() || r1.ptr != p + dash || r2.ec != std::errc() || r2.ptr != end) a = -1;
    }
    if (a < 0 || b < a || b > 4095) return Status::InvalidArgument("CPU list '", text, "' is not like 0 or 0,1 or 0-3");
    for (int c = a; c <= b; ++c) out.push_back(c);
  }
  return out;
}

// Whether every host of a libpq connection string is this machine: a unix socket directory,
// localhost, 127.0.0.0/8 or ::1.
Result<bool> IsLocal(const std::string& conninfo) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
  if (opts == nullptr) {
    std::string msg = err != nullptr ? err : "cannot parse it";
    if (err != nullptr) PQfreemem(err);
    while (!msg.empty() && msg.back() == '\n') msg.pop_back();
    return Status::InvalidArgument("--pg-url '", conninfo, "': ", msg);
  }
  bool local = true;
  for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o) {
    const std::string key = o->keyword;
    if ((key != "host" && key != "hostaddr") || o->val == nullptr) continue;
    std::string hosts = o->val;
    size_t at = 0;
    while (at <= hosts.size()) {
      const size_t comma = std::min(hosts.find(',', at), hosts.size());
      const std::string h = hosts.substr(at, comma - at);
      at = comma + 1;
      const bool ok = h.empty() || h[0] == '/' || h[0] == '@' || h == "localhost" || h.rfind("127.", 0) == 0 || h == "::1";
      local = local && ok;
    }
  }
  PQconninfoFree(opts);
  return local;
}

}  // namespace

void AddPeerRunFlags(CLI::App* run, PeerFlags* f) {
  run->add_option("--only-kinds", f->only_kinds,
                  "Run only these operation kinds of the scenario (e.g. traversal), at their share of its rate");
  run->add_option("--pg-url", f->pg_url, "--driver postgres: libpq connection string or URI of the server");
  run->add_flag("--pg-managed", f->pg_managed,
                "--driver postgres: start a private PostgreSQL for this run (initdb in a temporary directory)");
  run->add_option("--pg-cpus", f->pg_cpus, "--pg-managed: pin the server to these CPUs (e.g. 0)");
  run->add_option("--pg-bin-dir", f->pg_bin_dir, "--pg-managed: directory of initdb and postgres (default: found)");
  run->add_option("--pg-run-as", f->pg_run_as, "--pg-managed, as root: the user the server runs as (default postgres)");
  run->add_flag("--pg-keep-dir", f->pg_keep_dir, "--pg-managed: keep the server's directory (data, log) afterwards");
  run->add_option("--pg-schema", f->pg_schema, "--driver postgres: schema of the graph tables")->capture_default_str();
  run->add_option("--pg-edges-file", f->pg_edges_file,
                  "--driver postgres: preload these edges (src<TAB>dst<TAB>weight, node indices) instead of the "
                  "dataset's links, e.g. the graph engram holds");
}

Result<PeerDriver> MakePostgresDriver(const PeerFlags& f, int connections, bool allow_remote) {
  if (f.pg_managed == !f.pg_url.empty()) {
    return Status::InvalidArgument("--driver postgres needs exactly one of --pg-url CONNINFO and --pg-managed");
  }
  PeerDriver peer;
  PostgresDriverOptions o;
  o.schema = f.pg_schema;
  o.connections = connections;
  o.edges_file = f.pg_edges_file;
  if (f.pg_managed) {
    PostgresServerOptions so;
    so.bin_dir = f.pg_bin_dir;
    so.keep_dir = f.pg_keep_dir;
    so.run_as = f.pg_run_as;
    if (!f.pg_cpus.empty()) {
      ENGRAM_ASSIGN_OR_RETURN(so.cpus, ParseCpus(f.pg_cpus));
    }
    auto server = PostgresServer::Start(so);
    if (!server.ok()) return server.error().code() == StatusCode::kInvalidArgument
                                 ? Status::Unavailable(server.error().message())
                                 : server.error();
    peer.server = std::move(server).value();
    std::fprintf(stderr, "loadtest: started %s (pid %d, %s, directory %s)\n", peer.server->version().c_str(),
                 static_cast<int>(peer.server->pid()), peer.server->conninfo().c_str(), peer.server->dir().c_str());
    o.conninfo = peer.server->conninfo();
  } else {
    ENGRAM_ASSIGN_OR_RETURN(bool local, IsLocal(f.pg_url));
    if (!local && !allow_remote) {
      return Status::InvalidArgument("--pg-url '", f.pg_url, "' is not this machine; pass --allow-remote to send load there");
    }
    o.conninfo = f.pg_url;
  }
  peer.driver = std::make_unique<PostgresDriver>(std::move(o));
  return peer;
}

Result<loadgen::KindFilter> ApplyKindFilter(const PeerFlags& f, workload::Scenario* scenario,
                                            const loadgen::Driver& driver) {
  std::vector<workload::OpKind> keep;
  if (!f.only_kinds.empty()) {
    ENGRAM_ASSIGN_OR_RETURN(keep, loadgen::ParseKinds(f.only_kinds));
  }
  return loadgen::FilterKinds(scenario, keep, driver);
}

std::string AnnotateReport(const loadgen::KindFilter& filter, PeerDriver* peer, const loadgen::Driver& driver,
                           loadgen::RunReport* report) {
  const uint64_t measured = report->total_operations();
  for (auto& [k, v] : loadgen::KindFilterContext(filter, measured, driver.name())) report->context[k] = v;
  if (peer != nullptr && peer->driver) {
    auto ctx = peer->driver->PeerContext();
    if (ctx.ok()) {
      if (peer->server) {
        (*ctx)["managed_server"] = boost::json::object{{"version", peer->server->version()},
                                                       {"user", peer->server->user()},
                                                       {"bin_dir", peer->server->bin_dir()}};
      }
      report->context["peer"] = std::move(ctx).value();
    } else {
      report->context["peer"] = boost::json::object{{"error", ctx.error().message()}};
    }
  }
  return loadgen::DescribeKindFilter(filter, measured, driver.name());
}

CLI::App* AddPgServerCommand(CLI::App* app, PgServerFlags* f) {
  CLI::App* c = app->add_subcommand("pg-server",
                                    "Start a private PostgreSQL on 127.0.0.1 for a script, print its connection string, "
                                    "stop it and remove its directory on SIGINT/SIGTERM");
  c->add_option("--cpus", f->cpus, "Pin the server to these CPUs (e.g. 0)");
  c->add_option("--bin-dir", f->bin_dir, "Directory of initdb and postgres (default: found)");
  c->add_option("--parent-dir", f->parent_dir, "Create the temporary directory here (default: $TMPDIR or /tmp)");
  c->add_option("--ready-file", f->ready_file, "Write the connection string (line 1) and the server's PID (line 2) here "
                                               "once it accepts connections");
  c->add_option("--run-as", f->run_as, "As root: the user the server runs as (default postgres, else nobody)");
  c->add_flag("--keep-dir", f->keep_dir, "Keep the directory (data, log) after stopping");
  return c;
}

int RunPgServer(const PgServerFlags& f) {
  // Block the stop signals before anything starts, then wait for one (children unblock them).
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  PostgresServerOptions so;
  so.bin_dir = f.bin_dir;
  so.parent_dir = f.parent_dir;
  so.keep_dir = f.keep_dir;
  so.run_as = f.run_as;
  if (!f.cpus.empty()) {
    auto cpus = ParseCpus(f.cpus);
    if (!cpus.ok()) {
      std::fprintf(stderr, "loadtest: %s\n", cpus.error().message().c_str());
      return 2;
    }
    so.cpus = *cpus;
  }
  auto server = PostgresServer::Start(so);
  if (!server.ok()) {
    std::fprintf(stderr, "loadtest: %s\n", server.error().message().c_str());
    return 3;
  }
  PostgresServer& s = **server;
  if (!f.ready_file.empty()) {
    const std::string text = s.conninfo() + "\n" + std::to_string(s.pid()) + "\n" + s.version() + "\n";
    if (Status st = loadgen::WriteFileAtomically(f.ready_file, text); !st.ok()) {
      std::fprintf(stderr, "loadtest: cannot write %s: %s\n", f.ready_file.c_str(), st.message().c_str());
      return 3;
    }
  }
  std::cout << s.conninfo() << "\n" << std::flush;
  std::fprintf(stderr, "loadtest: %s running (pid %d, as user %s, directory %s); SIGTERM or Ctrl-C stops it\n",
               s.version().c_str(), static_cast<int>(s.pid()), s.user().c_str(), s.dir().c_str());
  int sig = 0;
  sigwait(&stop, &sig);
  const Status st = s.Stop();
  if (!st.ok()) {
    std::fprintf(stderr, "loadtest: stopping PostgreSQL: %s\n", st.message().c_str());
    return 3;
  }
  std::fprintf(stderr, "loadtest: PostgreSQL stopped\n");
  return 0;
}

}  // namespace engram::loadtest
