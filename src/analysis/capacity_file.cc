#include "analysis/capacity_file.h"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <filesystem>
#include <map>

#include "core/files.h"

namespace engram::analysis {

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

json::value OptionalNumber(const std::optional<double>& v) {
  return v ? json::value(*v) : json::value(nullptr);
}

json::object MachineToJson(const CapacityMachine& m) {
  return json::object{{"host", m.host},         {"cpu_model", m.cpu_model}, {"cpu_family", m.cpu_family},
                      {"cpu_model_number", m.cpu_model_number}, {"cpu_mhz", m.cpu_mhz}, {"cores", m.cores}};
}

json::object StepToJson(const CapacityStep& s) {
  json::array reasons;
  for (const auto& r : s.reasons) reasons.emplace_back(r);
  return json::object{{"rate", s.rate},
                      {"attempt", s.attempt},
                      {"sustained", s.sustained},
                      {"verdict", s.verdict},
                      {"achieved_ops_per_sec", s.achieved_ops_per_sec},
                      {"schedule_lag_p99_ms", s.schedule_lag_p99_ms},
                      {"generator_lag_p99_ms", s.generator_lag_p99_ms},
                      {"p99_latency_ms", s.p99_latency_ms},
                      {"backlog_end", s.backlog_end},
                      {"backlog_limit", s.backlog_limit},
                      {"backlog_slope_per_sec", s.backlog_slope_per_sec},
                      {"operations", s.operations},
                      {"errors", s.errors},
                      {"shed", s.shed},
                      {"timeouts", s.timeouts},
                      {"space_episodes_at_start", s.space_episodes_at_start},
                      {"seconds", s.seconds},
                      {"reasons", std::move(reasons)}};
}

json::object EntryToJson(const CapacityEntry& e) {
  json::array steps;
  for (const CapacityStep& s : e.steps) steps.push_back(StepToJson(s));
  return json::object{
      {"scenario_path", e.scenario_path},
      {"scenario_hash", e.scenario_hash},
      {"scenario_name", e.scenario_name},
      {"scenario_rate_ops_per_sec", e.scenario_rate},
      {"machine", MachineToJson(e.machine)},
      {"measured_utc", e.measured_utc},
      {"git_commit", e.git_commit},
      {"server_binary", e.server_binary},
      {"settings",
       json::object{{"dataset_nodes", e.dataset_nodes},
                    {"step_seconds", e.step_seconds},
                    {"warmup_seconds", e.warmup_seconds},
                    {"repeats", e.repeats},
                    {"growth", e.growth},
                    {"tolerance", e.tolerance},
                    {"max_growth", e.max_growth},
                    {"server_cpus", e.server_cpus},
                    {"loadgen_cpus", e.loadgen_cpus},
                    {"server_args", e.server_args}}},
      {"restarts", e.restarts},
      {"steps", std::move(steps)},
      {"sustainable_ops_per_sec", OptionalNumber(e.sustainable_ops_per_sec)},
      {"lowest_failed_ops_per_sec", OptionalNumber(e.lowest_failed_ops_per_sec)},
      {"ratio_to_scenario_rate", e.sustainable_ops_per_sec ? json::value(e.ratio()) : json::value(nullptr)},
      {"outcome", e.outcome},
      {"note", e.note}};
}

// Field access that names the file and the field in its error.
class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}
  std::string Str(const json::object& o, std::string_view k) {
    const json::value* v = o.if_contains(k);
    if (v != nullptr && v->is_string()) return std::string(v->get_string());
    Fail(k, "a string");
    return "";
  }
  double Num(const json::object& o, std::string_view k) {
    const json::value* v = o.if_contains(k);
    if (v != nullptr && v->is_number()) return v->to_number<double>();
    Fail(k, "a number");
    return 0;
  }
  std::optional<double> NumOrNull(const json::object& o, std::string_view k) {
    const json::value* v = o.if_contains(k);
    if (v != nullptr && v->is_null()) return std::nullopt;
    return Num(o, k);
  }
  bool Bool(const json::object& o, std::string_view k) {
    const json::value* v = o.if_contains(k);
    if (v != nullptr && v->is_bool()) return v->get_bool();
    Fail(k, "true or false");
    return false;
  }
  const json::object& Obj(const json::object& o, std::string_view k) {
    const json::value* v = o.if_contains(k);
    if (v != nullptr && v->is_object()) return v->get_object();
    Fail(k, "an object");
    return empty_;
  }
  const json::array& Arr(const json::object& o, std::string_view k) {
    const json::value* v = o.if_contains(k);
    if (v != nullptr && v->is_array()) return v->get_array();
    Fail(k, "an array");
    return empty_array_;
  }
  const Status& error() const { return error_; }

 private:
  void Fail(std::string_view key, std::string_view want) {
    if (error_.ok()) error_ = Status::InvalidArgument(file_, ": field '", key, "' is missing or not ", want);
  }
  std::string file_;
  Status error_;
  json::object empty_;
  json::array empty_array_;
};

CapacityEntry EntryFromJson(const json::object& o, Reader& rd) {
  CapacityEntry e;
  e.scenario_path = rd.Str(o, "scenario_path");
  e.scenario_hash = rd.Str(o, "scenario_hash");
  e.scenario_name = rd.Str(o, "scenario_name");
  e.scenario_rate = rd.Num(o, "scenario_rate_ops_per_sec");
  const json::object& m = rd.Obj(o, "machine");
  e.machine.host = rd.Str(m, "host");
  e.machine.cpu_model = rd.Str(m, "cpu_model");
  e.machine.cpu_family = static_cast<int>(rd.Num(m, "cpu_family"));
  e.machine.cpu_model_number = static_cast<int>(rd.Num(m, "cpu_model_number"));
  e.machine.cpu_mhz = rd.Num(m, "cpu_mhz");
  e.machine.cores = static_cast<int>(rd.Num(m, "cores"));
  e.measured_utc = rd.Str(o, "measured_utc");
  e.git_commit = rd.Str(o, "git_commit");
  e.server_binary = rd.Str(o, "server_binary");
  const json::object& st = rd.Obj(o, "settings");
  e.dataset_nodes = static_cast<uint64_t>(rd.Num(st, "dataset_nodes"));
  e.step_seconds = rd.Num(st, "step_seconds");
  e.warmup_seconds = rd.Num(st, "warmup_seconds");
  e.repeats = static_cast<int>(rd.Num(st, "repeats"));
  e.growth = rd.Num(st, "growth");
  e.tolerance = rd.Num(st, "tolerance");
  e.max_growth = rd.Num(st, "max_growth");
  e.server_cpus = rd.Str(st, "server_cpus");
  e.loadgen_cpus = rd.Str(st, "loadgen_cpus");
  e.server_args = rd.Str(st, "server_args");
  e.restarts = static_cast<int>(rd.Num(o, "restarts"));
  for (const json::value& v : rd.Arr(o, "steps")) {
    if (!v.is_object()) continue;
    const json::object& s = v.get_object();
    CapacityStep step;
    step.rate = rd.Num(s, "rate");
    step.attempt = static_cast<int>(rd.Num(s, "attempt"));
    step.sustained = rd.Bool(s, "sustained");
    step.verdict = rd.Str(s, "verdict");
    step.achieved_ops_per_sec = rd.Num(s, "achieved_ops_per_sec");
    step.schedule_lag_p99_ms = rd.Num(s, "schedule_lag_p99_ms");
    step.generator_lag_p99_ms = rd.Num(s, "generator_lag_p99_ms");
    step.p99_latency_ms = rd.Num(s, "p99_latency_ms");
    step.backlog_end = static_cast<int64_t>(rd.Num(s, "backlog_end"));
    step.backlog_limit = rd.Num(s, "backlog_limit");
    step.backlog_slope_per_sec = rd.Num(s, "backlog_slope_per_sec");
    step.operations = static_cast<uint64_t>(rd.Num(s, "operations"));
    step.errors = static_cast<uint64_t>(rd.Num(s, "errors"));
    step.shed = static_cast<uint64_t>(rd.Num(s, "shed"));
    step.timeouts = static_cast<uint64_t>(rd.Num(s, "timeouts"));
    step.space_episodes_at_start = static_cast<uint64_t>(rd.Num(s, "space_episodes_at_start"));
    step.seconds = rd.Num(s, "seconds");
    for (const json::value& r : rd.Arr(s, "reasons")) {
      if (r.is_string()) step.reasons.emplace_back(r.get_string());
    }
    e.steps.push_back(std::move(step));
  }
  e.sustainable_ops_per_sec = rd.NumOrNull(o, "sustainable_ops_per_sec");
  e.lowest_failed_ops_per_sec = rd.NumOrNull(o, "lowest_failed_ops_per_sec");
  e.outcome = rd.Str(o, "outcome");
  e.note = rd.Str(o, "note");
  return e;
}

}  // namespace

std::string CapacityMachine::Describe() const {
  std::string cpu = cpu_model.empty() ? "unknown CPU" : cpu_model;
  if (cpu_family >= 0 || cpu_mhz > 0) {
    cpu += fmt::format(" (family {} model {}, {:.0f} MHz)", cpu_family, cpu_model_number, cpu_mhz);
  }
  return fmt::format("{}, {} cores{}", cpu, cores, host.empty() ? "" : ", host " + host);
}

void CapacityFile::Put(CapacityEntry entry) {
  for (CapacityEntry& e : entries) {
    if (e.scenario_path == entry.scenario_path && e.machine.SameAs(entry.machine.cpu_model, entry.machine.cores)) {
      e = std::move(entry);
      return;
    }
  }
  entries.push_back(std::move(entry));
}

const CapacityEntry* CapacityFile::Find(const std::string& scenario_hash, const std::string& cpu_model,
                                        int cores) const {
  const CapacityEntry* best = nullptr;
  for (const CapacityEntry& e : entries) {
    if (e.scenario_hash == scenario_hash && e.machine.SameAs(cpu_model, cores) &&
        (best == nullptr || e.measured_utc > best->measured_utc)) {
      best = &e;
    }
  }
  return best;
}

std::vector<const CapacityEntry*> CapacityFile::Related(const std::string& scenario_path) const {
  std::vector<const CapacityEntry*> out;
  for (const CapacityEntry& e : entries) {
    if (e.scenario_path == scenario_path || fs::path(e.scenario_path).filename() == fs::path(scenario_path).filename()) out.push_back(&e);
  }
  return out;
}

Result<CapacityFile> LoadCapacityFile(const std::string& path) {
  ENGRAM_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  boost::system::error_code ec;
  json::value doc = json::parse(text, ec);
  if (ec || !doc.is_object()) return Status::InvalidArgument(path, ": not a capacity file (not a JSON object)");
  Reader rd(path);
  const json::object& o = doc.get_object();
  if (rd.Num(o, "schema_version") != kCapacitySchemaVersion) {
    if (!rd.error().ok()) return rd.error();
    return Status::InvalidArgument(path, ": capacity schema_version is not ", kCapacitySchemaVersion);
  }
  CapacityFile file;
  file.path = path;
  for (const auto& [scenario, list] : rd.Obj(o, "scenarios")) {
    if (!list.is_array()) return Status::InvalidArgument(path, ": scenarios['", scenario, "'] must be an array");
    for (const json::value& v : list.get_array()) {
      if (!v.is_object()) return Status::InvalidArgument(path, ": scenarios['", scenario, "'] holds a non-object");
      file.entries.push_back(EntryFromJson(v.get_object(), rd));
    }
  }
  if (!rd.error().ok()) return rd.error();
  return file;
}

std::string CapacityFileToJson(const CapacityFile& file) {
  std::map<std::string, json::array> by_path;  // sorted, so the file diffs cleanly
  for (const CapacityEntry& e : file.entries) by_path[e.scenario_path].push_back(EntryToJson(e));
  json::object scenarios;
  for (auto& [path, list] : by_path) scenarios[path] = std::move(list);
  json::object o{{"schema_version", kCapacitySchemaVersion},
                 {"what", "sustainable rates measured by engram-perf capacity (docs/capacity.md)"},
                 {"scenarios", std::move(scenarios)}};
  return json::serialize(o) + "\n";
}

Status StoreCapacity(const std::string& path, CapacityEntry entry) {
  CapacityFile file;
  auto existing = LoadCapacityFile(path);
  if (existing.ok()) {
    file = std::move(existing).value();
  } else if (existing.error().code() != StatusCode::kNotFound) {
    return existing.error().WithContext("not overwriting the capacity file");
  }
  file.Put(std::move(entry));
  return WriteFileAtomically(path, CapacityFileToJson(file));
}

std::string DescribeCapacity(const CapacityEntry& e) {
  const std::string when = fmt::format("measured {} at commit {} on {}", e.measured_utc,
                                       e.git_commit.empty() ? "?" : e.git_commit, e.machine.Describe());
  if (!e.sustainable_ops_per_sec) {
    return fmt::format("below the lowest rate tried ({}; {})",
                       e.lowest_failed_ops_per_sec ? fmt::format("{:.0f} ops/s failed", *e.lowest_failed_ops_per_sec)
                                                   : std::string("no rate passed"),
                       when);
  }
  return fmt::format("{:.0f} ops/s{} ({:.2f}x the scenario's {:.0f} ops/s; {})", *e.sustainable_ops_per_sec,
                     e.outcome == "at_max_rate" ? " or more" : "", e.ratio(), e.scenario_rate, when);
}

Headroom CheckHeadroom(const CapacityFile* file, const std::string& file_path,
                       const std::string& scenario_path, const std::string& scenario_hash,
                       double rate, const std::string& cpu_model, int cores, double max_share) {
  Headroom h;
  const std::string machine = fmt::format("{}, {} cores", cpu_model.empty() ? "unknown CPU" : cpu_model, cores);
  const std::string measure = fmt::format("measure it with: engram-perf capacity {}", scenario_path);
  const CapacityEntry* e = file != nullptr ? file->Find(scenario_hash, cpu_model, cores) : nullptr;
  if (e == nullptr) {
    std::string others;
    if (file != nullptr) {
      for (const CapacityEntry* r : file->Related(scenario_path)) {
        others += fmt::format("{}{} on {}{}", others.empty() ? "" : "; ",
                              r->sustainable_ops_per_sec ? fmt::format("{:.0f} ops/s", *r->sustainable_ops_per_sec)
                                                         : std::string("none sustainable"),
                              r->machine.Describe(), r->scenario_hash == scenario_hash ? "" : " (another version)");
      }
    }
    h.text = fmt::format("Note: no capacity of {} (this version) on this machine ({}) is stored in {}{}{}; its rate "
                         "({:.0f} ops/s) is not checked against it. To know the headroom, {} (docs/capacity.md)",
                         scenario_path, machine, file_path, file == nullptr ? " (no such file)" : "",
                         others.empty() ? "" : "; it holds " + others, rate, measure);
    return h;
  }
  if (!e->sustainable_ops_per_sec) {
    h.level = Headroom::Level::kWarning;
    h.text = fmt::format("WARNING: {} asks {:.0f} ops/s, but no rate tried was sustainable on this machine: {}. Its "
                         "runs will saturate the server, and compare refuses a saturated baseline",
                         scenario_path, rate, DescribeCapacity(*e));
    return h;
  }
  const double share = rate / *e->sustainable_ops_per_sec;
  if (share > max_share) {
    h.level = Headroom::Level::kWarning;
    h.text = fmt::format(
        "WARNING: {} asks {:.0f} ops/s, {:.0f}% of its sustainable rate on this machine, {} ({}). Above {:.0f}% a "
        "run sits near the knee, where latency depends on the machine's noise more than on the build, and a "
        "slower build or a busy moment saturates it (compare refuses a saturated baseline)",
        scenario_path, rate, 100 * share, DescribeCapacity(*e), file_path, 100 * max_share);
  } else {
    h.level = Headroom::Level::kOk;
    h.text = fmt::format("Headroom: {} asks {:.0f} ops/s, {:.0f}% of its sustainable rate on this machine, {}",
                         scenario_path, rate, 100 * share, DescribeCapacity(*e));
  }
  return h;
}

}  // namespace engram::analysis
