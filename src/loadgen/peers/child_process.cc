#include "loadgen/peers/child_process.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/clock.h"

namespace engram::loadgen::peers {

namespace {

// What failed in the child before exec, sent to the parent through a close-on-exec pipe.
struct ChildFailure {
  int stage = 0;  // index into kStages
  int error = 0;  // errno
};
constexpr const char* kStages[] = {"open the log", "redirect output", "set the CPU affinity", "set the groups",
                                   "set the group id", "set the user id", "change directory", "execute"};

int DecodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

// Waits for `pid` to exit for at most `timeout` (pidfd + poll: no busy loop, no signal
// handler). Its decoded exit status, or nullopt on timeout.
std::optional<int> WaitPid(pid_t pid, std::chrono::milliseconds timeout) {
  const int64_t deadline = MonoNanos() + static_cast<int64_t>(timeout.count()) * 1'000'000;
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  for (;;) {
    int status = 0;
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      if (pidfd >= 0) close(pidfd);
      return DecodeStatus(status);
    }
    if (r < 0 && errno != EINTR) {  // not our child any more (reaped elsewhere)
      if (pidfd >= 0) close(pidfd);
      return 255;
    }
    const int64_t left_ms = (deadline - MonoNanos()) / 1'000'000;
    if (left_ms <= 0) break;
    if (pidfd >= 0) {
      struct pollfd p = {pidfd, POLLIN, 0};
      (void)poll(&p, 1, static_cast<int>(std::min<int64_t>(left_ms, 1000)));
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min<int64_t>(left_ms, 10)));
    }
  }
  if (pidfd >= 0) close(pidfd);
  return std::nullopt;
}

}  // namespace

Result<RunAs> LookUpUser(const std::string& name) {
  struct passwd pw;
  struct passwd* found = nullptr;
  std::vector<char> buf(16384);
  if (getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found) != 0 || found == nullptr) {
    return Status::NotFound("no user '", name, "' on this machine");
  }
  return RunAs{name, pw.pw_uid, pw.pw_gid};
}

Result<std::unique_ptr<ChildProcess>> ChildProcess::Start(const ChildSpec& spec) {
  if (spec.argv.empty()) return Status::InvalidArgument("no command to start");
  if (access(spec.argv[0].c_str(), X_OK) != 0) {
    return Status::NotFound("cannot execute ", spec.argv[0], ": ", std::strerror(errno));
  }
  if (spec.run_as && geteuid() != 0) {
    return Status::FailedPrecondition("running ", spec.argv[0], " as user '", spec.run_as->name, "' requires root");
  }
  // Everything the child needs is built before fork(): after it, only async-signal-safe calls.
  std::vector<char*> argv;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  for (int c : spec.cpus) {
    if (c < 0 || c >= CPU_SETSIZE) return Status::InvalidArgument("CPU ", c, " does not exist");
    CPU_SET(c, &cpus);
  }
  const char* log = spec.log_path.empty() ? "/dev/null" : spec.log_path.c_str();
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) return Status::Internal("pipe2: ", std::strerror(errno));

  const pid_t pid = fork();
  if (pid < 0) {
    close(pipefd[0]);
    close(pipefd[1]);
    return Status::Internal("fork: ", std::strerror(errno));
  }
  if (pid == 0) {
    auto fail = [&](int stage) {
      ChildFailure f{stage, errno};
      (void)!write(pipefd[1], &f, sizeof(f));
      _exit(127);
    };
    close(pipefd[0]);
    // Its own process group (a Ctrl-C meant for us is not the server's), and the signal mask
    // and SIGPIPE disposition reset (both survive exec; a caller that waits in sigwait() has
    // SIGINT and SIGTERM blocked, and a server started so could not be stopped).
    setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    const int in = open("/dev/null", O_RDONLY);
    const int out = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (in < 0 || out < 0) fail(0);
    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0) fail(1);
    if (!spec.cpus.empty() && sched_setaffinity(0, sizeof(cpus), &cpus) != 0) fail(2);
    if (spec.run_as) {
      const gid_t gid = spec.run_as->gid;
      if (setgroups(1, &gid) != 0) fail(3);
      if (setgid(gid) != 0) fail(4);
      if (setuid(spec.run_as->uid) != 0) fail(5);
    }
    if (!spec.workdir.empty() && chdir(spec.workdir.c_str()) != 0) fail(6);
    execv(argv[0], argv.data());
    fail(7);
  }
  close(pipefd[1]);
  ChildFailure f;
  ssize_t n;
  do {
    n = read(pipefd[0], &f, sizeof(f));
  } while (n < 0 && errno == EINTR);
  close(pipefd[0]);
  std::unique_ptr<ChildProcess> child(new ChildProcess(pid));
  if (n == static_cast<ssize_t>(sizeof(f))) {
    (void)child->Wait(std::chrono::milliseconds(5000));
    return Status::Unavailable("starting ", spec.argv[0], ": could not ", kStages[f.stage], ": ",
                               std::strerror(f.error));
  }
  return child;
}

ChildProcess::~ChildProcess() {
  if (!exit_code_) (void)Stop(SIGKILL, std::chrono::milliseconds(5000));
}

bool ChildProcess::Running() {
  if (exit_code_) return false;
  exit_code_ = WaitPid(pid_, std::chrono::milliseconds(0));
  return !exit_code_;
}

Result<int> ChildProcess::Wait(std::chrono::milliseconds timeout) {
  if (!exit_code_) exit_code_ = WaitPid(pid_, timeout);
  if (!exit_code_) return Status::DeadlineExceeded("process ", pid_, " still running after ", timeout.count(), " ms");
  return *exit_code_;
}

Status ChildProcess::Stop(int signal, std::chrono::milliseconds grace) {
  if (!Running()) return Status::Ok();
  kill(pid_, signal);
  if (Wait(grace).ok()) return Status::Ok();
  kill(pid_, SIGKILL);
  return Wait(std::chrono::milliseconds(10000)).error();
}

Result<int> RunChild(const ChildSpec& spec, std::chrono::milliseconds timeout) {
  ENGRAM_ASSIGN_OR_RETURN(std::unique_ptr<ChildProcess> child, ChildProcess::Start(spec));
  auto code = child->Wait(timeout);
  if (!code.ok()) {
    (void)child->Stop(SIGKILL, std::chrono::milliseconds(0));
    return Status::DeadlineExceeded(spec.argv[0], " did not finish within ", timeout.count() / 1000, " s");
  }
  return *code;
}

std::string TailOfFile(const std::string& path, size_t max_bytes) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return "";
  std::stringstream ss;
  ss << f.rdbuf();
  std::string s = ss.str();
  if (s.size() > max_bytes) s = s.substr(s.size() - max_bytes);
  return s;
}

}  // namespace engram::loadgen::peers
