// Clocks. Durations and intended send times use the monotonic clock only; wall time is for
// labels (timestamps in files), never for measuring.
#pragma once

#include <time.h>

#include <chrono>
#include <cstdint>
#include <string>

namespace engram {

using SteadyClock = std::chrono::steady_clock;

// Nanoseconds on the monotonic clock (arbitrary epoch).
inline int64_t MonoNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             SteadyClock::now().time_since_epoch())
      .count();
}

// Microseconds since the Unix epoch (wall clock): episode timestamps, file labels.
inline int64_t WallMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// CPU time of the calling thread in nanoseconds: unlike the wall clock it stops while the
// thread is descheduled, so on a shared machine it shows what the code costs. (A system call
// of well under a microsecond.)
inline int64_t ThreadCpuNanos() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// "2026-11-24T02:53:20Z" for a wall-clock time in microseconds.
std::string FormatUtc(int64_t wall_micros);

}  // namespace engram
