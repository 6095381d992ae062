// loadtest: the open-loop load generator.
//
//   loadtest run --scenario F [--duration S] [--target-rate N] [--seed U64] [--endpoint URL]
//                [--output F] [--connections N] [--warmup S] [--no-preload] [--shard i/n]
//                [--driver http|inprocess|postgres] [--timeout-ms MS] [--allow-remote] ...
//                [--only-kinds K,...] [--pg-url CONNINFO | --pg-managed [--pg-cpus C]] ...
//   loadtest validate F        parse a scenario, print what it describes
//   loadtest list [--dir D]    the scenarios under scenarios/ with name and description
//   loadtest merge OUT IN...   merge shard results into one (histograms add)
//   loadtest pg-server         keep a private PostgreSQL running for a script (peers_cli.h)
//
// Exit codes: 0 ok; 1 validation limits failed (after writing the result); 2 usage or scenario
// error; 3 could not run (server unreachable, preload failed, run aborted, result not written).
// docs/loadtest.md documents every flag.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "loadgen/context.h"
#include "loadgen/endpoint.h"
#include "loadgen/http_driver.h"
#include "loadgen/inprocess_driver.h"
#include "loadgen/json_text.h"
#include "loadgen/report.h"
#include "loadgen/runner.h"
#include "peers_cli.h"
#include "workload/scenario.h"

#ifndef ENGRAM_SCENARIOS_DIR
#define ENGRAM_SCENARIOS_DIR "scenarios"
#endif

namespace {

using namespace engram;
using namespace engram::loadgen;

constexpr int kExitOk = 0, kExitValidation = 1, kExitUsage = 2, kExitCannotRun = 3;

std::atomic<bool> g_abort{false};

extern "C" void OnSignal(int) {
  if (g_abort.exchange(true)) _exit(130);  // a second Ctrl-C: leave now
  const char msg[] = "\nloadtest: stopping (operations not yet sent are counted as unsent; Ctrl-C again to quit)\n";
  (void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
}

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "loadtest: %s\n", message.c_str());
  return code;
}

struct RunFlags {
  std::string scenario, endpoint = kDefaultEndpoint, output, seed, shard = "0/1", driver = "http", progress = "auto";
  std::optional<double> duration, target_rate, warmup;
  std::optional<int> connections;
  bool no_preload = false, allow_remote = false, allow_leftover = false, quiet = false, no_memory_check = false;
  int64_t timeout_ms = 10000;
  int io_threads = 1, generator_threads = 2, inprocess_threads = 0, preload_concurrency = 4, recall_samples = 200;
  size_t preload_batch = 500;
  double preload_wait = 600;
  uint64_t recall_memory_mb = 2048;
  loadtest::PeerFlags peer;
};

int Run(const RunFlags& f) {
  auto scenario = workload::LoadScenario(f.scenario);
  if (!scenario.ok()) return Fail(kExitUsage, scenario.error().message());

  RunOptions o;
  o.duration_seconds = f.duration;
  o.target_rate = f.target_rate;
  o.warmup_seconds = f.warmup;
  o.connections = f.connections;
  o.preload = !f.no_preload;
  o.allow_leftover = f.allow_leftover;
  o.timeout_ms = f.timeout_ms;
  o.generator_threads = f.generator_threads;
  o.preload_batch = f.preload_batch;
  o.preload_concurrency = f.preload_concurrency;
  o.preload_wait_seconds = f.preload_wait;
  o.recall_samples = f.recall_samples;
  o.recall_memory_bytes = f.recall_memory_mb << 20;
  o.check_memory = !f.no_memory_check;
  o.abort = &g_abort;
  if (!f.seed.empty()) {
    auto seed = ParseSeed(f.seed);
    if (!seed.ok()) return Fail(kExitUsage, seed.error().message());
    o.seed = *seed;
  }
  auto shard = ParseShard(f.shard);
  if (!shard.ok()) return Fail(kExitUsage, shard.error().message());
  o.shard_index = shard->first;
  o.shard_count = shard->second;
  if (f.quiet || f.progress == "quiet") {
    o.progress = ProgressMode::kQuiet;
  } else if (f.progress == "tty") {
    o.progress = ProgressMode::kTty;
  } else if (f.progress == "lines") {
    o.progress = ProgressMode::kLines;
  }

  std::unique_ptr<Driver> driver;
  loadtest::PeerDriver peer;
  if (f.driver == "postgres") {
    auto p = loadtest::MakePostgresDriver(f.peer, f.connections.value_or(scenario->connections), f.allow_remote);
    if (!p.ok()) return Fail(p.error().code() == StatusCode::kInvalidArgument ? kExitUsage : kExitCannotRun, p.error().message());
    peer = std::move(p).value();
  } else if (f.driver == "http") {
    auto endpoint = ParseEndpoint(f.endpoint);
    if (!endpoint.ok()) return Fail(kExitUsage, endpoint.error().message());
    if (Status st = Resolve(&*endpoint, f.allow_remote); !st.ok()) {
      return Fail(st.code() == StatusCode::kInvalidArgument ? kExitUsage : kExitCannotRun, st.message());
    }
    HttpDriverOptions ho;
    ho.endpoint = std::move(endpoint).value();
    ho.io_threads = f.io_threads;
    driver = std::make_unique<HttpDriver>(std::move(ho));
  } else {
    InProcessOptions io;
    io.dim = static_cast<uint32_t>(scenario->data.embedding_dim);
    io.threads = f.inprocess_threads;
    auto d = InProcessDriver::Open(io);
    if (!d.ok()) return Fail(kExitCannotRun, "cannot open the in-process engine: " + d.error().message());
    driver = std::move(d).value();
  }

  Driver* d = peer.driver ? peer.driver.get() : driver.get();
  auto kinds = loadtest::ApplyKindFilter(f.peer, &*scenario, *d);
  if (!kinds.ok()) return Fail(kExitUsage, kinds.error().message());

  Runner runner(std::move(scenario).value(), o, d);
  if (Status st = runner.Init(); !st.ok()) return Fail(kExitUsage, st.message());
  auto report = runner.Run();
  if (!report.ok()) return Fail(kExitCannotRun, report.error().message());
  const std::string kinds_line = loadtest::AnnotateReport(*kinds, &peer, *d, &*report);

  std::string written;
  if (!f.output.empty()) {
    if (Status st = WriteFileAtomically(f.output, PrettyJson(ToJson(*report))); !st.ok()) {
      std::cout << FormatSummary(*report);
      return Fail(kExitCannotRun, "cannot write the result: " + st.message());
    }
    written = f.output;
  }
  std::cout << FormatSummary(*report) << kinds_line;
  if (!written.empty()) std::cout << "result: " << written << "\n";
  std::cout.flush();
  if (g_abort.load()) return Fail(kExitCannotRun, "the run was aborted; the result covers what was sent");
  return ValidationPassed(*report) ? kExitOk : kExitValidation;
}

int Validate(const std::string& path) {
  auto s = workload::LoadScenario(path);
  if (!s.ok()) return Fail(kExitUsage, s.error().message());
  std::cout << workload::DescribeScenario(*s);
  std::cout << "OK: " << path << " is a valid scenario\n";
  return kExitOk;
}

int List(const std::string& dir_flag) {
  namespace fs = std::filesystem;
  std::string dir = dir_flag;
  if (dir.empty()) dir = fs::is_directory("scenarios") ? "scenarios" : ENGRAM_SCENARIOS_DIR;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return Fail(kExitUsage, "no scenario directory '" + dir + "'");
  std::vector<fs::path> files;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator(); ++it) {
    if (it->is_regular_file() && it->path().extension() == ".toml") files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  int bad = 0;
  for (const auto& p : files) {
    auto s = workload::LoadScenario(p.string());
    if (!s.ok()) {
      std::cout << p.string() << "\n  INVALID: " << s.error().message() << "\n";
      ++bad;
      continue;
    }
    std::cout << p.string() << "  \"" << s->name << "\"\n  " << s->description << "\n";
  }
  std::cout << files.size() << " scenario(s) in " << dir << (bad > 0 ? ", " + std::to_string(bad) + " invalid" : "")
            << "\n";
  return kExitOk;
}

int Merge(const std::string& out, const std::vector<std::string>& inputs) {
  std::vector<RunReport> parts;
  for (const auto& in : inputs) {
    auto r = ReadReport(in);
    if (!r.ok()) return Fail(kExitUsage, r.error().message());
    parts.push_back(std::move(r).value());
  }
  auto merged = MergeReports(parts, inputs);
  if (!merged.ok()) return Fail(kExitUsage, merged.error().message());
  if (Status st = WriteFileAtomically(out, PrettyJson(ToJson(*merged))); !st.ok()) {
    return Fail(kExitCannotRun, "cannot write the merged result: " + st.message());
  }
  std::cout << FormatSummary(*merged) << "result: " << out << " (merged from " << inputs.size() << " files)\n";
  return ValidationPassed(*merged) ? kExitOk : kExitValidation;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"loadtest: open-loop load generator for engram (latency from intended start times)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "loadtest " + LoadtestVersion());

  RunFlags f;
  CLI::App* run = app.add_subcommand("run", "Run a scenario against engram (or an in-process engine)");
  run->add_option("--scenario", f.scenario, "Scenario file (TOML, docs/scenario_format.md)")->required();
  run->add_option("--duration", f.duration, "Measured seconds (overrides [duration]; longer continues the last phase)");
  run->add_option("--target-rate", f.target_rate, "Scale the rate curve so its mean is N ops/s");
  run->add_option("--seed", f.seed, "Seed, decimal or 0x-hex (overrides the scenario's; default 0xDEADBEEF)");
  run->add_option("--endpoint", f.endpoint, "engram URL; must resolve to loopback unless --allow-remote")
      ->capture_default_str();
  run->add_option("--output", f.output, "Result JSON (docs/result_schema.md), written atomically");
  run->add_option("--connections", f.connections, "Keep-alive connections (default: the scenario's [connections])");
  run->add_option("--warmup", f.warmup, "Warm-up seconds before the measured phase (overrides [warmup])");
  run->add_flag("--no-preload", f.no_preload, "Do not load the dataset (count what the server holds instead)");
  run->add_option("--shard", f.shard, "Run the i-th of n disjoint parts of the schedule (i/n); shard 0 preloads")
      ->capture_default_str();
  run->add_option("--driver", f.driver, "http (engram's API), inprocess (an in-memory engine in this process) or postgres (the PostgreSQL peer)")
      ->check(CLI::IsMember({"http", "inprocess", "postgres"}))
      ->capture_default_str();
  run->add_option("--timeout-ms", f.timeout_ms, "An operation still unanswered this long after its intended start "
                                                "fails as a timeout")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  run->add_flag("--allow-remote", f.allow_remote, "Allow an endpoint that is not a loopback address");
  run->add_flag("--allow-leftover-data", f.allow_leftover, "Preload on top of episodes already in the spaces");
  run->add_option("--io-threads", f.io_threads, "HTTP io threads")->check(CLI::Range(1, 64))->capture_default_str();
  run->add_option("--generator-threads", f.generator_threads, "Threads generating operations ahead of time")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  run->add_option("--inprocess-threads", f.inprocess_threads, "In-process driver workers (0 = one per core)")
      ->check(CLI::Range(0, 1024))
      ->capture_default_str();
  run->add_option("--preload-batch", f.preload_batch, "Nodes per bulk request")->check(CLI::Range(1, 100000))->capture_default_str();
  run->add_option("--preload-concurrency", f.preload_concurrency, "Bulk requests in flight")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  run->add_option("--preload-wait", f.preload_wait, "Shards i > 0: seconds to wait for shard 0's preload")
      ->capture_default_str();
  run->add_option("--recall-samples", f.recall_samples, "Sampled searches for recall@k (0 = off)")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  run->add_option("--recall-memory-mb", f.recall_memory_mb, "Keep preloaded embeddings for recall up to this size "
                                                            "(else regenerate them)")
      ->capture_default_str();
  run->add_flag("--no-memory-check", f.no_memory_check, "Preload even if the vectors exceed available memory");
  run->add_option("--progress", f.progress, "auto, tty (updating line), lines (every 10 s) or quiet")
      ->check(CLI::IsMember({"auto", "tty", "lines", "quiet"}))
      ->capture_default_str();
  run->add_flag("-q,--quiet", f.quiet, "No progress output (the final summary is still printed)");
  loadtest::AddPeerRunFlags(run, &f.peer);

  std::string validate_path;
  CLI::App* validate = app.add_subcommand("validate", "Check a scenario file and print what it describes");
  validate->add_option("file", validate_path, "Scenario file")->required();

  std::string list_dir;
  CLI::App* list = app.add_subcommand("list", "List the scenarios under scenarios/ with name and description");
  list->add_option("--dir", list_dir, "Directory to search (default: ./scenarios, else the source tree's)");

  std::string merge_out;
  std::vector<std::string> merge_in;
  CLI::App* merge = app.add_subcommand("merge", "Merge result files of shards (--shard i/n) into one");
  merge->add_option("out", merge_out, "Merged result file")->required();
  merge->add_option("inputs", merge_in, "Shard result files")->required();

  loadtest::PgServerFlags pg_server_flags;
  CLI::App* pg_server = loadtest::AddPgServerCommand(&app, &pg_server_flags);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  try {
    if (run->parsed()) {
      std::signal(SIGINT, OnSignal);
      std::signal(SIGTERM, OnSignal);
      return Run(f);
    }
    if (validate->parsed()) return Validate(validate_path);
    if (list->parsed()) return List(list_dir);
    if (merge->parsed()) return Merge(merge_out, merge_in);
    if (pg_server->parsed()) return loadtest::RunPgServer(pg_server_flags);
  } catch (const std::exception& e) {
    return Fail(kExitCannotRun, std::string("unexpected error: ") + e.what());
  }
  return kExitUsage;
}
