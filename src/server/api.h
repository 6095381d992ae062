// The HTTP/JSON API over the engine, independent of the socket layer: the server hands each
// parsed request to Api::Handle and writes back the response. Tests call it directly.
// docs/http_api.md documents every route.
//
// Errors are JSON {"error":{"code":"NOT_FOUND","message":"..."}} with the HTTP status from
// the one table in core/status.cc. A handler never throws: exceptions from the JSON parser
// become 400s, anything else a 500 with its message.
//
// Threading: Handle() is safe to call concurrently.
#pragma once

#include <string>
#include <string_view>

#include "engine/engine.h"
#include "server/handler_pool.h"
#include "server/metrics.h"

namespace engram::server {

struct ApiRequest {
  std::string_view method;        // "GET", "POST", "DELETE", ...
  std::string_view target;        // path and query, e.g. "/api/v1/episodes/x?space=a"
  std::string_view space_header;  // X-Memory-Space, may be empty
  std::string_view body;
};

struct ApiResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

struct ApiOptions {
  std::string version = "0.1.0";
  std::string git_commit = "unknown";
  int bulk_parallelism = 2;
  size_t max_batch = 100000;  // episodes in one remember-batch request
};

class Api {
 public:
  Api(Engine* engine, Metrics* metrics, ApiOptions options);
  // Which operation a request is (for metrics and fault injection), from method and path.
  Op Classify(std::string_view method, std::string_view target) const;
  ApiResponse Handle(const ApiRequest& request, Op op) const;

 private:
  ApiResponse Dispatch(const ApiRequest& request, Op op) const;
  Engine* engine_;
  Metrics* metrics_;
  ApiOptions options_;
  int64_t start_mono_ns_;
};

// The JSON error body for a Status.
std::string ErrorBody(const Status& status);

// The handler lane of an operation (see HandlerPool). Bulk: work that grows with what the
// request asks for or with the space (completion's candidates, a traversal's limit,
// activation, batches, consolidation, checkpoints, the listing and diagnostics of every
// space). Interactive: remember, recall, search, get, forget, link: bounded work per request.
Lane LaneOf(Op op);

}  // namespace engram::server
