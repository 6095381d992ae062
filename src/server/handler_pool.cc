#include "server/handler_pool.h"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

#include "core/clock.h"
#include "core/cpus.h"

namespace engram::server {

std::string_view LaneName(Lane lane) { return lane == Lane::kInteractive ? "interactive" : "bulk"; }

HandlerPool::HandlerPool(HandlerPoolOptions options) : options_(options) {
  const int interactive = options_.interactive_threads > 0 ? options_.interactive_threads : UsableCpus();
  const int bulk = options_.bulk_threads > 0 ? options_.bulk_threads : std::max(1, interactive / 2);
  queues_[static_cast<int>(Lane::kInteractive)].threads = interactive;
  queues_[static_cast<int>(Lane::kBulk)].threads = bulk;
  for (int i = 0; i < interactive; ++i) threads_.emplace_back([this] { Work(Lane::kInteractive); });
  for (int i = 0; i < bulk; ++i) threads_.emplace_back([this] { Work(Lane::kBulk); });
}

HandlerPool::~HandlerPool() { Stop(); }

bool HandlerPool::Submit(Lane lane, Task task) {
  Queue& q = queues_[static_cast<int>(lane)];
  {
    std::lock_guard lock(q.mu);
    if (stopping_ || q.items.size() >= options_.queue_limit) return false;
    q.items.push_back({MonoNanos(), std::move(task)});
  }
  q.ready.notify_one();
  return true;
}

size_t HandlerPool::queued(Lane lane) const {
  const Queue& q = queues_[static_cast<int>(lane)];
  std::lock_guard lock(q.mu);
  return q.items.size();
}

int HandlerPool::threads(Lane lane) const { return queues_[static_cast<int>(lane)].threads; }

void HandlerPool::Work(Lane lane) {
  (void)pthread_setname_np(pthread_self(), lane == Lane::kInteractive ? "engram-handler" : "engram-bulk");
  if (lane == Lane::kBulk && options_.bulk_nice > 0) {
    // Lowers this thread only (Linux: a thread id names one thread). Best effort: a failure
    // leaves the lane at normal priority, which only weakens the preference.
    (void)setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), options_.bulk_nice);
  }
  Queue& q = queues_[static_cast<int>(lane)];
  const int64_t timeout_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 lane == Lane::kBulk ? options_.bulk_queue_timeout : options_.queue_timeout)
                                 .count();
  for (;;) {
    Item item;
    {
      std::unique_lock lock(q.mu);
      q.ready.wait(lock, [&] { return stopping_ || !q.items.empty(); });
      if (stopping_) return;
      item = std::move(q.items.front());
      q.items.pop_front();
    }
    item.task(MonoNanos() - item.enqueued_ns > timeout_ns);
  }
}

void HandlerPool::Stop() {
  std::deque<Item> dropped[kNumLanes];
  for (auto& q : queues_) q.mu.lock();
  const bool already = stopping_;
  stopping_ = true;
  for (int i = 0; i < kNumLanes; ++i) {
    dropped[i].swap(queues_[i].items);
    queues_[i].mu.unlock();
    queues_[i].ready.notify_all();
  }
  for (auto& d : dropped) d.clear();  // outside the locks: a task's captures may do work when destroyed
  if (already) return;
  for (auto& t : threads_) t.join();
  threads_.clear();
}

}  // namespace engram::server
