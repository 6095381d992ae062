#include "benchgate/gbench_json.h"

#include <boost/json.hpp>

#include "benchgate/json_util.h"

namespace engram::benchgate {

namespace json = boost::json;

std::string NormalizeBenchmarkName(std::string_view run_name) {
  static constexpr std::string_view kOptionPrefixes[] = {
      "iterations:", "repeats:", "min_time:", "min_warmup_time:", "threads:"};
  static constexpr std::string_view kOptionFlags[] = {"real_time", "manual_time", "process_time"};
  std::string out;
  size_t start = 0;
  bool first = true;
  while (start <= run_name.size()) {
    size_t end = run_name.find('/', start);
    if (end == std::string_view::npos) end = run_name.size();
    const std::string_view token = run_name.substr(start, end - start);
    bool option = false;
    if (!first) {
      for (std::string_view p : kOptionPrefixes) option = option || token.starts_with(p);
      for (std::string_view f : kOptionFlags) option = option || token == f;
    }
    if (!option) {
      if (!first) out.push_back('/');
      out.append(token);
    }
    first = false;
    start = end + 1;
  }
  return out;
}

double NanosPerUnit(std::string_view unit) {
  if (unit == "ns") return 1.0;
  if (unit == "us") return 1e3;
  if (unit == "ms") return 1e6;
  if (unit == "s") return 1e9;
  return 0.0;
}

Result<GbFile> ParseGbenchJson(std::string_view text) {
  ENGRAM_ASSIGN_OR_RETURN(json::value doc, ParseJson(text));
  if (!doc.is_object()) return Status::InvalidArgument("not a Google Benchmark JSON object");
  const json::object& root = doc.as_object();
  GbFile file;
  if (const json::value* ctx = root.if_contains("context"); ctx != nullptr && ctx->is_object()) {
    for (const auto& [key, value] : ctx->as_object()) {
      if (value.is_string()) {
        file.context[std::string(key)] = std::string(value.as_string());
      } else if (value.is_number() || value.is_bool()) {
        file.context[std::string(key)] = json::serialize(value);
      }
    }
  }
  const json::value* benchmarks = root.if_contains("benchmarks");
  if (benchmarks == nullptr || !benchmarks->is_array()) {
    return Status::InvalidArgument("no \"benchmarks\" array: not Google Benchmark JSON output");
  }
  static const std::string_view kKnown[] = {
      "family_index", "per_family_instance_index", "repetitions", "repetition_index", "threads",
      "iterations", "real_time", "cpu_time"};
  for (const json::value& entry : benchmarks->as_array()) {
    if (!entry.is_object()) return Status::InvalidArgument("benchmarks[] entry is not an object");
    const json::object& b = entry.as_object();
    GbRun run;
    run.name = StringOr(b, "name", "");
    const std::string run_name = StringOr(b, "run_name", run.name);
    run.benchmark = NormalizeBenchmarkName(run_name);
    if (run.name.empty()) return Status::InvalidArgument("benchmarks[] entry without a name");
    run.aggregate = StringOr(b, "run_type", "iteration") == "aggregate";
    run.aggregate_name = StringOr(b, "aggregate_name", "");
    run.repetition_index = static_cast<int64_t>(NumberOr(b, "repetition_index", 0));
    run.iterations = static_cast<int64_t>(NumberOr(b, "iterations", 0));
    if (const json::value* e = b.if_contains("error_occurred"); e != nullptr && e->is_bool()) {
      run.error = e->as_bool();
    }
    run.error_message = StringOr(b, "error_message", "");
    const std::string unit = StringOr(b, "time_unit", "ns");
    const double scale = NanosPerUnit(unit);
    if (scale == 0.0) {
      return Status::InvalidArgument("benchmark '", run.name, "': unknown time_unit '", unit, "'");
    }
    run.real_time_ns = NumberOr(b, "real_time", 0) * scale;
    run.cpu_time_ns = NumberOr(b, "cpu_time", 0) * scale;
    for (const auto& [key, value] : b) {
      if (!value.is_number()) continue;
      bool known = false;
      for (std::string_view k : kKnown) known = known || key == k;
      if (!known) run.counters[std::string(key)] = value.to_number<double>();
    }
    file.runs.push_back(std::move(run));
  }
  return file;
}

Result<GbFile> ReadGbenchJsonFile(const std::string& path) {
  ENGRAM_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  auto parsed = ParseGbenchJson(text);
  if (!parsed) return parsed.error().WithContext(path);
  return parsed;
}

}  // namespace engram::benchgate
