// engine_eval: search quality and latency of the engine at scale, side by side with bare
// hnswlib on the same data, in one process and one run (issue 2's performance targets).
//
//   engine_eval [--n 100000] [--dim 768] [--queries 1000] [--k 10] [--ef 64] [--m 16]
//               [--ef-construction 200] [--scenario scenarios/competitive/hybrid_production_100k.toml]
//
// Data: the scenario's dataset generator (its embedding distribution and seed), num_nodes
// replaced by --n. Queries: fresh draws from the same distribution. Ground truth: exact top-k by
// brute force. Timing: single thread, each query runs on engine and hnswlib in alternating
// order (A B, B A, ...) so machine drift hits both alike; percentiles from HDR histograms.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <thread>
#include <unordered_set>

#include "core/clock.h"
#include "core/histogram.h"
#include "engine/engine.h"
#include "index/hnsw_index.h"
#include "kernels/kernels.h"
#include "workload/dataset.h"
#include "workload/scenario.h"

namespace {

using engram::Histogram;
using engram::MonoNanos;

struct Summary {
  double p50_us, p90_us, p99_us, p999_us, mean_us;
};

Summary Summarise(const Histogram& h) {
  return {h.ValueAtQuantile(0.5) / 1e3, h.ValueAtQuantile(0.9) / 1e3, h.ValueAtQuantile(0.99) / 1e3,
          h.ValueAtQuantile(0.999) / 1e3, h.mean() / 1e3};
}

void Print(const char* name, const Histogram& h, double recall) {
  Summary s = Summarise(h);
  std::printf("%-34s p50 %8.1f us  p90 %8.1f  p99 %8.1f  p99.9 %8.1f  mean %8.1f", name, s.p50_us, s.p90_us,
              s.p99_us, s.p999_us, s.mean_us);
  if (recall >= 0) std::printf("  recall@k %.4f", recall);
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"engine_eval: engine search/recall at scale vs bare hnswlib, same data, same run"};
  size_t n = 100000, queries = 1000, k = 10, ef = 64, m = 16, efc = 200;
  int dim = 768;
  std::string scenario_path = "scenarios/competitive/hybrid_production_100k.toml";
  app.add_option("--n", n, "episodes")->capture_default_str();
  app.add_option("--dim", dim, "embedding dimension")->capture_default_str();
  app.add_option("--queries", queries, "queries per measurement")->capture_default_str();
  app.add_option("--k", k, "neighbours per query")->capture_default_str();
  app.add_option("--ef", ef, "HNSW search list size")->capture_default_str();
  app.add_option("--m", m, "HNSW degree")->capture_default_str();
  app.add_option("--ef-construction", efc, "HNSW insert list size")->capture_default_str();
  app.add_option("--scenario", scenario_path, "scenario whose data distribution and seed to use")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  auto scenario = engram::workload::LoadScenario(scenario_path);
  if (!scenario.ok()) {
    std::fprintf(stderr, "engine_eval: %s\n", scenario.error().ToString().c_str());
    return 2;
  }
  scenario->data.num_nodes = n + queries;  // the last `queries` nodes are the query set
  scenario->data.embedding_dim = dim;
  scenario->data.memory_spaces = 1;
  engram::workload::DatasetGenerator gen(*scenario);
  std::printf("engine_eval: %zu x %d-d (%s), %zu queries, k=%zu, ef=%zu, M=%zu, ef_construction=%zu, simd %s\n",
              n, dim, scenario_path.c_str(), queries, k, ef, m, efc, engram::kernels::DispatchedTargetName());

  // Generate the data (two threads: each node is independent).
  std::vector<float> data((n + queries) * static_cast<size_t>(dim));
  int64_t t0 = MonoNanos();
  {
    auto fill = [&](size_t from, size_t step) {
      for (size_t i = from; i < n + queries; i += step) {
        auto e = gen.Node(i);
        std::copy(e.embedding.begin(), e.embedding.end(), data.begin() + i * dim);
      }
    };
    std::jthread a(fill, 0, 2), b(fill, 1, 2);
  }
  std::printf("generated in %.1f s\n", (MonoNanos() - t0) / 1e9);
  const float* query_rows = data.data() + n * dim;

  // Ground truth.
  t0 = MonoNanos();
  std::vector<std::vector<uint32_t>> truth(queries);
  {
    auto exact = [&](size_t from, size_t step) {
      for (size_t q = from; q < queries; q += step) {
        for (const auto& h : engram::index::ExactSearch(query_rows + q * dim, data.data(), n, dim, k)) truth[q].push_back(h.slot);
      }
    };
    std::jthread a(exact, 0, 2), b(exact, 1, 2);
  }
  std::printf("exact ground truth in %.1f s\n", (MonoNanos() - t0) / 1e9);

  // The engine (in memory, no background consolidation during timing).
  engram::EngineOptions eo;
  eo.default_space.dim = static_cast<uint32_t>(dim);
  eo.default_space.hnsw.m = m;
  eo.default_space.hnsw.ef_construction = efc;
  eo.default_space.hnsw.ef_search = ef;
  eo.default_space.hnsw.initial_capacity = n + 16;
  eo.background_consolidation = false;
  auto engine = engram::Engine::Open(eo).value();
  engram::Space* space = engine->GetSpace("default").value();
  t0 = MonoNanos();
  for (size_t base = 0; base < n; base += 1000) {
    std::vector<engram::EpisodeSpec> batch;
    for (size_t i = base; i < std::min(n, base + 1000); ++i) {
      engram::EpisodeSpec s;
      s.id = std::to_string(i);
      s.embedding.assign(data.begin() + i * dim, data.begin() + (i + 1) * dim);
      batch.push_back(std::move(s));
    }
    if (auto r = space->RememberBatch(batch, {}, 2); !r.ok()) {
      std::fprintf(stderr, "engine_eval: %s\n", r.error().ToString().c_str());
      return 3;
    }
  }
  const double engine_load_s = (MonoNanos() - t0) / 1e9;
  std::printf("engine: loaded %zu episodes in %.1f s (%.0f episodes/s, 2 threads), %zu association edges\n", n,
              engine_load_s, n / engine_load_s, space->Stats().edges);

  // Bare hnswlib, same parameters, its own (compile-time SIMD) inner product.
  engram::index::BareHnswlib bare(dim, eo.default_space.hnsw, n + 16);
  t0 = MonoNanos();
  {
    std::atomic<size_t> next{0};
    auto add = [&] {
      for (size_t i; (i = next.fetch_add(1)) < n;) bare.Add(static_cast<uint32_t>(i), data.data() + i * dim);
    };
    std::jthread a(add), b(add);
  }
  bare.SetEf(ef);
  std::printf("hnswlib: loaded in %.1f s (2 threads)\n", (MonoNanos() - t0) / 1e9);

  // Interleaved timing, single thread.
  Histogram h_engine, h_bare, h_index;
  size_t hit_engine = 0, hit_bare = 0;
  for (int round = 0; round < 2; ++round) {  // round 0 warms caches, round 1 is measured
    hit_engine = hit_bare = 0;
    h_engine.Reset();
    h_bare.Reset();
    for (size_t q = 0; q < queries; ++q) {
      const float* query = query_rows + q * dim;
      std::unordered_set<uint32_t> t(truth[q].begin(), truth[q].end());
      auto run_engine = [&] {
        const int64_t s = MonoNanos();
        auto r = space->Search(std::span<const float>(query, dim), k, static_cast<int>(ef));
        h_engine.Record(MonoNanos() - s);
        for (const auto& h : *r) hit_engine += t.count(static_cast<uint32_t>(std::stoul(h.id)));
      };
      auto run_bare = [&] {
        const int64_t s = MonoNanos();
        auto r = bare.Search(query, k);
        h_bare.Record(MonoNanos() - s);
        for (const auto& h : r) hit_bare += t.count(h.slot);
      };
      if (q % 2 == 0) {
        run_engine();
        run_bare();
      } else {
        run_bare();
        run_engine();
      }
    }
  }
  const double denom = static_cast<double>(queries * k);
  std::printf("\nsearch, single thread, %zu queries (interleaved engine/hnswlib):\n", queries);
  Print("engine Space::Search", h_engine, hit_engine / denom);
  Print("bare hnswlib searchKnn", h_bare, hit_bare / denom);
  std::printf("engine / hnswlib: p50 %.3f  p99 %.3f  mean %.3f\n",
              static_cast<double>(h_engine.ValueAtQuantile(0.5)) / h_bare.ValueAtQuantile(0.5),
              static_cast<double>(h_engine.ValueAtQuantile(0.99)) / h_bare.ValueAtQuantile(0.99),
              h_engine.mean() / h_bare.mean());

  // Recall (episodic with spreading, blended) on the same queries.
  std::printf("\nrecall, single thread, %zu queries, k=%zu, hops=2:\n", queries, k);
  for (auto mode : {engram::RecallMode::kEpisodic, engram::RecallMode::kBlended}) {
    if (mode == engram::RecallMode::kBlended) {
      t0 = MonoNanos();
      auto rep = space->Consolidate(true).value();
      std::printf("consolidated %zu episodes into %zu concepts in %.1f s\n", rep.episodes_processed,
                  rep.concepts_total, (MonoNanos() - t0) / 1e9);
    }
    Histogram h;
    for (int round = 0; round < 2; ++round) {
      h.Reset();
      for (size_t q = 0; q < queries; ++q) {
        engram::RecallQuery rq;
        rq.cue.assign(query_rows + q * dim, query_rows + (q + 1) * dim);
        rq.k = k;
        rq.hops = 2;
        rq.mode = mode;
        const int64_t s = MonoNanos();
        auto r = space->Recall(rq);
        h.Record(MonoNanos() - s);
        if (!r.ok()) return 3;
      }
    }
    Print(mode == engram::RecallMode::kEpisodic ? "recall episodic (hops 2)" : "recall blended (hops 2)", h, -1);
  }
  return 0;
}
