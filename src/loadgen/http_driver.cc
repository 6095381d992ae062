#include "loadgen/http_driver.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <condition_variable>
#include <deque>
#include <optional>
#include <thread>

#include "core/clock.h"
#include "loadgen/conn_queue.h"
#include "loadgen/json_text.h"
#include "loadgen/schedule_loop.h"

namespace engram::loadgen {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;

namespace {

constexpr size_t kMaxResponseBytes = size_t{256} << 20;

// Errors that mean "the peer closed this connection", as a stale keep-alive connection does.
bool IsClosedByPeer(const beast::error_code& ec) {
  return ec == asio::error::eof || ec == http::error::end_of_stream || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == http::error::partial_message;
}

std::vector<std::string> HitIds(std::string_view body) {
  std::vector<std::string> ids;
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return ids;
  const json::value* hits = v.as_object().if_contains("hits");
  if (hits == nullptr || !hits->is_array()) return ids;
  for (const auto& h : hits->as_array()) {
    if (!h.is_object()) continue;
    const json::value* id = h.as_object().if_contains("id");
    if (id != nullptr && id->is_string()) ids.emplace_back(id->as_string());
  }
  return ids;
}

std::string Snippet(std::string_view body) {
  std::string s(body.substr(0, 200));
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

}  // namespace

bool IsShed(int status, bool has_retry_after) { return (status == 429 || status == 503) && has_retry_after; }

std::string HttpWire(const Endpoint& endpoint, std::string_view method, std::string_view path,
                     std::string_view space, std::string_view body) {
  std::string w;
  w.reserve(160 + body.size());
  w.append(method).append(" ").append(endpoint.base_path).append(path).append(" HTTP/1.1\r\nHost: ");
  w.append(endpoint.host_header).append("\r\nUser-Agent: engram-loadtest\r\n");
  const bool has_content = !body.empty() || method != "GET";
  if (has_content) w.append("Content-Type: application/json\r\n");
  if (!space.empty()) w.append("X-Memory-Space: ").append(space).append("\r\n");
  // A GET without a body sends no Content-Length (RFC 9110 8.6), as curl and wrk do.
  if (has_content) w.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  w.append("\r\n");
  w.append(body);
  return w;
}

// ---------------------------------------------------------------------------------------------
// Blocking control client: async operations with deadlines, run to completion on a private
// io_context (Beast's synchronous calls have no timeouts).

class HttpDriver::BlockingClient {
 public:
  explicit BlockingClient(const Endpoint& endpoint) : endpoint_(endpoint), stream_(ioc_) {}

  Result<HttpResponse> Do(const std::string& wire, std::chrono::milliseconds timeout, uint64_t* retries) {
    for (int attempt = 0;; ++attempt) {
      const bool reused = connected_;
      beast::error_code ec;
      if (!connected_) {
        stream_.expires_after(timeout);
        stream_.async_connect(endpoint_.addresses, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
        Run();
        if (ec) {
          Close();
          return Status::Unavailable("cannot connect to ", endpoint_.url, ": ", ec.message());
        }
        beast::error_code ignored;
        stream_.socket().set_option(tcp::no_delay(true), ignored);
        connected_ = true;
      }
      http::response_parser<http::string_body> parser;
      parser.body_limit(kMaxResponseBytes);
      stream_.expires_after(timeout);
      asio::async_write(stream_, asio::buffer(wire), [&](beast::error_code e, size_t) {
        ec = e;
        if (e) return;
        http::async_read(stream_, buffer_, parser, [&](beast::error_code e2, size_t) { ec = e2; });
      });
      Run();
      if (ec) {
        Close();
        if (reused && attempt == 0 && !parser.got_some() && IsClosedByPeer(ec)) {
          ++*retries;
          continue;
        }
        if (ec == beast::error::timeout) {
          return Status::DeadlineExceeded("no answer from ", endpoint_.url, " within ", timeout.count(), " ms");
        }
        return Status::Unavailable("request to ", endpoint_.url, " failed: ", ec.message());
      }
      HttpResponse r;
      r.status = static_cast<int>(parser.get().result_int());
      const bool keep = parser.get().keep_alive();
      r.body = std::move(parser.get().body());
      if (!keep) Close();
      return r;
    }
  }

 private:
  void Run() {
    ioc_.restart();
    ioc_.run();
  }
  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
    buffer_.clear();
    connected_ = false;
  }

  const Endpoint& endpoint_;
  asio::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  bool connected_ = false;
};

// ---------------------------------------------------------------------------------------------
// The measured-phase connection pool.

namespace {
class Conn;
}

struct HttpDriver::Pool {
  // The concurrency hint is the number of io threads: with one, asio keeps handlers posted
  // from the io thread itself in a thread-private queue (no scheduler lock).
  explicit Pool(int io_threads) : ioc(io_threads), one_thread(io_threads == 1) {}

  const Endpoint* endpoint = nullptr;
  DriverCallbacks callbacks;
  asio::io_context ioc;
  // One io thread runs every handler, so connections need no strands.
  const bool one_thread;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  std::vector<std::shared_ptr<Conn>> conns;
  std::optional<asio::steady_timer> sweeper;
  std::atomic<bool> stopping{false};

  ConnQueue<Conn> waiting{&callbacks};  // idle connections, the FIFO queue, the on-wire count
  std::atomic<uint64_t>* retries = nullptr;

  void OnDone(Conn* conn, RequestPtr r);
  void Sweep();

  // Keeps the schedule with one io thread (RunSchedule).
  std::optional<ScheduleLoop> schedule;
};

namespace {

class Conn : public std::enable_shared_from_this<Conn> {
 public:
  explicit Conn(HttpDriver::Pool* pool)
      : pool_(pool),
        executor_(pool->one_thread ? asio::any_io_executor(pool->ioc.get_executor())
                                   : asio::any_io_executor(asio::make_strand(pool->ioc))),
        socket_(executor_),
        timer_(executor_) {}

  // The connection's handlers run here: the io_context itself with one io thread, else a strand.
  const asio::any_io_executor& executor() const { return executor_; }

  // Opens the connection ahead of the measured phase. `done` runs on executor().
  void Preconnect(std::function<void(beast::error_code)> done) {
    asio::async_connect(socket_, pool_->endpoint->addresses,
                        [self = shared_from_this(), done = std::move(done)](beast::error_code ec, const tcp::endpoint&) {
                          if (!ec) {
                            beast::error_code ignored;
                            self->socket_.set_option(tcp::no_delay(true), ignored);
                            self->connected_ = true;
                          }
                          done(ec);
                        });
  }

  // REQUIRES: on executor(), no request active.
  void Start(RequestPtr r) {
    req_ = std::move(r);
    ++seq_;
    timed_out_ = false;
    retried_ = false;
    const int64_t now = MonoNanos();
    if (now >= req_->deadline_ns) {
      RequestPtr expired = std::move(req_);
      pool_->waiting.ExpireUnsent(std::move(expired), now);
      TakeNext();
      return;
    }
    req_->sent_ns = now;
    pool_->waiting.Sent(*req_);
    timer_.expires_at(AtMono(req_->deadline_ns));
    timer_.async_wait([self = shared_from_this(), seq = seq_](beast::error_code ec) { self->OnTimer(seq, ec); });
    Send();
  }

  void Shutdown() {
    asio::post(executor_, [self = shared_from_this()] { self->Close(); });
  }

 private:
  void Send() {
    reused_ = connected_;
    if (!connected_) {
      asio::async_connect(socket_, pool_->endpoint->addresses,
                          [self = shared_from_this()](beast::error_code ec, const tcp::endpoint&) {
                            self->OnConnect(ec);
                          });
      return;
    }
    Write();
  }

  void OnConnect(beast::error_code ec) {
    if (ec) return Fail(ec);
    beast::error_code ignored;
    socket_.set_option(tcp::no_delay(true), ignored);
    connected_ = true;
    Write();
  }

  void Write() {
    parser_.emplace();
    parser_->body_limit(kMaxResponseBytes);
    asio::async_write(socket_, asio::buffer(req_->wire), [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->Fail(ec);
      http::async_read(self->socket_, self->buffer_, *self->parser_,
                       [self](beast::error_code ec2, size_t) { self->OnRead(ec2); });
    });
  }

  void OnRead(beast::error_code ec) {
    if (ec) return Fail(ec);
    auto& res = parser_->get();
    const int status = static_cast<int>(res.result_int());
    if (!res.keep_alive()) Close();
    ErrorKind kind = ErrorKind::kNone;
    if (IsShed(status, res.count(http::field::retry_after) > 0)) {
      kind = ErrorKind::kShed;
    } else if (status >= 500) {
      kind = ErrorKind::kHttp5xx;
    } else if (status >= 400) {
      kind = ErrorKind::kHttp4xx;
    } else if (status < 200 || status >= 300) {
      kind = ErrorKind::kOther;
    }
    req_->http_status = status;
    if (kind != ErrorKind::kNone) {
      req_->error_detail = "HTTP " + std::to_string(status) + ": " + Snippet(res.body());
    } else if (req_->want_ids) {
      req_->result_ids = HitIds(res.body());
    }
    Finish(kind);
  }

  void Fail(beast::error_code ec) {
    Close();
    if (timed_out_) {
      req_->error_detail = "no response before the deadline";
      return Finish(ErrorKind::kTimeout);
    }
    const bool nothing_received = !parser_.has_value() || !parser_->got_some();
    if (reused_ && !retried_ && nothing_received && IsClosedByPeer(ec)) {
      retried_ = true;
      pool_->retries->fetch_add(1, std::memory_order_relaxed);
      return Send();  // reconnects: connected_ is false now
    }
    req_->error_detail = "connection error: " + ec.message();
    Finish(ErrorKind::kConnection);
  }

  void OnTimer(uint64_t seq, beast::error_code ec) {
    if (ec || seq != seq_ || !req_) return;  // cancelled, or an earlier request's timer
    timed_out_ = true;
    Close();  // aborts the pending connect/write/read; Fail() reports the timeout
  }

  void Finish(ErrorKind kind) {
    timer_.cancel();
    req_->done_ns = MonoNanos();
    req_->error = kind;
    RequestPtr done = std::move(req_);
    pool_->OnDone(this, std::move(done));
  }

 public:
  // Gives this (idle) connection the queue's head, or parks it. On executor().
  void TakeNext() {
    if (RequestPtr next = pool_->waiting.NextFor(this)) Start(std::move(next));
  }

 private:
  void Close() {
    beast::error_code ignored;
    if (socket_.is_open()) {
      socket_.shutdown(tcp::socket::shutdown_both, ignored);
      socket_.close(ignored);
    }
    buffer_.clear();
    connected_ = false;
  }

  HttpDriver::Pool* pool_;
  asio::any_io_executor executor_;
  tcp::socket socket_;
  asio::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::optional<http::response_parser<http::string_body>> parser_;
  RequestPtr req_;
  uint64_t seq_ = 0;
  bool connected_ = false;
  bool reused_ = false;
  bool retried_ = false;
  bool timed_out_ = false;
};

}  // namespace

void HttpDriver::Pool::OnDone(Conn* conn, RequestPtr r) {
  waiting.Done(std::move(r));
  conn->TakeNext();
}

void HttpDriver::Pool::Sweep() {
  waiting.ExpireDue();
  if (stopping.load()) return;
  sweeper->expires_after(std::chrono::milliseconds(10));
  sweeper->async_wait([this](beast::error_code ec) {
    if (!ec) Sweep();
  });
}

// ---------------------------------------------------------------------------------------------

HttpDriver::HttpDriver(HttpDriverOptions options) : options_(std::move(options)) {}

HttpDriver::~HttpDriver() {
  if (pool_) End();
}

Result<HttpResponse> HttpDriver::Call(std::string_view method, std::string_view path, std::string_view body,
                                      std::string_view space) {
  std::unique_ptr<BlockingClient> client;
  {
    std::lock_guard lock(clients_mu_);
    if (!idle_clients_.empty()) {
      client = std::move(idle_clients_.back());
      idle_clients_.pop_back();
    }
  }
  if (!client) client = std::make_unique<BlockingClient>(options_.endpoint);
  uint64_t retries = 0;
  const std::string wire = HttpWire(options_.endpoint, method, std::string("/api/v1") + std::string(path), space, body);
  auto r = client->Do(wire, options_.control_timeout, &retries);
  retries_total_.fetch_add(retries);
  std::lock_guard lock(clients_mu_);
  idle_clients_.push_back(std::move(client));
  return r;
}

Status HttpDriver::Check() {
  // /health sits outside /api/v1.
  std::unique_ptr<BlockingClient> client = std::make_unique<BlockingClient>(options_.endpoint);
  uint64_t retries = 0;
  auto r = client->Do(HttpWire(options_.endpoint, "GET", "/health", "", ""), std::chrono::milliseconds(5000), &retries);
  if (!r.ok()) {
    return Status::Unavailable("engram is not reachable at ", options_.endpoint.url, " (", r.error().message(),
                               "); start it with `engram start --port ", options_.endpoint.port, "`");
  }
  if (r->status != 200) {
    return Status::Unavailable(options_.endpoint.url, "/health answered HTTP ", r->status, ": ", Snippet(r->body));
  }
  return Status::Ok();
}

Result<bool> HttpDriver::CreateSpace(const std::string& name, uint32_t dim) {
  std::string body = "{\"name\":";
  AppendJsonString(&body, name);
  body += ",\"dim\":" + std::to_string(dim) + "}";
  ENGRAM_ASSIGN_OR_RETURN(HttpResponse r, Call("POST", "/spaces", body));
  if (r.status == 201) return true;
  if (r.status == 409) return false;
  return Status::Unavailable("creating space '", name, "' failed: HTTP ", r.status, ": ", Snippet(r.body));
}

Result<std::vector<SpaceInfo>> HttpDriver::ListSpaces() {
  ENGRAM_ASSIGN_OR_RETURN(HttpResponse r, Call("GET", "/spaces", ""));
  if (r.status != 200) return Status::Unavailable("GET /api/v1/spaces answered HTTP ", r.status, ": ", Snippet(r.body));
  boost::system::error_code ec;
  json::value v = json::parse(r.body, ec);
  if (ec || !v.is_object() || !v.as_object().contains("spaces") || !v.at("spaces").is_array()) {
    return Status::Unavailable("GET /api/v1/spaces: unexpected body: ", Snippet(r.body));
  }
  std::vector<SpaceInfo> out;
  auto num = [](const json::object& o, std::string_view key) -> uint64_t {
    const json::value* x = o.if_contains(key);
    if (x == nullptr) return 0;
    if (x->is_uint64()) return x->as_uint64();
    if (x->is_int64()) return static_cast<uint64_t>(std::max<int64_t>(0, x->as_int64()));
    if (x->is_double()) return static_cast<uint64_t>(std::max(0.0, x->as_double()));
    return 0;
  };
  for (const auto& s : v.at("spaces").as_array()) {
    if (!s.is_object()) continue;
    const json::object& o = s.as_object();
    SpaceInfo info;
    if (const json::value* n = o.if_contains("name"); n != nullptr && n->is_string()) info.name = std::string(n->as_string());
    info.dim = static_cast<uint32_t>(num(o, "dim"));
    info.episodes = num(o, "episodes");
    info.edges = num(o, "edges");
    out.push_back(std::move(info));
  }
  return out;
}

Status HttpDriver::LoadBatch(const std::string& space, std::span<const workload::EpisodeSpec> nodes,
                             std::span<const workload::Edge> links) {
  const std::string body = BatchBody(nodes, links);
  // A server that sheds load answers 503 (with Retry-After: 1); a bulk load waits and sends the
  // batch again, a bounded number of times, rather than failing the whole preload.
  constexpr int kAttempts = 30;
  HttpResponse r;
  for (int attempt = 1;; ++attempt) {
    ENGRAM_ASSIGN_OR_RETURN(r, Call("POST", "/episodes/batch", body, space));
    if (r.status != 503 || attempt == kAttempts) break;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  if (r.status == 201) return Status::Ok();
  const StatusCode code = r.status == 409 ? StatusCode::kAlreadyExists : StatusCode::kUnavailable;
  return Status(code, "POST /api/v1/episodes/batch answered HTTP " + std::to_string(r.status) + ": " + Snippet(r.body));
}

void HttpDriver::Prepare(const workload::Operation& op, Request* request) const {
  HttpCall call = RequestFor(op);
  request->wire = HttpWire(options_.endpoint, call.method, call.path, op.space, call.body);
}

Status HttpDriver::Begin(int connections, DriverCallbacks callbacks) {
  ENGRAM_CHECK(!pool_);
  ENGRAM_CHECK(callbacks.done);
  const int io_threads = std::max(1, options_.io_threads);
  pool_ = std::make_unique<Pool>(io_threads);
  Pool& p = *pool_;
  p.endpoint = &options_.endpoint;
  p.callbacks = std::move(callbacks);
  p.retries = &retries_total_;
  p.work.emplace(p.ioc.get_executor());
  const int n = std::max(1, connections);
  connections_ = n;
  for (int i = 0; i < n; ++i) p.conns.push_back(std::make_shared<Conn>(&p));
  for (int i = 0; i < io_threads; ++i) p.threads.emplace_back([&p] { p.ioc.run(); });

  // Open every connection before the first send, so connection set-up is not in the
  // first operations' latency.
  std::mutex mu;
  std::condition_variable cv;
  int pending = n;
  std::string first_error;
  for (auto& c : p.conns) {
    asio::post(c->executor(), [c, &mu, &cv, &pending, &first_error] {
      c->Preconnect([&mu, &cv, &pending, &first_error](beast::error_code ec) {
        std::lock_guard lock(mu);
        if (ec && first_error.empty()) first_error = ec.message();
        if (--pending == 0) cv.notify_all();
      });
    });
  }
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return pending == 0; });
  }
  if (!first_error.empty()) {
    End();
    return Status::Unavailable("cannot open ", n, " connections to ", options_.endpoint.url, ": ", first_error);
  }
  for (auto& c : p.conns) p.waiting.Park(c.get());
  p.sweeper.emplace(p.ioc);
  p.schedule.emplace(p.ioc, [&p](RequestPtr r) {
    if (Conn* conn = p.waiting.Claim(&r)) conn->Start(std::move(r));
  });
  asio::post(p.ioc, [&p] { p.Sweep(); });
  return Status::Ok();
}

void HttpDriver::Submit(RequestPtr r) {
  Pool& p = *pool_;
  Conn* conn = p.waiting.Claim(&r);
  if (conn == nullptr) return;
  asio::post(conn->executor(), [conn, r = std::move(r)]() mutable { conn->Start(std::move(r)); });
}

bool HttpDriver::RunSchedule(ScheduleSource* source) {
  ENGRAM_CHECK(pool_ && RunsSchedule());
  return pool_->schedule->Run(source);
}

void HttpDriver::End() {
  if (!pool_) return;
  Pool& p = *pool_;
  p.stopping.store(true);
  asio::post(p.ioc, [&p] {
    if (p.sweeper) p.sweeper->cancel();
    if (p.schedule) p.schedule->Cancel();
  });
  for (auto& c : p.conns) c->Shutdown();
  p.work.reset();
  for (auto& t : p.threads) t.join();
  p.threads.clear();
  p.conns.clear();
  last_peak_ = p.waiting.peak_on_wire();
  pool_.reset();
}

int64_t HttpDriver::inflight() const { return pool_ ? pool_->waiting.on_wire() : 0; }
int64_t HttpDriver::peak_inflight() const { return pool_ ? pool_->waiting.peak_on_wire() : last_peak_; }
uint64_t HttpDriver::retries() const { return retries_total_.load(); }

}  // namespace engram::loadgen
