#include "loadgen/pipeline.h"

#include <sched.h>

#include "core/clock.h"

namespace engram::loadgen {

OpPipeline::OpPipeline(const workload::ScheduleSpec& spec, uint32_t shard_index, uint32_t shard_count,
                       const workload::OpStream* stream, const Driver* driver, PipelineOptions options)
    : schedule_(spec, shard_index, shard_count), stream_(stream), driver_(driver), options_(std::move(options)) {
  options_.chunk = std::max<size_t>(1, options_.chunk);
  options_.max_ahead = std::max(options_.max_ahead, options_.chunk);
  live_workers_.store(std::max(1, options_.workers));
  for (int i = 0; i < std::max(1, options_.workers); ++i) workers_.emplace_back([this] { Work(); });
}

OpPipeline::~OpPipeline() { Stop(); }

void OpPipeline::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
}

namespace {
constexpr int64_t kYieldNs = 50'000;
}  // namespace

void OpPipeline::Work() {
  // The workers run far ahead (max_ahead requests), so they never need to be prompt; the
  // sender must be, also when sender and workers share a core (loadtest pinned to one core,
  // as the docs advise). Two things made the sender late there (m17_baseline at 1000 ops/s:
  // schedule lag p99 2.6 ms while the workers generated, 0.0003 ms once they were done;
  // docs/loadtest.md "Generator threads"):
  //  - A worker generating a chunk kept the core for a scheduler slice while the sender, woken
  //    by its timer or a completion, waited runnable (`perf sched timehist`). So a worker
  //    yields every kYieldNs of generation; a yield with nobody waiting is one system call.
  //    (SCHED_IDLE workers were tried: still up to 1.4 ms behind a worker on this VM, and
  //    starved at high rates, where the sender never sleeps: lag p99 0.8-2.5 ms at 30-60K
  //    ops/s against 0.001-0.018 ms at normal priority. An unprivileged thread also cannot
  //    leave SCHED_IDLE again to catch up.)
  //  - glibc's malloc keeps a worker's blocks in the worker's arena, and freeing one takes
  //    that arena's lock: when the sender freed requests itself it queued on the lock behind a
  //    preempted worker inside malloc. The workers now free what the sender is done with
  //    (Retire).
  struct Exit {
    std::atomic<int>* live;
    ~Exit() { live->fetch_sub(1, std::memory_order_acq_rel); }
  } on_exit{&live_workers_};
  for (;;) {
    Chunk* chunk = nullptr;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stop_ || schedule_done_ || ahead_ + options_.chunk <= options_.max_ahead; });
      if (stop_ || schedule_done_) return;
      // Take the next stretch of the schedule; the cursor is cheap, generation is not, so
      // only this part holds the lock.
      auto c = std::make_unique<Chunk>();
      workload::ScheduledOp s;
      while (c->requests.size() < options_.chunk) {
        if (!schedule_.Next(&s)) {
          schedule_done_ = true;
          break;
        }
        auto r = std::make_unique<Request>();
        r->index = options_.first_index + s.index;
        r->offset_ns = s.offset_ns;
        r->warmup = s.warmup;
        c->requests.push_back(std::move(r));
      }
      ahead_ += c->requests.size();
      chunk = c.get();
      chunks_.push_back(std::move(c));
      if (schedule_done_) cv_.notify_all();
    }
    {
      std::vector<RequestPtr> requests;
      std::vector<std::unique_ptr<Chunk>> chunks;
      {
        std::lock_guard lock(retired_mu_);
        requests.swap(retired_);
        chunks.swap(retired_chunks_);
      }
    }  // freed here, on this thread
    int64_t slice_start = MonoNanos();
    for (auto& r : chunk->requests) {
      // Let a waiting sender have the core every kYieldNs: see the note at the top of Work().
      if (const int64_t now = MonoNanos(); now - slice_start > kYieldNs) {
        sched_yield();
        slice_start = MonoNanos();
      }
      workload::Operation op = stream_->At(r->index);
      r->kind = op.kind;
      r->space = op.space;
      if (options_.sample && op.kind == workload::OpKind::kSearch && options_.sample(op, r->warmup)) {
        r->want_ids = true;
        r->sample_query = op.query;
      }
      driver_->Prepare(op, r.get());
    }
    {
      std::lock_guard lock(mu_);
      chunk->ready = true;
    }
    cv_.notify_all();
  }
}

RequestPtr OpPipeline::PopLocked() {
  // Drop consumed chunks from the front.
  while (!chunks_.empty() && chunks_.front()->ready && chunks_.front()->next >= chunks_.front()->requests.size()) {
    {
      std::lock_guard lock(retired_mu_);
      retired_chunks_.push_back(std::move(chunks_.front()));
    }
    chunks_.pop_front();
  }
  if (chunks_.empty() || !chunks_.front()->ready) return nullptr;
  Chunk& c = *chunks_.front();
  RequestPtr r = std::move(c.requests[c.next++]);
  --ahead_;
  if (ahead_ + options_.chunk <= options_.max_ahead) cv_.notify_all();
  return r;
}

RequestPtr OpPipeline::Next() {
  std::unique_lock lock(mu_);
  for (;;) {
    if (RequestPtr r = PopLocked()) return r;
    if (chunks_.empty() && (schedule_done_ || stop_)) return nullptr;
    cv_.wait(lock);
  }
}

RequestPtr OpPipeline::TryNext(bool* over) {
  std::lock_guard lock(mu_);
  RequestPtr r = PopLocked();
  *over = !r && chunks_.empty() && (schedule_done_ || stop_);
  return r;
}

void OpPipeline::Retire(RequestPtr r) {
  if (live_workers_.load(std::memory_order_acquire) == 0) return;  // nobody allocates any more: free it here
  std::lock_guard lock(retired_mu_);
  retired_.push_back(std::move(r));
}

void OpPipeline::WaitReady(size_t n) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] {
    if (stop_) return true;
    size_t ready = 0;
    for (const auto& c : chunks_) {
      if (!c->ready) break;
      ready += c->requests.size() - c->next;
    }
    return ready >= n || (schedule_done_ && ready == ahead_);
  });
}

}  // namespace engram::loadgen
