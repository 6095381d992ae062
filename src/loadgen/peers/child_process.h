// A server process started in the background for a measurement (a peer system under test),
// and stopped again by its PID: never by name, so that nothing else on a shared machine is
// touched.
//
// The child runs in a process group of its own, so a Ctrl-C meant for the caller does not
// reach it. It can be pinned to CPUs before it executes (the affinity is inherited by every
// process and thread it starts, so a postmaster's backends stay on the same cores) and, when
// the caller is root, run as another user (servers such as PostgreSQL refuse to run as root).
//
// Threading: a ChildProcess is used by one thread at a time. Start() forks from a
// multi-threaded process safely: the child only calls async-signal-safe functions before exec.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace engram::loadgen::peers {

// Another user to run a child as (resolved from the password database).
struct RunAs {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};
// The user `name`, NotFound if there is none.
Result<RunAs> LookUpUser(const std::string& name);

struct ChildSpec {
  std::vector<std::string> argv;  // argv[0]: a path (absolute or relative), not looked up in PATH
  std::string log_path;           // stdout and stderr are appended here; "" = /dev/null
  std::vector<int> cpus;          // pin to these CPUs before exec; empty = inherit this process's
  std::optional<RunAs> run_as;    // change to this user before exec (REQUIRES: running as root)
  std::string workdir;            // "" = this process's
};

class ChildProcess {
 public:
  // Forks and executes spec.argv. Errors: the executable is missing or not executable, the
  // CPUs or the user cannot be set (each reported with what failed, from the child).
  static Result<std::unique_ptr<ChildProcess>> Start(const ChildSpec& spec);
  // Kills the child (SIGKILL) if it is still running and reaps it.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // False once the child has exited (it is reaped then; exit_code() says how).
  bool Running();
  // The exit code, 128 + signal when killed; nullopt while running.
  std::optional<int> exit_code() const { return exit_code_; }
  // Sends `signal`, waits up to `grace` for the child to exit, then SIGKILL. Ok once it has
  // exited (however it exited).
  Status Stop(int signal, std::chrono::milliseconds grace);
  // Waits up to `timeout` for the child to exit by itself; its exit code, or DeadlineExceeded.
  Result<int> Wait(std::chrono::milliseconds timeout);

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  pid_t pid_;
  std::optional<int> exit_code_;
};

// Runs spec to completion (at most `timeout`, then it is killed): its exit code.
Result<int> RunChild(const ChildSpec& spec, std::chrono::milliseconds timeout);

// The last `max_bytes` of a log file, for error messages ("" when unreadable).
std::string TailOfFile(const std::string& path, size_t max_bytes = 2000);

}  // namespace engram::loadgen::peers
