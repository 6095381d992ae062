#include "benchgate/runner.h"

#include <cstdio>
#include <filesystem>
#include <set>
#include <sstream>

#include "benchgate/callgrind.h"
#include "benchgate/gbench_json.h"
#include "benchgate/json_util.h"
#include "benchgate/libraries.h"
#include "benchgate/process.h"

namespace engram::benchgate {

namespace fs = std::filesystem;

namespace {

std::string Stem(const std::string& binary) { return fs::path(binary).filename().string(); }

std::string FormatDouble(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}

Status CheckExit(const Result<int>& code, const std::vector<std::string>& argv,
                 const std::string& stderr_path) {
  if (!code) return code.error();
  if (*code == 0) return Status::Ok();
  std::string tail;
  if (auto err = ReadFile(stderr_path)) {
    tail = err->size() > 2000 ? err->substr(err->size() - 2000) : *err;
  }
  return Status::Internal(ShellQuote(argv), " exited with code ", *code, "; stderr (", stderr_path,
                          ") ends with:\n", tail);
}

}  // namespace

std::string ExactFilter(const std::string& name) {
  std::string out = "^";
  for (char c : name) {
    if (std::string_view(".[]{}()*+?^$|\\").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out + "(/iterations:[0-9]+)?$";
}

void StampResultSet(ResultSet& set, const Fingerprint& fp, const std::string& commit) {
  set.fingerprint = fp;
  set.platform = fp.arch + "-" + fp.os;
  set.cpu = fp.cpu_model;
  set.timestamp = UtcTimestamp();
  set.commit = commit;
}

Result<std::vector<std::string>> ListBenchmarks(const std::string& binary,
                                                const std::string& filter) {
  auto listing = CaptureOutput({binary, "--benchmark_list_tests=true", "--benchmark_filter=" + filter});
  if (!listing) return listing.error().WithContext("listing benchmarks");
  std::vector<std::string> names;
  std::set<std::string> seen;
  std::istringstream in(*listing);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::string name = NormalizeBenchmarkName(line);
    if (seen.insert(name).second) names.push_back(name);
  }
  return names;
}

namespace {

struct Side {
  std::vector<std::string> binaries;
  EnvList env;
  std::string tag;
  ResultSet set;
};

// The libraries `binaries` load, into `fp`. Without ldd (or for a static binary) they stay
// unrecorded: a comparison then says it could not check them.
void RecordLibraries(const std::vector<std::string>& binaries, Fingerprint& fp) {
  auto libraries = LibraryVersions(binaries);
  if (libraries) {
    fp.libraries = std::move(libraries).value();
  } else {
    std::fprintf(stderr, "bench-gate: the shared libraries are not recorded in the fingerprint: "
                 "%s\n", libraries.error().ToString().c_str());
  }
}

Status RunWallSides(const WallTimeOptions& o, std::vector<Side>& sides, const Fingerprint& host) {
  if (o.processes < 1 || o.repetitions < 1) {
    return Status::InvalidArgument("processes and repetitions must be at least 1");
  }
  fs::create_directories(o.work_dir);
  for (Side& side : sides) {
    if (side.binaries.empty()) return Status::InvalidArgument("no benchmark binaries given");
    side.set.fingerprint = host;
    RecordLibraries(side.binaries, side.set.fingerprint);
  }
  for (int p = 0; p < o.processes; ++p) {
    for (size_t k = 0; k < sides.size(); ++k) {
      // Alternate the order each round (A B, B A, ...) so neither side always runs first.
      Side& side = sides[(p % 2 == 0) ? k : sides.size() - 1 - k];
      for (size_t bi = 0; bi < side.binaries.size(); ++bi) {
        const std::string& binary = side.binaries[bi];
        const std::string base = o.work_dir + "/wall_" + side.tag + Stem(binary) + "_p" +
                                 std::to_string(p);
        ProcessSpec spec;
        spec.argv = {binary,
                     "--benchmark_filter=" + o.filter,
                     "--benchmark_repetitions=" + std::to_string(o.repetitions),
                     "--benchmark_min_time=" + FormatDouble(o.min_time),
                     "--benchmark_report_aggregates_only=false",
                     "--benchmark_out=" + base + ".json",
                     "--benchmark_out_format=json"};
        spec.env = side.env;
        spec.stdout_path = base + ".log";
        spec.stderr_path = base + ".err";
        fs::remove(base + ".json");
        if (o.verbose) {
          std::fprintf(stderr, "[wall_time] %sprocess %d/%d: %s\n", side.tag.c_str(), p + 1,
                       o.processes, ShellQuote(spec.argv).c_str());
        }
        ENGRAM_RETURN_IF_ERROR(CheckExit(RunProcess(spec), spec.argv, spec.stderr_path));
        if (!fs::exists(base + ".json")) continue;  // the filter matched nothing in this binary
        ENGRAM_ASSIGN_OR_RETURN(GbFile file, ReadGbenchJsonFile(base + ".json"));
        if (auto it = file.context.find("simd_target"); it != file.context.end() &&
                                                        !host.simd_target.empty() &&
                                                        it->second != host.simd_target) {
          return Status::FailedPrecondition(binary, " dispatched ", it->second,
                                            " but this build's kernels dispatch ",
                                            host.simd_target, ": binaries from another build?");
        }
        // One group per launch: the process run is the independent unit.
        const int group = p * static_cast<int>(side.binaries.size()) + static_cast<int>(bi);
        ENGRAM_RETURN_IF_ERROR(AddGbenchSamples({file}, o.time_metric, group, side.set));
      }
    }
  }
  for (Side& side : sides) {
    if (side.set.benchmarks.empty()) {
      return Status::NotFound("no benchmark matched the filter '", o.filter, "'");
    }
    Summarize(side.set);
  }
  return Status::Ok();
}

}  // namespace

Result<ResultSet> MeasureWallTime(const WallTimeOptions& o, const Fingerprint& host) {
  std::vector<Side> sides(1);
  sides[0].binaries = o.binaries;
  sides[0].env = o.env;
  ENGRAM_RETURN_IF_ERROR(RunWallSides(o, sides, host));
  return std::move(sides[0].set);
}

Result<std::pair<ResultSet, ResultSet>> MeasureWallTimeAB(const WallTimeOptions& o,
                                                          const std::vector<std::string>& b_binaries,
                                                          const EnvList& b_env,
                                                          const Fingerprint& host) {
  std::vector<Side> sides(2);
  sides[0].binaries = o.binaries;
  sides[0].env = o.env;
  sides[0].tag = "A_";
  sides[1].binaries = b_binaries;
  sides[1].env = b_env;
  sides[1].tag = "B_";
  ENGRAM_RETURN_IF_ERROR(RunWallSides(o, sides, host));
  return std::make_pair(std::move(sides[0].set), std::move(sides[1].set));
}

Result<ResultSet> MeasureInstructions(const InstructionOptions& o, const Fingerprint& host) {
  if (o.binaries.empty()) return Status::InvalidArgument("no benchmark binaries given");
  if (o.iterations < 1) return Status::InvalidArgument("iterations must be at least 1");
  fs::create_directories(o.work_dir);
  ResultSet set;
  set.fingerprint = host;
  auto version = CaptureOutput({o.valgrind, "--version"});
  if (!version) {
    return Status::FailedPrecondition("valgrind is needed for instruction counts: ",
                                      version.error().message());
  }
  std::string v = *version;
  while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) v.pop_back();
  set.fingerprint.valgrind_version = v;
  RecordLibraries(o.binaries, set.fingerprint);

  for (const std::string& binary : o.binaries) {
    ENGRAM_ASSIGN_OR_RETURN(std::vector<std::string> names, ListBenchmarks(binary, o.filter));
    if (names.empty()) continue;
    std::string lib_dir;
    if (o.patch_rdtscp && !HostAdvertisesRdtscp()) {
      auto prepared = PrepareValgrindLibraries(binary, o.work_dir + "/valgrind-libs");
      if (!prepared) return prepared.error().WithContext("preparing libraries for valgrind");
      lib_dir = *prepared;
    }
    for (size_t k = 0; k < names.size(); ++k) {
      const std::string& name = names[k];
      uint64_t ir[2] = {0, 0};
      for (int pass = 0; pass < 2; ++pass) {
        const int64_t n = o.iterations * (pass + 1);
        const std::string base = o.work_dir + "/cg_" + o.tag + Stem(binary) + "_" + std::to_string(k) +
                                 "_n" + std::to_string(n);
        ProcessSpec spec;
        spec.argv = {o.valgrind, "--tool=callgrind", "--callgrind-out-file=" + base + ".out",
                     "--toggle-collect=" + o.collect_function, binary, "--benchmark_filter=" + ExactFilter(name),
                     "--benchmark_out=" + base + ".json", "--benchmark_out_format=json"};
        spec.env = o.env;
        spec.env.emplace_back("ENGRAM_BENCH_FIXED_ITERATIONS", std::to_string(n));
        if (!lib_dir.empty()) {
          const char* old = std::getenv("LD_LIBRARY_PATH");
          spec.env.emplace_back("LD_LIBRARY_PATH",
                                lib_dir + (old != nullptr && *old ? std::string(":") + old : ""));
        }
        spec.stdout_path = base + ".log";
        spec.stderr_path = base + ".err";
        fs::remove(base + ".out");
        ENGRAM_RETURN_IF_ERROR(CheckExit(RunProcess(spec), spec.argv, spec.stderr_path));
        ENGRAM_ASSIGN_OR_RETURN(GbFile file, ReadGbenchJsonFile(base + ".json"));
        const GbRun* run = nullptr;
        for (const GbRun& r : file.runs) {
          if (!r.aggregate && r.benchmark == name) run = &r;
        }
        if (run == nullptr) return Status::Internal(binary, " did not run ", name, " under valgrind");
        if (run->error) return Status::Internal(name, " failed under valgrind: ", run->error_message);
        if (run->iterations != n) {
          return Status::FailedPrecondition(
              binary, " ran ", name, " for ", run->iterations, " iterations instead of ", n,
              ": it does not honour ENGRAM_BENCH_FIXED_ITERATIONS, so its instruction counts "
              "cannot be differenced");
        }
        if (auto it = file.context.find("simd_target"); it != file.context.end()) {
          if (!set.fingerprint.valgrind_simd_target.empty() &&
              set.fingerprint.valgrind_simd_target != it->second) {
            return Status::FailedPrecondition("binaries dispatch different SIMD targets under "
                                              "valgrind: ", set.fingerprint.valgrind_simd_target,
                                              " and ", it->second);
          }
          set.fingerprint.valgrind_simd_target = it->second;
        }
        if (auto it = file.context.find("injected_slowdown"); it != file.context.end()) {
          set.injected_slowdown = it->second;
        }
        ENGRAM_ASSIGN_OR_RETURN(std::string text, ReadFile(base + ".out"));
        auto total = ParseCallgrindTotal(text);
        if (!total) return total.error().WithContext(base + ".out");
        if (*total == 0) {
          return Status::FailedPrecondition(
              "callgrind collected no instructions inside '", o.collect_function, "' for ", name,
              ": is ", binary, " a Google Benchmark 1.7 binary? (see --collect-function)");
        }
        ir[pass] = *total;
      }
      if (ir[1] <= ir[0]) {
        return Status::Internal(name, ": ", 2 * o.iterations, " iterations executed no more "
                                "instructions than ", o.iterations, " (", ir[1], " vs ", ir[0], ")");
      }
      BenchmarkResult& b = set.benchmarks[name];
      b.instructions = static_cast<double>(ir[1] - ir[0]) / static_cast<double>(o.iterations);
      b.instruction_iterations = {o.iterations, 2 * o.iterations};
      if (o.verbose) {
        std::fprintf(stderr, "[instructions] %-45s %14.0f per iteration (%s under valgrind)\n",
                     name.c_str(), b.instructions, set.fingerprint.valgrind_simd_target.c_str());
      }
    }
  }
  if (set.benchmarks.empty()) {
    return Status::NotFound("no benchmark matched the filter '", o.filter, "'");
  }
  return set;
}

}  // namespace engram::benchgate
