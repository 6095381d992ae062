// Fault injection: a TESTING AID, off by default. It delays chosen operations so the
// performance framework can prove that it detects a regression (a known slowdown must turn a
// compare red) and that its load generator sees stalls the way an open-loop client must.
//
//   --inject-delay recall=200us            every recall waits 200 microseconds first
//   --inject-delay search=1ms~3ms          a uniform random wait between 1 and 3 ms
//   --inject-delay recall=2ms,search=1ms   several operations
//   --inject-cpu complete=5ms              every completion burns 5 ms of CPU on its handler
//                                          thread first (a slower handler, for head-of-line tests)
//   --inject-stall 1s/10s                  every request arriving in the first second of each
//                                          10-second period waits until that second is over
//
// The waits are asynchronous timers: they hold back the response, not a server thread.
// Threading: Parse once at start; DelayFor() is safe from any thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"
#include "server/metrics.h"

namespace engram::server {

// "200us", "1.5ms", "2s", "250ns" -> nanoseconds.
Result<int64_t> ParseDuration(std::string_view text);

class FaultInjector {
 public:
  // Both specs may be empty (no faults).
  static Result<FaultInjector> Parse(std::string_view delay_spec, std::string_view stall_spec,
                                     std::string_view cpu_spec = {});
  FaultInjector() = default;
  FaultInjector(const FaultInjector& other) { *this = other; }
  FaultInjector& operator=(const FaultInjector& other);

  bool enabled() const { return enabled_; }
  // How long a request for `op` arriving at monotonic time `now_ns` waits before it is served.
  int64_t DelayFor(Op op, int64_t now_ns) const;
  // Burns the CPU time --inject-cpu gives `op` on the calling (handler) thread: unlike a
  // delay, it occupies the thread and its core, as a slower handler would.
  void BurnCpu(Op op) const;
  // Human description for the start-up log, e.g. "recall=200us; stall 1s every 10s".
  std::string Describe() const;

  struct Range {
    int64_t lo = 0, hi = 0;
  };

 private:
  int64_t Draw(const Range& r) const;  // lo, or uniform in [lo, hi]

  bool enabled_ = false;
  std::array<Range, static_cast<size_t>(Op::kCount)> delays_{};
  std::array<Range, static_cast<size_t>(Op::kCount)> cpu_{};
  int64_t stall_ns_ = 0, period_ns_ = 0, origin_ns_ = 0;
  mutable std::atomic<uint64_t> counter_{0};
};

}  // namespace engram::server
