// api_ops_bench: the server's handler cost per operation kind at scale, without sockets.
//
//   api_ops_bench --scenario scenarios/competitive/hybrid_production_100k.toml
//                 [--nodes N] [--ops 5000] [--data-dir DIR | --in-memory] [--kinds store,recall]
//
// Opens an engine as `engram start` does (RocksDB store of record in a fresh directory unless
// --in-memory; consolidation once after the preload, or in the background with
// --background-consolidation), preloads the scenario's dataset through the same
// remember-batch requests loadtest sends, then runs the scenario's own operation stream (the
// exact request bodies loadtest would send) through Api::Handle on this thread, one after
// another. For each operation kind it reports the wall time and this thread's CPU time of the
// handler (parsing the JSON body, the engine call, writing the JSON answer): what
// engram_request_duration_seconds measures on an idle server. Run it pinned
// (`taskset -c 1 ...`) and under `perf record` to see where a kind's time goes.
#include <CLI/CLI.hpp>

#include <time.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/histogram.h"
#include "engine/engine.h"
#include "loadgen/json_text.h"
#include "server/api.h"
#include "server/metrics.h"
#include "workload/op_stream.h"
#include "workload/scenario.h"

namespace {

using engram::Histogram;
using engram::MonoNanos;
using engram::ThreadCpuNanos;


struct KindStats {
  Histogram wall, cpu;
  size_t errors = 0;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"api_ops_bench: handler cost per operation kind at scale, in process"};
  std::string scenario_path = "scenarios/competitive/hybrid_production_100k.toml";
  uint64_t nodes = 0;
  uint64_t ops = 5000;
  std::string data_dir;
  bool in_memory = false;
  std::vector<std::string> kinds;
  bool background = false;
  app.add_option("--scenario", scenario_path, "Scenario file")->capture_default_str();
  app.add_option("--nodes", nodes, "Preloaded nodes (default: the scenario's num_nodes)");
  app.add_option("--ops", ops, "Operations of the scenario's stream to run")->capture_default_str();
  app.add_option("--data-dir", data_dir, "Store directory (default: a fresh temporary one, removed at exit)");
  app.add_flag("--in-memory", in_memory, "No store of record (remember skips RocksDB)");
  app.add_flag("--background-consolidation", background,
               "Consolidate in the background as the server does (off: once after the preload, so that A/B runs are not "
               "disturbed by it)");
  app.add_option("--kinds", kinds, "Run only these kinds (as named in result files, e.g. Store,Recall)")->delimiter(',');
  CLI11_PARSE(app, argc, argv);

  auto scenario = engram::workload::LoadScenario(scenario_path);
  if (!scenario.ok()) {
    std::fprintf(stderr, "api_ops_bench: %s\n", scenario.error().ToString().c_str());
    return 2;
  }
  if (nodes > 0) scenario->data.num_nodes = nodes;
  const engram::workload::OpStream stream(*scenario);
  const auto& dataset = stream.dataset();

  bool remove_dir = false;
  if (!in_memory && data_dir.empty()) {
    data_dir = (std::filesystem::temp_directory_path() / ("api_ops_bench_" + std::to_string(MonoNanos()))).string();
    remove_dir = true;
  }
  engram::EngineOptions options;
  options.data_dir = in_memory ? "" : data_dir;
  options.default_space.dim = static_cast<uint32_t>(scenario->data.embedding_dim);
  options.background_consolidation = background;
  auto engine = engram::Engine::Open(options);
  if (!engine.ok()) {
    std::fprintf(stderr, "api_ops_bench: %s\n", engine.error().ToString().c_str());
    return 3;
  }
  engram::server::Metrics metrics;
  engram::server::Api api(engine->get(), &metrics, engram::server::ApiOptions{});

  // Preload, as loadtest does: batches of 500 nodes with the edges they create.
  const int64_t t0 = MonoNanos();
  const uint64_t n = dataset.num_nodes();
  for (uint64_t begin = 0; begin < n; begin += 500) {
    const uint64_t end = std::min(n, begin + 500);
    std::vector<engram::workload::EpisodeSpec> batch;
    std::vector<engram::workload::Edge> links;
    for (uint64_t i = begin; i < end; ++i) {
      batch.push_back(dataset.Node(i));
      for (const auto& e : dataset.EdgesFrom(i)) links.push_back(e);
    }
    const std::string body = engram::loadgen::BatchBody(batch, links);
    engram::server::ApiRequest req{"POST", "/api/v1/episodes/batch", batch[0].space, body};
    auto r = api.Handle(req, engram::server::Op::kRememberBatch);
    if (r.status != 201) {
      std::fprintf(stderr, "api_ops_bench: preload failed: %d %s\n", r.status, r.body.c_str());
      return 3;
    }
  }
  std::printf("preload: %lu nodes in %.1f s\n", static_cast<unsigned long>(n), (MonoNanos() - t0) * 1e-9);
  std::fflush(stdout);
  for (const auto& name : dataset.SpaceNames()) {
    auto space = (*engine)->GetSpace(name);
    if (space.ok()) (void)(*space)->Consolidate();
  }

  std::array<KindStats, engram::workload::kNumOpKinds> stats;
  for (uint64_t i = 0; i < ops; ++i) {
    const engram::workload::Operation op = stream.At(i);
    const std::string_view kind_name = engram::workload::OpKindName(op.kind);
    if (!kinds.empty() && std::find(kinds.begin(), kinds.end(), kind_name) == kinds.end()) continue;
    const engram::loadgen::HttpCall call = engram::loadgen::RequestFor(op);
    engram::server::ApiRequest req{call.method, call.path, op.space, call.body};
    const engram::server::Op route = api.Classify(call.method, call.path);
    const int64_t w0 = MonoNanos(), c0 = ThreadCpuNanos();
    auto r = api.Handle(req, route);
    const int64_t c1 = ThreadCpuNanos(), w1 = MonoNanos();
    KindStats& s = stats[static_cast<size_t>(op.kind)];
    s.wall.Record(w1 - w0);
    s.cpu.Record(c1 - c0);
    if (r.status >= 400) {
      if (s.errors++ == 0) std::fprintf(stderr, "%.*s: %d %s\n", static_cast<int>(kind_name.size()), kind_name.data(), r.status, r.body.c_str());
    }
  }
  std::printf("%-20s %7s %7s %9s %9s %9s %9s %9s\n", "kind", "count", "errors", "wall p50", "wall p99", "wall mean",
              "cpu p50", "cpu mean");
  for (size_t k = 0; k < stats.size(); ++k) {
    const KindStats& s = stats[k];
    if (s.wall.count() == 0) continue;
    const auto name = engram::workload::OpKindName(static_cast<engram::workload::OpKind>(k));
    std::printf("%-20.*s %7lu %7zu %9.1f %9.1f %9.1f %9.1f %9.1f\n", static_cast<int>(name.size()), name.data(),
                static_cast<unsigned long>(s.wall.count()), s.errors, s.wall.ValueAtQuantile(0.5) / 1e3,
                s.wall.ValueAtQuantile(0.99) / 1e3, s.wall.mean() / 1e3, s.cpu.ValueAtQuantile(0.5) / 1e3,
                s.cpu.mean() / 1e3);
  }
  std::printf("(microseconds; %s)\n", in_memory ? "in memory" : "RocksDB store of record");
  engine->reset();
  if (remove_dir) std::filesystem::remove_all(data_dir);
  return 0;
}
