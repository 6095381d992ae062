// engine_eval: search quality and latency of the engine at scale, side by side with bare
// hnswlib on the same data, in one process and one run (issue 2's performance targets).
//
//   engine_eval [--n 100000] [--dim 768] [--queries 1000] [--k 10] [--ef 64,96,128]
//               [--m 16,24] [--ef-construction 200] [--std-dev 0.02]
//               [--scenario scenarios/competitive/hybrid_production_100k.toml]
//
// Data: the scenario's dataset generator (its embedding distribution and seed), num_nodes
// replaced by --n; --std-dev replaces the distribution's per-component noise (the generator's
// meaning of std_dev is unchanged: noise norm ~ std_dev * sqrt(dim), so the scenario's 0.1 at
// 768-d is close to uniform on the sphere, 0.02 gives clusters with cos(v, centroid) ~ 0.87).
// Queries: fresh draws from the same distribution. Ground truth: exact top-k by brute force.
// For each M the engine and bare hnswlib are built with the same M and ef_construction; for
// each ef both are timed on every query, single thread, in alternating order (A B, B A, ...)
// so machine drift hits both alike; percentiles from HDR histograms. Recall (episodic, then
// blended after a consolidation) is timed with each ef in turn. A summary table closes the
// output. --ef defaults to the engine's default ef_search.
#include <CLI/CLI.hpp>

#include <time.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "core/clock.h"
#include "core/histogram.h"
#include "engine/engine.h"
#include "eval_data.h"
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

using engram::eval::ThreadCpuNanos;

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

// One (M, ef) measurement, for the closing summary table.
struct Row {
  size_t m, ef;
  double engine_recall, bare_recall;
  Summary engine, bare, engine_cpu, bare_cpu;
  double ratio_p50, ratio_p99;
  Summary episodic, blended, blended_cpu;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"engine_eval: engine search/recall at scale vs bare hnswlib, same data, same run"};
  size_t n = 100000, queries = 1000, k = 10, efc = 200;
  std::vector<size_t> efs{engram::index::HnswOptions{}.ef_search}, ms{engram::index::HnswOptions{}.m};
  int dim = 768;
  int precision = static_cast<int>(engram::index::HnswOptions{}.precision);
  double std_dev = -1;
  std::string scenario_path = "scenarios/competitive/hybrid_production_100k.toml";
  app.add_option("--n", n, "episodes")->capture_default_str();
  app.add_option("--dim", dim, "embedding dimension")->capture_default_str();
  app.add_option("--queries", queries, "queries per measurement")->capture_default_str();
  app.add_option("--k", k, "neighbours per query")->capture_default_str();
  app.add_option("--ef", efs, "HNSW search list sizes, comma separated")->delimiter(',')->capture_default_str();
  app.add_option("--m", ms, "HNSW degrees, comma separated (each builds both indexes)")->delimiter(',')->capture_default_str();
  app.add_option("--ef-construction", efc, "HNSW insert list size")->capture_default_str();
  app.add_option("--precision", precision, "bits per value of the engine index's stored vectors (bare hnswlib: 32)")
      ->check(CLI::IsMember(engram::index::kVectorPrecisionBits))
      ->capture_default_str();
  app.add_option("--std-dev", std_dev,
                 "replace the distribution's per-component noise (clustered/hot_spot); <0 keeps the scenario's")
      ->capture_default_str();
  app.add_option("--scenario", scenario_path, "scenario whose data distribution and seed to use")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  // The last `queries` nodes are the query set.
  auto scenario = engram::eval::EvalScenario(scenario_path, n + queries, dim, std_dev);
  if (!scenario.ok()) {
    std::fprintf(stderr, "engine_eval: %s\n", scenario.error().ToString().c_str());
    return 2;
  }
  std::string list_ef, list_m;
  for (size_t e : efs) list_ef += (list_ef.empty() ? "" : ",") + std::to_string(e);
  for (size_t m : ms) list_m += (list_m.empty() ? "" : ",") + std::to_string(m);
  std::printf("engine_eval: %zu x %d-d (%s, %s std_dev %.3g), %zu queries, k=%zu, ef=%s, M=%s, ef_construction=%zu, engine index float%d, simd %s\n",
              n, dim, scenario_path.c_str(),
              std::string(engram::workload::DistributionKindName(scenario->data.distribution.kind)).c_str(),
              scenario->data.distribution.std_dev, queries, k, list_ef.c_str(), list_m.c_str(), efc,
              precision, engram::kernels::DispatchedTargetName());

  int64_t t0 = MonoNanos();
  const std::vector<float> data = engram::eval::GenerateRows(*scenario);
  std::printf("generated in %.1f s\n", (MonoNanos() - t0) / 1e9);
  const float* query_rows = data.data() + n * dim;

  t0 = MonoNanos();
  const std::vector<std::vector<uint32_t>> truth = engram::eval::ExactTopK(query_rows, queries, data.data(), n, dim, k);
  std::printf("exact ground truth in %.1f s\n", (MonoNanos() - t0) / 1e9);
  {  // how clustered the data is: mean similarity of a query to its exact nearest neighbour
    double s1 = 0;
    for (size_t q = 0; q < queries; ++q) {
      s1 += engram::kernels::Dot(query_rows + q * dim, data.data() + static_cast<size_t>(truth[q][0]) * dim, dim);
    }
    std::printf("mean similarity of a query to its nearest episode: %.3f\n", s1 / queries);
  }

  std::vector<Row> rows;
  for (size_t m : ms) {
    // The engine (in memory, no background consolidation during timing).
    engram::EngineOptions eo;
    eo.default_space.dim = static_cast<uint32_t>(dim);
    eo.default_space.hnsw.m = m;
    eo.default_space.hnsw.ef_construction = efc;
    eo.default_space.hnsw.ef_search = efs.front();
    eo.default_space.hnsw.initial_capacity = n + 16;
    eo.default_space.hnsw.precision = *engram::index::VectorPrecisionFromBits(precision);  // checked by CLI
    eo.background_consolidation = false;
    auto engine = engram::Engine::Open(eo).value();
    engram::Space* space = engine->GetSpace("default").value();
    std::printf("\n== M %zu, ef_construction %zu\n", m, efc);
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
    std::printf("hnswlib: loaded in %.1f s (2 threads)\n", (MonoNanos() - t0) / 1e9);

    const size_t first_row = rows.size();
    for (size_t ef : efs) {
      bare.SetEf(ef);
      // Interleaved timing, single thread.
      Histogram h_engine, h_bare, c_engine, c_bare;
      size_t hit_engine = 0, hit_bare = 0;
      for (int round = 0; round < 2; ++round) {  // round 0 warms caches, round 1 is measured
        hit_engine = hit_bare = 0;
        h_engine.Reset();
        h_bare.Reset();
        c_engine.Reset();
        c_bare.Reset();
        for (size_t q = 0; q < queries; ++q) {
          const float* query = query_rows + q * dim;
          std::unordered_set<uint32_t> t(truth[q].begin(), truth[q].end());
          auto run_engine = [&] {
            const int64_t c = ThreadCpuNanos();
            const int64_t s = MonoNanos();
            auto r = space->Search(std::span<const float>(query, dim), k, static_cast<int>(ef));
            h_engine.Record(MonoNanos() - s);
            c_engine.Record(ThreadCpuNanos() - c);
            for (const auto& h : *r) hit_engine += t.count(static_cast<uint32_t>(std::stoul(h.id)));
          };
          auto run_bare = [&] {
            const int64_t c = ThreadCpuNanos();
            const int64_t s = MonoNanos();
            auto r = bare.Search(query, k);
            h_bare.Record(MonoNanos() - s);
            c_bare.Record(ThreadCpuNanos() - c);
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
      std::printf("\nsearch, M %zu, ef %zu, single thread, %zu queries (interleaved engine/hnswlib):\n", m, ef, queries);
      Print("engine Space::Search", h_engine, hit_engine / denom);
      Print("bare hnswlib searchKnn", h_bare, hit_bare / denom);
      Print("engine Space::Search, thread CPU", c_engine, -1);
      Print("bare hnswlib searchKnn, thread CPU", c_bare, -1);
      Row row{};
      row.m = m;
      row.ef = ef;
      row.engine_recall = hit_engine / denom;
      row.bare_recall = hit_bare / denom;
      row.engine = Summarise(h_engine);
      row.bare = Summarise(h_bare);
      row.engine_cpu = Summarise(c_engine);
      row.bare_cpu = Summarise(c_bare);
      row.ratio_p50 = static_cast<double>(h_engine.ValueAtQuantile(0.5)) / h_bare.ValueAtQuantile(0.5);
      row.ratio_p99 = static_cast<double>(h_engine.ValueAtQuantile(0.99)) / h_bare.ValueAtQuantile(0.99);
      std::printf("engine / hnswlib: p50 %.3f  p99 %.3f  mean %.3f\n", row.ratio_p50, row.ratio_p99,
                  h_engine.mean() / h_bare.mean());
      rows.push_back(row);
    }

    // Recall (episodic with spreading, then blended) on the same queries, each ef in turn.
    for (auto mode : {engram::RecallMode::kEpisodic, engram::RecallMode::kBlended}) {
      if (mode == engram::RecallMode::kBlended) {
        t0 = MonoNanos();
        auto rep = space->Consolidate(true).value();
        std::printf("\nconsolidated %zu episodes into %zu concepts in %.1f s\n", rep.episodes_processed,
                    rep.concepts_total, (MonoNanos() - t0) / 1e9);
      }
      for (size_t e = 0; e < efs.size(); ++e) {
        Histogram h, hc;
        for (int round = 0; round < 2; ++round) {
          h.Reset();
          hc.Reset();
          for (size_t q = 0; q < queries; ++q) {
            engram::RecallQuery rq;
            rq.cue.assign(query_rows + q * dim, query_rows + (q + 1) * dim);
            rq.k = k;
            rq.hops = 2;
            rq.mode = mode;
            rq.ef = static_cast<int>(efs[e]);
            const int64_t c = ThreadCpuNanos();
            const int64_t s = MonoNanos();
            auto r = space->Recall(rq);
            h.Record(MonoNanos() - s);
            hc.Record(ThreadCpuNanos() - c);
            if (!r.ok()) return 3;
          }
        }
        const bool episodic = mode == engram::RecallMode::kEpisodic;
        std::printf("\nrecall, M %zu, ef %zu, single thread, %zu queries, k=%zu, hops=2:\n", m, efs[e], queries, k);
        Print(episodic ? "recall episodic (hops 2)" : "recall blended (hops 2)", h, -1);
        Print(episodic ? "recall episodic (hops 2), thread CPU" : "recall blended (hops 2), thread CPU", hc, -1);
        (episodic ? rows[first_row + e].episodic : rows[first_row + e].blended) = Summarise(h);
        if (!episodic) rows[first_row + e].blended_cpu = Summarise(hc);
      }
    }
  }

  std::printf("\nsummary (latencies in us, wall clock; cpu = the thread's CPU time; ratio = engine / hnswlib\n"
              "wall clock, same queries, same run):\n\n");
  std::printf("| M | ef | recall@%zu engine | recall@%zu hnswlib | engine p50 | engine p99 | hnswlib p50 | hnswlib p99 "
              "| ratio p50 | ratio p99 | engine p99 cpu | hnswlib p99 cpu | episodic p99 | blended p99 | blended p99 cpu |\n",
              k, k);
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (const Row& r : rows) {
    std::printf("| %zu | %zu | %.3f | %.3f | %.0f | %.0f | %.0f | %.0f | %.2f | %.2f | %.0f | %.0f | %.0f | %.0f | %.0f |\n",
                r.m, r.ef, r.engine_recall, r.bare_recall, r.engine.p50_us, r.engine.p99_us, r.bare.p50_us,
                r.bare.p99_us, r.ratio_p50, r.ratio_p99, r.engine_cpu.p99_us, r.bare_cpu.p99_us, r.episodic.p99_us,
                r.blended.p99_us, r.blended_cpu.p99_us);
  }
  return 0;
}
