// Test helpers: an engram HTTP server in this process (in-memory engine, port 0), drivers
// pointed at it, and scenario runs with progress output off.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "engine/engine.h"
#include "loadgen/endpoint.h"
#include "loadgen/http_driver.h"
#include "loadgen/inprocess_driver.h"
#include "loadgen/preload.h"
#include "loadgen/runner.h"
#include "server/api.h"
#include "server/fault_injection.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "workload/scenario.h"

namespace engram::loadgen::testing {

class TestServer {
 public:
  // `delay` and `stall` as for `engram start --inject-delay/--inject-stall`.
  explicit TestServer(uint32_t dim, const std::string& delay = "", const std::string& stall = "", int threads = 2) {
    EngineOptions eo;
    eo.default_space.dim = dim;
    eo.background_consolidation = false;
    engine_ = Engine::Open(eo).value();
    api_ = std::make_unique<server::Api>(engine_.get(), &metrics_, server::ApiOptions{});
    server::ServerOptions so;
    so.port = 0;
    so.handlers.interactive_threads = threads;
    http_ = std::make_unique<server::HttpServer>(api_.get(), &metrics_, server::FaultInjector::Parse(delay, stall).value(),
                                                 so);
    EXPECT_TRUE(http_->Start().ok());
  }
  ~TestServer() { http_->Stop(std::chrono::milliseconds(0)); }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(http_->port()); }
  Engine* engine() { return engine_.get(); }
  // The server's /metrics exposition (per-operation request counters and more).
  std::string MetricsText() const { return metrics_.Render(*engine_); }

  // Options of an HTTP driver pointed at this server.
  HttpDriverOptions DriverOptions(int io_threads) const {
    auto e = ParseEndpoint(url());
    EXPECT_TRUE(e.ok());
    EXPECT_TRUE(Resolve(&*e, false).ok());
    HttpDriverOptions o;
    o.endpoint = std::move(e).value();
    o.io_threads = io_threads;
    return o;
  }
  std::unique_ptr<HttpDriver> Driver(int io_threads = 2) const {
    return std::make_unique<HttpDriver>(DriverOptions(io_threads));
  }
  // How many GET /health the server answered with 200, from its Prometheus counters.
  uint64_t HealthOkCount() const {
    const std::string metrics = MetricsText();
    const std::string key = "engram_requests_total{op=\"health\",code=\"200\"} ";
    const size_t at = metrics.find(key);
    return at == std::string::npos ? 0 : std::stoull(metrics.substr(at + key.size()));
  }

 private:
  std::unique_ptr<Engine> engine_;
  server::Metrics metrics_;
  std::unique_ptr<server::Api> api_;
  std::unique_ptr<server::HttpServer> http_;
};

inline workload::Scenario Scenario(const std::string& toml) {
  auto s = workload::ParseScenario(toml, "test.toml");
  EXPECT_TRUE(s.ok()) << s.error().ToString();
  return std::move(s).value();
}

// One second of GET /health at `rate` ops/s over 4 connections, no dataset.
inline std::string HealthScenario(int rate) {
  return R"(name = "health"
description = "h"
[duration]
total_seconds = 1
[arrival]
pattern = "constant"
rate = )" + std::to_string(rate) + R"(
[operations]
health_weight = 1
[data]
num_nodes = 0
preload = false
[connections]
count = 4
)";
}

inline RunOptions Quiet() {
  RunOptions o;
  o.progress = ProgressMode::kQuiet;
  o.check_memory = false;
  return o;
}

inline Result<RunReport> RunScenario(const std::string& toml, Driver* driver, RunOptions options = Quiet()) {
  Runner runner(Scenario(toml), options, driver);
  ENGRAM_RETURN_IF_ERROR(runner.Init());
  return runner.Run();
}

inline std::unique_ptr<InProcessDriver> InProcess(uint32_t dim, int threads = 2) {
  InProcessOptions o;
  o.dim = dim;
  o.threads = threads;
  o.background_consolidation = false;
  return InProcessDriver::Open(o).value();
}

inline double Ms(int64_t ns) { return static_cast<double>(ns) / 1e6; }

// Small batches from a few threads, no progress output.
inline PreloadOptions QuietPreload() {
  PreloadOptions o;
  o.batch_size = 100;
  o.concurrency = 3;
  o.quiet = true;
  return o;
}

}  // namespace engram::loadgen::testing
