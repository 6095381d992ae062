#include "loadgen/pipeline.h"

namespace engram::loadgen {

OpPipeline::OpPipeline(const workload::ScheduleSpec& spec, uint32_t shard_index, uint32_t shard_count,
                       const workload::OpStream* stream, const Driver* driver, PipelineOptions options)
    : schedule_(spec, shard_index, shard_count), stream_(stream), driver_(driver), options_(std::move(options)) {
  options_.chunk = std::max<size_t>(1, options_.chunk);
  options_.max_ahead = std::max(options_.max_ahead, options_.chunk);
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

void OpPipeline::Work() {
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
        r->index = s.index;
        r->offset_ns = s.offset_ns;
        r->warmup = s.warmup;
        c->requests.push_back(std::move(r));
      }
      ahead_ += c->requests.size();
      chunk = c.get();
      chunks_.push_back(std::move(c));
      if (schedule_done_) cv_.notify_all();
    }
    for (auto& r : chunk->requests) {
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
