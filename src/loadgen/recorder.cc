#include "loadgen/recorder.h"

#include <algorithm>

namespace engram::loadgen {

namespace {
std::atomic<uint64_t> g_next_set_id{1};
constexpr int kRing = 4;

struct Slot {
  int64_t second = -1;  // -1: free
  Histogram latency, lag;
  uint64_t ops = 0, errors = 0, sent = 0;

  void MergeInto(SecondData* out) const {
    out->latency.Merge(latency);
    out->lag.Merge(lag);
    out->ops += ops;
    out->errors += errors;
    out->sent += sent;
  }
  void Clear() {
    if (!latency.empty()) latency.Reset();
    if (!lag.empty()) lag.Reset();
    ops = errors = sent = 0;
    second = -1;
  }
};

}  // namespace

class RecorderSet::Recorder {
 public:
  std::mutex mu;
  Totals totals;
  std::array<Slot, kRing> ring;
  std::vector<std::unique_ptr<Slot>> spill;  // seconds that found their ring slot still taken

  // REQUIRES: mu held.
  Slot& SlotFor(int64_t s) {
    Slot& r = ring[static_cast<size_t>(s % kRing)];
    if (r.second == s) return r;
    if (r.second == -1) {
      r.second = s;
      return r;
    }
    // The harvest has fallen behind by kRing seconds (a starved monitor thread): keep the
    // second in a spill slot rather than overwrite anything.
    for (auto& p : spill) {
      if (p->second == s) return *p;
    }
    spill.push_back(std::make_unique<Slot>());
    spill.back()->second = s;
    return *spill.back();
  }
};

RecorderSet::RecorderSet(int64_t measured_start_ns)
    : id_(g_next_set_id.fetch_add(1)), measured_start_ns_(measured_start_ns) {}

RecorderSet::~RecorderSet() = default;

int64_t RecorderSet::SecondOf(int64_t mono_ns) const {
  const int64_t d = mono_ns - measured_start_ns_;
  return d < 0 ? -1 : d / 1'000'000'000;
}

RecorderSet::Recorder* RecorderSet::Local() {
  // One recorder per (thread, set). The set id (not its address) keys the cache, so a new set
  // allocated where an old one was never inherits a dangling recorder.
  thread_local uint64_t cached_id = 0;
  thread_local Recorder* cached = nullptr;
  if (cached_id == id_) return cached;
  std::lock_guard lock(mu_);
  recorders_.push_back(std::make_unique<Recorder>());
  cached = recorders_.back().get();
  cached_id = id_;
  return cached;
}

void RecorderSet::RecordSent(const Request& r) {
  if (r.warmup || r.sent_ns == 0) return;
  Recorder* rec = Local();
  const int64_t lag = r.sent_ns - r.intended_ns;
  std::lock_guard lock(rec->mu);
  rec->totals.schedule_lag.Record(lag);
  rec->totals.sent += 1;
  int64_t s = std::max<int64_t>(SecondOf(r.sent_ns), 0);
  const int64_t floor = harvested_upto_.load(std::memory_order_acquire);
  if (s < floor) {
    s = floor;
    late_.fetch_add(1, std::memory_order_relaxed);
  }
  Slot& slot = rec->SlotFor(s);
  slot.lag.Record(lag);
  slot.sent += 1;
}

void RecorderSet::RecordDone(const Request& r) {
  Recorder* rec = Local();
  const bool failed = r.error != ErrorKind::kNone;
  std::lock_guard lock(rec->mu);
  Totals& t = rec->totals;
  if (r.warmup) {
    t.warmup_ops += 1;
    t.warmup_errors += failed ? 1 : 0;
    return;
  }
  OpTotals& k = t.kinds[static_cast<size_t>(r.kind)];
  const int64_t latency = r.done_ns - r.intended_ns;
  k.count += 1;
  k.success += failed ? 0 : 1;
  k.errors += failed ? 1 : 0;
  k.latency.Record(latency);
  if (r.sent_ns != 0) k.service.Record(r.done_ns - r.sent_ns);
  t.errors_by_kind[static_cast<size_t>(r.error)] += 1;
  // The generator's own lateness: until it sent the request, or until it queued it because
  // every connection was busy (waiting for a connection is the server's backpressure).
  const int64_t handed_over = r.queued || r.sent_ns == 0 ? r.dispatch_ns : r.sent_ns;
  t.generator_lag.Record(handed_over - r.intended_ns);

  int64_t s = std::max<int64_t>(SecondOf(r.done_ns), 0);
  const int64_t floor = harvested_upto_.load(std::memory_order_acquire);
  if (s < floor) {
    s = floor;
    late_.fetch_add(1, std::memory_order_relaxed);
  }
  Slot& slot = rec->SlotFor(s);
  slot.latency.Record(latency);
  slot.ops += 1;
  slot.errors += failed ? 1 : 0;
}

SecondData RecorderSet::Harvest(int64_t s) {
  SecondData out;
  out.second = s;
  harvested_upto_.store(std::max(harvested_upto_.load(), s + 1), std::memory_order_release);
  std::vector<Recorder*> recs;
  {
    std::lock_guard lock(mu_);
    for (auto& r : recorders_) recs.push_back(r.get());
  }
  for (Recorder* rec : recs) {
    std::lock_guard lock(rec->mu);
    for (Slot& slot : rec->ring) {
      if (slot.second != -1 && slot.second <= s) {
        slot.MergeInto(&out);
        slot.Clear();
      }
    }
    auto& spill = rec->spill;
    for (auto it = spill.begin(); it != spill.end();) {
      if ((*it)->second <= s) {
        (*it)->MergeInto(&out);
        it = spill.erase(it);
      } else {
        ++it;
      }
    }
  }
  return out;
}

Totals RecorderSet::Collect() const {
  Totals out;
  std::lock_guard lock(mu_);
  for (const auto& rec : recorders_) {
    std::lock_guard rlock(rec->mu);
    const Totals& t = rec->totals;
    for (size_t k = 0; k < out.kinds.size(); ++k) {
      out.kinds[k].count += t.kinds[k].count;
      out.kinds[k].success += t.kinds[k].success;
      out.kinds[k].errors += t.kinds[k].errors;
      out.kinds[k].latency.Merge(t.kinds[k].latency);
      out.kinds[k].service.Merge(t.kinds[k].service);
    }
    out.schedule_lag.Merge(t.schedule_lag);
    out.generator_lag.Merge(t.generator_lag);
    for (size_t e = 0; e < out.errors_by_kind.size(); ++e) out.errors_by_kind[e] += t.errors_by_kind[e];
    out.sent += t.sent;
    out.warmup_ops += t.warmup_ops;
    out.warmup_errors += t.warmup_errors;
  }
  out.late_records = late_.load();
  return out;
}

}  // namespace engram::loadgen
