// Starts the real `engram` binary as a child process for integration tests, on a free port,
// and stops it by its PID only.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

namespace engram::testing_util {

class EngramProcess {
 public:
  // Runs `engram start --port 0 --bind 127.0.0.1 <args>` and waits for its "listening" line.
  explicit EngramProcess(const std::vector<std::string>& args) {
    int out[2];
    if (pipe(out) != 0) throw std::runtime_error("pipe failed");
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      dup2(out[1], STDOUT_FILENO);
      close(out[0]);
      close(out[1]);
      std::vector<std::string> all = {ENGRAM_BIN, "start", "--port", "0", "--bind", "127.0.0.1"};
      all.insert(all.end(), args.begin(), args.end());
      std::vector<char*> argv;
      for (auto& a : all) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(ENGRAM_BIN, argv.data());
      _exit(127);
    }
    close(out[1]);
    out_ = fdopen(out[0], "r");
    char line[1024];
    while (std::fgets(line, sizeof(line), out_) != nullptr) {
      std::string l(line);
      const size_t at = l.find("listening on http://127.0.0.1:");
      if (at != std::string::npos) {
        port_ = static_cast<uint16_t>(std::stoi(l.substr(at + 30)));
        return;
      }
    }
    throw std::runtime_error("engram exited before listening");
  }
  ~EngramProcess() {
    if (pid_ > 0) Kill(SIGKILL);
    if (out_ != nullptr) std::fclose(out_);
  }
  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  // Sends `sig` to our child and waits for it; returns its wait status.
  int Kill(int sig) {
    if (pid_ <= 0) return -1;
    kill(pid_, sig);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

 private:
  pid_t pid_ = -1;
  FILE* out_ = nullptr;
  uint16_t port_ = 0;
};

}  // namespace engram::testing_util
