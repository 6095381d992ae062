#include "core/clock.h"

#include <ctime>

namespace engram {

std::string FormatUtc(int64_t wall_micros) {
  std::time_t secs = static_cast<std::time_t>(wall_micros / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace engram
