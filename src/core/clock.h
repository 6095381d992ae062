// Clocks. Durations and intended send times use the monotonic clock only; wall time is for
// labels (timestamps in files), never for measuring.
#pragma once

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

// "2026-11-24T02:53:20Z" for a wall-clock time in microseconds.
std::string FormatUtc(int64_t wall_micros);

}  // namespace engram
