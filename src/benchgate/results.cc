#include "benchgate/results.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <map>
#include <set>

#include "benchgate/json_util.h"
#include "benchgate/stats.h"

namespace engram::benchgate {

namespace json = boost::json;

bool ResultSet::HasMode(Mode mode) const {
  for (const auto& [_, b] : benchmarks) {
    if (mode == Mode::kWallTime ? b.has_wall_time() : b.has_instructions()) return true;
  }
  return false;
}

void Summarize(ResultSet& set, int resamples, uint64_t seed) {
  for (auto& [name, b] : set.benchmarks) {
    if (!b.has_wall_time()) continue;
    b.mean_ns = Mean(b.samples_ns);
    b.std_dev_ns = StdDev(b.samples_ns);
    b.median_ns = Median(b.samples_ns);
    Sample s{b.samples_ns, b.groups};
    const auto [low, high] = BootstrapMedianInterval(s, resamples, set.confidence, seed);
    b.ci_low_ns = low;
    b.ci_high_ns = high;
    // Number the process runs 0..k-1 in order of appearance (launch ids skip the other
    // binaries' launches), which keeps the file readable and changes no statistic.
    std::map<int, int> renumber;
    for (int& g : b.groups) g = renumber.emplace(g, static_cast<int>(renumber.size())).first->second;
    b.processes = b.groups.empty() ? 1 : static_cast<int>(renumber.size());
  }
}

Status AddGbenchSamples(const std::vector<GbFile>& files, const std::string& time_metric,
                        int first_group, ResultSet& set) {
  if (time_metric != "cpu_time" && time_metric != "real_time") {
    return Status::InvalidArgument("time metric must be cpu_time or real_time, not ", time_metric);
  }
  set.time_metric = time_metric;
  for (size_t i = 0; i < files.size(); ++i) {
    if (auto it = files[i].context.find("injected_slowdown"); it != files[i].context.end()) {
      set.injected_slowdown = it->second;
    }
    for (const GbRun& run : files[i].runs) {
      if (run.aggregate) continue;
      if (run.error) {
        return Status::Internal("benchmark ", run.name, " failed: ", run.error_message);
      }
      const double v = time_metric == "cpu_time" ? run.cpu_time_ns : run.real_time_ns;
      if (!(v > 0)) return Status::InvalidArgument("benchmark ", run.name, ": non-positive time");
      BenchmarkResult& b = set.benchmarks[run.benchmark];
      b.samples_ns.push_back(v);
      b.groups.push_back(first_group + static_cast<int>(i));
    }
  }
  return Status::Ok();
}

namespace {

// Major versions 1 (the spec's shape) and 2 read; a later one would be misread, so it is refused.
Status CheckFormatVersion(const std::string& version) {
  const int major = std::atoi(version.c_str());
  if (major > 2) {
    return Status::InvalidArgument("format version ", version, " is newer than this bench-gate ",
                                   "reads (up to ", kFormatVersion, "); rebuild bench-gate");
  }
  return Status::Ok();
}

json::value Int(double v) { return json::value(static_cast<int64_t>(std::llround(v))); }

}  // namespace

json::object ResultSetToJson(const ResultSet& set) {
  json::object o;
  o["version"] = set.version;
  o["platform"] = set.platform;
  o["cpu"] = set.cpu;
  o["timestamp"] = set.timestamp;
  o["commit"] = set.commit;
  o["fingerprint"] = FingerprintToJson(set.fingerprint);
  o["time_metric"] = set.time_metric;
  o["confidence"] = set.confidence;
  if (!set.injected_slowdown.empty()) o["injected_slowdown"] = set.injected_slowdown;
  json::object baselines;
  for (const auto& [name, b] : set.benchmarks) {
    json::object e;
    if (b.has_wall_time()) {
      e["mean_ns"] = Int(b.mean_ns);
      e["std_dev_ns"] = Int(b.std_dev_ns);
      e["sample_size"] = static_cast<int64_t>(b.samples_ns.size());
      e["median_ns"] = Int(b.median_ns);
      e["ci_low_ns"] = Int(b.ci_low_ns);
      e["ci_high_ns"] = Int(b.ci_high_ns);
      e["processes"] = b.processes;
      json::array samples, groups;
      for (double v : b.samples_ns) samples.push_back(Int(v));
      for (int g : b.groups) groups.emplace_back(g);
      e["samples_ns"] = std::move(samples);
      e["sample_groups"] = std::move(groups);
    }
    if (b.has_instructions()) {
      e["instructions"] = Int(b.instructions);
      json::array its;
      for (int64_t n : b.instruction_iterations) its.emplace_back(n);
      e["instructions_iterations"] = std::move(its);
    }
    baselines[name] = std::move(e);
  }
  o["baselines"] = std::move(baselines);
  return o;
}

Result<ResultSet> ResultSetFromJson(const json::object& o) {
  ResultSet set;
  set.version = StringOr(o, "version", kFormatVersion);
  ENGRAM_RETURN_IF_ERROR(CheckFormatVersion(set.version));
  set.platform = StringOr(o, "platform", "");
  set.cpu = StringOr(o, "cpu", "");
  set.timestamp = StringOr(o, "timestamp", "");
  set.commit = StringOr(o, "commit", "");
  if (const json::value* fp = o.if_contains("fingerprint"); fp != nullptr && fp->is_object()) {
    set.fingerprint = FingerprintFromJson(fp->as_object());
  }
  set.time_metric = StringOr(o, "time_metric", "cpu_time");
  set.confidence = NumberOr(o, "confidence", 0.95);
  set.injected_slowdown = StringOr(o, "injected_slowdown", "");
  const json::value* baselines = o.if_contains("baselines");
  if (baselines == nullptr || !baselines->is_object()) {
    return Status::InvalidArgument("result set without a \"baselines\" object");
  }
  for (const auto& [name, value] : baselines->as_object()) {
    if (!value.is_object()) return Status::InvalidArgument("baselines.", std::string(name), " is not an object");
    const json::object& e = value.as_object();
    BenchmarkResult b;
    if (const json::value* s = e.if_contains("samples_ns"); s != nullptr && s->is_array()) {
      for (const json::value& v : s->as_array()) {
        if (!v.is_number()) return Status::InvalidArgument(std::string(name), ": non-numeric sample");
        b.samples_ns.push_back(v.to_number<double>());
      }
    }
    if (const json::value* g = e.if_contains("sample_groups"); g != nullptr && g->is_array()) {
      for (const json::value& v : g->as_array()) b.groups.push_back(static_cast<int>(v.to_number<double>()));
    }
    if (!b.groups.empty() && b.groups.size() != b.samples_ns.size()) {
      return Status::InvalidArgument(std::string(name), ": sample_groups and samples_ns differ in length");
    }
    if (b.samples_ns.empty() && e.contains("mean_ns")) {
      // The spec's minimal shape (no raw samples): the mean stands in as a single sample, so
      // such a baseline can be compared but never gives a narrow interval.
      b.samples_ns.push_back(NumberOr(e, "mean_ns", 0));
    }
    b.mean_ns = NumberOr(e, "mean_ns", 0);
    b.std_dev_ns = NumberOr(e, "std_dev_ns", 0);
    b.median_ns = NumberOr(e, "median_ns", b.mean_ns);
    b.ci_low_ns = NumberOr(e, "ci_low_ns", 0);
    b.ci_high_ns = NumberOr(e, "ci_high_ns", 0);
    b.processes = static_cast<int>(NumberOr(e, "processes", 1));
    b.instructions = NumberOr(e, "instructions", 0);
    if (const json::value* its = e.if_contains("instructions_iterations"); its != nullptr && its->is_array()) {
      for (const json::value& v : its->as_array()) b.instruction_iterations.push_back(static_cast<int64_t>(v.to_number<double>()));
    }
    set.benchmarks[std::string(name)] = std::move(b);
  }
  return set;
}

Result<ResultSet> ReadResultSet(const std::string& path) {
  ENGRAM_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  auto doc = ParseJson(text);
  if (!doc) return doc.error().WithContext(path);
  if (!doc->is_object()) return Status::InvalidArgument(path, ": not a JSON object");
  auto set = ResultSetFromJson(doc->as_object());
  if (!set) return set.error().WithContext(path);
  return set;
}

Status WriteResultSet(const std::string& path, const ResultSet& set) {
  return WriteFileAtomic(path, PrettyJson(ResultSetToJson(set)));
}

Result<BaselinesFile> ReadBaselines(const std::string& path) {
  auto text = ReadFile(path);
  if (!text) {
    if (text.error().code() == StatusCode::kNotFound) return BaselinesFile{};
    return text.error();
  }
  auto doc = ParseJson(*text);
  if (!doc) return doc.error().WithContext(path);
  if (!doc->is_object()) return Status::InvalidArgument(path, ": not a JSON object");
  const json::object& root = doc->as_object();
  if (Status st = CheckFormatVersion(StringOr(root, "version", kFormatVersion)); !st.ok()) {
    return st.WithContext(path);
  }
  BaselinesFile file;
  const json::value* sets = root.if_contains("sets");
  if (sets == nullptr) {
    // A file in the spec's single-set shape.
    auto set = ResultSetFromJson(root);
    if (!set) return set.error().WithContext(path);
    file.sets.push_back(std::move(set).value());
    return file;
  }
  if (!sets->is_array()) return Status::InvalidArgument(path, ": \"sets\" is not an array");
  for (const json::value& s : sets->as_array()) {
    if (!s.is_object()) return Status::InvalidArgument(path, ": a set is not an object");
    auto set = ResultSetFromJson(s.as_object());
    if (!set) return set.error().WithContext(path);
    file.sets.push_back(std::move(set).value());
  }
  return file;
}

std::string BaselinesToText(const BaselinesFile& file) {
  json::object root;
  root["version"] = kFormatVersion;
  root["about"] =
      "Performance baselines per machine-and-build fingerprint. Written by "
      "scripts/update_baselines.sh; see docs/internal/performance_regression_guide.md.";
  json::array sets;
  for (const ResultSet& s : file.sets) sets.push_back(ResultSetToJson(s));
  root["sets"] = std::move(sets);
  return PrettyJson(root);
}

Status WriteBaselines(const std::string& path, const BaselinesFile& file) {
  return WriteFileAtomic(path, BaselinesToText(file));
}

namespace {

// How far a set is from `fp` for `mode`: (differences that matter, all differences).
std::pair<size_t, size_t> Distance(const ResultSet& s, const Fingerprint& fp, Mode mode) {
  const std::vector<FieldDifference> d = Differences(s.fingerprint, fp, mode);
  const size_t matter = static_cast<size_t>(
      std::count_if(d.begin(), d.end(), [](const FieldDifference& x) { return x.matters; }));
  return {matter, d.size()};
}

const ResultSet* Nearest(const BaselinesFile& file, const Fingerprint& fp, Mode mode,
                         bool comparable_only) {
  const ResultSet* best = nullptr;
  std::pair<size_t, size_t> best_distance{SIZE_MAX, SIZE_MAX};
  for (const ResultSet& s : file.sets) {
    if (!s.HasMode(mode)) continue;
    const auto distance = Distance(s, fp, mode);
    if (comparable_only && distance.first > 0) continue;
    if (distance < best_distance) best = &s, best_distance = distance;
  }
  return best;
}

}  // namespace

const ResultSet* FindBaseline(const BaselinesFile& file, const Fingerprint& fp, Mode mode) {
  return Nearest(file, fp, mode, /*comparable_only=*/true);
}

const ResultSet* ClosestBaseline(const BaselinesFile& file, const Fingerprint& fp, Mode mode) {
  return Nearest(file, fp, mode, /*comparable_only=*/false);
}

namespace {

// Same machine and build for the purpose of storing data: no field differs where both sides
// know it. A field only one side knows (the Valgrind target of a set that so far holds wall
// times, the libraries of a set written before format 2.1) is filled in, not a difference. All
// fields count, whatever the mode: a set holds both modes' data.
bool SameMachine(const Fingerprint& stored, const Fingerprint& measured) {
  for (const std::string& field : FingerprintFields()) {
    const std::string a = FieldValue(stored, field), b = FieldValue(measured, field);
    if (!a.empty() && !b.empty() && a != b) return false;
  }
  return true;
}

// Fills the fields a set may lack (those only some measurements record) from `measured`;
// returns a line per field filled, for the update's diff.
std::string FillUnknownFields(Fingerprint& stored, const Fingerprint& measured) {
  std::string diff;
  for (const char* field :
       {"simd_target", "valgrind_simd_target", "valgrind_version", "libraries"}) {
    if (!FieldValue(stored, field).empty() || FieldValue(measured, field).empty()) continue;
    diff += std::string("  fingerprint: ") + field + " now recorded: '" +
            FieldValue(measured, field) + "'\n";
  }
  auto fill = [](auto& a, const auto& b) { if (a.empty()) a = b; };
  fill(stored.simd_target, measured.simd_target);
  fill(stored.valgrind_simd_target, measured.valgrind_simd_target);
  fill(stored.valgrind_version, measured.valgrind_version);
  fill(stored.libraries, measured.libraries);
  return diff;
}

std::string Percent(double from, double to) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%+.1f%%", from > 0 ? 100.0 * (to / from - 1.0) : 0.0);
  return buf;
}

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.0f", v);
  return buf;
}

}  // namespace

std::string UpsertBaseline(BaselinesFile& file, const ResultSet& measured, Mode mode) {
  ResultSet* target = nullptr;
  for (ResultSet& s : file.sets) {
    if (SameMachine(s.fingerprint, measured.fingerprint)) {
      target = &s;
      break;
    }
  }
  std::string diff;
  if (target == nullptr) {
    file.sets.emplace_back();
    target = &file.sets.back();
    target->fingerprint = measured.fingerprint;
    diff += "new fingerprint: " + Describe(measured.fingerprint) + "\n";
  } else {
    diff += FillUnknownFields(target->fingerprint, measured.fingerprint);
  }
  target->version = kFormatVersion;
  target->platform = measured.platform;
  target->cpu = measured.cpu;
  target->timestamp = measured.timestamp;
  target->commit = measured.commit;
  target->confidence = measured.confidence;
  if (mode == Mode::kWallTime) target->time_metric = measured.time_metric;
  for (const auto& [name, m] : measured.benchmarks) {
    const bool has = mode == Mode::kWallTime ? m.has_wall_time() : m.has_instructions();
    if (!has) continue;
    auto it = target->benchmarks.find(name);
    const bool existed = it != target->benchmarks.end() &&
                         (mode == Mode::kWallTime ? it->second.has_wall_time()
                                                  : it->second.has_instructions());
    BenchmarkResult& b = target->benchmarks[name];
    if (mode == Mode::kWallTime) {
      diff += "  " + name + ": median_ns " + (existed ? Num(b.median_ns) + " -> " : "new ") +
              Num(m.median_ns) + (existed ? " (" + Percent(b.median_ns, m.median_ns) + ")" : "") +
              ", 95% CI [" + Num(m.ci_low_ns) + ", " + Num(m.ci_high_ns) + "], n=" +
              std::to_string(m.samples_ns.size()) + "\n";
      b.samples_ns = m.samples_ns;
      b.groups = m.groups;
      b.mean_ns = m.mean_ns;
      b.std_dev_ns = m.std_dev_ns;
      b.median_ns = m.median_ns;
      b.ci_low_ns = m.ci_low_ns;
      b.ci_high_ns = m.ci_high_ns;
      b.processes = m.processes;
    } else {
      diff += "  " + name + ": instructions " + (existed ? Num(b.instructions) + " -> " : "new ") +
              Num(m.instructions) +
              (existed ? " (" + Percent(b.instructions, m.instructions) + ")" : "") + "\n";
      b.instructions = m.instructions;
      b.instruction_iterations = m.instruction_iterations;
    }
  }
  for (const auto& [name, b] : target->benchmarks) {
    const bool has = mode == Mode::kWallTime ? b.has_wall_time() : b.has_instructions();
    if (has && measured.benchmarks.count(name) == 0) {
      diff += "  " + name + ": not measured this time, kept\n";
    }
  }
  return diff;
}

}  // namespace engram::benchgate
