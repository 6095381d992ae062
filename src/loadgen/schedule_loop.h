// Keeping a schedule on a driver's own event loop (Driver::RunSchedule): the loop that sends
// each request at its intended start on the driver's single io thread, so that sending costs
// no hand-over from the runner's sender thread (a cross-thread wake-up per request;
// docs/loadtest.md "Capacity"). Every driver with one io thread uses it: the HTTP driver, the
// peers' drivers.
//
// The loop is one chain of handlers on the io thread. Each step sends what is due and then
// leaves exactly one continuation: a timer for the next intended start minus the spin
// (timerfd, precise to microseconds; the reactor's own wait rounds to milliseconds), or, when
// the next start is closer than that or than the poll window, a re-posted step, so that the
// scheduler polls the sockets (a non-blocking epoll_wait) between looks at the clock and
// completions are still stamped when they arrive. A request is handed to the driver from here
// directly: no post, no wake-up of another thread.
//
// Threading: Run() from a thread that is not the io thread; everything else happens on the io
// thread, which exactly one thread runs.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>

#include "core/clock.h"
#include "loadgen/driver.h"

namespace engram::loadgen {

// The steady-clock time point of a MonoNanos() reading, for asio timers.
inline SteadyClock::time_point AtMono(int64_t mono_ns) {
  return SteadyClock::time_point(std::chrono::duration_cast<SteadyClock::duration>(std::chrono::nanoseconds(mono_ns)));
}

class ScheduleLoop {
 public:
  // Called on the io thread for each request when it is due, with dispatch_ns set and
  // source->Dispatched() called: the driver sends it, or queues it behind busy connections.
  using Dispatch = std::function<void(RequestPtr)>;

  ScheduleLoop(boost::asio::io_context& ioc, Dispatch dispatch);

  // Runs the schedule of `source` on the io thread and blocks until it is over (returns false)
  // or source->Aborted() (returns true). Requests may still be in flight when it returns.
  // REQUIRES: not on the io thread; no other Run() in progress.
  bool Run(ScheduleSource* source);
  // Cancels a pending wake-up. On the io thread, or once it has stopped.
  void Cancel();

 private:
  void Pump();
  void WakeAt(int64_t mono_ns);
  void End(bool aborted);

  boost::asio::io_context& ioc_;
  Dispatch dispatch_;
  boost::asio::steady_timer wake_;
  ScheduleSource* source_ = nullptr;
  RequestPtr next_;                 // taken from the source, not yet due
  int64_t next_spin_ns_ = 0;        // how long before next_'s intended start to busy-wait
  int64_t previous_intended_ns_ = 0;
  std::mutex mu_;                   // guards the two below; Run() waits on them
  std::condition_variable cv_;
  bool running_ = false;
  bool aborted_ = false;
};

}  // namespace engram::loadgen
