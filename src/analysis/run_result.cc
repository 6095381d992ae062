#include "analysis/run_result.h"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

namespace engram::analysis {

namespace json = boost::json;

namespace {

// Field access that names the missing or mistyped field in its error.
class Reader {
 public:
  explicit Reader(std::string_view file) : file_(file) {}

  Result<const json::object*> Object(const json::object& parent, std::string_view key,
                                     std::string_view path) const {
    const json::value* v = parent.if_contains(key);
    if (v == nullptr) return Missing(path);
    if (!v->is_object()) return WrongType(path, "an object");
    return &v->get_object();
  }
  Result<const json::array*> Array(const json::object& parent, std::string_view key,
                                   std::string_view path) const {
    const json::value* v = parent.if_contains(key);
    if (v == nullptr) return Missing(path);
    if (!v->is_array()) return WrongType(path, "an array");
    return &v->get_array();
  }
  Result<double> Number(const json::object& parent, std::string_view key,
                        std::string_view path) const {
    const json::value* v = parent.if_contains(key);
    if (v == nullptr) return Missing(path);
    if (v->is_double()) return v->get_double();
    if (v->is_int64()) return static_cast<double>(v->get_int64());
    if (v->is_uint64()) return static_cast<double>(v->get_uint64());
    return WrongType(path, "a number");
  }
  Result<uint64_t> Count(const json::object& parent, std::string_view key,
                         std::string_view path) const {
    const json::value* v = parent.if_contains(key);
    if (v == nullptr) return Missing(path);
    if (v->is_uint64()) return v->get_uint64();
    if (v->is_int64() && v->get_int64() >= 0) return static_cast<uint64_t>(v->get_int64());
    if (v->is_double() && v->get_double() >= 0 && v->get_double() < 1.8e19 &&
        v->get_double() == static_cast<double>(static_cast<uint64_t>(v->get_double()))) {
      return static_cast<uint64_t>(v->get_double());
    }
    return WrongType(path, "a non-negative integer");
  }
  Result<bool> Bool(const json::object& parent, std::string_view key, std::string_view path) const {
    const json::value* v = parent.if_contains(key);
    if (v == nullptr) return Missing(path);
    if (!v->is_bool()) return WrongType(path, "true or false");
    return v->get_bool();
  }
  Result<std::string> String(const json::object& parent, std::string_view key,
                             std::string_view path) const {
    const json::value* v = parent.if_contains(key);
    if (v == nullptr) return Missing(path);
    if (!v->is_string()) return WrongType(path, "a string");
    return std::string(v->get_string());
  }
  // An optional string: "" when absent or not a string.
  static std::string StringOr(const json::object& parent, std::string_view key) {
    const json::value* v = parent.if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
  }

  Status Missing(std::string_view path) const {
    return Status::InvalidArgument(file_, ": missing required field '", path,
                                   "' (docs/result_schema.md)");
  }
  Status WrongType(std::string_view path, std::string_view want) const {
    return Status::InvalidArgument(file_, ": field '", path, "' must be ", want);
  }
  Status Bad(std::string_view what) const { return Status::InvalidArgument(file_, ": ", what); }

 private:
  std::string file_;
};

Result<RunResult> Parse(const json::object& root, std::string_view name) {
  Reader r(name);
  RunResult run;
  run.path = std::string(name);

  ENGRAM_ASSIGN_OR_RETURN(double version, r.Number(root, "schema_version", "schema_version"));
  if (version != 1) {
    return r.Bad("schema_version is " + json::serialize(root.at("schema_version")) +
                 ", this engram-perf reads schema_version 1 only");
  }
  ENGRAM_ASSIGN_OR_RETURN(run.config_name, r.String(root, "config_name", "config_name"));
  ENGRAM_ASSIGN_OR_RETURN(run.elapsed_seconds,
                          r.Number(root, "elapsed_seconds", "elapsed_seconds"));
  ENGRAM_ASSIGN_OR_RETURN(run.total_operations,
                          r.Count(root, "total_operations", "total_operations"));
  ENGRAM_ASSIGN_OR_RETURN(run.total_errors, r.Count(root, "total_errors", "total_errors"));
  ENGRAM_ASSIGN_OR_RETURN(run.overall_throughput,
                          r.Number(root, "overall_throughput", "overall_throughput"));
  ENGRAM_ASSIGN_OR_RETURN(run.overall_error_rate,
                          r.Number(root, "overall_error_rate", "overall_error_rate"));
  ENGRAM_ASSIGN_OR_RETURN(run.p50_latency_ms, r.Number(root, "p50_latency_ms", "p50_latency_ms"));
  ENGRAM_ASSIGN_OR_RETURN(run.p95_latency_ms, r.Number(root, "p95_latency_ms", "p95_latency_ms"));
  ENGRAM_ASSIGN_OR_RETURN(run.p99_latency_ms, r.Number(root, "p99_latency_ms", "p99_latency_ms"));
  if (run.total_errors > run.total_operations) {
    return r.Bad("total_errors exceeds total_operations");
  }

  ENGRAM_ASSIGN_OR_RETURN(const json::object* rate, r.Object(root, "rate", "rate"));
  ENGRAM_ASSIGN_OR_RETURN(run.target_ops_per_sec,
                          r.Number(*rate, "target_ops_per_sec", "rate.target_ops_per_sec"));
  ENGRAM_ASSIGN_OR_RETURN(run.achieved_ops_per_sec,
                          r.Number(*rate, "achieved_ops_per_sec", "rate.achieved_ops_per_sec"));
  ENGRAM_ASSIGN_OR_RETURN(run.generator_saturated,
                          r.Bool(*rate, "generator_saturated", "rate.generator_saturated"));
  if (rate->contains("server_saturated")) {
    ENGRAM_ASSIGN_OR_RETURN(run.server_saturated,
                            r.Bool(*rate, "server_saturated", "rate.server_saturated"));
  }
  if (const json::value* lag = rate->if_contains("schedule_lag_ms"); lag && lag->is_object()) {
    if (const json::value* p99 = lag->get_object().if_contains("p99"); p99 && p99->is_number()) {
      run.schedule_lag_p99_ms = p99->to_number<double>();
    }
  }
  if (const json::value* sat = root.if_contains("saturation"); sat && sat->is_object()) {
    if (const json::value* reasons = sat->get_object().if_contains("reasons");
        reasons && reasons->is_array()) {
      for (const json::value& x : reasons->get_array()) {
        if (x.is_string()) run.saturation_reasons.emplace_back(x.get_string());
      }
    }
  }

  ENGRAM_ASSIGN_OR_RETURN(const json::object* context, r.Object(root, "context", "context"));
  ENGRAM_ASSIGN_OR_RETURN(run.scenario_hash,
                          r.String(*context, "scenario_hash", "context.scenario_hash"));
  {
    const json::value* seed = context->if_contains("seed");
    if (seed == nullptr) return r.Missing("context.seed");
    if (seed->is_string()) {
      run.seed_text = std::string(seed->get_string());
    } else if (seed->is_uint64() || seed->is_int64()) {
      run.seed_text = json::serialize(*seed);
    } else {
      return r.WrongType("context.seed", "a string such as \"0xdeadbeef\"");
    }
    auto parsed = ParseSeed(run.seed_text);
    if (!parsed.ok()) return r.Bad("context.seed: " + parsed.error().message());
    run.seed = *parsed;
  }
  run.scenario_path = Reader::StringOr(*context, "scenario_path");
  run.time_utc = Reader::StringOr(*context, "time_utc");
  run.host = Reader::StringOr(*context, "host");
  run.cpu_model = Reader::StringOr(*context, "cpu_model");
  if (const json::value* cores = context->if_contains("cores"); cores && cores->is_number()) {
    run.cores = static_cast<int>(cores->to_number<double>());
  }
  run.git_commit = Reader::StringOr(*context, "git_commit");

  ENGRAM_ASSIGN_OR_RETURN(const json::object* validation,
                          r.Object(root, "validation", "validation"));
  ENGRAM_ASSIGN_OR_RETURN(run.validation_passed,
                          r.Bool(*validation, "passed", "validation.passed"));
  ENGRAM_ASSIGN_OR_RETURN(const json::array* checks,
                          r.Array(*validation, "checks", "validation.checks"));
  for (size_t i = 0; i < checks->size(); ++i) {
    const std::string at = "validation.checks[" + std::to_string(i) + "]";
    if (!(*checks)[i].is_object()) return r.WrongType(at, "an object");
    const json::object& c = (*checks)[i].get_object();
    ValidationCheck check;
    ENGRAM_ASSIGN_OR_RETURN(check.name, r.String(c, "name", at + ".name"));
    ENGRAM_ASSIGN_OR_RETURN(check.limit, r.Number(c, "limit", at + ".limit"));
    ENGRAM_ASSIGN_OR_RETURN(check.actual, r.Number(c, "actual", at + ".actual"));
    ENGRAM_ASSIGN_OR_RETURN(check.passed, r.Bool(c, "passed", at + ".passed"));
    run.checks.push_back(std::move(check));
  }

  ENGRAM_ASSIGN_OR_RETURN(const json::array* segments, r.Array(root, "segments", "segments"));
  for (size_t i = 0; i < segments->size(); ++i) {
    const std::string at = "segments[" + std::to_string(i) + "]";
    if (!(*segments)[i].is_object()) return r.WrongType(at, "an object");
    const json::object& s = (*segments)[i].get_object();
    Segment seg;
    ENGRAM_ASSIGN_OR_RETURN(seg.start_second, r.Number(s, "start_second", at + ".start_second"));
    ENGRAM_ASSIGN_OR_RETURN(seg.end_second, r.Number(s, "end_second", at + ".end_second"));
    ENGRAM_ASSIGN_OR_RETURN(seg.ops, r.Count(s, "ops", at + ".ops"));
    ENGRAM_ASSIGN_OR_RETURN(seg.errors, r.Count(s, "errors", at + ".errors"));
    ENGRAM_ASSIGN_OR_RETURN(std::string encoded,
                            r.String(s, "latency_histogram", at + ".latency_histogram"));
    if (!(seg.end_second > seg.start_second)) {
      return r.Bad(at + ": end_second must be after start_second");
    }
    auto hist = Histogram::Decode(encoded);
    if (!hist.ok()) return r.Bad(at + ".latency_histogram: " + hist.error().message());
    seg.latency = SparseHistogram::From(*hist);
    run.segments.push_back(std::move(seg));
  }
  return run;
}

}  // namespace

std::string RunResult::ScenarioStem() const {
  std::string_view p = scenario_path;
  if (const auto slash = p.find_last_of('/'); slash != std::string_view::npos) {
    p.remove_prefix(slash + 1);
  }
  if (p.size() > 5 && p.substr(p.size() - 5) == ".toml") p.remove_suffix(5);
  return std::string(p);
}

std::optional<ValidationCheck> RunResult::ErrorRateCheck() const {
  for (const ValidationCheck& c : checks) {
    if (c.name == "max_error_rate") return c;
  }
  return std::nullopt;
}

std::string RunResult::FailedChecks() const {
  std::string out;
  for (const ValidationCheck& c : checks) {
    if (c.passed) continue;
    out += fmt::format("{}{} (limit {:g}, actual {:.4g})", out.empty() ? "" : ", ", c.name, c.limit,
                       c.actual);
  }
  return out;
}

std::string RunResult::SaturationText() const {
  std::string out = "server_saturated";
  for (size_t i = 0; i < saturation_reasons.size(); ++i) {
    out += (i == 0 ? ": " : "; ") + saturation_reasons[i];
  }
  return out;
}

bool RunResult::ServerLimited() const {
  return !generator_saturated && target_ops_per_sec > 0 &&
         achieved_ops_per_sec < 0.9 * target_ops_per_sec;
}

Result<uint64_t> ParseSeed(std::string_view text) {
  int base = 10;
  std::string_view digits = text;
  if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
    base = 16;
    digits.remove_prefix(2);
  }
  uint64_t value = 0;
  const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value, base);
  if (digits.empty() || ec != std::errc() || ptr != digits.data() + digits.size()) {
    return Status::InvalidArgument("'", text, "' is not a 64-bit seed (decimal or 0x hex)");
  }
  return value;
}

Result<RunResult> ParseRunResult(std::string_view json_text, std::string_view name) {
  boost::system::error_code ec;
  json::value doc = json::parse(json_text, ec);
  if (ec) {
    return Status::InvalidArgument(name, ": not valid JSON (", ec.message(), ")");
  }
  if (!doc.is_object()) {
    return Status::InvalidArgument(name, ": a result file must hold one JSON object");
  }
  return Parse(doc.get_object(), name);
}

Result<RunResult> LoadRunResult(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::NotFound(path, ": cannot read (", std::strerror(errno), ")");
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::IOError(path, ": read failed");
  return ParseRunResult(text.str(), path);
}

}  // namespace engram::analysis
