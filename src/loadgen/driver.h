// The Driver interface: one timing wrapper (the runner) around every way of executing an
// operation. A driver turns a workload::Operation into a request for the system under test,
// sends it when the runner says, and reports when it completed and how. The runner alone
// decides *when* (intended start times) and measures; a driver never waits for a previous
// operation before accepting the next one (that would be coordinated omission).
//
// Life of one operation:
//   1. Prepare(): on a generator worker thread, ahead of its send time: everything expensive
//      (JSON serialization) happens here, never on the sending path.
//   2. Submit(): on the scheduler thread at the intended start. Must not block. If the driver
//      has no free connection/worker the request waits in the driver's FIFO queue (its
//      latency clock is already running from the intended start).
//   3. callbacks.sent(): when the request is actually sent (or starts executing).
//   4. callbacks.done(): exactly once per submitted request, success or failure. A request
//      still queued or on the wire at its deadline fails as a timeout.
//
// A driver may instead keep the schedule itself (RunsSchedule(), RunSchedule()): the runner then
// hands it the whole schedule, and the driver's own event loop sends each request at its
// intended start. The HTTP driver with one io thread does this, so that sending a request costs
// no hand-over from a sender thread to the io thread (docs/loadtest.md "Capacity").
//
// Threading: Prepare() is const and may run concurrently with everything. Submit() is called
// from one thread. Callbacks run on driver threads (io threads / pool workers), concurrently.
// The preload methods (CreateSpace, ListSpaces, LoadBatch) are blocking and thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "workload/dataset.h"
#include "workload/op_stream.h"
#include "workload/scenario.h"

namespace engram::loadgen {

// How an operation failed. Every error is one of these, and each is counted.
enum class ErrorKind {
  kNone,
  kTimeout,     // still queued or in flight at its deadline (intended start + timeout)
  kConnection,  // connect/read/write failed, connection closed mid-request
  kHttp4xx,     // the server answered 400..499 (the in-process driver maps Status codes alike)
  kHttp5xx,     // 500..599
  kOther,       // anything else (e.g. an unexpected response)
  kShed,        // the server refused it for overload: 429 or 503 with a Retry-After header
};
std::string_view ErrorKindName(ErrorKind kind);

// One operation on its way through the driver. Owned by whoever holds the pointer.
struct Request {
  // Set by the runner.
  uint64_t index = 0;  // op stream index
  workload::OpKind kind = workload::OpKind::kStore;
  bool warmup = false;
  bool want_ids = false;          // return the ids of the result (search-recall sample)
  int64_t offset_ns = 0;          // intended start, from the start of the schedule
  int64_t intended_ns = 0;        // absolute MonoNanos
  int64_t deadline_ns = 0;        // absolute MonoNanos: intended + timeout
  int64_t dispatch_ns = 0;        // when the scheduler handed it to Submit()
  std::vector<float> sample_query;  // the query of a sampled Search
  std::string space;

  // Set by Prepare().
  std::string wire;                        // HTTP: the complete request bytes
  std::optional<workload::Operation> op;   // in-process: the operation itself

  // Set by the driver.
  int64_t sent_ns = 0;         // actual send / execution start; 0 if never sent
  int64_t done_ns = 0;         // completion (or failure) time
  bool queued = false;         // waited for a free connection / worker
  ErrorKind error = ErrorKind::kNone;
  int http_status = 0;
  std::string error_detail;    // short message for the first errors reported
  std::vector<std::string> result_ids;  // when want_ids and successful
};
using RequestPtr = std::unique_ptr<Request>;

struct DriverCallbacks {
  std::function<void(const Request&)> sent;  // may be empty
  std::function<void(RequestPtr)> done;      // required
};

struct SpaceInfo {
  std::string name;
  uint32_t dim = 0;
  uint64_t episodes = 0;
  uint64_t edges = 0;
};

// The schedule of a measured phase, for a driver that sends it itself (Driver::RunSchedule).
// Its methods are called from the driver's event-loop thread only.
class ScheduleSource {
 public:
  virtual ~ScheduleSource() = default;

  // The next request in schedule order, with intended_ns and deadline_ns set. Does not block:
  // nullptr with *over == false when it is not generated yet (the generator is behind, which
  // shows as generator lag), nullptr with *over == true when the schedule is over.
  virtual RequestPtr TryNext(bool* over) = 0;
  // True once the run is to stop (Ctrl-C). The driver then takes no more requests; the one it
  // holds is dropped unsent.
  virtual bool Aborted() = 0;
  // Called for each request as it is dispatched (dispatch_ns set), before it is sent or queued,
  // exactly where the runner would have called Submit().
  virtual void Dispatched(const Request& request) = 0;
  // How long before an intended start, `gap_ns` after the previous one, the driver may
  // busy-wait instead of blocking (the kernel's wake-up would overshoot a short sleep).
  virtual int64_t SpinNanos(int64_t gap_ns) const = 0;
};

class Driver {
 public:
  virtual ~Driver() = default;

  // "http", "inprocess", or a peer's name ("postgres").
  virtual std::string_view name() const = 0;
  // The endpoint URL, or "in-process".
  virtual std::string target() const = 0;

  // Checks that the system under test answers (GET /health). Unavailable if not.
  virtual Status Check() = 0;

  // Preload primitives. CreateSpace returns true when created, false when it existed.
  virtual Result<bool> CreateSpace(const std::string& name, uint32_t dim) = 0;
  virtual Result<std::vector<SpaceInfo>> ListSpaces() = 0;
  // Stores the nodes and the links between them (or to nodes already stored) atomically.
  virtual Status LoadBatch(const std::string& space, std::span<const workload::EpisodeSpec> nodes,
                           std::span<const workload::Edge> links) = 0;

  // Called by Preload() once every batch is stored, before the counts are verified: a driver
  // that builds indexes and statistics after a bulk load (a peer database) does it here.
  virtual Status FinishPreload() { return Status::Ok(); }
  // Whether the driver can execute operations of `kind`. A peer answers only some kinds;
  // loadtest refuses a scenario that draws others unless they are filtered out
  // (docs/loadtest.md "Operation kinds a driver does not support").
  virtual bool Supports(workload::OpKind /*kind*/) const { return true; }

  // Fills the request's payload for `op` (wire bytes or a copy of the operation).
  virtual void Prepare(const workload::Operation& op, Request* request) const = 0;
  // Starts a measured phase: opens `connections` connections (or workers) and remembers the
  // callbacks. REQUIRES: no phase running.
  virtual Status Begin(int connections, DriverCallbacks callbacks) = 0;
  virtual void Submit(RequestPtr request) = 0;
  // Ends the phase. REQUIRES: every submitted request has completed (done() was called).
  virtual void End() = 0;

  // Whether RunSchedule() is available (it then replaces the runner's sender loop and Submit()).
  virtual bool RunsSchedule() const { return false; }
  // Sends every request of `source` at its intended start (dispatch_ns, sent_ns and the FIFO
  // queue behind busy connections as with Submit()). Blocks until the schedule is over or
  // source->Aborted(); returns true in the second case. Requests may still be in flight when
  // it returns; done() is called for each as usual.
  // REQUIRES: RunsSchedule(), inside Begin()/End(), no Submit() in the same phase.
  virtual bool RunSchedule(ScheduleSource* source);

  // How many requests can be in flight at once (connections, or pool workers).
  virtual int concurrency() const = 0;
  // Requests on the wire now / at most since Begin() (bounded by concurrency()).
  virtual int64_t inflight() const = 0;
  virtual int64_t peak_inflight() const = 0;
  // Requests that were re-sent once because a reused keep-alive connection turned out closed.
  virtual uint64_t retries() const { return 0; }
};

}  // namespace engram::loadgen
