// The server over real sockets: keep-alive, limits, malformed and slow clients, graceful stop.
#include <boost/asio.hpp>
#include <gtest/gtest.h>

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
  void Start(ServerOptions so, const std::string& delay = "") {
    EngineOptions eo;
    eo.default_space.dim = 4;
    eo.background_consolidation = false;
    engine_ = Engine::Open(eo).value();
    api_ = std::make_unique<Api>(engine_.get(), &metrics_, ApiOptions{});
    so.port = 0;
    so.threads = 2;
    server_ = std::make_unique<HttpServer>(api_.get(), &metrics_, FaultInjector::Parse(delay, "").value(), so);
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

}  // namespace
}  // namespace engram::server
