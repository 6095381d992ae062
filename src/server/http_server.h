// HttpServer: HTTP/1.1 with keep-alive over Boost.Beast, serving an Api.
//
// Each connection reads one request at a time (bounded by max_body_bytes and a request
// timeout, so slow or half-open clients cannot hold a connection forever). The I/O threads
// only read and write: every request but /health is handed to a HandlerPool thread (its lane
// chosen by LaneOf), and the answer is written back on the connection's strand. When a lane's
// queue is full, or a request waited in it longer than the queue timeout, it is answered
// 503 with `Retry-After: 1` without being run (counted in engram_requests_shed_total).
// /health is answered on the I/O thread, so a readiness probe sees a live server even when
// every handler thread is busy. Injected delays hold a request with an asynchronous timer
// before it is queued; injected CPU work runs on its handler thread.
//
// Stop() is graceful: it stops accepting, lets requests already read finish (up to a drain
// deadline), then stops the I/O and handler threads. Threading: Start/Stop from one
// controlling thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"
#include "server/api.h"
#include "server/fault_injection.h"
#include "server/handler_pool.h"
#include "server/metrics.h"

namespace engram::server {

struct ServerOptions {
  std::string bind = "127.0.0.1";   // loopback only unless asked otherwise
  uint16_t port = 7432;             // 0 = any free port (see port())
  int io_threads = 1;               // threads reading and writing sockets
  HandlerPoolOptions handlers;      // threads running handlers (default: one per usable CPU)
  size_t max_body_bytes = 64 << 20; // larger bodies get 413
  std::chrono::milliseconds request_timeout{30000};  // idle keep-alive + reading one request
};

class HttpServer {
 public:
  HttpServer(Api* api, Metrics* metrics, FaultInjector faults, ServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts the io threads. Fails with a clear Status if the address is in use.
  Status Start();
  uint16_t port() const;
  // Handler threads of a lane. REQUIRES: Start() succeeded.
  int handler_threads(Lane lane) const;
  // Stops accepting, waits up to `drain` for requests in flight, then stops the threads.
  void Stop(std::chrono::milliseconds drain = std::chrono::milliseconds(10000));

  struct Impl;  // implementation detail, public so connection sessions can reach it

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace engram::server
