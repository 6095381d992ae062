#include "loadgen/schedule_loop.h"

#include <boost/asio/post.hpp>

#include <algorithm>


namespace engram::loadgen {

namespace asio = boost::asio;

ScheduleLoop::ScheduleLoop(asio::io_context& ioc, Dispatch dispatch)
    : ioc_(ioc), dispatch_(std::move(dispatch)), wake_(ioc) {}

bool ScheduleLoop::Run(ScheduleSource* source) {
  {
    std::lock_guard lock(mu_);
    ENGRAM_CHECK(!running_);
    running_ = true;
    aborted_ = false;
  }
  // The io thread runs the loop; this thread only waits for it to finish. (One cross-thread
  // post per phase instead of one per request.)
  asio::post(ioc_, [this, source] {
    source_ = source;
    previous_intended_ns_ = 0;
    Pump();
  });
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return !running_; });
  return aborted_;
}

void ScheduleLoop::Cancel() { wake_.cancel(); }

void ScheduleLoop::Pump() {
  constexpr int kMaxSendsPerPump = 16;  // then let the reactor run: completions wait no longer
  constexpr int64_t kGeneratorRetryNs = 20'000;
  constexpr int64_t kAbortCheckNs = 100'000'000;
  // A wait shorter than this polls instead of sleeping on the timer. Sleeping costs two
  // timerfd_settime calls and a wake-up, about 20 us of CPU on this paravirtualized kernel
  // (timerfd_settime alone was 29% of the loop's CPU at 36K ops/s when every wait used the
  // timer); polling for a shorter wait is cheaper, and above ~30K ops/s the loop then never
  // sleeps between sends.
  constexpr int64_t kPollWindowNs = 30'000;
  for (int sends = 0;;) {
    if (source_->Aborted()) return End(true);
    if (!next_) {
      bool over = false;
      next_ = source_->TryNext(&over);
      if (!next_) {
        if (over) return End(false);
        // The generator is behind: look again shortly, serving I/O meanwhile. The wait is the
        // generator's lag and is recorded as such (dispatch_ns - intended_ns).
        return WakeAt(MonoNanos() + kGeneratorRetryNs);
      }
      next_spin_ns_ = source_->SpinNanos(next_->intended_ns - previous_intended_ns_);
      previous_intended_ns_ = next_->intended_ns;
    }
    const int64_t now = MonoNanos();
    const int64_t remaining = next_->intended_ns - now;
    if (remaining > std::max(next_spin_ns_, kPollWindowNs)) {
      return WakeAt(std::min(next_->intended_ns - next_spin_ns_, now + kAbortCheckNs));
    }
    if (remaining > 0 || sends == kMaxSendsPerPump) {
      asio::post(ioc_, [this] { Pump(); });
      return;
    }
    RequestPtr r = std::move(next_);
    r->dispatch_ns = now;
    source_->Dispatched(*r);
    dispatch_(std::move(r));
    ++sends;
  }
}

void ScheduleLoop::WakeAt(int64_t mono_ns) {
  wake_.expires_at(AtMono(mono_ns));
  wake_.async_wait([this](boost::system::error_code ec) {
    if (!ec) Pump();
  });
}

void ScheduleLoop::End(bool aborted) {
  next_.reset();
  source_ = nullptr;
  std::lock_guard lock(mu_);
  running_ = false;
  aborted_ = aborted;
  cv_.notify_all();
}

}  // namespace engram::loadgen
