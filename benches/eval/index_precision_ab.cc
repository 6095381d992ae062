// index_precision_ab: the engine's vector index with two storage precisions (float32, binary16
// or int8; --a 32 --b 16 by default), built from the same data and timed side by side in one
// process, one thread.
//
//   index_precision_ab [--n 100000] [--dim 768] [--queries 2000] [--ef 96] [--block 500]
//                      [--m 16] [--ef-construction 128] [--std-dev S] [--a 32] [--b 16]
//                      [--rerank K] [--scenario scenarios/competitive/hybrid_production_100k.toml]
//
// --rerank K asks each index for K candidates and re-ranks them by the exact float dot product
// before keeping 10, as the engine does (Space::IndexSearch); the re-ranking is timed too.
//
// Inserts go in blocks of --block vectors, alternating which index gets the block first
// (A B, B A, ...), so drift of a shared machine falls on both alike; each block's wall-clock
// and thread CPU time is added to its index's total. Searches are timed with query q on
// index q mod 2 only: a query searched twice in a row finds the vectors it visits already in
// cache the second time (about 3 MB per search, well inside L3), which made the second of
// two searches of one index up to 1.4x faster in a first version of this program. Each index
// so gets half the queries, all from the same distribution. Recall@10 (against exact search
// over the float data) is then computed for both on every query, untimed. The ratios are the
// result; absolute times depend on what else the machine runs.
#include <CLI/CLI.hpp>

#include <time.h>

#include <cstdio>
#include <string>
#include <thread>
#include <algorithm>
#include <vector>

#include "core/clock.h"
#include "core/histogram.h"
#include "eval_data.h"
#include "index/hnsw_index.h"
#include "kernels/kernels.h"
#include "workload/dataset.h"
#include "workload/scenario.h"

namespace {

using engram::Histogram;
using engram::MonoNanos;
using engram::index::HnswIndex;
using engram::index::HnswOptions;
using engram::index::VectorPrecision;
using engram::eval::ThreadCpuNanos;

struct Side {
  const char* name = "";
  std::unique_ptr<HnswIndex> index;
  int64_t insert_wall_ns = 0, insert_cpu_ns = 0;
};

struct SearchWay {
  std::string name;
  int side = 0;
  Histogram wall, cpu;
  size_t found = 0;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"index_precision_ab: the vector index at two storage precisions, same data, same run"};
  size_t n = 100000, queries = 2000, block = 500, m = 16, efc = 128, rerank = 0;
  int bits[2] = {32, 16};
  int dim = 768, ef = static_cast<int>(HnswOptions{}.ef_search);
  double std_dev = -1;
  std::string scenario_path = "scenarios/competitive/hybrid_production_100k.toml";
  app.add_option("--n", n, "vectors")->capture_default_str();
  app.add_option("--dim", dim, "dimension")->capture_default_str();
  app.add_option("--queries", queries, "queries")->capture_default_str();
  app.add_option("--ef", ef, "search list size")->capture_default_str();
  app.add_option("--block", block, "inserts per alternation block")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--m", m, "HNSW degree")->capture_default_str();
  app.add_option("--ef-construction", efc, "HNSW insert list size")->capture_default_str();
  app.add_option("--std-dev", std_dev, "replace the distribution's per-component noise; <0 keeps the scenario's")
      ->capture_default_str();
  app.add_option("--a", bits[0], "bits per value of index A (32, 16 or 8)")
      ->check(CLI::IsMember(engram::index::kVectorPrecisionBits))
      ->capture_default_str();
  app.add_option("--b", bits[1], "bits per value of index B (32, 16 or 8)")
      ->check(CLI::IsMember(engram::index::kVectorPrecisionBits))
      ->capture_default_str();
  app.add_option("--rerank", rerank, "fetch this many candidates and re-rank them exactly before keeping 10 (0: off)")
      ->capture_default_str();
  app.add_option("--scenario", scenario_path, "scenario whose data distribution and seed to use")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  auto scenario = engram::eval::EvalScenario(scenario_path, n + queries, dim, std_dev);
  if (!scenario.ok()) {
    std::fprintf(stderr, "index_precision_ab: %s\n", scenario.error().ToString().c_str());
    return 2;
  }
  const std::vector<float> data = engram::eval::GenerateRows(*scenario);
  const float* query_rows = data.data() + n * dim;
  const std::vector<std::vector<uint32_t>> truth = engram::eval::ExactTopK(query_rows, queries, data.data(), n, dim, 10);
  std::printf("index_precision_ab: %zu x %d-d (%s, std_dev %.3g), M %zu, ef_construction %zu, ef %d, %zu queries, simd %s\n",
              n, dim, scenario_path.c_str(), scenario->data.distribution.std_dev, m, efc, ef, queries,
              engram::kernels::DispatchedTargetName());

  Side sides[2];
  for (int s = 0; s < 2; ++s) {
    const VectorPrecision precision = *engram::index::VectorPrecisionFromBits(bits[s]);  // checked by CLI
    sides[s].name = engram::index::VectorPrecisionName(precision);
    HnswOptions o;
    o.m = m;
    o.ef_construction = efc;
    o.ef_search = static_cast<size_t>(ef);
    o.initial_capacity = n + 16;
    o.precision = precision;
    sides[s].index = std::make_unique<HnswIndex>(dim, o);
  }
  int64_t last_report = MonoNanos();
  for (size_t base = 0, b = 0; base < n; base += block, ++b) {
    for (int turn = 0; turn < 2; ++turn) {
      Side& side = sides[(b + turn) % 2];
      const int64_t w0 = MonoNanos(), c0 = ThreadCpuNanos();
      for (size_t i = base; i < std::min(n, base + block); ++i) {
        if (auto st = side.index->Add(static_cast<uint32_t>(i), data.data() + i * dim); !st.ok()) {
          std::fprintf(stderr, "index_precision_ab: %s\n", st.ToString().c_str());
          return 3;
        }
      }
      side.insert_cpu_ns += ThreadCpuNanos() - c0;
      side.insert_wall_ns += MonoNanos() - w0;
    }
    if (MonoNanos() - last_report > 10'000'000'000) {
      last_report = MonoNanos();
      std::fprintf(stderr, "  inserted %zu of %zu into both\n", std::min(n, base + block), n);
    }
  }
  SearchWay ways[2];
  for (int w = 0; w < 2; ++w) {
    ways[w].side = w;
    ways[w].name = sides[w].name;
  }
  // The engine's search: the index's candidates, re-ranked by the float dot when --rerank is set.
  auto search = [&](const HnswIndex& index, const float* query) {
    if (rerank == 0) return index.Search(query, 10, ef);
    auto hits = index.Search(query, std::max<size_t>(rerank, 10), ef);
    for (auto& h : hits) h.similarity = engram::kernels::Dot(query, data.data() + size_t{h.slot} * dim, dim);
    std::sort(hits.begin(), hits.end(), [](const auto& a, const auto& b) { return a.similarity > b.similarity; });
    if (hits.size() > 10) hits.resize(10);
    return hits;
  };
  for (size_t q = 0; q < queries; ++q) {
    SearchWay& way = ways[q % 2];
    HnswIndex& index = *sides[way.side].index;
    const int64_t w0 = MonoNanos(), c0 = ThreadCpuNanos();
    auto hits = search(index, query_rows + q * dim);
    const int64_t c1 = ThreadCpuNanos(), w1 = MonoNanos();
    way.wall.Record(w1 - w0);
    way.cpu.Record(c1 - c0);
  }
  for (SearchWay& way : ways) {
    HnswIndex& index = *sides[way.side].index;
    for (size_t q = 0; q < queries; ++q) {
      for (const auto& h : search(index, query_rows + q * dim)) {
        way.found += std::count(truth[q].begin(), truth[q].end(), h.slot);
      }
    }
  }

  std::printf("\n| index | insert s (wall) | insert s (cpu) | us per insert (cpu) | index MB |\n|---|---|---|---|---|\n");
  for (const Side& s : sides) {
    std::printf("| %s | %.1f | %.1f | %.0f | %.0f |\n", s.name, s.insert_wall_ns / 1e9, s.insert_cpu_ns / 1e9,
                s.insert_cpu_ns / 1e3 / static_cast<double>(n), s.index->MemoryBytes() / 1048576.0);
  }
  std::printf("| %s / %s | %.3f | %.3f | | %.3f |\n", sides[1].name, sides[0].name,
              static_cast<double>(sides[1].insert_wall_ns) / sides[0].insert_wall_ns,
              static_cast<double>(sides[1].insert_cpu_ns) / sides[0].insert_cpu_ns,
              static_cast<double>(sides[1].index->MemoryBytes()) / sides[0].index->MemoryBytes());
  std::printf("\n| search (rerank %zu) | p50 us | p99 us | p99 cpu us | recall@10 | p50 / %s's |\n|---|---|---|---|---|---|\n",
              rerank, sides[0].name);
  const double reference = static_cast<double>(ways[0].wall.ValueAtQuantile(0.5));
  for (const SearchWay& w : ways) {
    std::printf("| %s | %.0f | %.0f | %.0f | %.4f | %.3f |\n", w.name.c_str(), w.wall.ValueAtQuantile(0.5) / 1e3,
                w.wall.ValueAtQuantile(0.99) / 1e3, w.cpu.ValueAtQuantile(0.99) / 1e3,
                static_cast<double>(w.found) / static_cast<double>(queries * 10),
                static_cast<double>(w.wall.ValueAtQuantile(0.5)) / reference);
  }
  return 0;
}
