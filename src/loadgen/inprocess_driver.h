// The in-process driver: an engram::Engine opened in memory in this process, operations
// executed on a small thread pool. Same scheduler, same recorder, same accounting as the HTTP
// driver; what it leaves out is the network and JSON, so the two side by side show their cost.
//
// A request waits in a FIFO queue when every worker is busy. A request whose deadline passes
// in the queue fails as a timeout without running; one that runs past its deadline completes
// but is counted as a timeout (a client with that timeout would have given up). Engine
// Statuses map to HTTP-like error kinds through the one table in core/status.cc.
//
// Threading: see driver.h. The Engine outlives the driver's phases and may be inspected.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/cpus.h"
#include "engine/engine.h"
#include "loadgen/driver.h"

namespace engram::loadgen {

struct InProcessOptions {
  uint32_t dim = 768;               // dimension of the default space
  int threads = 0;                  // pool workers; 0 = hardware concurrency
  bool background_consolidation = true;
  int bulk_parallelism = 2;
};

class InProcessDriver : public Driver {
 public:
  static Result<std::unique_ptr<InProcessDriver>> Open(const InProcessOptions& options);
  ~InProcessDriver() override;

  std::string_view name() const override { return "inprocess"; }
  std::string target() const override { return "in-process"; }
  Status Check() override { return Status::Ok(); }
  Result<bool> CreateSpace(const std::string& name, uint32_t dim) override;
  Result<std::vector<SpaceInfo>> ListSpaces() override;
  Status LoadBatch(const std::string& space, std::span<const workload::EpisodeSpec> nodes,
                   std::span<const workload::Edge> links) override;
  void Prepare(const workload::Operation& op, Request* request) const override;
  Status Begin(int connections, DriverCallbacks callbacks) override;
  void Submit(RequestPtr request) override;
  void End() override;
  int concurrency() const override {
    return options_.threads > 0 ? options_.threads : UsableCpus();
  }
  int64_t inflight() const override { return running_.load(); }
  int64_t peak_inflight() const override { return peak_running_.load(); }

  Engine* engine() { return engine_.get(); }

 private:
  explicit InProcessDriver(const InProcessOptions& options) : options_(options) {}
  void Worker();
  void Execute(Request* r);

  InProcessOptions options_;
  std::unique_ptr<Engine> engine_;
  DriverCallbacks callbacks_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<RequestPtr> queue_;
  int idle_workers_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
  std::atomic<int64_t> running_{0};
  std::atomic<int64_t> peak_running_{0};
};

}  // namespace engram::loadgen
