// The context of a run, recorded in every result so that numbers are never compared blind:
// when, where (host, CPU model and flags, cores, kernel), with what (compiler, build type, git
// commit of this binary), against what (scenario path and content hash, seed, endpoint).
#pragma once

#include <string>

#include <boost/json/object.hpp>

namespace engram::loadgen {

struct MachineInfo {
  std::string host, cpu_model, cpu_flags, kernel;
  int cores = 0;
  int cpu_family = -1, cpu_model_number = -1;  // /proc/cpuinfo "cpu family", "model"; -1 unknown
  double cpu_mhz = 0;                          // "cpu MHz" of the first CPU, now (it varies)
};
MachineInfo ReadMachineInfo();

// The fields of docs/result_schema.md's `context` that do not depend on the run's options.
boost::json::object BaseContext();

// The 1-minute load average (getloadavg), or -1 if unknown.
double LoadAverage1();

std::string LoadtestVersion();  // "0.1.0+<git commit>"
std::string GitCommit();        // the commit this binary was built from
std::string BuildType();        // CMAKE_BUILD_TYPE of this binary
std::string CompilerVersion();  // "g++ 12.2.0"

}  // namespace engram::loadgen
