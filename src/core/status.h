// Status and Result<T>: how every fallible call in Engram reports failure.
//
// A Status is a code plus a message a user can act on. Result<T> holds either a T or a non-OK
// Status; it has the shape of C++23 std::expected (has_value, value, error, operator*), so a
// later switch to std::expected is mechanical. Bugs are not Statuses: ENGRAM_CHECK aborts.
//
// Threading: Status and Result are values; they are safe to copy between threads.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace engram {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,    // bad input from the caller (HTTP 400, exit 3)
  kNotFound,           // unknown space, episode or file (404)
  kAlreadyExists,      // create of something that exists (409)
  kFailedPrecondition, // valid input, wrong state (409)
  kMethodNotAllowed,   // an HTTP method the route does not take (405)
  kTooLarge,           // body or batch over a configured limit (413)
  kResourceExhausted,  // overload, queue full (429)
  kUnavailable,        // shutting down, not ready (503)
  kDeadlineExceeded,   // timed out (504)
  kIOError,            // the disk or the network failed (500)
  kDataLoss,           // stored data failed its checksum (500)
  kInternal,           // a dependency threw something we did not expect (500)
};

// The one table that maps codes to names, HTTP statuses and CLI exit codes.
std::string_view StatusCodeName(StatusCode code);
int HttpStatusFor(StatusCode code);

namespace internal {
template <typename... Args>
std::string StrCat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}
}  // namespace internal

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  template <typename... A> static Status InvalidArgument(const A&... a) { return Make(StatusCode::kInvalidArgument, a...); }
  template <typename... A> static Status NotFound(const A&... a) { return Make(StatusCode::kNotFound, a...); }
  template <typename... A> static Status AlreadyExists(const A&... a) { return Make(StatusCode::kAlreadyExists, a...); }
  template <typename... A> static Status FailedPrecondition(const A&... a) { return Make(StatusCode::kFailedPrecondition, a...); }
  template <typename... A> static Status MethodNotAllowed(const A&... a) { return Make(StatusCode::kMethodNotAllowed, a...); }
  template <typename... A> static Status TooLarge(const A&... a) { return Make(StatusCode::kTooLarge, a...); }
  template <typename... A> static Status ResourceExhausted(const A&... a) { return Make(StatusCode::kResourceExhausted, a...); }
  template <typename... A> static Status Unavailable(const A&... a) { return Make(StatusCode::kUnavailable, a...); }
  template <typename... A> static Status DeadlineExceeded(const A&... a) { return Make(StatusCode::kDeadlineExceeded, a...); }
  template <typename... A> static Status IOError(const A&... a) { return Make(StatusCode::kIOError, a...); }
  template <typename... A> static Status DataLoss(const A&... a) { return Make(StatusCode::kDataLoss, a...); }
  template <typename... A> static Status Internal(const A&... a) { return Make(StatusCode::kInternal, a...); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "NOT_FOUND: space 'x' does not exist", or "OK".
  std::string ToString() const;

  // Prefixes the message with context: "loading scenario.toml: ...".
  Status WithContext(std::string_view context) const;

  bool operator==(const Status& other) const = default;

 private:
  template <typename... A>
  static Status Make(StatusCode code, const A&... a) {
    return Status(code, internal::StrCat(a...));
  }
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Result<T>: a T or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(const T& value) : v_(value) {}                 // NOLINT(google-explicit-constructor)
  Result(T&& value) : v_(std::move(value)) {}           // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {       // NOLINT(google-explicit-constructor)
    if (std::get<Status>(v_).ok()) v_ = Status::Internal("Result constructed from an OK Status");
  }
  template <typename U, typename = std::enable_if_t<std::is_constructible_v<T, U&&> &&
                                                    !std::is_same_v<std::decay_t<U>, Status> &&
                                                    !std::is_same_v<std::decay_t<U>, T>>>
  Result(U&& value) : v_(T(std::forward<U>(value))) {}  // NOLINT(google-explicit-constructor)

  bool has_value() const { return v_.index() == 0; }
  bool ok() const { return has_value(); }
  explicit operator bool() const { return has_value(); }

  T& value() & { Check(); return std::get<0>(v_); }
  const T& value() const& { Check(); return std::get<0>(v_); }
  // By value, so `for (auto& x : F().value())` does not dangle.
  T value() && { Check(); return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // The error; OK when a value is held.
  Status error() const { return has_value() ? Status() : std::get<Status>(v_); }
  Status status() const { return error(); }

 private:
  void Check() const {
    if (!has_value()) {
      std::fprintf(stderr, "Result::value() on error: %s\n", std::get<Status>(v_).ToString().c_str());
      std::abort();
    }
  }
  std::variant<T, Status> v_;
};

}  // namespace engram

#define ENGRAM_CONCAT_INNER(a, b) a##b
#define ENGRAM_CONCAT(a, b) ENGRAM_CONCAT_INNER(a, b)

#define ENGRAM_RETURN_IF_ERROR(expr)            \
  do {                                          \
    ::engram::Status _engram_st = (expr);       \
    if (!_engram_st.ok()) return _engram_st;    \
  } while (0)

#define ENGRAM_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.has_value()) return tmp.error();          \
  lhs = std::move(tmp).value()

#define ENGRAM_ASSIGN_OR_RETURN(lhs, expr) \
  ENGRAM_ASSIGN_OR_RETURN_IMPL(ENGRAM_CONCAT(_engram_r_, __LINE__), lhs, expr)

// Bugs abort with the condition and place; they are never reported as a Status.
#define ENGRAM_CHECK(cond)                                                              \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "%s:%d: ENGRAM_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)
