// The waiting room of a connection-based driver's measured phase: its idle connections, one
// FIFO queue of requests that found every connection busy (dispatch order, hence deadline
// order), and the count of requests on the wire. The HTTP driver and the peers' drivers share
// it, so that every driver queues, expires and counts alike:
//  - a request that finds no idle connection waits in the queue, its latency clock already
//    running from the intended start (Request::queued is set);
//  - a queued request whose deadline passes fails as a timeout without being sent, either when
//    a connection frees up or when the driver's sweeper (ExpireDue(), every few milliseconds)
//    gets to it, whichever is first;
//  - nothing is bounded or dropped.
//
// Threading: every method is thread-safe (one mutex for the idle list and the queue; atomics
// for the counters). Callbacks run on the calling thread, outside the lock.
#pragma once

#include <atomic>
#include <deque>
#include <mutex>
#include <vector>

#include "core/clock.h"
#include "loadgen/driver.h"

namespace engram::loadgen {

template <typename Conn>
class ConnQueue {
 public:
  // `callbacks` must outlive the queue.
  explicit ConnQueue(const DriverCallbacks* callbacks) : callbacks_(callbacks) {}

  // Makes `conn` available (at the start of a phase).
  void Park(Conn* conn) {
    std::lock_guard lock(mu_);
    idle_.push_back(conn);
  }
  // An idle connection for `*r` (the caller starts it there, outside the lock), or nullptr
  // when every connection is busy: `*r` is then appended to the queue.
  Conn* Claim(RequestPtr* r) {
    std::lock_guard lock(mu_);
    if (idle_.empty()) {
      (*r)->queued = true;
      queue_.push_back(std::move(*r));
      return nullptr;
    }
    Conn* conn = idle_.back();
    idle_.pop_back();
    return conn;
  }
  // For `conn`, which has just become free: the queue's first request whose deadline has not
  // passed (those before it fail as timeouts), or nullptr after parking `conn` as idle.
  RequestPtr NextFor(Conn* conn) {
    for (;;) {
      RequestPtr next;
      {
        std::lock_guard lock(mu_);
        if (queue_.empty()) {
          idle_.push_back(conn);
          return nullptr;
        }
        next = std::move(queue_.front());
        queue_.pop_front();
      }
      const int64_t now = MonoNanos();
      if (now < next->deadline_ns) return next;
      ExpireUnsent(std::move(next), now);
    }
  }
  // Fails every queued request whose deadline has passed, now and on time, rather than
  // whenever a connection frees up.
  void ExpireDue() {
    const int64_t now = MonoNanos();
    std::vector<RequestPtr> expired;
    {
      std::lock_guard lock(mu_);
      while (!queue_.empty() && queue_.front()->deadline_ns <= now) {
        expired.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    for (auto& r : expired) ExpireUnsent(std::move(r), now);
  }
  // Completes a request that never reached the wire because its deadline passed first.
  void ExpireUnsent(RequestPtr r, int64_t now) {
    r->done_ns = now;
    r->error = ErrorKind::kTimeout;
    r->error_detail = "timed out waiting for a free connection";
    callbacks_->done(std::move(r));
  }

  // A request went on the wire (sent_ns set): counted, and callbacks.sent called.
  void Sent(const Request& r) {
    const int64_t now = on_wire_.fetch_add(1, std::memory_order_relaxed) + 1;
    int64_t peak = peak_on_wire_.load(std::memory_order_relaxed);
    while (now > peak && !peak_on_wire_.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
    }
    if (callbacks_->sent) callbacks_->sent(r);
  }
  // A request that was on the wire completed (done_ns and error set): callbacks.done called.
  void Done(RequestPtr r) {
    on_wire_.fetch_sub(1, std::memory_order_relaxed);
    callbacks_->done(std::move(r));
  }

  int64_t on_wire() const { return on_wire_.load(); }
  int64_t peak_on_wire() const { return peak_on_wire_.load(); }

 private:
  const DriverCallbacks* callbacks_;
  std::mutex mu_;  // guards idle_ and queue_
  std::vector<Conn*> idle_;
  std::deque<RequestPtr> queue_;
  std::atomic<int64_t> on_wire_{0};
  std::atomic<int64_t> peak_on_wire_{0};
};

}  // namespace engram::loadgen
