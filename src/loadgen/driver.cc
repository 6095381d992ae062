#include "loadgen/driver.h"

#include "core/status.h"

namespace engram::loadgen {

std::string_view ErrorKindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kNone: return "none";
    case ErrorKind::kTimeout: return "timeout";
    case ErrorKind::kConnection: return "connection";
    case ErrorKind::kHttp4xx: return "http_4xx";
    case ErrorKind::kHttp5xx: return "http_5xx";
    case ErrorKind::kOther: return "other";
    case ErrorKind::kShed: return "shed";
  }
  return "other";
}

bool Driver::RunSchedule(ScheduleSource* /*source*/) {
  ENGRAM_CHECK(false && "RunSchedule() on a driver that does not keep the schedule");
  return false;
}

}  // namespace engram::loadgen
