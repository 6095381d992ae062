#include "loadgen/peers/postgres_server.h"

#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/clock.h"

namespace engram::loadgen::peers {

namespace fs = std::filesystem;

namespace {

bool HoldsServer(const std::string& dir) {
  return access((dir + "/initdb").c_str(), X_OK) == 0 && access((dir + "/postgres").c_str(), X_OK) == 0;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// A port on 127.0.0.1 that nothing listens on now (the kernel's choice for port 0). Another
// process could take it before postgres binds it; Start() then retries with another.
Result<int> FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Internal("socket: ", std::strerror(errno));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof(a);
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
  close(fd);
  if (!ok) return Status::Internal("finding a free port on 127.0.0.1: ", std::strerror(errno));
  return static_cast<int>(ntohs(a.sin_port));
}

std::string UserName(uid_t uid) {
  struct passwd pw;
  struct passwd* found = nullptr;
  std::vector<char> buf(16384);
  if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) == 0 && found != nullptr) return pw.pw_name;
  return std::to_string(uid);
}

std::string Quote(const std::string& v) {
  std::string q = "'";
  for (char c : v) q += c == '\'' ? std::string("''") : std::string(1, c);
  return q + "'";
}

}  // namespace

Settings BenchmarkSettings() {
  return {
      {"shared_buffers", "512MB"},
      {"work_mem", "32MB"},
      {"maintenance_work_mem", "256MB"},
      {"effective_cache_size", "1GB"},
      {"random_page_cost", "1.1"},
      {"max_connections", "200"},
      {"jit", "off"},
      {"max_parallel_workers_per_gather", "0"},
      {"autovacuum", "off"},
      {"fsync", "off"},
      {"synchronous_commit", "off"},
      {"full_page_writes", "off"},
      {"wal_level", "minimal"},
      {"max_wal_senders", "0"},
      {"max_wal_size", "4GB"},
      {"checkpoint_timeout", "1h"},
      {"logging_collector", "off"},
  };
}

Result<std::string> FindPostgresBinDir(const std::string& hint) {
  if (!hint.empty()) {
    if (HoldsServer(hint)) return hint;
    return Status::NotFound("no initdb and postgres in ", hint);
  }
  std::vector<std::string> tried;
  if (const char* env = std::getenv("ENGRAM_PG_BIN_DIR"); env != nullptr && *env != '\0') {
    if (HoldsServer(env)) return std::string(env);
    tried.push_back(std::string(env) + " ($ENGRAM_PG_BIN_DIR)");
  }
  const std::string preferred = "/usr/lib/postgresql/15/bin";
  if (HoldsServer(preferred)) return preferred;
  tried.push_back(preferred);
  std::error_code ec;
  std::vector<std::pair<int, std::string>> found;
  for (const auto& e : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const std::string bin = e.path().string() + "/bin";
    const int version = std::atoi(e.path().filename().c_str());
    if (version > 0 && HoldsServer(bin)) found.emplace_back(version, bin);
  }
  if (!found.empty()) return std::max_element(found.begin(), found.end())->second;
  tried.push_back("/usr/lib/postgresql/*/bin");
  if (access("/usr/bin/pg_config", X_OK) == 0) {
    const std::string out = (fs::temp_directory_path() / ("engram-pg-config-" + std::to_string(getpid()))).string();
    ChildSpec spec{{"/usr/bin/pg_config", "--bindir"}, out, {}, std::nullopt, ""};
    auto code = RunChild(spec, std::chrono::milliseconds(10000));
    const std::string dir = Trim(TailOfFile(out));
    fs::remove(out, ec);
    if (code.ok() && *code == 0 && HoldsServer(dir)) return dir;
    tried.push_back("pg_config --bindir");
  }
  std::string where;
  for (const auto& t : tried) where += (where.empty() ? "" : ", ") + t;
  return Status::NotFound("PostgreSQL server binaries (initdb, postgres) not found (looked in ", where,
                          "); install them with `apt-get install postgresql-15` (scripts/install_deps.sh --test "
                          "does), or name the directory with --pg-bin-dir or $ENGRAM_PG_BIN_DIR");
}

Result<std::unique_ptr<PostgresServer>> PostgresServer::Start(const PostgresServerOptions& options) {
  std::unique_ptr<PostgresServer> s(new PostgresServer());
  ENGRAM_ASSIGN_OR_RETURN(s->bin_dir_, FindPostgresBinDir(options.bin_dir));
  s->keep_dir_ = options.keep_dir;

  std::optional<RunAs> run_as;
  if (geteuid() == 0) {
    std::string name = options.run_as;
    if (name.empty()) name = LookUpUser("postgres").ok() ? "postgres" : "nobody";
    auto user = LookUpUser(name);
    if (!user.ok()) return user.error().WithContext("PostgreSQL refuses to run as root, and the user to run it as");
    run_as = *user;
    s->user_ = name;
  } else {
    s->user_ = UserName(geteuid());
  }

  std::string parent = options.parent_dir;
  if (parent.empty()) {
    const char* t = std::getenv("TMPDIR");
    parent = t != nullptr && *t != '\0' ? t : "/tmp";
  }
  std::string templ = parent + "/engram-pg-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) {
    return Status::IOError("cannot create a temporary directory under ", parent, ": ", std::strerror(errno));
  }
  s->dir_ = templ;
  if (run_as && chown(s->dir_.c_str(), run_as->uid, run_as->gid) != 0) {
    return Status::IOError("cannot give ", s->dir_, " to user '", run_as->name, "': ", std::strerror(errno));
  }

  // The version, then initdb.
  const std::string version_log = s->dir_ + "/version.txt";
  ChildSpec version{{s->bin_dir_ + "/postgres", "--version"}, version_log, {}, run_as, s->dir_};
  ENGRAM_ASSIGN_OR_RETURN(int vcode, RunChild(version, std::chrono::milliseconds(10000)));
  s->version_ = Trim(TailOfFile(version_log));
  if (vcode != 0) return Status::Unavailable(s->bin_dir_, "/postgres --version failed: ", s->version_);
  const std::string initdb_log = s->dir_ + "/initdb.log";
  ChildSpec initdb{{s->bin_dir_ + "/initdb", "-D", s->dir_ + "/data", "-U", "postgres", "-A", "trust", "-E", "UTF8",
                    "--locale=C", "--no-sync"},
                   initdb_log, {}, run_as, s->dir_};
  ENGRAM_ASSIGN_OR_RETURN(int icode, RunChild(initdb, std::chrono::milliseconds(180000)));
  if (icode != 0) {
    return Status::Unavailable("initdb into ", s->dir_, "/data failed (exit ", icode, ")",
                               run_as ? " as user '" + run_as->name + "' (it must be able to reach " + parent + ")" : "",
                               ":\n", TailOfFile(initdb_log));
  }

  s->settings_ = {{"listen_addresses", "127.0.0.1"}, {"unix_socket_directories", s->dir_}};
  for (const auto& kv : BenchmarkSettings()) s->settings_.push_back(kv);
  for (const auto& kv : options.extra_settings) s->settings_.push_back(kv);
  {
    std::ofstream conf(s->dir_ + "/data/postgresql.conf", std::ios::app);
    conf << "\n# Written by engram's PostgreSQL harness (a read benchmark; later lines win).\n";
    for (const auto& [k, v] : s->settings_) conf << k << " = " << Quote(v) << "\n";
    if (!conf) return Status::IOError("cannot write ", s->dir_, "/data/postgresql.conf");
  }
  ENGRAM_RETURN_IF_ERROR(s->Launch(options, run_as));
  return s;
}

Status PostgresServer::Launch(const PostgresServerOptions& options, const std::optional<RunAs>& run_as) {
  const std::string log = dir_ + "/postgres.log";
  constexpr int kAttempts = 3;
  for (int attempt = 1;; ++attempt) {
    ENGRAM_ASSIGN_OR_RETURN(port_, FreeLoopbackPort());
    ChildSpec spec{{bin_dir_ + "/postgres", "-D", dir_ + "/data", "-p", std::to_string(port_)}, log, options.cpus,
                   run_as, dir_};
    ENGRAM_ASSIGN_OR_RETURN(postmaster_, ChildProcess::Start(spec));
    const std::string ping = conninfo() + " connect_timeout=2";
    const int64_t deadline = MonoNanos() + static_cast<int64_t>(options.start_timeout.count()) * 1'000'000'000;
    while (PQping(ping.c_str()) != PQPING_OK) {
      if (!postmaster_->Running()) break;
      if (MonoNanos() > deadline) {
        (void)postmaster_->Stop(SIGKILL, std::chrono::milliseconds(5000));
        return Status::DeadlineExceeded("PostgreSQL did not accept connections within ", options.start_timeout.count(),
                                        " s:\n", TailOfFile(log));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (postmaster_->Running()) return Status::Ok();
    const std::string tail = TailOfFile(log);
    postmaster_.reset();
    if (attempt < kAttempts && tail.find("could not bind") != std::string::npos) continue;  // the port was taken
    return Status::Unavailable("PostgreSQL exited while starting (", bin_dir_, "/postgres -D ", dir_, "/data):\n", tail);
  }
}

PostgresServer::~PostgresServer() { (void)Stop(); }

Status PostgresServer::Stop() {
  Status st;
  if (postmaster_) {
    st = postmaster_->Stop(SIGINT, std::chrono::milliseconds(30000));
    postmaster_.reset();
  }
  if (!dir_.empty() && !keep_dir_) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
    if (ec && st.ok()) st = Status::IOError("cannot remove ", dir_, ": ", ec.message());
  }
  dir_.clear();
  return st;
}

std::string PostgresServer::conninfo() const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres dbname=postgres";
}

}  // namespace engram::loadgen::peers
