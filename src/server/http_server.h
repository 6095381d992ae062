// HttpServer: HTTP/1.1 with keep-alive over Boost.Beast, serving an Api.
//
// Each connection reads one request at a time (bounded by max_body_bytes and a request
// timeout, so slow or half-open clients cannot hold a connection forever), hands it to the
// Api on one of `threads` io threads, and writes the response. Injected faults delay a request
// with an asynchronous timer before it is served.
//
// Stop() is graceful: it stops accepting, lets requests already read finish (up to a drain
// deadline), then stops the io threads. Threading: Start/Stop/Wait from one controlling thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"
#include "server/api.h"
#include "server/fault_injection.h"
#include "server/metrics.h"

namespace engram::server {

struct ServerOptions {
  std::string bind = "127.0.0.1";   // loopback only unless asked otherwise
  uint16_t port = 7432;             // 0 = any free port (see port())
  int threads = 0;                  // io threads; 0 = hardware concurrency
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
  // Stops accepting, waits up to `drain` for requests in flight, then stops the threads.
  void Stop(std::chrono::milliseconds drain = std::chrono::milliseconds(10000));

  struct Impl;  // implementation detail, public so connection sessions can reach it

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace engram::server
