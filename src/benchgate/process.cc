#include "benchgate/process.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "benchgate/json_util.h"

namespace engram::benchgate {

std::string ShellQuote(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& a : argv) {
    if (!out.empty()) out += ' ';
    const bool plain = !a.empty() && a.find_first_not_of(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=:,+%") == std::string::npos;
    if (plain) {
      out += a;
    } else {
      out += '\'';
      for (char c : a) out += (c == '\'') ? std::string("'\\''") : std::string(1, c);
      out += '\'';
    }
  }
  return out;
}

Result<int> RunProcess(const ProcessSpec& spec) {
  if (spec.argv.empty()) return Status::InvalidArgument("empty command");
  std::vector<char*> args;
  for (const std::string& a : spec.argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return Status::Internal("fork failed: ", std::strerror(errno));
  if (pid == 0) {
    for (const auto& [k, v] : spec.env) setenv(k.c_str(), v.c_str(), 1);
    const int out = open(spec.stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = open(spec.stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0 || err < 0) _exit(126);
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    execvp(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return Status::Internal("waitpid failed: ", std::strerror(errno));
  }
  if (WIFEXITED(status)) {
    const int code = WEXITSTATUS(status);
    if (code == 127) return Status::NotFound("cannot execute ", spec.argv[0]);
    return code;
  }
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return Status::Internal("child ", spec.argv[0], " ended oddly");
}

Result<std::string> CaptureOutput(const std::vector<std::string>& argv) {
  char tmpl[] = "/tmp/benchgate-capture-XXXXXX";
  const int fd = mkstemp(tmpl);
  if (fd < 0) return Status::IOError("mkstemp failed");
  close(fd);
  ProcessSpec spec;
  spec.argv = argv;
  spec.stdout_path = tmpl;
  auto code = RunProcess(spec);
  auto text = ReadFile(tmpl);
  std::filesystem::remove(tmpl);
  if (!code) return code.error();
  if (*code != 0) return Status::Internal(ShellQuote(argv), " exited with code ", *code);
  return text;
}

}  // namespace engram::benchgate
