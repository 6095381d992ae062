// The capacity file (`$ENGRAM_PERF_DIR/capacity.json`, docs/capacity.md): the sustainable rate
// of each scenario on each machine, as `engram-perf capacity` measured it. One model, one
// reader, one writer: the capacity command writes it; `engram-perf headroom` (which the check
// script runs before it measures) and `engram-perf compare` (which names the sustainable rate
// when it refuses a saturated baseline) read it.
//
// Layout: {"schema_version": 1, "scenarios": {"<scenario path>": [entry, ...]}}, at most one
// entry per machine (CapacityMachine::SameAs) under each scenario path. A new measurement of
// a scenario on a machine replaces the old one.
//
// Threading: values and pure functions, plus file reads and an atomic write.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace engram::analysis {

inline constexpr int kCapacitySchemaVersion = 1;

struct CapacityMachine {
  std::string host;
  std::string cpu_model;     // /proc/cpuinfo "model name"
  int cpu_family = -1;       // "cpu family", -1 unknown
  int cpu_model_number = -1; // "model", -1 unknown
  double cpu_mhz = 0;        // "cpu MHz" when measured (it varies; recorded, not matched)
  int cores = 0;             // CPUs of the machine

  // A measurement is valid for a machine with the same CPU model name and core count.
  bool SameAs(const std::string& other_cpu_model, int other_cores) const {
    return cpu_model == other_cpu_model && cores == other_cores;
  }
  std::string Describe() const;  // "AMD EPYC 7B13 (family 25 model 1, 2450 MHz), 2 cores, host x"
};

// One constant-rate step of the search.
struct CapacityStep {
  double rate = 0;       // offered, ops/s
  int attempt = 1;       // 1, 2, ... at this rate
  bool sustained = false;
  std::string verdict;   // "sustained", "saturated", "generator late" (lag over the limit, not the server's)
  double achieved_ops_per_sec = 0;
  double schedule_lag_p99_ms = 0;
  double generator_lag_p99_ms = 0;
  double p99_latency_ms = 0;
  int64_t backlog_end = 0;
  double backlog_limit = 0;
  double backlog_slope_per_sec = 0;
  uint64_t operations = 0, errors = 0, shed = 0, timeouts = 0;
  uint64_t space_episodes_at_start = 0;  // episodes in the scenario's spaces when the step began
  double seconds = 0;                    // measured seconds
  std::vector<std::string> reasons;      // the saturation rule's reasons, when saturated
};

struct CapacityEntry {
  std::string scenario_path;  // as given, relative to the repository when inside it
  std::string scenario_hash;  // content hash (the result files' context.scenario_hash)
  std::string scenario_name;
  double scenario_rate = 0;   // the scenario's own mean rate, ops/s
  CapacityMachine machine;
  std::string measured_utc;
  std::string git_commit;     // of engram-perf (the harness) and, where known, the server
  std::string server_binary;

  // How it was measured.
  uint64_t dataset_nodes = 0;   // episodes preloaded: the scenario's size at its end
  double step_seconds = 0, warmup_seconds = 0;
  int repeats = 0;              // runs per rate at most; a rate passes on a majority
  double growth = 0;            // rate factor of the upward search
  double tolerance = 0;         // bisect until high / low <= 1 + tolerance
  double max_growth = 0;        // restart once the space exceeds dataset_nodes by this fraction
  std::string server_cpus, loadgen_cpus;  // "0", "1"; "" when not pinned
  std::string server_args;
  int restarts = 0;             // server (re)starts, each with a fresh data directory

  std::vector<CapacityStep> steps;
  std::optional<double> sustainable_ops_per_sec;  // nullopt: not even the lowest rate tried
  std::optional<double> lowest_failed_ops_per_sec;
  std::string outcome;  // "found", "at_max_rate", "below_min_rate", "budget_exhausted"
  std::string note;

  // sustainable / scenario_rate; 0 when unknown.
  double ratio() const {
    return sustainable_ops_per_sec && scenario_rate > 0 ? *sustainable_ops_per_sec / scenario_rate : 0;
  }
};

struct CapacityFile {
  std::string path;
  std::vector<CapacityEntry> entries;

  // Replaces the entry of the same scenario path on the same machine, or adds it.
  void Put(CapacityEntry entry);
  // The entry for this scenario content on this machine, else nullptr.
  const CapacityEntry* Find(const std::string& scenario_hash, const std::string& cpu_model, int cores) const;
  // Entries for the scenario file (by path, or by file name when the paths differ) on any
  // machine and of any content: what to mention when Find() has nothing.
  std::vector<const CapacityEntry*> Related(const std::string& scenario_path) const;
};

// NotFound when the file does not exist; InvalidArgument naming the field when it is damaged.
Result<CapacityFile> LoadCapacityFile(const std::string& path);
std::string CapacityFileToJson(const CapacityFile& file);
// Reads `path` if it exists (a damaged file is an error, not overwritten), puts the entry and
// writes the file atomically.
Status StoreCapacity(const std::string& path, CapacityEntry entry);

// What the check prints before it measures (engram-perf headroom): the scenario's rate against
// its stored sustainable rate on this machine.
struct Headroom {
  enum class Level { kOk, kWarning, kNote };
  Level level = Level::kNote;
  std::string text;  // one paragraph, starting "Headroom:", "WARNING:" or "Note:"
};
// `file` may be null (no capacity file at `file_path`). WARNING when `rate` is above
// `max_share` of the stored sustainable rate (or no rate was sustainable); a Note naming the
// command that measures it when nothing is stored for this scenario content and machine.
Headroom CheckHeadroom(const CapacityFile* file, const std::string& file_path,
                       const std::string& scenario_path, const std::string& scenario_hash,
                       double rate, const std::string& cpu_model, int cores, double max_share = 0.5);

// "620 ops/s (0.62x of the scenario's 1000; measured 2026-12-02T10:00:00Z at abc123 on AMD ...)".
std::string DescribeCapacity(const CapacityEntry& e);

}  // namespace engram::analysis
