// Micro-benchmarks of the SIMD kernels, each next to its scalar reference (`/scalar`) and, for
// vector similarity, hnswlib's own inner-product loop (`/hnswlib`), so one run shows what the
// SIMD path buys on this machine. Benchmark names are part of the results schema: the regression
// gate matches on them, so do not rename them.
//
// Inputs come from fixed seeds (engram::Rng), so every run on every machine measures the same
// work. The dispatched Highway target is recorded in the JSON context as "simd_target".
//
// ENGRAM_BENCH_SLOWDOWN=f (f > 0, e.g. 0.25) injects a known slowdown for the regression gate's
// own tests: every benchmark runs its kernel f extra times per iteration on average, spread
// deterministically (an accumulator adds f per iteration and pays out one extra run each time it
// reaches 1), so both time and instruction count per iteration rise by a factor of about 1 + f
// while the reported items/bytes stay those of one run. The value is recorded in the context as
// "injected_slowdown".
#include <benchmark/benchmark.h>
#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/random.h"
#include "kernels/kernels.h"

namespace engram::kernels {
namespace {

double g_slowdown = 0.0;  // set once in main from ENGRAM_BENCH_SLOWDOWN

// How many times to run the kernel in each iteration; see ENGRAM_BENCH_SLOWDOWN above.
// A fresh one per benchmark run keeps the schedule identical from run to run.
class SlowdownSchedule {
 public:
  SlowdownSchedule() : fraction_(g_slowdown) {}
  int RunsThisIteration() {
    owed_ += fraction_;
    const int extra = static_cast<int>(owed_);
    owed_ -= extra;
    return 1 + extra;
  }

 private:
  double fraction_;
  double owed_ = 0.0;
};

// Returns f > 0 from ENGRAM_BENCH_SLOWDOWN, or 0 when unset; exits on a malformed value rather
// than silently measuring without the slowdown a gate test asked for.
double SlowdownFromEnvironment() {
  const char* text = std::getenv("ENGRAM_BENCH_SLOWDOWN");
  if (text == nullptr || *text == '\0') return 0.0;
  char* end = nullptr;
  const double f = std::strtod(text, &end);
  if (*end != '\0' || !(f >= 0.0) || f > 100.0) {
    std::fprintf(stderr, "ENGRAM_BENCH_SLOWDOWN=%s: expected a number in [0, 100]\n", text);
    std::exit(2);
  }
  return f;
}

std::vector<float> NormalVector(uint64_t seed, size_t n) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(rng.Normal());
  return v;
}

// ---------------------------------------------------------------------------------------------
// vector_similarity_768d_1000c: one 768-d query against 1000 contiguous candidates.

constexpr size_t kDim = 768;
constexpr size_t kCandidates = 1000;

struct SimilarityInputs {
  std::vector<float> query = NormalVector(101, kDim);
  std::vector<float> rows = NormalVector(102, kDim * kCandidates);
  std::vector<float> out = std::vector<float>(kCandidates);
};

SimilarityInputs& Similarity() {
  static SimilarityInputs* inputs = new SimilarityInputs();
  return *inputs;
}

void SetSimilarityCounters(benchmark::State& state) {
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kCandidates));
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * kCandidates * kDim * sizeof(float)));
}

void BM_VectorSimilarity(benchmark::State& state) {
  SimilarityInputs& in = Similarity();
  SlowdownSchedule slowdown;
  for (auto _ : state) {
    for (int r = slowdown.RunsThisIteration(); r > 0; --r) {
      BatchCosine(in.query.data(), in.rows.data(), kCandidates, kDim, in.out.data());
      benchmark::ClobberMemory();
    }
    benchmark::DoNotOptimize(in.out.data());
  }
  SetSimilarityCounters(state);
}

void BM_VectorSimilarityScalar(benchmark::State& state) {
  SimilarityInputs& in = Similarity();
  SlowdownSchedule slowdown;
  for (auto _ : state) {
    for (int r = slowdown.RunsThisIteration(); r > 0; --r) {
      scalar::BatchCosine(in.query.data(), in.rows.data(), kCandidates, kDim, in.out.data());
      benchmark::ClobberMemory();
    }
    benchmark::DoNotOptimize(in.out.data());
  }
  SetSimilarityCounters(state);
}

// hnswlib's inner-product distance (1 - dot) over the same rows. It computes dot products only,
// i.e. cosine on vectors normalized at insert time, so it does less arithmetic than BatchCosine
// (no row norms) for the same memory traffic. Its SIMD width is fixed when this file is compiled
// (SSE without -mavx), not chosen at run time like ours.
void BM_VectorSimilarityHnswlib(benchmark::State& state) {
  SimilarityInputs& in = Similarity();
  hnswlib::InnerProductSpace space(kDim);
  const hnswlib::DISTFUNC<float> distance = space.get_dist_func();
  const void* param = space.get_dist_func_param();
  SlowdownSchedule slowdown;
  for (auto _ : state) {
    for (int r = slowdown.RunsThisIteration(); r > 0; --r) {
      for (size_t i = 0; i < kCandidates; ++i) {
        in.out[i] = distance(in.query.data(), in.rows.data() + i * kDim, param);
      }
      benchmark::ClobberMemory();
    }
    benchmark::DoNotOptimize(in.out.data());
  }
  SetSimilarityCounters(state);
}

// ---------------------------------------------------------------------------------------------
// spreading_activation_1000n_100i: 100 synchronous steps over 1000 nodes and 5000 incoming edges.

constexpr size_t kNodes = 1000;
constexpr size_t kEdges = 5000;
constexpr int kSteps = 100;
constexpr int kSeeds = 10;

constexpr float kRetain = 0.5f;
constexpr float kDecayFactor = 0.8f;
constexpr float kThreshold = 0.01f;

struct SpreadInputs {
  std::vector<uint32_t> row, col;
  std::vector<float> weight;
  // The same graph in the layout the SIMD kernel reads, built once like the CSR arrays above
  // (building it takes about four steps, ~8 us here; like the CSR arrays it is not timed).
  SpreadGraph graph;
  std::vector<uint32_t> seeds;
  std::vector<float> act = std::vector<float>(kNodes), next = std::vector<float>(kNodes);

  // Targets uniform, sources skewed towards low ids (P(src < k) ~ sqrt(k/n)), so a few nodes
  // feed many others as hubs do in an association graph; weights in [0, 0.3).
  SpreadInputs() {
    Rng rng(201);
    std::vector<std::vector<std::pair<uint32_t, float>>> incoming(kNodes);
    for (size_t e = 0; e < kEdges; ++e) {
      const auto dst = static_cast<uint32_t>(rng.Below(kNodes));
      const double u = rng.Uniform();
      const auto src = static_cast<uint32_t>(u * u * kNodes);
      incoming[dst].emplace_back(src, static_cast<float>(0.3 * rng.Uniform()));
    }
    row.push_back(0);
    for (const auto& edges : incoming) {
      for (const auto& [src, w] : edges) {
        col.push_back(src);
        weight.push_back(w);
      }
      row.push_back(static_cast<uint32_t>(col.size()));
    }
    for (int s = 0; s < kSeeds; ++s) seeds.push_back(static_cast<uint32_t>(rng.Below(kNodes)));
    graph.Assign(row.data(), col.data(), weight.data(), kNodes);
  }
};

SpreadInputs& Spread() {
  static SpreadInputs* inputs = new SpreadInputs();
  return *inputs;
}

// One step of the kernel under test over the inputs' graph: act -> next, returns the active count.
using SpreadStepFn = size_t (*)(const SpreadInputs&, const float* act, float* next);

size_t SimdSpreadStep(const SpreadInputs& in, const float* act, float* next) {
  return SpreadStep(in.graph, act, kRetain, kDecayFactor, kThreshold, next);
}

size_t ScalarSpreadStep(const SpreadInputs& in, const float* act, float* next) {
  return scalar::SpreadStep(in.row.data(), in.col.data(), in.weight.data(), kNodes, act, kRetain,
                            kDecayFactor, kThreshold, next);
}

// One full spread from the seeds: reset, then kSteps ping-pong steps. Returns the active count.
size_t RunSpread(SpreadInputs& in, SpreadStepFn step) {
  std::fill(in.act.begin(), in.act.end(), 0.0f);
  for (const uint32_t s : in.seeds) in.act[s] = 1.0f;
  float* act = in.act.data();
  float* next = in.next.data();
  size_t active = 0;
  for (int i = 0; i < kSteps; ++i) {
    active = step(in, act, next);
    std::swap(act, next);
  }
  return active;
}

void BM_SpreadingActivation(benchmark::State& state, SpreadStepFn step) {
  SpreadInputs& in = Spread();
  SlowdownSchedule slowdown;
  for (auto _ : state) {
    for (int r = slowdown.RunsThisIteration(); r > 0; --r) {
      benchmark::DoNotOptimize(RunSpread(in, step));
      benchmark::ClobberMemory();
    }
  }
  // Items are edge visits: the work a step does is proportional to them.
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kSteps * in.col.size()));
  state.counters["active_nodes"] = static_cast<double>(RunSpread(in, step));
}

// ---------------------------------------------------------------------------------------------
// decay_calculation_10000m / decay_exponential_10000m: 10,000 memories aged 0..30 days.

constexpr size_t kMemories = 10000;
constexpr double kThirtyDays = 30 * 86400.0;

struct DecayInputs {
  std::vector<float> strength = std::vector<float>(kMemories);
  std::vector<float> age = std::vector<float>(kMemories);  // seconds
  std::vector<float> out = std::vector<float>(kMemories);
  DecayInputs() {
    Rng rng(301);
    for (size_t i = 0; i < kMemories; ++i) {
      strength[i] = static_cast<float>(rng.Uniform());
      age[i] = static_cast<float>(rng.Uniform() * kThirtyDays);
    }
  }
};

DecayInputs& Decay() {
  static DecayInputs* inputs = new DecayInputs();
  return *inputs;
}

constexpr float kPowerTau = 3600.0f;
constexpr float kPowerAlpha = 0.5f;
// A week: with tau = 1 hour nearly every 0..30-day-old memory would underflow to 0.
constexpr float kExponentialTau = 7 * 86400.0f;

using PowerLawFn = void (*)(const float*, const float*, size_t, float, float, float*);
using ExponentialFn = void (*)(const float*, const float*, size_t, float, float*);

void SetDecayCounters(benchmark::State& state) {
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kMemories));
  // Two float inputs and one output per memory.
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * kMemories * 3 * sizeof(float)));
}

void BM_DecayPowerLaw(benchmark::State& state, PowerLawFn decay) {
  DecayInputs& in = Decay();
  SlowdownSchedule slowdown;
  for (auto _ : state) {
    for (int r = slowdown.RunsThisIteration(); r > 0; --r) {
      decay(in.strength.data(), in.age.data(), kMemories, kPowerTau, kPowerAlpha, in.out.data());
      benchmark::ClobberMemory();
    }
    benchmark::DoNotOptimize(in.out.data());
  }
  SetDecayCounters(state);
}

void BM_DecayExponential(benchmark::State& state, ExponentialFn decay) {
  DecayInputs& in = Decay();
  SlowdownSchedule slowdown;
  for (auto _ : state) {
    for (int r = slowdown.RunsThisIteration(); r > 0; --r) {
      decay(in.strength.data(), in.age.data(), kMemories, kExponentialTau, in.out.data());
      benchmark::ClobberMemory();
    }
    benchmark::DoNotOptimize(in.out.data());
  }
  SetDecayCounters(state);
}

void RegisterAll() {
  benchmark::RegisterBenchmark("vector_similarity_768d_1000c", BM_VectorSimilarity);
  benchmark::RegisterBenchmark("vector_similarity_768d_1000c/scalar", BM_VectorSimilarityScalar);
  benchmark::RegisterBenchmark("vector_similarity_768d_1000c/hnswlib", BM_VectorSimilarityHnswlib);
  benchmark::RegisterBenchmark("spreading_activation_1000n_100i", BM_SpreadingActivation,
                               &SimdSpreadStep);
  benchmark::RegisterBenchmark("spreading_activation_1000n_100i/scalar", BM_SpreadingActivation,
                               &ScalarSpreadStep);
  benchmark::RegisterBenchmark("decay_calculation_10000m", BM_DecayPowerLaw, &DecayPowerLaw);
  benchmark::RegisterBenchmark("decay_calculation_10000m/scalar", BM_DecayPowerLaw,
                               &scalar::DecayPowerLaw);
  benchmark::RegisterBenchmark("decay_exponential_10000m", BM_DecayExponential,
                               &DecayExponential);
  benchmark::RegisterBenchmark("decay_exponential_10000m/scalar", BM_DecayExponential,
                               &scalar::DecayExponential);
}

}  // namespace
}  // namespace engram::kernels

// BENCHMARK_MAIN plus the context entries the reports need.
int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  engram::kernels::g_slowdown = engram::kernels::SlowdownFromEnvironment();
  benchmark::AddCustomContext("simd_target", engram::kernels::DispatchedTargetName());
  if (engram::kernels::g_slowdown > 0.0) {
    benchmark::AddCustomContext("injected_slowdown", std::to_string(engram::kernels::g_slowdown));
  }
  engram::kernels::RegisterAll();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
