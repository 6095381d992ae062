// Competitor baselines are data: docs/reference/competitive_baselines.json holds each figure
// with its system, workload, metric, value, unit, dataset, hardware, source, date and the
// scenario files it is compared against. Nothing about a competitor is compiled in.
//
// Threading: values.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace engram::analysis {

struct CompetitiveBaseline {
  std::string system;    // "Neo4j"
  std::string workload;  // "1-hop traversal"
  std::string metric;    // "p99_latency_ms" or "throughput_ops_per_sec" (others are listed only)
  std::optional<double> value;  // nullopt: "not measured here"
  std::string unit;
  std::string dataset;
  std::string hardware;
  std::string source;
  std::string date;
  std::vector<std::string> scenarios;  // scenario file stems this figure is compared against
  std::string note;
};

struct BaselineFile {
  std::string path;
  std::vector<CompetitiveBaseline> baselines;

  // Entries with a value whose scenarios include `scenario_stem` and whose metric is `metric`.
  std::vector<CompetitiveBaseline> Find(const std::string& scenario_stem,
                                        const std::string& metric) const;
};

inline constexpr char kMetricP99Ms[] = "p99_latency_ms";
inline constexpr char kMetricThroughput[] = "throughput_ops_per_sec";

// Reads the baselines file. Refuses a file that is not JSON, lacks `baselines`, or has an entry
// without system, metric, source or scenario.
Result<BaselineFile> LoadBaselines(const std::string& path);
Result<BaselineFile> ParseBaselines(std::string_view json_text, std::string_view name);

}  // namespace engram::analysis
