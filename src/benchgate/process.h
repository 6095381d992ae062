// Running a benchmark binary (or valgrind) as a child process with extra environment variables,
// its output sent to files. Used by the runners; nothing else in benchgate forks.
//
// Threading: blocks the calling thread until the child exits.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/status.h"

namespace engram::benchgate {

struct ProcessSpec {
  std::vector<std::string> argv;                            // argv[0] looked up in PATH
  std::vector<std::pair<std::string, std::string>> env;     // set in the child only
  std::string stdout_path = "/dev/null";
  std::string stderr_path = "/dev/null";
};

// Returns the child's exit code (128 + signal when it was killed), or an error when it could
// not be started.
Result<int> RunProcess(const ProcessSpec& spec);

// Runs and returns what the child wrote to stdout (stderr discarded), or an error naming the
// command when it could not run or exited non-zero.
Result<std::string> CaptureOutput(const std::vector<std::string>& argv);

std::string ShellQuote(const std::vector<std::string>& argv);

}  // namespace engram::benchgate
