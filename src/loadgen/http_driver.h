// The HTTP driver: engram's /api/v1 over keep-alive HTTP/1.1 connections (Boost.Beast).
//
// Measured operations go through a pool of `connections` persistent connections served by a
// few io threads. Submit() hands a request to an idle connection, or appends it to one FIFO
// queue when every connection is busy; a connection that finishes takes the queue's head.
// Nothing is bounded or dropped: a request still queued or on the wire at its deadline
// (intended start + timeout) fails as a timeout, and its connection is closed and reopened for
// the next request (a late response must not be read as the next one's).
// A request that fails on a *reused* connection before any response byte arrived (the server
// closed an idle keep-alive connection) is re-sent once on a fresh connection, as HTTP
// clients do; retries() counts these.
//
// With one io thread (the default) the driver keeps the schedule itself (RunSchedule()): the io
// thread's event loop sends each request at its intended start and does all the I/O, like
// wrk2, so a send costs no hand-over from the runner's sender thread (a cross-thread wake-up
// per request). With more io threads the runner's sender calls Submit(), which posts each
// request to a connection's strand.
//
// Control calls (health, spaces, preload batches) use separate blocking connections, one per
// calling thread at a time.
//
// Threading: see driver.h. Prepare() is const and thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "loadgen/driver.h"
#include "loadgen/endpoint.h"

namespace engram::loadgen {

struct HttpDriverOptions {
  Endpoint endpoint;  // resolved (Resolve())
  // One io thread serves tens of thousands of requests a second on loopback, and then also
  // keeps the schedule (RunSchedule()). A second one costs more than it gives unless responses
  // are large: the two hand work to each other through the scheduler's lock and epoll
  // wake-ups (4 system calls per request with one thread, 16 with two, measured on GET
  // /health; docs/loadtest.md "Capacity").
  int io_threads = 1;
  std::chrono::milliseconds control_timeout{120000};  // health, spaces, preload batches
};

struct HttpResponse {
  int status = 0;
  std::string body;
};

// Whether an answer is the server shedding load (counted as ErrorKind::kShed, apart from other
// 4xx/5xx answers): 429 or 503 with a Retry-After header, the server's documented overload
// answer. A 503 without Retry-After is an ordinary server error.
bool IsShed(int status, bool has_retry_after);

// The complete bytes of a request: request line, Host, User-Agent, X-Memory-Space (when
// `space` is not empty), Content-Type and Content-Length (not for a GET without a body), body.
// `path` is the whole path ("/api/v1/search", "/health").
std::string HttpWire(const Endpoint& endpoint, std::string_view method, std::string_view path,
                     std::string_view space, std::string_view body);

class HttpDriver : public Driver {
 public:
  explicit HttpDriver(HttpDriverOptions options);
  ~HttpDriver() override;

  std::string_view name() const override { return "http"; }
  std::string target() const override { return options_.endpoint.url; }
  Status Check() override;
  Result<bool> CreateSpace(const std::string& name, uint32_t dim) override;
  Result<std::vector<SpaceInfo>> ListSpaces() override;
  Status LoadBatch(const std::string& space, std::span<const workload::EpisodeSpec> nodes,
                   std::span<const workload::Edge> links) override;
  void Prepare(const workload::Operation& op, Request* request) const override;
  Status Begin(int connections, DriverCallbacks callbacks) override;
  void Submit(RequestPtr request) override;
  void End() override;
  // With one io thread (the default), that thread keeps the schedule and does the I/O.
  bool RunsSchedule() const override { return options_.io_threads <= 1; }
  bool RunSchedule(ScheduleSource* source) override;
  int concurrency() const override { return connections_; }
  int64_t inflight() const override;
  int64_t peak_inflight() const override;
  uint64_t retries() const override;

  // One blocking control call (thread-safe). Unavailable when the server cannot be reached.
  Result<HttpResponse> Call(std::string_view method, std::string_view path, std::string_view body,
                            std::string_view space = "");

  class BlockingClient;
  struct Pool;

 private:
  HttpDriverOptions options_;
  std::mutex clients_mu_;
  std::vector<std::unique_ptr<BlockingClient>> idle_clients_;
  std::unique_ptr<Pool> pool_;
  std::atomic<uint64_t> retries_total_{0};
  int64_t last_peak_ = 0;
  int connections_ = 1;  // peak_inflight() of the last phase, after End()
};

}  // namespace engram::loadgen
