#include "loadgen/context.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <thread>

#include "core/clock.h"

#ifndef ENGRAM_BUILD_TYPE
#define ENGRAM_BUILD_TYPE "unknown"
#endif
#ifndef ENGRAM_GIT_COMMIT
#define ENGRAM_GIT_COMMIT "unknown"
#endif
#ifndef ENGRAM_VERSION
#define ENGRAM_VERSION "0.0.0"
#endif

namespace engram::loadgen {

namespace {
std::string Trim(std::string s) {
  const auto b = s.find_first_not_of(" \t");
  const auto e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}
}  // namespace

MachineInfo ReadMachineInfo() {
  MachineInfo m;
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) == 0) m.host = host;
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = Trim(line.substr(0, colon));
    if (key == "model name" && m.cpu_model.empty()) m.cpu_model = Trim(line.substr(colon + 1));
    if (key == "flags" && m.cpu_flags.empty()) m.cpu_flags = Trim(line.substr(colon + 1));
    const std::string value = Trim(line.substr(colon + 1));
    if (key == "cpu family" && m.cpu_family < 0) m.cpu_family = std::atoi(value.c_str());
    if (key == "model" && m.cpu_model_number < 0) m.cpu_model_number = std::atoi(value.c_str());
    if (key == "cpu MHz" && m.cpu_mhz == 0) m.cpu_mhz = std::atof(value.c_str());
  }
  struct utsname u;
  if (uname(&u) == 0) m.kernel = std::string(u.sysname) + " " + u.release + " " + u.version + " " + u.machine;
  m.cores = static_cast<int>(std::thread::hardware_concurrency());
  return m;
}

double LoadAverage1() {
  double l[1];
  return getloadavg(l, 1) == 1 ? l[0] : -1;
}

std::string LoadtestVersion() { return std::string(ENGRAM_VERSION) + "+" + ENGRAM_GIT_COMMIT; }
std::string GitCommit() { return ENGRAM_GIT_COMMIT; }
std::string BuildType() { return ENGRAM_BUILD_TYPE; }
std::string CompilerVersion() {
#if defined(__clang__)
  return std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  return std::string("g++ ") + __VERSION__;
#else
  return __VERSION__;
#endif
}

boost::json::object BaseContext() {
  const MachineInfo m = ReadMachineInfo();
  boost::json::object c;
  c["time_utc"] = FormatUtc(WallMicros());
  c["host"] = m.host;
  c["cpu_model"] = m.cpu_model;
  c["cpu_flags"] = m.cpu_flags;
  c["cores"] = m.cores;
  c["load_average"] = LoadAverage1();  // at the start: a busy machine is part of the result
  c["kernel"] = m.kernel;
  c["compiler"] = CompilerVersion();
  c["build_type"] = BuildType();
  c["git_commit"] = GitCommit();
  c["loadtest_version"] = LoadtestVersion();
  return c;
}

}  // namespace engram::loadgen
