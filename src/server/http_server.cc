#include "server/http_server.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <pthread.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <optional>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/cpus.h"

namespace engram::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct HttpServer::Impl {
  Api* api;
  Metrics* metrics;
  FaultInjector faults;
  ServerOptions options;
  asio::io_context ioc;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  tcp::acceptor acceptor{ioc};
  std::vector<std::thread> threads;
  std::unique_ptr<HandlerPool> pool;
  std::atomic<bool> draining{false};
  std::atomic<int64_t> busy{0};  // requests read and not yet fully written
  uint16_t bound_port = 0;

  void Accept();
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, HttpServer::Impl* server)
      : stream_(std::move(socket)), server_(server), timer_(stream_.get_executor()) {}

  void Run() { ReadRequest(); }

 private:
  void ReadRequest() {
    parser_.emplace();
    parser_->body_limit(server_->options.max_body_bytes);
    parser_->header_limit(64 * 1024);
    stream_.expires_after(server_->options.request_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::operation_aborted ||
        ec == asio::error::connection_reset || ec == asio::error::eof) {
      return Close();
    }
    if (ec) {
      // Malformed or oversized input: answer once, then close (the stream is out of sync).
      Status st = ec == http::error::body_limit
                      ? Status::TooLarge("request body is over the limit of ", server_->options.max_body_bytes, " bytes")
                      : Status::InvalidArgument("malformed HTTP request: ", ec.message());
      return WriteError(st);
    }
    request_ = parser_->release();
    start_ns_ = MonoNanos();
    server_->busy.fetch_add(1);
    server_->metrics->AddInflight(1);
    op_ = server_->api->Classify(std::string_view(request_.method_string()), std::string_view(request_.target()));
    const int64_t delay = server_->faults.DelayFor(op_, start_ns_);
    if (delay > 0) {
      timer_.expires_after(std::chrono::nanoseconds(delay));
      timer_.async_wait([self = shared_from_this()](beast::error_code) { self->Dispatch(); });
      return;
    }
    Dispatch();
  }

  // On the connection's strand: runs /health here, queues everything else for a handler.
  void Dispatch() {
    if (op_ == Op::kHealth) {
      Execute();
      return Write();
    }
    const Lane lane = LaneOf(op_);
    const int lane_index = static_cast<int>(lane);
    server_->metrics->AddQueued(lane_index, 1);
    const bool queued = server_->pool->Submit(lane, [self = shared_from_this(), lane_index](bool timed_out) {
      self->server_->metrics->AddQueued(lane_index, -1);
      if (timed_out) {
        self->Shed(Metrics::ShedReason::kQueueTimeout);
      } else {
        self->server_->metrics->AddRunning(lane_index, 1);
        self->Execute();
        self->server_->metrics->AddRunning(lane_index, -1);
      }
      asio::post(self->stream_.get_executor(), [self] { self->Write(); });
    });
    if (!queued) {
      server_->metrics->AddQueued(lane_index, -1);
      Shed(Metrics::ShedReason::kQueueFull);
      Write();
    }
  }

  // Runs the handler and prepares the response (on a handler thread, or inline for /health).
  // The connection does nothing else meanwhile: it reads its next request only after this
  // response is written, so request_ and response_ are this thread's alone until Write().
  void Execute() {
    server_->faults.BurnCpu(op_);
    ApiRequest req;
    req.method = std::string_view(request_.method_string());
    req.target = std::string_view(request_.target());
    auto space = request_.find("X-Memory-Space");
    if (space != request_.end()) req.space_header = std::string_view(space->value());
    req.body = request_.body();
    const int64_t wall0 = MonoNanos(), cpu0 = ThreadCpuNanos();
    ApiResponse r = server_->api->Handle(req, op_);
    const int64_t cpu1 = ThreadCpuNanos(), wall1 = MonoNanos();
    server_->metrics->RecordHandler(op_, wall1 - wall0, cpu1 - cpu0);
    Respond(r.status, r.content_type, std::move(r.body));
  }

  void Shed(Metrics::ShedReason reason) {
    const Status st = reason == Metrics::ShedReason::kQueueFull
                          ? Status::Unavailable("server overloaded: the ", LaneName(LaneOf(op_)),
                                                " handler queue is full (", server_->pool->options().queue_limit,
                                                " waiting); retry after 1 s")
                          : Status::Unavailable("server overloaded: the request waited longer than ",
                                                (LaneOf(op_) == Lane::kBulk ? server_->pool->options().bulk_queue_timeout
                                                                             : server_->pool->options().queue_timeout)
                                                    .count(),
                                                " ms for a handler; retry after 1 s");
    server_->metrics->RecordShed(op_, reason);
    Respond(HttpStatusFor(st.code()), "application/json", ErrorBody(st));
    response_.set(http::field::retry_after, "1");
  }

  void Respond(int status, std::string_view content_type, std::string body) {
    response_ = {};
    response_.version(request_.version());
    response_.result(static_cast<http::status>(status));
    response_.set(http::field::server, "engram");
    response_.set(http::field::content_type, content_type);
    response_.body() = std::move(body);
    response_.keep_alive(request_.keep_alive() && !server_->draining.load());
    response_.prepare_payload();
    // Recorded before the write starts, so a client that has its response can rely on the
    // metrics counting it.
    server_->metrics->Record(op_, status, MonoNanos() - start_ns_);
    server_->metrics->AddInflight(-1);
    counted_ = true;
  }

  void WriteError(const Status& st) {
    response_ = {};
    response_.version(11);
    response_.result(static_cast<http::status>(HttpStatusFor(st.code())));
    response_.set(http::field::server, "engram");
    response_.set(http::field::content_type, "application/json");
    response_.body() = ErrorBody(st);
    response_.keep_alive(false);
    response_.prepare_payload();
    counted_ = false;
    Write();
  }

  void Write() {
    stream_.expires_after(server_->options.request_timeout);
    http::async_write(stream_, response_, [self = shared_from_this()](beast::error_code ec, size_t) {
      self->OnWrite(ec);
    });
  }

  void OnWrite(beast::error_code ec) {
    if (counted_) {
      server_->busy.fetch_sub(1);  // the drain waits until responses are written
      counted_ = false;
    }
    if (ec || !response_.keep_alive()) return Close();
    ReadRequest();
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  HttpServer::Impl* server_;
  asio::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
  Op op_ = Op::kUnknown;
  int64_t start_ns_ = 0;
  bool counted_ = false;
};

}  // namespace

void HttpServer::Impl::Accept() {
  acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
    } else {
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      std::make_shared<Session>(std::move(socket), this)->Run();
    }
    if (!draining.load()) Accept();
  });
}

HttpServer::HttpServer(Api* api, Metrics* metrics, FaultInjector faults, ServerOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->api = api;
  impl_->metrics = metrics;
  impl_->faults = faults;
  impl_->options = std::move(options);
}

HttpServer::~HttpServer() { Stop(std::chrono::milliseconds(0)); }

Status HttpServer::Start() {
  beast::error_code ec;
  const auto address = asio::ip::make_address(impl_->options.bind, ec);
  if (ec) return Status::InvalidArgument("bad bind address '", impl_->options.bind, "': ", ec.message());
  tcp::endpoint endpoint(address, impl_->options.port);
  impl_->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(endpoint, ec);
  if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::Unavailable("cannot listen on ", impl_->options.bind, ":", impl_->options.port, ": ", ec.message());
  }
  impl_->bound_port = impl_->acceptor.local_endpoint().port();
  impl_->work.emplace(impl_->ioc.get_executor());
  impl_->pool = std::make_unique<HandlerPool>(impl_->options.handlers);
  impl_->Accept();
  const int n = std::max(1, impl_->options.io_threads);
  for (int i = 0; i < n; ++i) {
    impl_->threads.emplace_back([this] {
      (void)pthread_setname_np(pthread_self(), "engram-io");
      impl_->ioc.run();
    });
  }
  return Status::Ok();
}

uint16_t HttpServer::port() const { return impl_->bound_port; }

int HttpServer::handler_threads(Lane lane) const { return impl_->pool->threads(lane); }

void HttpServer::Stop(std::chrono::milliseconds drain) {
  if (impl_->threads.empty()) return;
  impl_->draining.store(true);
  asio::post(impl_->ioc, [this] {
    beast::error_code ignored;
    impl_->acceptor.close(ignored);
  });
  // Requests already read are finished and answered; idle connections are dropped.
  const auto deadline = SteadyClock::now() + drain;
  while (impl_->busy.load() > 0 && SteadyClock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  impl_->work.reset();
  impl_->ioc.stop();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
  impl_->pool->Stop();  // finishes running handlers; their answers have no thread left to write them
}

}  // namespace engram::server
