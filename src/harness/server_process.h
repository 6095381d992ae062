// One engram server for one measurement: a fresh data directory, pinned to chosen CPUs, its
// output in a log file, started on a free port and waited for until /health answers, and
// stopped by its own PID (SIGTERM, then SIGKILL after a timeout), its data directory removed.
// This is what scripts/m17_performance_check.sh does in bash, in C++ so that engram-perf's
// commands (capacity today) and later the check itself share one implementation.
//
// CPU plan (the check script's): the server on every CPU this process may use but the last,
// the load generator on the last; nothing pinned with fewer than two CPUs or when disabled.
//
// Threading: a ServerProcess is used from one thread. PinCurrentThread affects the calling
// thread and the threads it creates afterwards, so call it before starting any.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace engram::harness {

struct CpuPlan {
  bool pinned = false;
  std::vector<int> server;   // empty when not pinned
  std::vector<int> loadgen;  // empty when not pinned
};
// The plan for the CPUs in this process's affinity mask; `pin` false gives an unpinned plan.
CpuPlan PlanCpus(bool pin);
// "0-2", "0,3", "" for none.
std::string CpuList(const std::vector<int>& cpus);
// Restricts the calling thread (and threads it starts later) to `cpus`; no-op when empty.
Status PinCurrentThread(const std::vector<int>& cpus);

struct ServerOptions {
  std::string binary;                   // the engram executable
  std::vector<std::string> extra_args;  // after `start --port 0 --bind 127.0.0.1 --data-dir D`
  std::vector<int> cpus;                // empty: not pinned
  std::string log_path;                 // stdout and stderr of the server
  std::string data_parent;              // where the fresh data directory is made ("" = $TMPDIR or /tmp)
  double health_timeout_seconds = 60;
  double stop_timeout_seconds = 30;
};

class ServerProcess {
 public:
  // Starts the server and returns once GET /health answers 200. Unavailable (with the log's
  // last lines) when it exits first or does not answer in time.
  static Result<std::unique_ptr<ServerProcess>> Start(const ServerOptions& options);
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // SIGTERM, wait up to the stop timeout, then SIGKILL; removes the data directory. Returns the
  // server's exit status as an error when it did not exit cleanly. Idempotent.
  Status Stop();
  bool Alive();  // reaps the child when it has exited

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::string& data_dir() const { return data_dir_; }
  const std::string& log_path() const { return options_.log_path; }

 private:
  explicit ServerProcess(ServerOptions options) : options_(std::move(options)) {}
  Status Launch();
  Status WaitUntilServing();
  std::string LogTail() const;

  ServerOptions options_;
  pid_t pid_ = -1;
  int exit_status_ = -1;  // wait status once reaped
  uint16_t port_ = 0;
  std::string data_dir_;
};

// The last `lines` lines of a text file ("" when unreadable).
std::string TailOfFile(const std::string& path, int lines);

}  // namespace engram::harness
