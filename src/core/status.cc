#include "core/status.h"

namespace engram {

namespace {
struct CodeInfo {
  StatusCode code;
  std::string_view name;
  int http;
};
// The one table: code -> name -> HTTP status.
constexpr CodeInfo kCodes[] = {
    {StatusCode::kOk, "OK", 200},
    {StatusCode::kInvalidArgument, "INVALID_ARGUMENT", 400},
    {StatusCode::kNotFound, "NOT_FOUND", 404},
    {StatusCode::kAlreadyExists, "ALREADY_EXISTS", 409},
    {StatusCode::kFailedPrecondition, "FAILED_PRECONDITION", 409},
    {StatusCode::kMethodNotAllowed, "METHOD_NOT_ALLOWED", 405},
    {StatusCode::kTooLarge, "TOO_LARGE", 413},
    {StatusCode::kResourceExhausted, "RESOURCE_EXHAUSTED", 429},
    {StatusCode::kUnavailable, "UNAVAILABLE", 503},
    {StatusCode::kDeadlineExceeded, "DEADLINE_EXCEEDED", 504},
    {StatusCode::kIOError, "IO_ERROR", 500},
    {StatusCode::kDataLoss, "DATA_LOSS", 500},
    {StatusCode::kInternal, "INTERNAL", 500},
};
const CodeInfo& Info(StatusCode code) {
  for (const auto& info : kCodes) {
    if (info.code == code) return info;
  }
  return kCodes[sizeof(kCodes) / sizeof(kCodes[0]) - 1];
}
}  // namespace

std::string_view StatusCodeName(StatusCode code) { return Info(code).name; }
int HttpStatusFor(StatusCode code) { return Info(code).http; }

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out(StatusCodeName(code_));
  out += ": ";
  out += message_;
  return out;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  return Status(code_, std::string(context) + ": " + message_);
}

}  // namespace engram
