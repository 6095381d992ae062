#include "harness/capacity.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "core/clock.h"
#include "harness/server_process.h"
#include "loadgen/context.h"
#include "loadgen/endpoint.h"
#include "loadgen/http_driver.h"
#include "loadgen/json_text.h"
#include "loadgen/preload.h"
#include "loadgen/report.h"
#include "loadgen/runner.h"
#include "workload/arrival.h"
#include "workload/dataset.h"
#include "workload/scenario.h"

namespace engram::harness {

namespace fs = std::filesystem;
using analysis::CapacityEntry;
using analysis::CapacityStep;

double RoundRate(double rate) {
  if (!(rate > 0)) return rate;
  const double magnitude = std::pow(10.0, std::floor(std::log10(rate)) - 2);
  return std::round(rate / magnitude) * magnitude;
}

namespace {

// The search's state: every run, and the verdict of each rate tested.
class Search {
 public:
  Search(const SearchOptions& o, const MeasureStep& measure) : o_(o), measure_(measure) {
    if (o.elapsed_seconds) {
      elapsed_ = o.elapsed_seconds;
    } else {
      const auto start = std::chrono::steady_clock::now();
      elapsed_ = [start] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
    }
  }

  // Whether `rate` holds on a majority of runs; nullopt when the budget ran out first.
  Result<std::optional<bool>> Holds(double rate) {
    const int need = o_.repeats / 2 + 1;
    int passes = 0, fails = 0;
    for (int attempt = 1; attempt <= o_.repeats; ++attempt) {
      if (static_cast<int>(result_.steps.size()) >= o_.max_steps || elapsed_() >= o_.max_seconds) {
        return std::optional<bool>();
      }
      ENGRAM_ASSIGN_OR_RETURN(StepOutcome out, measure_(rate, attempt));
      out.record.rate = rate;
      out.record.attempt = attempt;
      out.record.sustained = out.sustained;
      result_.steps.push_back(out.record);
      if (o_.on_step) o_.on_step(out.record);
      (out.sustained ? passes : fails) += 1;
      if (!out.sustained && out.clear_failure) return std::optional<bool>(false);
      if (passes >= need) return std::optional<bool>(true);
      if (fails >= need) return std::optional<bool>(false);
    }
    return std::optional<bool>(passes > fails);
  }

  Result<SearchResult> Run() {
    std::optional<double> lo, hi;  // highest rate that held, lowest that failed
    const auto budget = [&](std::optional<bool> v) { return !v.has_value(); };
    double rate = RoundRate(std::clamp(o_.start_rate, o_.min_rate, o_.max_rate));
    ENGRAM_ASSIGN_OR_RETURN(std::optional<bool> first, Holds(rate));
    if (budget(first)) return Finish(lo, hi, "budget_exhausted");
    (*first ? lo : hi) = rate;
    // 1. Bracket the knee: grow from a rate that held, shrink from one that failed.
    while (!lo || !hi) {
      if (lo && *lo >= o_.max_rate) return Finish(lo, hi, "at_max_rate");
      if (hi && *hi <= o_.min_rate) return Finish(lo, hi, "below_min_rate");
      rate = lo ? RoundRate(std::min(*lo * o_.growth, o_.max_rate)) : RoundRate(std::max(*hi / o_.growth, o_.min_rate));
      ENGRAM_ASSIGN_OR_RETURN(std::optional<bool> v, Holds(rate));
      if (budget(v)) return Finish(lo, hi, "budget_exhausted");
      (*v ? lo : hi) = rate;
    }
    // 2. Bisect between them.
    while (*hi / *lo > 1 + o_.tolerance) {
      const double mid = RoundRate(std::sqrt(*lo * *hi));
      if (mid <= *lo || mid >= *hi) break;  // rounding leaves nothing between them
      ENGRAM_ASSIGN_OR_RETURN(std::optional<bool> v, Holds(mid));
      if (budget(v)) return Finish(lo, hi, "budget_exhausted");
      (*v ? lo : hi) = mid;
    }
    return Finish(lo, hi, "found");
  }

 private:
  SearchResult Finish(std::optional<double> lo, std::optional<double> hi, std::string outcome) {
    result_.sustainable = lo;
    result_.lowest_failed = hi;
    result_.outcome = std::move(outcome);
    if (result_.outcome == "budget_exhausted") {
      result_.note = fmt::format("the search stopped after {} runs and {:.0f} s (--max-steps {}, --max-minutes {:g}) "
                                 "before it had narrowed the rate to {:.0f}%",
                                 result_.steps.size(), elapsed_(), o_.max_steps, o_.max_seconds / 60,
                                 100 * o_.tolerance);
    } else if (result_.outcome == "at_max_rate") {
      result_.note = fmt::format("--max-rate {:g} held: the sustainable rate is at least that", o_.max_rate);
    } else if (result_.outcome == "below_min_rate") {
      result_.note = fmt::format("--min-rate {:g} failed: no rate tried was sustainable", o_.min_rate);
    }
    return std::move(result_);
  }

  const SearchOptions& o_;
  const MeasureStep& measure_;
  std::function<double()> elapsed_;
  SearchResult result_;
};

}  // namespace

Result<SearchResult> FindSustainableRate(const SearchOptions& options, const MeasureStep& measure) {
  if (!(options.start_rate > 0)) return Status::InvalidArgument("the start rate must be above 0 ops/s");
  if (!(options.growth > 1)) return Status::InvalidArgument("--growth must be above 1");
  if (!(options.tolerance > 0)) return Status::InvalidArgument("--tolerance must be above 0");
  if (options.repeats < 1) return Status::InvalidArgument("--repeats must be at least 1");
  if (!(options.min_rate > 0 && options.min_rate <= options.max_rate)) {
    return Status::InvalidArgument("need 0 < --min-rate <= --max-rate");
  }
  if (options.max_steps < 1) return Status::InvalidArgument("--max-steps must be at least 1");
  return Search(options, measure).Run();
}

namespace {

// The scenario as the steps run it: its dataset grown to the size the scenario reaches at
// its end, so that the steps measure the server at its largest.
struct Plan {
  workload::Scenario scenario;  // data.num_nodes = end_episodes (when it preloads)
  double scenario_rate = 0;
  uint64_t end_episodes = 0;
  std::string why;
};

Result<Plan> MakePlan(const std::string& path) {
  Plan p;
  ENGRAM_ASSIGN_OR_RETURN(p.scenario, workload::LoadScenario(path));
  const workload::ScheduleSpec spec = workload::ScheduleSpecFor(p.scenario);
  p.scenario_rate = loadgen::MeanRate(spec);
  double total_weight = 0;
  for (double w : p.scenario.weights) total_weight += w;
  const double store_share = total_weight > 0 ? p.scenario.weight(workload::OpKind::kStore) / total_weight : 0;
  const double stores = workload::ExpectedOperations(spec, true) * store_share;
  const uint64_t dataset = p.scenario.data.preload ? p.scenario.data.num_nodes : 0;
  p.end_episodes = dataset + static_cast<uint64_t>(std::llround(stores));
  p.why = fmt::format("{} dataset nodes + {:.0f} stores ({:.0f} operations in warm-up and measured phase x {:.0f}% "
                      "stores)",
                      dataset, stores, workload::ExpectedOperations(spec, true), 100 * store_share);
  if (p.scenario.data.preload) p.scenario.data.num_nodes = p.end_episodes;
  return p;
}

// One server at a time, preloaded to the end size; steps run against it until the space has
// grown past the allowance, then a fresh one takes over.
class Measurement {
 public:
  Measurement(const CapacityOptions& o, const CpuPlan& cpus, Plan plan)
      : o_(o), cpus_(cpus), plan_(std::move(plan)), data_(plan_.scenario) {}

  int restarts() const { return restarts_; }

  Result<StepOutcome> Step(double rate, int attempt) {
    if (server_ == nullptr || episodes_ > plan_.end_episodes * (1 + o_.max_growth)) {
      ENGRAM_RETURN_IF_ERROR(Restart());
    }
    // The scenario's mix and dataset at one constant rate (a burst or a ramp would measure
    // its peak, not a rate).
    workload::Scenario step = plan_.scenario;
    workload::ArrivalPattern constant;
    constant.kind = workload::PatternKind::kConstant;
    constant.spacing = workload::Spacing::kEven;
    constant.rate = rate;
    step.arrival = constant;
    step.phases.clear();
    step.warmup_rate.reset();
    loadgen::RunOptions ro;
    ro.duration_seconds = o_.step_seconds;
    ro.warmup_seconds = o_.warmup_seconds;
    ro.connections = o_.connections;
    ro.preload = false;
    ro.recall_samples = 0;
    ro.check_memory = false;
    ro.progress = loadgen::ProgressMode::kQuiet;
    ro.saturation_warnings = false;
    ro.abort = o_.abort;
    // Every step its own stretch of the op stream: stores never repeat an id ("s<index>").
    ro.first_op_index = static_cast<uint64_t>(++steps_) << 32;
    loadgen::Runner runner(std::move(step), ro, driver_.get());
    ENGRAM_RETURN_IF_ERROR(runner.Init());
    const uint64_t at_start = episodes_;
    auto report = runner.Run();
    if (!report.ok()) return report.error().WithContext(fmt::format("the run at {:.0f} ops/s", rate));
    if (o_.abort != nullptr && o_.abort->load()) return Status::Unavailable("interrupted");
    if (!server_->Alive()) {
      return Status::Unavailable("engram died during the run at ", rate, " ops/s; the end of ", server_->log_path(),
                                 ":\n", TailOfFile(server_->log_path(), 20));
    }
    const std::string file = fmt::format("{}/step_{:02d}_{:.0f}.json", o_.work_dir, steps_, rate);
    ENGRAM_RETURN_IF_ERROR(loadgen::WriteFileAtomically(file, loadgen::PrettyJson(loadgen::ToJson(*report))));
    ENGRAM_ASSIGN_OR_RETURN(episodes_, CountEpisodes());
    return Outcome(*report, at_start);
  }

 private:
  Status Restart() {
    if (server_ != nullptr) ENGRAM_RETURN_IF_ERROR(server_->Stop());
    driver_.reset();
    server_.reset();
    ServerOptions so;
    so.binary = o_.engram_bin;
    // The default space gets the scenario's dimension (a no-op at the default 768), unless the
    // caller's server flags set it.
    if (std::find(o_.server_args.begin(), o_.server_args.end(), "--dim") == o_.server_args.end()) {
      so.extra_args = {"--dim", std::to_string(plan_.scenario.data.embedding_dim)};
    }
    so.extra_args.insert(so.extra_args.end(), o_.server_args.begin(), o_.server_args.end());
    so.cpus = cpus_.server;
    so.log_path = fmt::format("{}/server_{}.log", o_.work_dir, ++restarts_);
    ENGRAM_ASSIGN_OR_RETURN(server_, ServerProcess::Start(so));
    ENGRAM_ASSIGN_OR_RETURN(loadgen::Endpoint endpoint, loadgen::ParseEndpoint(server_->url()));
    ENGRAM_RETURN_IF_ERROR(loadgen::Resolve(&endpoint, false));
    loadgen::HttpDriverOptions ho;
    ho.endpoint = std::move(endpoint);
    driver_ = std::make_unique<loadgen::HttpDriver>(std::move(ho));
    if (plan_.scenario.data.preload && data_.num_nodes() > 0) {
      Say(fmt::format("server {} (pid {}, {}): preloading {} episodes ({})", restarts_, server_->pid(),
                      cpus_.pinned ? "CPUs " + CpuList(cpus_.server) : std::string("not pinned"), data_.num_nodes(),
                      plan_.why));
      loadgen::PreloadOptions po;
      po.quiet = true;
      po.keep_embeddings_bytes = 0;
      auto pre = loadgen::Preload(driver_.get(), data_, po, nullptr);
      if (!pre.ok()) return pre.error().WithContext("preload");
      Say(fmt::format("server {}: {} episodes, {} edges in {:.1f} s", restarts_, pre->verified_count,
                      pre->edges_loaded, pre->load_seconds));
    }
    ENGRAM_ASSIGN_OR_RETURN(episodes_, CountEpisodes());
    return Status::Ok();
  }

  Result<uint64_t> CountEpisodes() {
    bool complete = false;
    return loadgen::CountDataset(driver_.get(), data_, 0, &complete);
  }

  StepOutcome Outcome(const loadgen::RunReport& r, uint64_t at_start) const {
    const loadgen::SaturationAssessment& s = r.saturation;
    StepOutcome out;
    out.sustained = s.sustainable();
    out.clear_failure = s.server_saturated &&
                        (s.schedule_lag_p99_ms > 100 || static_cast<double>(s.backlog_end) > 10 * s.backlog_limit ||
                         s.overload_share > 10 * s.limits.overload_share);
    CapacityStep& c = out.record;
    c.verdict = out.sustained ? "sustained" : s.server_saturated ? "saturated" : "generator late";
    c.achieved_ops_per_sec = r.throughput();
    c.schedule_lag_p99_ms = s.schedule_lag_p99_ms;
    c.generator_lag_p99_ms = s.generator_lag_p99_ms;
    c.p99_latency_ms = static_cast<double>(r.latency.ValueAtQuantile(0.99)) / 1e6;
    c.backlog_end = s.backlog_end;
    c.backlog_limit = s.backlog_limit;
    c.backlog_slope_per_sec = s.backlog_slope_per_sec;
    c.operations = r.total_operations();
    c.errors = r.total_errors();
    c.shed = s.shed;
    c.timeouts = s.timeouts;
    c.space_episodes_at_start = at_start;
    c.seconds = r.elapsed_seconds;
    c.reasons = s.reasons;
    if (!s.server_saturated && s.lag_over_limit) {
      c.reasons.push_back(fmt::format("schedule lag P99 {:.3f} ms over the limit, but the generator's own lag P99 is "
                                      "{:.3f} ms: the load generator was late (a busy machine?)",
                                      s.schedule_lag_p99_ms, s.generator_lag_p99_ms));
    }
    return out;
  }

  void Say(const std::string& line) const {
    if (!o_.quiet) std::fprintf(stderr, "engram-perf capacity: %s\n", line.c_str());
  }

  const CapacityOptions& o_;
  const CpuPlan& cpus_;
  Plan plan_;
  workload::DatasetGenerator data_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<loadgen::HttpDriver> driver_;
  uint64_t episodes_ = 0;
  int restarts_ = 0;
  int steps_ = 0;
};

}  // namespace

uint64_t EndOfRunEpisodes(const std::string& scenario_path, std::string* why) {
  auto plan = MakePlan(scenario_path);
  if (!plan.ok()) return 0;
  if (why != nullptr) *why = plan->why;
  return plan->end_episodes;
}

Result<CapacityEntry> MeasureCapacity(const CapacityOptions& o) {
  ENGRAM_ASSIGN_OR_RETURN(Plan plan, MakePlan(o.scenario_path));
  if (::access(o.engram_bin.c_str(), X_OK) != 0) {
    return Status::NotFound("server binary not found or not executable: ", o.engram_bin,
                            " (build it: scripts/build.sh release engram; or --engram-bin / ENGRAM_BIN)");
  }
  std::error_code ec;
  fs::create_directories(o.work_dir, ec);
  if (ec) return Status::IOError("cannot create ", o.work_dir, ": ", ec.message());
  const CpuPlan cpus = PlanCpus(o.pin);
  // This thread and every thread it starts (the load generator's) on the last CPU.
  ENGRAM_RETURN_IF_ERROR(PinCurrentThread(cpus.loadgen));

  CapacityEntry e;
  e.scenario_path = o.scenario_display.empty() ? o.scenario_path : o.scenario_display;
  e.scenario_hash = plan.scenario.content_hash;
  e.scenario_name = plan.scenario.name;
  e.scenario_rate = plan.scenario_rate;
  const loadgen::MachineInfo m = loadgen::ReadMachineInfo();
  e.machine = {m.host, m.cpu_model, m.cpu_family, m.cpu_model_number, m.cpu_mhz, m.cores};
  e.measured_utc = FormatUtc(WallMicros());
  e.git_commit = loadgen::GitCommit();
  e.server_binary = o.engram_bin;
  e.dataset_nodes = plan.end_episodes;
  e.step_seconds = o.step_seconds;
  e.warmup_seconds = o.warmup_seconds;
  e.repeats = o.search.repeats;
  e.growth = o.search.growth;
  e.tolerance = o.search.tolerance;
  e.max_growth = o.max_growth;
  e.server_cpus = CpuList(cpus.server);
  e.loadgen_cpus = CpuList(cpus.loadgen);
  for (const auto& a : o.server_args) e.server_args += (e.server_args.empty() ? "" : " ") + a;

  SearchOptions search = o.search;
  search.start_rate = o.start_rate.value_or(plan.scenario_rate);
  Measurement measurement(o, cpus, std::move(plan));
  auto result = FindSustainableRate(search, [&](double rate, int attempt) { return measurement.Step(rate, attempt); });
  if (!result.ok()) return result.error();
  e.restarts = measurement.restarts();
  e.steps = std::move(result->steps);
  e.sustainable_ops_per_sec = result->sustainable;
  e.lowest_failed_ops_per_sec = result->lowest_failed;
  e.outcome = result->outcome;
  e.note = result->note;
  return e;
}

}  // namespace engram::harness
