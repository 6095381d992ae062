#include "harness/server_process.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/clock.h"
#include "core/files.h"
#include "loadgen/endpoint.h"
#include "loadgen/http_driver.h"

namespace engram::harness {

namespace fs = std::filesystem;

namespace {

std::vector<int> AllowedCpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    for (int c = 0; c < CPU_SETSIZE; ++c) {
      if (CPU_ISSET(c, &set)) cpus.push_back(c);
    }
  }
  return cpus;
}

// The port in the server's "engram <commit> listening on http://127.0.0.1:PORT (...)" line.
uint16_t ListeningPort(const std::string& log) {
  constexpr std::string_view kMarker = "listening on http://127.0.0.1:";
  const size_t at = log.find(kMarker);
  if (at == std::string::npos) return 0;
  return static_cast<uint16_t>(std::strtoul(log.c_str() + at + kMarker.size(), nullptr, 10));
}

}  // namespace

CpuPlan PlanCpus(bool pin) {
  CpuPlan plan;
  const std::vector<int> cpus = AllowedCpus();
  if (!pin || cpus.size() < 2) return plan;
  plan.pinned = true;
  plan.server.assign(cpus.begin(), cpus.end() - 1);
  plan.loadgen = {cpus.back()};
  return plan;
}

std::string CpuList(const std::vector<int>& cpus) {
  std::string out;
  for (size_t i = 0; i < cpus.size();) {
    size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
    out += (out.empty() ? "" : ",") + std::to_string(cpus[i]);
    if (j > i) out += "-" + std::to_string(cpus[j]);
    i = j + 1;
  }
  return out;
}

Status PinCurrentThread(const std::vector<int>& cpus) {
  if (cpus.empty()) return Status::Ok();
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c : cpus) CPU_SET(c, &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0) {
    return Status::Internal("cannot pin to CPUs ", CpuList(cpus), ": ", std::strerror(errno));
  }
  return Status::Ok();
}

std::string TailOfFile(const std::string& path, int lines) {
  std::ifstream in(path);
  std::deque<std::string> last;
  for (std::string line; std::getline(in, line);) {
    last.push_back(line);
    if (static_cast<int>(last.size()) > lines) last.pop_front();
  }
  std::string out;
  for (const auto& l : last) out += l + "\n";
  return out;
}

Result<std::unique_ptr<ServerProcess>> ServerProcess::Start(const ServerOptions& options) {
  if (::access(options.binary.c_str(), X_OK) != 0) {
    return Status::NotFound("server binary not found or not executable: ", options.binary,
                            " (build it: scripts/build.sh release engram; or set ENGRAM_BIN)");
  }
  std::unique_ptr<ServerProcess> p(new ServerProcess(options));
  ENGRAM_RETURN_IF_ERROR(p->Launch());
  if (Status st = p->WaitUntilServing(); !st.ok()) {
    (void)p->Stop();
    return st;
  }
  return p;
}

Status ServerProcess::Launch() {
  std::string parent = options_.data_parent;
  if (parent.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    parent = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  }
  std::string tmpl = parent + "/engram-perf-data.XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return Status::IOError("cannot make a data directory under ", parent, ": ", std::strerror(errno));
  }
  data_dir_ = tmpl;
  std::vector<std::string> args = {options_.binary, "start", "--port", "0", "--bind", "127.0.0.1", "--data-dir",
                                   data_dir_};
  args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
  const int log = ::open(options_.log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log < 0) return Status::IOError("cannot write ", options_.log_path, ": ", std::strerror(errno));
  // Everything the child needs is prepared before fork(): after it only async-signal-safe calls.
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c : options_.cpus) CPU_SET(c, &set);
  const bool pin = !options_.cpus.empty();
  pid_ = ::fork();
  if (pid_ < 0) {
    ::close(log);
    return Status::Internal("fork failed: ", std::strerror(errno));
  }
  if (pid_ == 0) {
    if (pin && sched_setaffinity(0, sizeof(set), &set) != 0) _exit(126);
    ::dup2(log, STDOUT_FILENO);
    ::dup2(log, STDERR_FILENO);
    const int null = ::open("/dev/null", O_RDONLY);
    if (null >= 0) ::dup2(null, STDIN_FILENO);
    ::execv(argv[0], argv.data());
    _exit(127);
  }
  ::close(log);
  return Status::Ok();
}

Status ServerProcess::WaitUntilServing() {
  const int64_t deadline = MonoNanos() + static_cast<int64_t>(options_.health_timeout_seconds * 1e9);
  for (;;) {
    if (!Alive()) {
      return Status::Unavailable("engram exited (wait status ", exit_status_, ") before answering /health; the end of ",
                                 options_.log_path, ":\n", LogTail());
    }
    if (port_ == 0) {
      auto text = ReadFile(options_.log_path);
      if (text.ok()) port_ = ListeningPort(*text);
    }
    if (port_ != 0) {
      auto endpoint = loadgen::ParseEndpoint(url());
      if (endpoint.ok() && loadgen::Resolve(&*endpoint, false).ok()) {
        loadgen::HttpDriverOptions o;
        o.endpoint = std::move(endpoint).value();
        if (loadgen::HttpDriver(std::move(o)).Check().ok()) return Status::Ok();
      }
    }
    if (MonoNanos() >= deadline) {
      return Status::Unavailable("engram (pid ", pid_, ") did not answer /health within ",
                                 options_.health_timeout_seconds, " s; the end of ", options_.log_path, ":\n",
                                 LogTail());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

bool ServerProcess::Alive() {
  if (pid_ <= 0) return false;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exit_status_ = status;
    pid_ = -1;
    return false;
  }
  return r == 0;
}

Status ServerProcess::Stop() {
  Status result;
  if (pid_ > 0) {
    const pid_t pid = pid_;
    ::kill(pid, SIGTERM);
    const int64_t deadline = MonoNanos() + static_cast<int64_t>(options_.stop_timeout_seconds * 1e9);
    while (Alive() && MonoNanos() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (Alive()) {
      ::kill(pid, SIGKILL);
      int status = 0;
      ::waitpid(pid, &status, 0);
      exit_status_ = status;
      pid_ = -1;
      result = Status::Internal("engram (pid ", pid, ") did not stop ", options_.stop_timeout_seconds,
                                " s after SIGTERM and was killed");
    } else if (!(WIFEXITED(exit_status_) && WEXITSTATUS(exit_status_) == 0)) {
      result = Status::Internal("engram (pid ", pid, ") ended with wait status ", exit_status_, "; the end of ",
                                options_.log_path, ":\n", LogTail());
    }
  }
  if (!data_dir_.empty()) {
    std::error_code ec;
    fs::remove_all(data_dir_, ec);
    data_dir_.clear();
  }
  return result;
}

ServerProcess::~ServerProcess() { (void)Stop(); }

std::string ServerProcess::LogTail() const { return TailOfFile(options_.log_path, 20); }

}  // namespace engram::harness
