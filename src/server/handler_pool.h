// HandlerPool: the threads that run API handlers, off the I/O threads, in two lanes.
//
// Why: with handlers on the I/O thread, one slow request (a pattern completion over a large
// space, a bulk load) held every request queued behind it; on a server pinned to one core a
// 30 ms completion put ~30 ms into the P99 of every other kind. Here the I/O threads only
// read and write; handlers run on pool threads:
//   - the interactive lane (remember, recall, search, get, ...): one thread per usable CPU;
//   - the bulk lane (work that grows with the request or the space: completion, traversal,
//     activation, batches, consolidation, admin): its own threads at a lower CPU priority
//     (nice +10), so that on a busy core the kernel runs an interactive handler as soon as it
//     wakes and a long request takes only the time interactive work leaves.
// Each lane's queue is bounded. A request that finds its lane's queue full, or that waited in
// it longer than the queue timeout (its client is probably gone, or would rather retry), is not
// run: the caller answers 503 with Retry-After, and the metrics count it as shed.
//
// Threading: Submit() is safe from any thread. Stop() once, from the controlling thread; tasks
// still queued then are dropped (destroyed unrun), tasks running are finished.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace engram::server {

enum class Lane { kInteractive, kBulk };
inline constexpr int kNumLanes = 2;
std::string_view LaneName(Lane lane);

struct HandlerPoolOptions {
  int interactive_threads = 0;      // 0 = one per CPU this process may run on
  int bulk_threads = 0;             // 0 = max(1, interactive threads / 2)
  int bulk_nice = 10;               // niceness added to the bulk lane's threads (0 = none)
  size_t queue_limit = 1024;        // waiting tasks per lane; beyond it Submit() refuses
  // A task that waited longer than its lane's timeout runs shed. The bulk lane's requests
  // may each take seconds (a 500-episode batch), so its queue may be long in time.
  std::chrono::milliseconds queue_timeout{1000};
  std::chrono::milliseconds bulk_queue_timeout{30000};
};

class HandlerPool {
 public:
  // The task runs on a pool thread; `timed_out` says it waited longer than the queue timeout
  // (it should then answer "overloaded" without doing the work).
  using Task = std::function<void(bool timed_out)>;

  explicit HandlerPool(HandlerPoolOptions options);
  ~HandlerPool();
  HandlerPool(const HandlerPool&) = delete;
  HandlerPool& operator=(const HandlerPool&) = delete;

  // Queues the task; false (and the task is not kept) when the lane's queue is full.
  bool Submit(Lane lane, Task task);
  // Tasks waiting in the lane's queue now.
  size_t queued(Lane lane) const;
  int threads(Lane lane) const;
  const HandlerPoolOptions& options() const { return options_; }
  void Stop();

 private:
  struct Item {
    int64_t enqueued_ns;
    Task task;
  };
  struct Queue {
    mutable std::mutex mu;
    std::condition_variable ready;
    std::deque<Item> items;
    int threads = 0;
  };
  void Work(Lane lane);

  HandlerPoolOptions options_;
  Queue queues_[kNumLanes];
  bool stopping_ = false;  // guarded by each queue's mutex (set under all of them)
  std::vector<std::thread> threads_;
};

}  // namespace engram::server
