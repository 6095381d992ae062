// Server metrics and their Prometheus text exposition (format 0.0.4), written by hand: the
// format is small, and prometheus-cpp is not packaged in Debian 12.
//
// Threading: Record() is lock-free and safe from any thread; Render() may run concurrently
// with it (it reads a consistent-enough snapshot: every counter is monotone).
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/histogram.h"

namespace engram {
class Engine;
}

namespace engram::server {

// Every operation the API serves, for per-operation metrics and fault injection.
enum class Op {
  kHealth, kMetrics, kDiagnostics, kListSpaces, kCreateSpace, kRemember, kRememberBatch, kGet,
  kForget, kLink, kRecall, kSearch, kComplete, kNeighbors, kActivate, kConsolidate, kCheckpoint,
  kUnknown, kCount
};
std::string_view OpName(Op op);
// The Op for a name as used on the command line ("recall"), or kUnknown.
Op OpFromName(std::string_view name);

class Metrics {
 public:
  Metrics();
  // One served request: its operation, HTTP status and duration in nanoseconds.
  void Record(Op op, int http_status, int64_t nanos);
  // The handler alone (not the time queued for a handler thread): wall and thread CPU time.
  void RecordHandler(Op op, int64_t wall_nanos, int64_t cpu_nanos);
  // A request answered 503 without being run: its lane's queue was full, or it waited there
  // longer than the queue timeout. (Record() counts its 503 as well.)
  enum class ShedReason { kQueueFull, kQueueTimeout };
  void RecordShed(Op op, ShedReason reason);
  uint64_t shed_total() const;
  // Requests waiting for a handler thread, per lane (0 interactive, 1 bulk).
  void AddQueued(int lane, int delta) { queued_[lane].fetch_add(delta, std::memory_order_relaxed); }
  int64_t queued(int lane) const { return queued_[lane].load(std::memory_order_relaxed); }
  // Handlers running now, per lane.
  void AddRunning(int lane, int delta) { running_[lane].fetch_add(delta, std::memory_order_relaxed); }
  int64_t running(int lane) const { return running_[lane].load(std::memory_order_relaxed); }
  void AddInflight(int delta) { inflight_.fetch_add(delta, std::memory_order_relaxed); }
  int64_t inflight() const { return inflight_.load(std::memory_order_relaxed); }
  uint64_t total_requests() const;
  // The exposition, including engine gauges (episodes, edges, concepts, memory per space).
  std::string Render(const Engine& engine) const;

 private:
  static constexpr std::array<int, 12> kCodes = {200, 201, 400, 404, 405, 409, 413, 429, 500, 503, 504, 0};
  static size_t CodeIndex(int http_status);
  std::array<std::array<std::atomic<uint64_t>, kCodes.size()>, static_cast<size_t>(Op::kCount)> counts_{};
  std::vector<std::unique_ptr<AtomicHistogram>> latency_;  // per Op, nanoseconds
  std::vector<std::unique_ptr<AtomicHistogram>> handler_;  // per Op, nanoseconds
  std::array<std::atomic<uint64_t>, static_cast<size_t>(Op::kCount)> handler_cpu_ns_{};
  std::array<std::array<std::atomic<uint64_t>, 2>, static_cast<size_t>(Op::kCount)> shed_{};
  std::array<std::atomic<int64_t>, 2> queued_{};
  std::array<std::atomic<int64_t>, 2> running_{};
  std::atomic<int64_t> inflight_{0};
  int64_t start_mono_ns_;
};

// Resident set size of this process in bytes (from /proc/self/statm), 0 if unknown.
uint64_t ResidentBytes();
// Threads of this process (from /proc/self/status), 0 if unknown.
int ThreadCount();

}  // namespace engram::server
