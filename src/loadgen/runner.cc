#include "loadgen/runner.h"

#include <fmt/format.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <thread>

#include "core/clock.h"
#include "loadgen/context.h"
#include "loadgen/pipeline.h"
#include "loadgen/preload.h"
#include "loadgen/recorder.h"
#include "loadgen/search_recall.h"
#include "workload/op_stream.h"

namespace engram::loadgen {

using workload::OpKind;

Result<uint64_t> ParseSeed(std::string_view text) {
  std::string digits;
  for (char c : text) {
    if (c != '_') digits.push_back(c);
  }
  int base = 10;
  std::string_view d = digits;
  if (d.size() > 2 && d[0] == '0' && (d[1] == 'x' || d[1] == 'X')) {
    base = 16;
    d.remove_prefix(2);
  }
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(d.data(), d.data() + d.size(), v, base);
  if (d.empty() || ec != std::errc() || p != d.data() + d.size()) {
    return Status::InvalidArgument("seed '", text, "' is not a decimal or 0x-hex unsigned 64-bit integer");
  }
  return v;
}

Result<std::pair<uint32_t, uint32_t>> ParseShard(std::string_view text) {
  const size_t slash = text.find('/');
  uint32_t i = 0, n = 0;
  bool ok = slash != std::string_view::npos;
  if (ok) {
    auto a = std::from_chars(text.data(), text.data() + slash, i);
    auto b = std::from_chars(text.data() + slash + 1, text.data() + text.size(), n);
    ok = a.ec == std::errc() && a.ptr == text.data() + slash && b.ec == std::errc() &&
         b.ptr == text.data() + text.size() && n >= 1 && i < n;
  }
  if (!ok) return Status::InvalidArgument("--shard '", text, "' must be i/n with 0 <= i < n, e.g. 0/4");
  return std::make_pair(i, n);
}

void ScaleRates(workload::Scenario* s, double f) {
  auto scale = [f](workload::ArrivalPattern& p) {
    p.rate *= f;
    p.base_rate *= f;
    p.burst_rate *= f;
    p.from_rate *= f;
    p.to_rate *= f;
    for (double& r : p.rates) r *= f;
    p.amplitude *= f;
  };
  if (s->arrival) scale(*s->arrival);
  for (auto& ph : s->phases) scale(ph.pattern);
  if (s->warmup_rate) *s->warmup_rate *= f;
}

double MeanRate(const workload::ScheduleSpec& spec) {
  double seconds = 0;
  for (const auto& p : spec.phases) seconds += p.duration_sec;
  return seconds > 0 ? workload::ExpectedOperations(spec, false) / seconds : 0;
}

namespace {

double CpuSeconds() {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

uint64_t MemAvailableBytes() {
  std::ifstream f("/proc/meminfo");
  for (std::string key; f >> key;) {
    uint64_t kb = 0;
    f >> kb;
    if (key == "MemAvailable:") return kb * 1024;
    std::string unit;
    std::getline(f, unit);
  }
  return 0;
}

// Sleeps until the monotonic clock reads `deadline_ns`: the kernel's absolute sleep up to
// `spin_ns` before it (no drift from relative sleeps), then a spin for the last stretch,
// which the kernel's wake-up latency would otherwise overshoot.
void SleepUntil(int64_t deadline_ns, int64_t spin_ns) {
  for (;;) {
    const int64_t now = MonoNanos();
    const int64_t remaining = deadline_ns - now;
    if (remaining <= 0) return;
    if (remaining > spin_ns) {
      const int64_t wake = deadline_ns - spin_ns;
      struct timespec ts;
      ts.tv_sec = wake / 1'000'000'000;
      ts.tv_nsec = wake % 1'000'000'000;
      clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
      continue;
    }
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
}

// How long the sender may spin before an operation `gap_ns` after the previous one: the
// configured spin, but at most a quarter of the gap. A fixed 50 us spin keeps the sender on
// the CPU all the time from 20K ops/s on, and when it shares a core with the io thread
// (`taskset -c 1 loadtest`, or any busy machine) the io thread then waits for the scheduler
// to preempt it. Measured on 2 cores (sender and io thread on one): with the fixed spin a
// 20K ops/s run achieved 15K with 1.5 s of schedule lag; with a quarter of the gap it sent
// the full 20K, schedule lag P50 under 0.5 ms, using less CPU.
int64_t SpinFor(int64_t gap_ns, int64_t spin_ns) { return std::clamp<int64_t>(gap_ns / 4, 0, spin_ns); }

// What both senders (this thread, or a driver's event loop) do to a request: its intended start
// and deadline when it is taken from the pipeline, and the outstanding count when it is
// dispatched.
void StampIntended(Request* r, int64_t t0, int64_t timeout_ns) {
  r->intended_ns = t0 + r->offset_ns;
  r->deadline_ns = r->intended_ns + timeout_ns;
}
void CountDispatched(std::atomic<int64_t>* outstanding, int64_t* peak_outstanding) {
  *peak_outstanding = std::max(*peak_outstanding, outstanding->fetch_add(1, std::memory_order_relaxed) + 1);
}

std::string FormatMs(double ms) { return ms < 10 ? fmt::format("{:.3f}", ms) : fmt::format("{:.1f}", ms); }

}  // namespace

Runner::Runner(workload::Scenario scenario, RunOptions options, Driver* driver)
    : scenario_(std::move(scenario)), options_(std::move(options)), driver_(driver) {}

void Runner::Say(const std::string& line) const {
  if (quiet_) return;
  std::fprintf(stderr, "%s%s\n", tty_ ? "\r\033[K" : "", line.c_str());
  std::fflush(stderr);
}

Status Runner::Init() {
  const bool stderr_tty = isatty(STDERR_FILENO) == 1;
  tty_ = options_.progress == ProgressMode::kTty || (options_.progress == ProgressMode::kAuto && stderr_tty);
  quiet_ = options_.progress == ProgressMode::kQuiet;
  if (options_.shard_count == 0 || options_.shard_index >= options_.shard_count) {
    return Status::InvalidArgument("shard ", options_.shard_index, "/", options_.shard_count, " does not exist");
  }
  if (options_.seed) scenario_.seed = *options_.seed, scenario_.seed_given = true;
  if (options_.warmup_seconds) {
    if (!(*options_.warmup_seconds >= 0 && *options_.warmup_seconds <= 86400)) {
      return Status::InvalidArgument("--warmup ", *options_.warmup_seconds, " is outside [0, 86400] seconds");
    }
    scenario_.warmup_seconds = *options_.warmup_seconds;
  }
  if (options_.duration_seconds && !(*options_.duration_seconds > 0 && *options_.duration_seconds <= 2592000)) {
    return Status::InvalidArgument("--duration ", *options_.duration_seconds, " is outside (0, 2592000] seconds");
  }
  connections_ = options_.connections.value_or(scenario_.connections);
  if (connections_ < 1 || connections_ > 65536) {
    return Status::InvalidArgument("--connections ", connections_, " is outside [1, 65536]");
  }
  if (options_.timeout_ms < 1) return Status::InvalidArgument("--timeout-ms must be at least 1");
  if (options_.target_rate) {
    if (!(*options_.target_rate > 0 && *options_.target_rate <= 1e7)) {
      return Status::InvalidArgument("--target-rate ", *options_.target_rate, " is outside (0, 1e7] ops/s");
    }
    const double mean = MeanRate(workload::ScheduleSpecFor(scenario_, options_.duration_seconds));
    if (!(mean > 0)) return Status::InvalidArgument("--target-rate: the scenario's schedule has a mean rate of 0");
    rate_factor_ = *options_.target_rate / mean;
    ScaleRates(&scenario_, rate_factor_);
  }
  spec_ = workload::ScheduleSpecFor(scenario_, options_.duration_seconds);
  initialized_ = true;
  return Status::Ok();
}

Result<RunReport> Runner::Run() {
  if (!initialized_) ENGRAM_RETURN_IF_ERROR(Init());
  const workload::Scenario& sc = scenario_;
  const uint32_t shard_i = options_.shard_index, shard_n = options_.shard_count;
  RunReport report;
  report.config_name = sc.name;

  // Context first: it says what was attempted even if the run fails.
  report.context = BaseContext();
  report.context["scenario_path"] = sc.source_path;
  report.context["scenario_hash"] = sc.content_hash;
  report.context["seed"] = workload::FormatSeed(sc.seed);
  report.context["target"] = driver_->target();
  report.context["driver"] = std::string(driver_->name());
  report.context["shard"] = fmt::format("{}/{}", shard_i, shard_n);
  report.context["connections"] = driver_->name() == "http" ? connections_ : driver_->concurrency();
  report.context["duration_override"] = options_.duration_seconds.has_value();
  if (options_.target_rate) {
    report.context["target_rate_override"] = *options_.target_rate;
  } else {
    report.context["target_rate_override"] = nullptr;
  }
  report.context["timeout_ms"] = options_.timeout_ms;

  ENGRAM_RETURN_IF_ERROR(driver_->Check());

  // ---- The dataset.
  workload::OpStream stream(sc);
  const workload::DatasetGenerator& data = stream.dataset();
  DatasetReport& ds = report.dataset;
  ds.nodes_requested = data.num_nodes();
  ds.spaces = data.SpaceNames();
  EmbeddingTable table;
  bool dataset_present = false;
  const bool wants_preload = sc.data.preload && data.num_nodes() > 0;
  if (wants_preload && options_.preload && shard_i == 0) {
    const double vector_bytes = static_cast<double>(data.num_nodes()) * data.embedding_dim() * 4.0;
    const uint64_t available = MemAvailableBytes();
    if (options_.check_memory && available > 0 && vector_bytes > static_cast<double>(available)) {
      return Status::FailedPrecondition(fmt::format(
          "the dataset's raw vectors alone need {:.1f} GB ({} nodes x {} dims x 4 bytes) but this machine has {:.1f} GB "
          "available; the server cannot hold it (use a smaller scenario, or --no-preload against a prepared server)",
          vector_bytes / 1e9, data.num_nodes(), data.embedding_dim(), static_cast<double>(available) / 1e9));
    }
    Say(fmt::format("preload: {} nodes x {} dims into {} space(s) of {}", data.num_nodes(), data.embedding_dim(),
                    ds.spaces.size(), driver_->target()));
    PreloadOptions po;
    po.batch_size = options_.preload_batch;
    po.concurrency = options_.preload_concurrency;
    po.tty = tty_;
    po.quiet = quiet_;
    po.allow_leftover = options_.allow_leftover;
    po.keep_embeddings_bytes = options_.recall_memory_bytes;
    auto pre = Preload(driver_, data, po, &table);
    if (!pre.ok()) return pre.error().WithContext("preload");
    for (const auto& w : pre->warnings) Say("WARNING: " + w);
    ds.preloaded = true;
    ds.nodes_loaded = pre->nodes_loaded;
    ds.verified_count = pre->verified_count;
    ds.edges_loaded = pre->edges_loaded;
    ds.edges_skipped = pre->edges_skipped;
    ds.leftover_episodes = pre->leftover_episodes;
    ds.load_seconds = pre->load_seconds;
    ds.warnings = pre->warnings;
    dataset_present = true;
    Say(fmt::format("preload: {} nodes, {} edges in {:.1f} s ({:.0f} nodes/s), verified {} episodes",
                    pre->nodes_loaded, pre->edges_loaded, pre->load_seconds,
                    static_cast<double>(pre->nodes_loaded) / std::max(pre->load_seconds, 1e-9), pre->verified_count));
  } else if (data.num_nodes() > 0) {
    // Another shard preloads, or the user said not to: find what is there.
    const bool wait = wants_preload && options_.preload && shard_i != 0;
    if (wait) Say(fmt::format("shard {}/{}: waiting for shard 0 to preload the dataset", shard_i, shard_n));
    bool complete = false;
    auto count = CountDataset(driver_, data, wait ? options_.preload_wait_seconds : 0, &complete);
    if (!count.ok()) return count.error().WithContext("counting the dataset");
    ds.verified_count = *count;
    dataset_present = complete;
    if (wait && !complete) {
      return Status::Unavailable(fmt::format(
          "shard {}/{}: after {:.0f} s the server holds {} of the dataset's {} nodes; shard 0 preloads it",
          shard_i, shard_n, options_.preload_wait_seconds, *count, data.num_nodes()));
    }
    if (!complete) {
      const std::string w = fmt::format("the server holds {} episodes in the dataset's spaces, fewer than the {} "
                                        "nodes the scenario names (not preloaded)", *count, data.num_nodes());
      ds.warnings.push_back(w);
      Say("WARNING: " + w);
    }
  }

  // ---- The schedule: what this shard will send, per second (for target_ops).
  std::vector<uint64_t> target_per_second;
  uint64_t scheduled_measured = 0, scheduled_warmup = 0;
  int64_t measured_start_off = 0, end_off = 0;
  {
    workload::ArrivalSchedule count(spec_, shard_i, shard_n);
    measured_start_off = count.measured_start_ns();
    end_off = count.end_ns();
    target_per_second.assign(static_cast<size_t>((end_off - measured_start_off + 999'999'999) / 1'000'000'000) + 1, 0);
    workload::ScheduledOp s;
    while (count.Next(&s)) {
      if (s.warmup) {
        ++scheduled_warmup;
        continue;
      }
      ++scheduled_measured;
      const size_t sec = static_cast<size_t>((s.offset_ns - measured_start_off) / 1'000'000'000);
      if (sec >= target_per_second.size()) target_per_second.resize(sec + 1, 0);
      target_per_second[sec] += 1;
    }
  }
  report.scheduled = scheduled_measured;
  report.warmup_seconds = spec_.warmup_seconds;
  report.target_ops_per_sec = MeanRate(spec_) / shard_n;

  // ---- Search-recall sample: about recall_samples measured Searches, chosen by op index.
  double weight_total = 0;
  for (double w : sc.weights) weight_total += w;
  const double expected_searches = weight_total > 0 ? static_cast<double>(scheduled_measured) *
                                                          sc.weight(OpKind::kSearch) / weight_total
                                                    : 0;
  const uint64_t sample_every = options_.recall_samples > 0
                                    ? std::max<uint64_t>(1, static_cast<uint64_t>(expected_searches /
                                                                                  options_.recall_samples))
                                    : 0;
  const bool sample_searches = dataset_present && sample_every > 0 && expected_searches > 0;

  // ---- The measured run.
  PipelineOptions pipe_options;
  pipe_options.workers = options_.generator_threads;
  pipe_options.max_ahead = options_.max_ahead;
  pipe_options.first_index = options_.first_op_index;
  if (sample_searches) {
    pipe_options.sample = [sample_every](const workload::Operation& op, bool warmup) {
      return !warmup && op.index % sample_every == 0;
    };
  }
  OpPipeline pipeline(spec_, shard_i, shard_n, &stream, driver_, pipe_options);
  pipeline.WaitReady(std::min<size_t>(options_.max_ahead / 2, 1024));

  // Shared by the sender and the completion callbacks. The counters are atomics so that a
  // send and a completion do not meet on a lock; `mu` guards the rarer samples and the
  // wake-up of the sender waiting for the last completion.
  std::mutex mu;
  std::condition_variable cv;
  std::atomic<int64_t> outstanding{0};
  int64_t peak_outstanding = 0;  // the sender's alone
  std::atomic<int64_t> last_done_ns{0};
  std::vector<SearchSample> samples;        // guarded by mu
  std::vector<std::string> error_samples;   // guarded by mu

  const int64_t t0 = MonoNanos() + 20'000'000;  // a moment for the threads to settle
  const int64_t measured_start = t0 + measured_start_off;
  RecorderSet recorders(measured_start);

  DriverCallbacks callbacks;
  callbacks.sent = [&recorders](const Request& r) { recorders.RecordSent(r); };
  callbacks.done = [&](RequestPtr r) {
    recorders.RecordDone(*r);
    const bool sample = r->want_ids && r->error == ErrorKind::kNone;
    if (sample || r->error != ErrorKind::kNone) {
      std::lock_guard lock(mu);
      if (sample) {
        samples.push_back(SearchSample{r->index, r->space, std::move(r->sample_query), std::move(r->result_ids)});
      } else if (error_samples.size() < 20) {
        error_samples.push_back(fmt::format("{} #{}: {}: {}", workload::OpKindName(r->kind), r->index,
                                            ErrorKindName(r->error), r->error_detail));
      }
    }
    if (!r->warmup) {
      int64_t last = last_done_ns.load(std::memory_order_relaxed);
      while (r->done_ns > last && !last_done_ns.compare_exchange_weak(last, r->done_ns, std::memory_order_relaxed)) {
      }
    }
    pipeline.Retire(std::move(r));
    // The decrement publishes everything above to the sender, which reads it once it has
    // seen outstanding == 0 (under mu, so the notification cannot slip past its check).
    if (outstanding.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard lock(mu);
      cv.notify_all();
    }
  };
  ENGRAM_RETURN_IF_ERROR(driver_->Begin(connections_, std::move(callbacks)));

  // The monitor: harvests each second into the timeline (and segments), prints progress.
  const int64_t measured_len = end_off - measured_start_off;
  std::vector<TimelineEntry> timeline;
  std::vector<Segment> segments;
  Histogram segment_hist;
  Segment segment;
  segment.start_second = 0;
  const int seg_len = std::max(1, options_.segment_seconds);
  double cpu_at_start = -1;
  int64_t cpu_wall_start = 0;
  uint64_t total_ops = 0, total_errors = 0;
  auto add_second = [&](SecondData&& d) {
    TimelineEntry t;
    t.second = d.second;
    t.target_ops = static_cast<size_t>(d.second) < target_per_second.size() ? target_per_second[static_cast<size_t>(d.second)] : 0;
    t.sent_ops = d.sent;
    t.ops = d.ops;
    t.errors = d.errors;
    t.latency_histogram = d.latency.Encode();
    t.lag_histogram = d.lag.Encode();
    timeline.push_back(std::move(t));
    segment_hist.Merge(d.latency);
    segment.ops += d.ops;
    segment.errors += d.errors;
    segment.end_second = d.second + 1;
    if (segment.end_second - segment.start_second >= seg_len) {
      segment.latency_histogram = segment_hist.Encode();
      segments.push_back(segment);
      segment = Segment();
      segment.start_second = d.second + 1;
      segment_hist.Reset();
    }
    total_ops += d.ops;
    total_errors += d.errors;
  };
  auto progress_line = [&](const SecondData& d) {
    const double p99 = static_cast<double>(d.latency.ValueAtQuantile(0.99)) / 1e6;
    const double lag = static_cast<double>(d.lag.ValueAtQuantile(0.99)) / 1e6;
    const uint64_t target = static_cast<size_t>(d.second) < target_per_second.size()
                                ? target_per_second[static_cast<size_t>(d.second)]
                                : 0;
    return fmt::format("[{:>4}/{:.0f} s] {} / {} ops/s  errors {} ({} total)  p99 {} ms  lag p99 {} ms  in flight {}",
                       d.second + 1, static_cast<double>(measured_len) / 1e9, d.ops, target, d.errors, total_errors,
                       FormatMs(p99), FormatMs(lag), driver_->inflight());
  };

  std::mutex monitor_mu;
  std::condition_variable monitor_cv;
  bool monitor_stop = false;
  int64_t next_second = 0;
  std::thread monitor([&] {
    int64_t last_warm_print = 0;
    std::unique_lock lock(monitor_mu);
    while (!monitor_stop) {
      const int64_t now = MonoNanos();
      if (cpu_at_start < 0 && now >= measured_start) {
        cpu_at_start = CpuSeconds();
        cpu_wall_start = now;
      }
      const int64_t harvest_at = measured_start + (next_second + 1) * 1'000'000'000 + 200'000'000;
      if (now >= harvest_at) {
        SecondData d = recorders.Harvest(next_second);
        const std::string line = progress_line(d);
        const int64_t s = d.second;
        add_second(std::move(d));
        ++next_second;
        if (!quiet_ && tty_) {
          std::fprintf(stderr, "\r\033[K%s", line.c_str());
          std::fflush(stderr);
        } else if (!quiet_ && (s + 1) % 10 == 0) {
          std::fprintf(stderr, "%s\n", line.c_str());
          std::fflush(stderr);
        }
        continue;
      }
      if (now < measured_start && !quiet_ && tty_ && now - last_warm_print >= 1'000'000'000) {
        last_warm_print = now;
        std::fprintf(stderr, "\r\033[K[warm-up] %.0f s to the measured phase, in flight %lld",
                     static_cast<double>(measured_start - now) / 1e9, static_cast<long long>(driver_->inflight()));
        std::fflush(stderr);
      }
      const int64_t wake = std::min(harvest_at, now + 250'000'000);
      monitor_cv.wait_for(lock, std::chrono::nanoseconds(std::max<int64_t>(wake - now, 1'000'000)));
    }
  });

  // The sender: this thread, or the driver's own event loop (RunSchedule). Both stamp a
  // request the same way: intended and deadline when taken from the pipeline, dispatch_ns
  // when it is due and handed over (sent, or queued behind busy connections).
  bool aborted = false;
  int64_t stopped_at = 0;
  const int64_t timeout_ns = options_.timeout_ms * 1'000'000;
  if (driver_->RunsSchedule()) {
    class Source : public ScheduleSource {
     public:
      Source(Runner* runner, OpPipeline* pipeline, int64_t t0, int64_t timeout_ns, std::atomic<int64_t>* outstanding,
             int64_t* peak_outstanding)
          : runner_(runner), pipeline_(pipeline), t0_(t0), timeout_ns_(timeout_ns), outstanding_(outstanding),
            peak_outstanding_(peak_outstanding) {}
      RequestPtr TryNext(bool* over) override {
        RequestPtr r = pipeline_->TryNext(over);
        if (r) StampIntended(r.get(), t0_, timeout_ns_);
        return r;
      }
      bool Aborted() override {
        if (stopped_at == 0 && runner_->Aborted()) stopped_at = MonoNanos();
        return stopped_at != 0;
      }
      void Dispatched(const Request& /*r*/) override { CountDispatched(outstanding_, peak_outstanding_); }
      int64_t SpinNanos(int64_t gap_ns) const override { return SpinFor(gap_ns, runner_->options_.spin_ns); }
      int64_t stopped_at = 0;  // when Aborted() first returned true

     private:
      Runner* runner_;
      OpPipeline* pipeline_;
      const int64_t t0_, timeout_ns_;
      std::atomic<int64_t>* outstanding_;
      int64_t* peak_outstanding_;
    };
    Source source(this, &pipeline, t0, timeout_ns, &outstanding, &peak_outstanding);
    aborted = driver_->RunSchedule(&source);
    stopped_at = source.stopped_at;
  } else {
    int64_t previous_intended_ns = t0;
    while (RequestPtr r = pipeline.Next()) {
      StampIntended(r.get(), t0, timeout_ns);
      // Sleep in slices so an abort is noticed even before a distant deadline.
      while (!Aborted() && r->intended_ns - MonoNanos() > 200'000'000) {
        SleepUntil(MonoNanos() + 100'000'000, 0);
      }
      if (Aborted()) {
        aborted = true;
        stopped_at = MonoNanos();
        break;
      }
      SleepUntil(r->intended_ns, SpinFor(r->intended_ns - previous_intended_ns, options_.spin_ns));
      previous_intended_ns = r->intended_ns;
      r->dispatch_ns = MonoNanos();
      CountDispatched(&outstanding, &peak_outstanding);
      driver_->Submit(std::move(r));
    }
  }
  pipeline.Stop();
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return outstanding.load(std::memory_order_acquire) == 0; });
  }
  const int64_t end_ns = std::max(aborted ? stopped_at : t0 + end_off, last_done_ns.load());
  const double cpu_end = CpuSeconds();
  {
    std::lock_guard lock(monitor_mu);
    monitor_stop = true;
  }
  monitor_cv.notify_all();
  monitor.join();
  driver_->End();
  if (tty_ && !quiet_) std::fprintf(stderr, "\r\033[K");

  // The rest of the timeline: every second up to the end of the measured phase.
  const double elapsed = std::max<double>(0, static_cast<double>(end_ns - measured_start) / 1e9);
  const int64_t seconds = static_cast<int64_t>(std::ceil(elapsed));
  for (int64_t s = next_second; s < seconds; ++s) add_second(recorders.Harvest(s));
  if (seconds > 0) {
    // Anything recorded past the last whole second folds into it (nothing is dropped).
    SecondData rest = recorders.Harvest(std::max<int64_t>(seconds, next_second));
    if (rest.ops + rest.sent > 0 && !timeline.empty()) {
      TimelineEntry& last = timeline.back();
      Histogram a = Histogram::Decode(last.latency_histogram).value();
      a.Merge(rest.latency);
      last.latency_histogram = a.Encode();
      Histogram b = Histogram::Decode(last.lag_histogram).value();
      b.Merge(rest.lag);
      last.lag_histogram = b.Encode();
      last.ops += rest.ops;
      last.errors += rest.errors;
      last.sent_ops += rest.sent;
      segment_hist.Merge(rest.latency);
      segment.ops += rest.ops;
      segment.errors += rest.errors;
    }
  }
  if (segment.end_second > segment.start_second) {
    segment.latency_histogram = segment_hist.Encode();
    // A tail shorter than half a segment (the drain after the schedule) joins the one before.
    if (!segments.empty() && segment.end_second - segment.start_second < (seg_len + 1) / 2) {
      Segment& prev = segments.back();
      Histogram h = Histogram::Decode(prev.latency_histogram).value();
      h.Merge(segment_hist);
      prev.latency_histogram = h.Encode();
      prev.end_second = segment.end_second;
      prev.ops += segment.ops;
      prev.errors += segment.errors;
    } else {
      segments.push_back(segment);
    }
  }
  report.timeline = std::move(timeline);
  report.segments = std::move(segments);

  // ---- Totals.
  const Totals totals = recorders.Collect();
  report.elapsed_seconds = elapsed;
  for (size_t k = 0; k < report.kinds.size(); ++k) {
    OpReport& o = report.kinds[k];
    o.count = totals.kinds[k].count;
    o.success = totals.kinds[k].success;
    o.errors = totals.kinds[k].errors;
    o.latency = totals.kinds[k].latency;
    report.latency.Merge(totals.kinds[k].latency);
    report.service_time.Merge(totals.kinds[k].service);
  }
  report.schedule_lag = totals.schedule_lag;
  report.generator_lag = totals.generator_lag;
  report.errors_by_kind = totals.errors_by_kind;
  report.sent = totals.sent;
  report.warmup_ops = totals.warmup_ops;
  report.warmup_errors = totals.warmup_errors;
  report.late_records = totals.late_records;
  report.retries = driver_->retries();
  report.peak_inflight = driver_->peak_inflight();
  report.peak_outstanding = peak_outstanding;
  if (cpu_at_start >= 0 && end_ns > cpu_wall_start) {
    report.generator_cpu_percent = 100.0 * (cpu_end - cpu_at_start) / (static_cast<double>(end_ns - cpu_wall_start) / 1e9);
  }
  report.error_samples = std::move(error_samples);

  // ---- Validation limits: the throughput limit scales with the offered load this run was
  // asked for (a --target-rate override, this shard's share).
  report.limits.p99_latency_ms = sc.validation.expected_p99_latency_ms;
  report.limits.max_error_rate = sc.validation.max_error_rate;
  if (sc.validation.expected_throughput_ops_sec) {
    report.limits.throughput_ops_sec = *sc.validation.expected_throughput_ops_sec * rate_factor_ / shard_n;
  }

  report.generator_saturated = GeneratorSaturated(report, driver_->concurrency());
  if (report.generator_saturated && options_.saturation_warnings) {
    std::fprintf(stderr,
                 "\n*** WARNING: THE LOAD GENERATOR COULD NOT KEEP UP WITH THE SCHEDULE ***\n"
                 "*** generator lag p99 %.3f ms (limit %.0f ms), achieved %.1f of %.1f ops/s, generator CPU %.0f%%.\n"
                 "*** Latencies are still measured from the intended start times, but the offered load was not\n"
                 "*** what the scenario asked for. Lower the rate or split the load: --shard i/n.\n",
                 static_cast<double>(report.generator_lag.ValueAtQuantile(0.99)) / 1e6, kSaturationLagMs,
                 report.throughput(), report.target_ops_per_sec, report.generator_cpu_percent);
    const double load = LoadAverage1();
    const unsigned cores = std::thread::hardware_concurrency();
    if (cores > 0 && load > static_cast<double>(cores)) {
      std::fprintf(stderr,
                   "*** The machine is overloaded (1-minute load average %.1f on %u cores): other processes took\n"
                   "*** the CPU the sender needed. Re-run on a quiet machine, or pin loadtest and engram to cores.\n",
                   load, cores);
    }
    std::fprintf(stderr, "\n");
  }
  report.saturation = AssessSaturation(report, driver_->concurrency());
  if (report.saturation.server_saturated && options_.saturation_warnings) {
    std::fprintf(stderr,
                 "\n*** WARNING: THE SERVER COULD NOT KEEP UP WITH THE SCHEDULE (server_saturated) ***\n"
                 "*** %s\n"
                 "*** This run measured a queue, not the build: it is no baseline, and its latencies say how long\n"
                 "*** requests waited. Lower the rate; `engram-perf capacity SCENARIO` finds the sustainable one.\n\n",
                 report.saturation.Summary().c_str());
  }
  if (aborted) {
    Say(fmt::format("aborted: {} of {} measured operations were never sent", scheduled_measured > report.total_operations()
                                                                                   ? scheduled_measured - report.total_operations()
                                                                                   : 0,
                    scheduled_measured));
  }

  // ---- Search recall on the sample, against exact search over the preloaded data.
  const int k = sc.op_params(OpKind::kSearch).k;
  ds.recall_k = k;
  if (sample_searches && !samples.empty()) {
    std::sort(samples.begin(), samples.end(), [](const auto& a, const auto& b) { return a.index < b.index; });
    if (samples.size() > static_cast<size_t>(options_.recall_samples)) samples.resize(static_cast<size_t>(options_.recall_samples));
    const int64_t r0 = MonoNanos();
    SearchRecall sr = ComputeSearchRecall(data, table.rows.empty() ? nullptr : &table, samples, k, 2);
    ds.recall_samples = sr.samples;
    ds.recall_at_k = sr.recall_at_k;
    Say(fmt::format("search recall@{} = {:.4f} over {} sampled searches (exact search took {:.1f} s)", k,
                    sr.recall_at_k, sr.samples, static_cast<double>(MonoNanos() - r0) / 1e9));
  }
  return report;
}

}  // namespace engram::loadgen
