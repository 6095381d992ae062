// The server over real sockets: keep-alive, limits, malformed and slow clients, graceful stop.
#include <boost/asio.hpp>
#include <gtest/gtest.h>

#include <sched.h>

#include <future>
#include <thread>

#include "http_client.h"
#include "server/api.h"
#include "server/http_server.h"

namespace engram::server {
namespace {

using testing_util::HttpClient;
namespace asio = boost::asio;

class HttpServerTest : public testing::Test {
 protected:
  void Start(ServerOptions so, const std::string& delay = "", const std::string& cpu = "") {
    EngineOptions eo;
    eo.default_space.dim = 4;
    eo.background_consolidation = false;
    engine_ = Engine::Open(eo).value();
    api_ = std::make_unique<Api>(engine_.get(), &metrics_, ApiOptions{});
    so.port = 0;
    if (so.handlers.interactive_threads == 0) so.handlers.interactive_threads = 2;
    server_ = std::make_unique<HttpServer>(api_.get(), &metrics_, FaultInjector::Parse(delay, "", cpu).value(), so);
    ASSERT_TRUE(server_->Start().ok());
    port_ = server_->port();
  }
  void TearDown() override {
    if (server_) server_->Stop(std::chrono::milliseconds(1000));
  }

  // Sends raw bytes on a new connection and returns everything the server sends back until it
  // closes the connection.
  std::string RawExchange(const std::string& bytes) {
    asio::io_context ioc;
    asio::ip::tcp::socket s(ioc);
    s.connect({asio::ip::make_address("127.0.0.1"), port_});
    asio::write(s, asio::buffer(bytes));
    std::string out;
    boost::system::error_code ec;
    char buf[4096];
    for (;;) {
      size_t n = s.read_some(asio::buffer(buf), ec);
      out.append(buf, n);
      if (ec) break;
    }
    return out;
  }

  // Polls (bounded) until `done()`; false if it never became true.
  template <typename Pred>
  static bool WaitFor(Pred done) {
    const auto guard = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!done() && std::chrono::steady_clock::now() < guard) std::this_thread::yield();
    return done();
  }

  static constexpr const char* kCue = R"({"embedding":[1,0,0,0]})";
  void RememberOne() {
    HttpClient c(port_);
    ASSERT_EQ(c.Request("POST", "/api/v1/episodes", R"({"id":"e","what":"x","embedding":[1,0,0,1]})").status, 201);
  }

  std::unique_ptr<Engine> engine_;
  Metrics metrics_;
  std::unique_ptr<Api> api_;
  std::unique_ptr<HttpServer> server_;
  uint16_t port_ = 0;
};

TEST_F(HttpServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  Start(ServerOptions{});
  HttpClient client(port_);
  for (int i = 0; i < 5; ++i) {
    auto r = client.Request("POST", "/api/v1/episodes",
                            R"({"id":"e)" + std::to_string(i) + R"(","embedding":[1,0,0,)" + std::to_string(i + 1) + "]}");
    EXPECT_EQ(r.status, 201) << r.body << r.error;
  }
  auto r = client.Request("GET", "/api/v1/episodes/e3?embedding=false");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(metrics_.total_requests(), 6u);
}

TEST_F(HttpServerTest, OversizedBodyGets413AndServerStaysUp) {
  ServerOptions so;
  so.max_body_bytes = 1024;
  Start(so);
  HttpClient client(port_);
  auto r = client.Request("POST", "/api/v1/episodes", std::string(4096, ' '));
  EXPECT_EQ(r.status, 413) << r.error;
  EXPECT_NE(r.body.find("TOO_LARGE"), std::string::npos);
  HttpClient again(port_);
  EXPECT_EQ(again.Request("GET", "/health").status, 200);
}

TEST_F(HttpServerTest, MalformedRequestGets400AndServerStaysUp) {
  Start(ServerOptions{});
  std::string reply = RawExchange("THIS IS NOT HTTP\r\n\r\n");
  EXPECT_NE(reply.find("400"), std::string::npos) << reply;
  reply = RawExchange("POST /api/v1/episodes HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 5\r\n\r\n{\"a\":");
  EXPECT_NE(reply.find("400 Bad Request"), std::string::npos) << reply;
  EXPECT_NE(reply.find("INVALID_ARGUMENT"), std::string::npos) << reply;
  HttpClient client(port_);
  EXPECT_EQ(client.Request("GET", "/health").status, 200);
}

TEST_F(HttpServerTest, SlowClientIsDisconnectedAfterRequestTimeout) {
  ServerOptions so;
  so.request_timeout = std::chrono::milliseconds(300);
  Start(so);
  // Half a header and then silence: the server must close the connection by itself (the read
  // below returns only when it does), while other clients are served meanwhile.
  auto slow = std::async(std::launch::async, [&] { return RawExchange("GET /health HTTP/1.1\r\nHost: x\r\n"); });
  HttpClient client(port_);
  EXPECT_EQ(client.Request("GET", "/health").status, 200);
  EXPECT_EQ(slow.get(), "");  // closed without a response
  HttpClient fresh(port_);    // `client` idled past the timeout too, so it was closed as well
  EXPECT_EQ(fresh.Request("GET", "/health").status, 200);
}

TEST_F(HttpServerTest, InjectedDelayHoldsResponsesAndStopDrainsInFlightRequests) {
  Start(ServerOptions{}, "health=300ms");
  auto in_flight = std::async(std::launch::async, [&] {
    HttpClient client(port_);
    return client.Request("GET", "/health");
  });
  // Wait until the request is inside the server (counted in flight), then stop.
  const auto guard = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (metrics_.inflight() == 0 && std::chrono::steady_clock::now() < guard) std::this_thread::yield();
  ASSERT_EQ(metrics_.inflight(), 1);
  server_->Stop(std::chrono::milliseconds(5000));
  testing_util::HttpResult r = in_flight.get();
  EXPECT_EQ(r.status, 200) << r.error;
  server_.reset();
}

// Runs the test's threads (and so every server thread it starts) on one CPU, as a server pinned
// with taskset -c 0 runs; restores the old mask at the end.
class OneCpu {
 public:
  OneCpu() {
    sched_getaffinity(0, sizeof(old_), &old_);
    cpu_set_t one;
    CPU_ZERO(&one);
    for (int c = 0; c < CPU_SETSIZE; ++c) {
      if (CPU_ISSET(c, &old_)) {
        CPU_SET(c, &one);
        break;
      }
    }
    sched_setaffinity(0, sizeof(one), &one);
  }
  ~OneCpu() { sched_setaffinity(0, sizeof(old_), &old_); }

 private:
  cpu_set_t old_;
};

TEST_F(HttpServerTest, ASlowBulkRequestDoesNotHoldInteractiveOnesOnOneCore) {
  OneCpu pin;
  ServerOptions so;
  so.io_threads = 1;
  so.handlers.interactive_threads = 1;
  so.handlers.bulk_threads = 1;
  Start(so, "", "complete=400ms");  // every completion burns 400 ms of CPU on its handler
  RememberOne();
  auto slow = std::async(std::launch::async, [&] { return HttpClient(port_).Request("POST", "/api/v1/complete", kCue); });
  ASSERT_TRUE(WaitFor([&] { return metrics_.running(1) == 1; }));  // it is running
  HttpClient fast(port_);
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(fast.Request("GET", "/api/v1/episodes/e?embedding=false").status, 200);
    ASSERT_EQ(fast.Request("POST", "/api/v1/search", kCue).status, 200);
  }
  EXPECT_EQ(fast.Request("GET", "/health").status, 200);
  // All forty were answered while the completion still ran: on one core they did not queue
  // behind it (with the handler on the I/O thread, or one handler thread, they would have).
  EXPECT_EQ(slow.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
  EXPECT_EQ(slow.get().status, 200);
}

TEST_F(HttpServerTest, AFullQueueIsShedWith503AndRetryAfter) {
  ServerOptions so;
  so.handlers.bulk_threads = 1;
  so.handlers.queue_limit = 1;
  Start(so, "", "complete=300ms");
  RememberOne();
  auto first = std::async(std::launch::async, [&] { return HttpClient(port_).Request("POST", "/api/v1/complete", kCue); });
  ASSERT_TRUE(WaitFor([&] { return metrics_.running(1) == 1; }));
  auto second = std::async(std::launch::async, [&] { return HttpClient(port_).Request("POST", "/api/v1/complete", kCue); });
  ASSERT_TRUE(WaitFor([&] { return metrics_.queued(1) == 1; }));
  testing_util::HttpResult third = HttpClient(port_).Request("POST", "/api/v1/complete", kCue);
  EXPECT_EQ(third.status, 503);
  EXPECT_EQ(third.retry_after, "1");
  EXPECT_NE(third.body.find("UNAVAILABLE"), std::string::npos) << third.body;
  EXPECT_NE(third.body.find("queue is full"), std::string::npos) << third.body;
  // The interactive lane has its own queue: a search is served meanwhile.
  EXPECT_EQ(HttpClient(port_).Request("POST", "/api/v1/search", kCue).status, 200);
  EXPECT_EQ(first.get().status, 200);
  EXPECT_EQ(second.get().status, 200);
  EXPECT_EQ(metrics_.shed_total(), 1u);
  const std::string text = metrics_.Render(*engine_);
  EXPECT_NE(text.find(R"(engram_requests_shed_total{op="complete",reason="queue_full"} 1)"), std::string::npos);
  EXPECT_NE(text.find(R"(engram_requests_total{op="complete",code="503"} 1)"), std::string::npos);
}

TEST_F(HttpServerTest, ARequestThatWaitedPastTheQueueTimeoutIsShedNotRun) {
  ServerOptions so;
  so.handlers.bulk_threads = 1;
  so.handlers.bulk_queue_timeout = std::chrono::milliseconds(100);
  Start(so, "", "complete=600ms");
  RememberOne();
  auto first = std::async(std::launch::async, [&] { return HttpClient(port_).Request("POST", "/api/v1/complete", kCue); });
  ASSERT_TRUE(WaitFor([&] { return metrics_.running(1) == 1; }));
  // Queued behind 600 ms of work, it waits far past the 100 ms timeout.
  testing_util::HttpResult second = HttpClient(port_).Request("POST", "/api/v1/complete", kCue);
  EXPECT_EQ(second.status, 503);
  EXPECT_EQ(second.retry_after, "1");
  EXPECT_NE(second.body.find("waited longer than 100 ms"), std::string::npos) << second.body;
  EXPECT_EQ(first.get().status, 200);
  EXPECT_NE(metrics_.Render(*engine_).find(R"(engram_requests_shed_total{op="complete",reason="queue_timeout"} 1)"),
            std::string::npos);
}

}  // namespace
}  // namespace engram::server
