// Generating operations ahead of their send time.
//
// OpStream::At costs tens of microseconds at 768 dimensions, and serializing a request about as
// much again. Doing that on the sending path would make the sender late exactly when the load
// is high, so worker threads take the schedule in chunks, build each operation and let the
// driver Prepare() its request, and the scheduler only pops ready requests in order. The
// look-ahead is bounded (max_ahead requests), so memory does not grow with the run's length.
//
// Threading: Next() and TryNext() from one consumer thread, Retire() from any thread; the workers
// are internal. Destruction stops them.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "loadgen/driver.h"
#include "workload/arrival.h"
#include "workload/op_stream.h"

namespace engram::loadgen {

struct PipelineOptions {
  int workers = 2;
  size_t chunk = 64;        // schedule entries a worker takes at once
  size_t max_ahead = 4096;  // requests generated but not yet consumed, at most
  uint64_t first_index = 0; // schedule entry k becomes operation first_index + k of the stream
  // Decides whether a generated Search is in the recall sample (called on worker threads).
  std::function<bool(const workload::Operation&, bool warmup)> sample;
};

class OpPipeline {
 public:
  // `stream`, `driver` must outlive the pipeline.
  OpPipeline(const workload::ScheduleSpec& spec, uint32_t shard_index, uint32_t shard_count,
             const workload::OpStream* stream, const Driver* driver, PipelineOptions options);
  ~OpPipeline();
  OpPipeline(const OpPipeline&) = delete;
  OpPipeline& operator=(const OpPipeline&) = delete;

  // The next request in schedule order (offset_ns, index, kind, warmup and the payload set);
  // blocks until it is generated. nullptr when the schedule is over.
  RequestPtr Next();
  // Next() without blocking: nullptr with *over == false when the next request is not generated
  // yet, nullptr with *over == true when the schedule is over.
  RequestPtr TryNext(bool* over);
  // Blocks until the first `n` requests (or all) are ready: a head start before the clock runs.
  void WaitReady(size_t n);
  // Hands a finished request back, so that a worker frees it (see Work()). Any thread.
  void Retire(RequestPtr r);
  void Stop();

 private:
  struct Chunk {
    std::vector<RequestPtr> requests;
    size_t next = 0;
    bool ready = false;
  };
  void Work();
  // The next ready request, or nullptr. REQUIRES: mu_ held.
  RequestPtr PopLocked();

  workload::ArrivalSchedule schedule_;
  const workload::OpStream* stream_;
  const Driver* driver_;
  PipelineOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Chunk>> chunks_;  // in schedule order
  size_t ahead_ = 0;              // requests in chunks_ not yet consumed
  bool schedule_done_ = false;
  bool stop_ = false;
  std::vector<std::thread> workers_;
  std::atomic<int> live_workers_{0};
  // Requests and chunks the consumer is done with, freed by the workers. Lock order: mu_, then
  // retired_mu_.
  std::mutex retired_mu_;
  std::vector<RequestPtr> retired_;
  std::vector<std::unique_ptr<Chunk>> retired_chunks_;
};

}  // namespace engram::loadgen
