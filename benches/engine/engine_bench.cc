// Engine-level benchmarks: search and recall through the public Space API on a 10,000-episode,
// 768-dimension in-memory space, next to the exact search they approximate (`/bruteforce` with
// the SIMD kernel, `/scalar` with the plain-loop kernel). Benchmark names are part of the results
// schema: the regression gate (benches/regression/baselines.json) matches on them.
//
// The space is built once per process, lazily, by the first benchmark that runs: 100 topic
// centres, each episode a centre plus uniform noise, remembered in batches of 1000 with
// parallelism 1 and no background consolidator, then consolidated in full so that blended recall
// has concepts to use. Single-threaded building gives the same HNSW graph on every run, so the
// instruction count of a search is repeatable. Queries are 64 fixed cues (a centre plus noise)
// used round-robin.
//
// Recall reinforces what it returns (strength, last access), so repeated recalls change the
// scores slightly but not the work done; the timing is what a server sees for a hot space.
//
// Environment (shared with kernels_bench, for the regression gate):
//   ENGRAM_BENCH_FIXED_ITERATIONS=N  every benchmark runs exactly N iterations (instruction-count
//                                    mode: the gate differences two counts to cancel setup).
//   ENGRAM_BENCH_SLOWDOWN=f          adds f extra operations per iteration on average, spread
//                                    deterministically, as in kernels_bench.
// Under Valgrind the space is built with callgrind instrumentation off (client requests, no-ops
// elsewhere), so an instruction count covers the benchmark body only. Even uninstrumented, the
// 10K-episode build runs ~150x slower than native under Valgrind (tens of minutes), so the
// regression gate counts the engine's instructions only on request (benchmark_regression.sh
// --engine) and gates it on wall time otherwise.
#include <benchmark/benchmark.h>
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#else  // Valgrind not installed: the client requests are no-ops anyway outside Valgrind.
#define CALLGRIND_STOP_INSTRUMENTATION
#define CALLGRIND_START_INSTRUMENTATION
#endif

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "core/random.h"
#include "engine/engine.h"
#include "kernels/kernels.h"

namespace engram {
namespace {

constexpr size_t kEpisodes = 10000;
constexpr uint32_t kDim = 768;
constexpr size_t kTopics = 100;
constexpr size_t kQueries = 64;
constexpr size_t kBatch = 1000;
constexpr size_t kTopK = 10;
constexpr int kEf = 64;

double g_slowdown = 0.0;
int64_t g_fixed_iterations = 0;

// Same schedule as kernels_bench: f extra runs per iteration on average, deterministic.
class SlowdownSchedule {
 public:
  int RunsThisIteration() {
    owed_ += g_slowdown;
    const int extra = static_cast<int>(owed_);
    owed_ -= extra;
    return 1 + extra;
  }

 private:
  double owed_ = 0.0;
};

// Reads a number from the environment; exits on a malformed value rather than measuring
// something other than what the caller asked for.
double NumberFromEnvironment(const char* name, double max) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return 0.0;
  char* end = nullptr;
  const double v = std::strtod(text, &end);
  if (*end != '\0' || !(v >= 0.0) || v > max) {
    std::fprintf(stderr, "%s=%s: expected a number in [0, %g]\n", name, text, max);
    std::exit(2);
  }
  return v;
}

struct Fixture {
  std::unique_ptr<Engine> engine;
  Space* space = nullptr;
  std::vector<float> unit_rows;                 // kEpisodes x kDim, normalised, slot order
  std::vector<std::string> ids;                 // slot order
  std::vector<std::vector<float>> queries;      // kQueries cues
  std::vector<std::vector<uint32_t>> truth;     // exact top-k slots per query
};

void Die(const Status& status, const char* what) {
  std::fprintf(stderr, "engine_bench: %s: %s\n", what, status.ToString().c_str());
  std::exit(1);
}

std::vector<uint32_t> ExactTopK(const float* scores, size_t n, size_t k) {
  std::vector<uint32_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = static_cast<uint32_t>(i);
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                    [&](uint32_t a, uint32_t b) { return scores[a] > scores[b]; });
  order.resize(k);
  return order;
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

Fixture* BuildFixture() {
  const auto start = std::chrono::steady_clock::now();
  auto* f = new Fixture();
  EngineOptions options;
  options.background_consolidation = false;
  auto engine = Engine::Open(options);
  if (!engine) Die(engine.error(), "Engine::Open");
  f->engine = std::move(engine).value();
  auto space = f->engine->GetSpace("default");
  if (!space) space = f->engine->CreateSpace("default");
  if (!space) Die(space.error(), "default space");
  f->space = *space;

  Rng rng(401);
  std::vector<float> centres(kTopics * kDim);
  for (float& x : centres) x = static_cast<float>(rng.Normal());
  // Uniform noise of this half-width around a centre gives cosine ~0.6 to the centre: topics
  // overlap enough that HNSW has to work, and consolidation finds them.
  constexpr double kNoise = 1.2;
  f->unit_rows.resize(kEpisodes * kDim);
  f->ids.reserve(kEpisodes);
  std::vector<EpisodeSpec> batch;
  for (size_t i = 0; i < kEpisodes; ++i) {
    EpisodeSpec spec;
    spec.id = "ep-" + std::to_string(i);
    const size_t topic = rng.Below(kTopics);
    spec.what = "episode " + std::to_string(i) + " about topic " + std::to_string(topic);
    spec.tags = {"topic" + std::to_string(topic)};
    spec.embedding.resize(kDim);
    for (uint32_t d = 0; d < kDim; ++d) {
      spec.embedding[d] =
          centres[topic * kDim + d] + static_cast<float>(kNoise * (2.0 * rng.Uniform() - 1.0));
    }
    std::copy(spec.embedding.begin(), spec.embedding.end(), f->unit_rows.begin() + i * kDim);
    kernels::scalar::Normalize(f->unit_rows.data() + i * kDim, kDim);
    f->ids.push_back(spec.id);
    batch.push_back(std::move(spec));
    if (batch.size() == kBatch) {
      auto stored = f->space->RememberBatch(batch, {}, /*parallelism=*/1);
      if (!stored) Die(stored.error(), "RememberBatch");
      batch.clear();
    }
  }
  auto report = f->space->Consolidate(/*full=*/true);
  if (!report) Die(report.error(), "Consolidate");
  std::fprintf(stderr, "engine_bench: built and consolidated %zu episodes in %.1f s\n", kEpisodes,
               SecondsSince(start));

  std::vector<float> scores(kEpisodes);
  for (size_t q = 0; q < kQueries; ++q) {
    const size_t topic = rng.Below(kTopics);
    std::vector<float> cue(kDim);
    for (uint32_t d = 0; d < kDim; ++d) {
      cue[d] = centres[topic * kDim + d] + static_cast<float>(kNoise * (2.0 * rng.Uniform() - 1.0));
    }
    std::vector<float> unit = cue;
    kernels::scalar::Normalize(unit.data(), kDim);
    kernels::scalar::BatchDot(unit.data(), f->unit_rows.data(), kEpisodes, kDim, scores.data());
    f->truth.push_back(ExactTopK(scores.data(), kEpisodes, kTopK));
    f->queries.push_back(std::move(cue));
  }
  return f;
}

// The space, built on first use with callgrind instrumentation off (a no-op outside Valgrind).
Fixture& Shared() {
  static Fixture* fixture = [] {
    CALLGRIND_STOP_INSTRUMENTATION;
    Fixture* f = BuildFixture();
    CALLGRIND_START_INSTRUMENTATION;
    return f;
  }();
  return *fixture;
}

void BM_EngineSearch(benchmark::State& state) {
  Fixture& f = Shared();
  SlowdownSchedule slowdown;
  size_t q = 0;
  size_t found = 0, asked = 0;
  for (auto _ : state) {
    const std::vector<float>& cue = f.queries[q];
    for (int r = slowdown.RunsThisIteration(); r > 0; --r) {
      auto hits = f.space->Search(cue, kTopK, kEf);
      if (!hits) Die(hits.error(), "Search");
      benchmark::DoNotOptimize(hits->data());
      if (r == 1) {
        // Recall@k against the exact answer, off the clock's critical path only in spirit:
        // a few dozen string compares next to a graph search.
        for (const uint32_t slot : f.truth[q]) {
          for (const SearchHit& h : *hits) found += (h.id == f.ids[slot]);
        }
        asked += kTopK;
      }
    }
    q = (q + 1) % kQueries;
  }
  state.SetItemsProcessed(state.iterations());
  if (asked > 0) state.counters["recall_at_10"] = static_cast<double>(found) / asked;
}

using BatchDotFn = void (*)(const float*, const float*, size_t, size_t, float*);

// Exact search over the same unit vectors: what HNSW approximates.
void BM_BruteForceSearch(benchmark::State& state, BatchDotFn batch_dot) {
  Fixture& f = Shared();
  SlowdownSchedule slowdown;
  std::vector<float> unit(kDim), scores(kEpisodes);
  size_t q = 0;
  for (auto _ : state) {
    for (int r = slowdown.RunsThisIteration(); r > 0; --r) {
      std::copy(f.queries[q].begin(), f.queries[q].end(), unit.begin());
      kernels::Normalize(unit.data(), kDim);
      batch_dot(unit.data(), f.unit_rows.data(), kEpisodes, kDim, scores.data());
      auto top = ExactTopK(scores.data(), kEpisodes, kTopK);
      benchmark::DoNotOptimize(top.data());
    }
    q = (q + 1) % kQueries;
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_EngineRecall(benchmark::State& state, RecallMode mode) {
  Fixture& f = Shared();
  SlowdownSchedule slowdown;
  RecallQuery query;
  query.k = kTopK;
  query.mode = mode;
  query.hops = 2;
  query.ef = kEf;
  size_t q = 0;
  size_t activated = 0, candidates = 0;
  for (auto _ : state) {
    query.cue = f.queries[q];
    for (int r = slowdown.RunsThisIteration(); r > 0; --r) {
      auto result = f.space->Recall(query);
      if (!result) Die(result.error(), "Recall");
      activated += result->activated;
      candidates += result->candidates;
      benchmark::DoNotOptimize(result->hits.data());
    }
    q = (q + 1) % kQueries;
  }
  state.SetItemsProcessed(state.iterations());
  const double n = static_cast<double>(std::max<int64_t>(1, state.iterations()));
  state.counters["activated"] = static_cast<double>(activated) / n;
  state.counters["candidates"] = static_cast<double>(candidates) / n;
}

void Register(benchmark::internal::Benchmark* b) {
  b->Unit(benchmark::kMicrosecond);
  if (g_fixed_iterations > 0) b->Iterations(g_fixed_iterations);
}

void RegisterAll() {
  Register(benchmark::RegisterBenchmark("engine_search_10k_768d", BM_EngineSearch));
  Register(benchmark::RegisterBenchmark("engine_search_10k_768d/bruteforce", BM_BruteForceSearch,
                                        &kernels::BatchDot));
  Register(benchmark::RegisterBenchmark("engine_search_10k_768d/scalar", BM_BruteForceSearch,
                                        &kernels::scalar::BatchDot));
  Register(benchmark::RegisterBenchmark("engine_recall_episodic_10k_768d", BM_EngineRecall,
                                        RecallMode::kEpisodic));
  Register(benchmark::RegisterBenchmark("engine_recall_blended_10k_768d", BM_EngineRecall,
                                        RecallMode::kBlended));
}

}  // namespace
}  // namespace engram

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  engram::g_slowdown = engram::NumberFromEnvironment("ENGRAM_BENCH_SLOWDOWN", 100.0);
  engram::g_fixed_iterations =
      static_cast<int64_t>(engram::NumberFromEnvironment("ENGRAM_BENCH_FIXED_ITERATIONS", 1e9));
  benchmark::AddCustomContext("simd_target", engram::kernels::DispatchedTargetName());
  if (engram::g_slowdown > 0.0) {
    benchmark::AddCustomContext("injected_slowdown", std::to_string(engram::g_slowdown));
  }
  if (engram::g_fixed_iterations > 0) {
    benchmark::AddCustomContext("fixed_iterations", std::to_string(engram::g_fixed_iterations));
  }
  engram::RegisterAll();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
