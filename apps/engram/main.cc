// engram: the memory-graph server.
//
//   engram start [--port 7432] [--bind 127.0.0.1] [--data-dir DIR] [--threads N] ...
//
// Exit codes: 0 clean shutdown, 2 bad arguments, 3 could not start (data dir, port).
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <pthread.h>

#include "engine/engine.h"
#include "kernels/kernels.h"
#include "server/api.h"
#include "server/fault_injection.h"
#include "server/http_server.h"
#include "server/metrics.h"

#ifndef ENGRAM_GIT_COMMIT
#define ENGRAM_GIT_COMMIT "unknown"
#endif

namespace {

int Start(const engram::EngineOptions& engine_options, const engram::server::ServerOptions& server_options,
          const std::string& inject_delay, const std::string& inject_stall, const std::string& inject_cpu) {
  using namespace engram;
  auto faults = server::FaultInjector::Parse(inject_delay, inject_stall, inject_cpu);
  if (!faults.ok()) {
    std::fprintf(stderr, "engram: %s\n", faults.error().message().c_str());
    return 2;
  }
  // Block the stop signals in every thread; the main thread waits for them below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto engine = Engine::Open(engine_options);
  if (!engine.ok()) {
    std::fprintf(stderr, "engram: cannot open the engine: %s\n", engine.error().ToString().c_str());
    return 3;
  }
  server::Metrics metrics;
  server::ApiOptions api_options;
  api_options.git_commit = ENGRAM_GIT_COMMIT;
  api_options.bulk_parallelism = engine_options.bulk_parallelism;
  server::Api api(engine->get(), &metrics, api_options);
  server::HttpServer http(&api, &metrics, *faults, server_options);
  if (Status st = http.Start(); !st.ok()) {
    std::fprintf(stderr, "engram: %s\n", st.ToString().c_str());
    return 3;
  }
  std::printf("engram %s listening on http://%s:%u (data: %s, fsync: %s, simd: %s, handler threads: %d interactive + %d bulk, "
              "faults: %s)\n",
              ENGRAM_GIT_COMMIT, server_options.bind.c_str(), http.port(),
              engine_options.data_dir.empty() ? "in-memory" : engine_options.data_dir.c_str(),
              engine_options.fsync ? "on" : "off", kernels::DispatchedTargetName(), http.handler_threads(server::Lane::kInteractive),
              http.handler_threads(server::Lane::kBulk), faults->Describe().c_str());
  std::fflush(stdout);

  int sig = 0;
  sigwait(&signals, &sig);
  std::printf("engram: %s received, draining requests in flight\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  std::fflush(stdout);
  http.Stop();
  if (Status st = (*engine)->Close(); !st.ok()) {
    std::fprintf(stderr, "engram: shutdown checkpoint failed: %s\n", st.ToString().c_str());
    return 3;
  }
  std::printf("engram: stopped cleanly\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"engram: a memory-graph engine for AI agents, served over HTTP/JSON"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("engram ") + ENGRAM_GIT_COMMIT);

  engram::EngineOptions engine_options;
  engine_options.data_dir = "engram_data";
  engram::server::ServerOptions server_options;
  std::string inject_delay, inject_stall, inject_cpu;
  int64_t queue_timeout_ms = server_options.handlers.queue_timeout.count();
  int64_t bulk_queue_timeout_ms = server_options.handlers.bulk_queue_timeout.count();
  bool in_memory = false, no_consolidation = false;
  int64_t timeout_ms = 30000;
  size_t ef_search = engine_options.default_space.hnsw.ef_search;
  size_t ef_construction = engine_options.default_space.hnsw.ef_construction;
  size_t m = engine_options.default_space.hnsw.m;
  int vector_bits = static_cast<int>(engine_options.default_space.hnsw.precision);

  CLI::App* start = app.add_subcommand("start", "Start the server (stops cleanly on SIGTERM or SIGINT)");
  start->add_option("--port", server_options.port, "TCP port (0 = any free port)")->capture_default_str();
  start->add_option("--bind", server_options.bind, "Address to listen on")->capture_default_str();
  start->add_option("--data-dir", engine_options.data_dir, "Data directory (created if missing)")->capture_default_str();
  start->add_flag("--in-memory", in_memory, "Keep nothing on disk (ignores --data-dir)");
  start->add_flag("--fsync", engine_options.fsync,
                  "fsync the write-ahead log before acknowledging a write (survives power loss; "
                  "without it, acknowledged writes survive a process crash or kill -9)");
  start->add_option("--threads", server_options.handlers.interactive_threads,
                    "Handler threads of the interactive lane (0 = one per CPU this process may run on: taskset -c 0 gives 1)")
      ->capture_default_str();
  start->add_option("--bulk-threads", server_options.handlers.bulk_threads,
                    "Handler threads of the bulk lane (completion, traversal, batches, admin), at nice +10 (0 = half the "
                    "interactive threads, at least 1)")
      ->capture_default_str();
  start->add_option("--io-threads", server_options.io_threads, "Threads reading and writing sockets")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  start->add_option("--queue-limit", server_options.handlers.queue_limit,
                    "Requests that may wait per lane; more are answered 503 with Retry-After")
      ->check(CLI::Range(size_t{1}, size_t{1} << 20))
      ->capture_default_str();
  start->add_option("--queue-timeout-ms", queue_timeout_ms,
                    "An interactive request that waited this long for a handler is answered 503 with Retry-After instead of run")
      ->check(CLI::Range(int64_t{1}, int64_t{3600000}))
      ->capture_default_str();
  start->add_option("--bulk-queue-timeout-ms", bulk_queue_timeout_ms, "The same for the bulk lane")
      ->check(CLI::Range(int64_t{1}, int64_t{3600000}))
      ->capture_default_str();
  start->add_option("--max-body-bytes", server_options.max_body_bytes, "Largest request body accepted")->capture_default_str();
  start->add_option("--request-timeout-ms", timeout_ms, "Idle keep-alive and per-request read timeout")->capture_default_str();
  start->add_option("--dim", engine_options.default_space.dim, "Embedding dimension of the default space")->capture_default_str();
  start->add_option("--hnsw-m", m, "HNSW graph degree")->capture_default_str();
  start->add_option("--ef-construction", ef_construction, "HNSW insert list size")->capture_default_str();
  start->add_option("--ef-search", ef_search, "HNSW default search list size")->capture_default_str();
  start->add_option("--vector-bits", vector_bits,
                    "Bits per value of the vectors the HNSW index keeps (8: int8 codes and a scale per "
                    "vector; 16: binary16; 32: float). Answers are re-ranked with the float embeddings; "
                    "stored spaces keep the precision they were created with")
      ->check(CLI::IsMember(engram::index::kVectorPrecisionBits))
      ->capture_default_str();
  start->add_option("--bulk-parallelism", engine_options.bulk_parallelism, "Index threads per batch insert")->capture_default_str();
  start->add_flag("--no-consolidation", no_consolidation, "Do not consolidate in the background");
  start->add_option("--inject-delay", inject_delay,
                    "TESTING AID: delay operations, e.g. recall=200us or search=1ms~3ms,recall=2ms");
  start->add_option("--inject-stall", inject_stall, "TESTING AID: stall all requests, e.g. 1s/10s");
  start->add_option("--inject-cpu", inject_cpu,
                    "TESTING AID: burn CPU on the handler thread before an operation, e.g. complete=5ms");

  CLI11_PARSE(app, argc, argv);
  if (in_memory) engine_options.data_dir.clear();
  engine_options.background_consolidation = !no_consolidation;
  engine_options.default_space.hnsw.m = m;
  engine_options.default_space.hnsw.ef_construction = ef_construction;
  engine_options.default_space.hnsw.ef_search = ef_search;
  engine_options.default_space.hnsw.precision = *engram::index::VectorPrecisionFromBits(vector_bits);  // checked by CLI
  server_options.request_timeout = std::chrono::milliseconds(timeout_ms);
  server_options.handlers.queue_timeout = std::chrono::milliseconds(queue_timeout_ms);
  server_options.handlers.bulk_queue_timeout = std::chrono::milliseconds(bulk_queue_timeout_ms);
  return Start(engine_options, server_options, inject_delay, inject_stall, inject_cpu);
}
