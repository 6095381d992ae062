#include "loadgen/inprocess_driver.h"

#include "core/clock.h"

namespace engram::loadgen {

using workload::OpKind;

namespace {

engram::EpisodeSpec ToEngine(const workload::EpisodeSpec& e) {
  engram::EpisodeSpec s;
  s.id = e.id;
  s.what = e.what;
  s.when_us = e.when_micros;
  s.where = e.where;
  s.who = e.who;
  s.tags = e.tags;
  s.embedding = e.embedding;
  s.confidence = e.confidence;
  return s;
}

ErrorKind KindFor(const Status& st) {
  const int http = HttpStatusFor(st.code());
  return http >= 500 ? ErrorKind::kHttp5xx : http >= 400 ? ErrorKind::kHttp4xx : ErrorKind::kOther;
}

}  // namespace

Result<std::unique_ptr<InProcessDriver>> InProcessDriver::Open(const InProcessOptions& options) {
  EngineOptions eo;
  eo.data_dir.clear();  // in memory
  eo.default_space.dim = options.dim;
  eo.background_consolidation = options.background_consolidation;
  eo.bulk_parallelism = options.bulk_parallelism;
  std::unique_ptr<InProcessDriver> d(new InProcessDriver(options));
  ENGRAM_ASSIGN_OR_RETURN(d->engine_, Engine::Open(eo));
  return d;
}

InProcessDriver::~InProcessDriver() {
  End();
  if (engine_) (void)engine_->Close();
}

Result<bool> InProcessDriver::CreateSpace(const std::string& name, uint32_t dim) {
  SpaceOptions so = engine_->options().default_space;
  so.dim = dim;
  auto r = engine_->CreateSpace(name, so);
  if (r.ok()) return true;
  if (r.error().code() == StatusCode::kAlreadyExists) return false;
  return r.error();
}

Result<std::vector<SpaceInfo>> InProcessDriver::ListSpaces() {
  std::vector<SpaceInfo> out;
  for (const SpaceStats& s : engine_->ListSpaces()) {
    out.push_back(SpaceInfo{s.name, s.dim, s.episodes, s.edges});
  }
  return out;
}

Status InProcessDriver::LoadBatch(const std::string& space, std::span<const workload::EpisodeSpec> nodes,
                                  std::span<const workload::Edge> links) {
  ENGRAM_ASSIGN_OR_RETURN(Space * sp, engine_->GetSpace(space));
  std::vector<engram::EpisodeSpec> specs;
  specs.reserve(nodes.size());
  for (const auto& n : nodes) specs.push_back(ToEngine(n));
  std::vector<LinkSpec> ls;
  ls.reserve(links.size());
  for (const auto& e : links) {
    ls.push_back(LinkSpec{workload::DatasetGenerator::NodeId(e.from), workload::DatasetGenerator::NodeId(e.to), e.weight});
  }
  return sp->RememberBatch(specs, ls, options_.bulk_parallelism).error();
}

void InProcessDriver::Prepare(const workload::Operation& op, Request* request) const { request->op = op; }

Status InProcessDriver::Begin(int connections, DriverCallbacks callbacks) {
  ENGRAM_CHECK(workers_.empty());
  ENGRAM_CHECK(callbacks.done);
  (void)connections;  // the pool size is the driver's concurrency, not the scenario's sockets
  callbacks_ = std::move(callbacks);
  stopping_ = false;
  peak_running_ = 0;
  const int n = concurrency();
  idle_workers_ = 0;
  for (int i = 0; i < n; ++i) workers_.emplace_back([this] { Worker(); });
  return Status::Ok();
}

void InProcessDriver::Submit(RequestPtr r) {
  {
    std::lock_guard lock(mu_);
    r->queued = idle_workers_ == 0 || static_cast<int>(queue_.size()) >= idle_workers_;
    queue_.push_back(std::move(r));
  }
  cv_.notify_one();
}

void InProcessDriver::End() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
}

void InProcessDriver::Worker() {
  for (;;) {
    RequestPtr r;
    {
      std::unique_lock lock(mu_);
      ++idle_workers_;
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      --idle_workers_;
      if (queue_.empty()) return;  // stopping, nothing left
      r = std::move(queue_.front());
      queue_.pop_front();
    }
    const int64_t now = MonoNanos();
    if (now >= r->deadline_ns) {
      r->done_ns = now;
      r->error = ErrorKind::kTimeout;
      r->error_detail = "timed out waiting for a free worker";
      callbacks_.done(std::move(r));
      continue;
    }
    r->sent_ns = now;
    const int64_t running = running_.fetch_add(1) + 1;
    int64_t peak = peak_running_.load();
    while (running > peak && !peak_running_.compare_exchange_weak(peak, running)) {
    }
    if (callbacks_.sent) callbacks_.sent(*r);
    Execute(r.get());
    r->done_ns = MonoNanos();
    running_.fetch_sub(1);
    if (r->error == ErrorKind::kNone && r->done_ns > r->deadline_ns) {
      r->error = ErrorKind::kTimeout;
      r->error_detail = "completed after the deadline";
    }
    callbacks_.done(std::move(r));
  }
}

void InProcessDriver::Execute(Request* r) {
  const workload::Operation& op = *r->op;
  if (op.kind == OpKind::kHealth) {
    // GET /health reads no engine state (it answers status, version and uptime), so the
    // in-process equivalent is the dispatch itself: a no-op that succeeds.
    r->http_status = 200;
    return;
  }
  auto space = engine_->GetSpace(op.space);
  Status st;
  if (space.ok()) {
    Space* sp = *space;
    const workload::OpParams& p = op.params;
    auto recall = [&](RecallMode mode) {
      RecallQuery q;
      q.cue = op.query;
      q.k = static_cast<size_t>(p.k);
      q.mode = mode;
      q.hops = std::min(p.hops, 6);
      q.ef = p.ef;
      return sp->Recall(q).error();
    };
    switch (op.kind) {
      case OpKind::kStore:
        st = op.episode.has_value() ? sp->Remember(ToEngine(*op.episode)).error()
                                    : Status::InvalidArgument("store without an episode");
        break;
      case OpKind::kRecall: st = recall(RecallMode::kEpisodic); break;
      case OpKind::kSemanticRecall: st = recall(RecallMode::kSemantic); break;
      case OpKind::kBlendedRecall: st = recall(RecallMode::kBlended); break;
      case OpKind::kSearch: {
        auto hits = sp->Search(op.query, static_cast<size_t>(p.k), p.ef);
        st = hits.error();
        if (hits.ok() && r->want_ids) {
          for (const auto& h : *hits) r->result_ids.push_back(h.id);
        }
        break;
      }
      case OpKind::kPatternCompletion: {
        CompletionCue cue;
        cue.what = op.cue_what;
        cue.embedding = op.query;
        cue.k = static_cast<size_t>(std::min(p.k, 1000));
        st = sp->Complete(cue).error();
        break;
      }
      case OpKind::kTraversal:
        st = sp->Neighbors(op.target_id, p.hops, static_cast<size_t>(p.max_results)).error();
        break;
      case OpKind::kActivation: {
        const std::vector<std::string> seeds{op.target_id};
        st = sp->Activate(seeds, p.hops, static_cast<size_t>(p.max_results)).error();
        break;
      }
      case OpKind::kConsolidation: st = sp->Consolidate(false).error(); break;
      case OpKind::kHealth: break;  // handled above
    }
  } else {
    st = space.error();
  }
  if (!st.ok()) {
    r->error = KindFor(st);
    r->http_status = HttpStatusFor(st.code());
    r->error_detail = st.ToString();
  } else {
    r->http_status = 200;
  }
}

}  // namespace engram::loadgen
