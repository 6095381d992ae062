// A small blocking HTTP/1.1 client over Boost.Beast for integration tests: one keep-alive
// connection, one request at a time. Loopback only.
#pragma once

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <optional>
#include <string>

namespace engram::testing_util {

struct HttpResult {
  int status = 0;       // 0 when the request failed at the connection level
  std::string body;
  std::string retry_after;  // the Retry-After header, if any
  std::string error;    // connection-level error text
};

class HttpClient {
 public:
  explicit HttpClient(uint16_t port) : port_(port) {}

  HttpResult Request(const std::string& method, const std::string& target, const std::string& body = "",
                     const std::string& space = "") {
    namespace beast = boost::beast;
    namespace http = beast::http;
    HttpResult out;
    try {
      if (!stream_) Connect();
      http::request<http::string_body> req{http::string_to_verb(method), target, 11};
      req.set(http::field::host, "127.0.0.1");
      req.set(http::field::content_type, "application/json");
      if (!space.empty()) req.set("X-Memory-Space", space);
      req.body() = body;
      req.keep_alive(true);
      req.prepare_payload();
      http::write(*stream_, req);
      beast::flat_buffer buffer;
      http::response<http::string_body> res;
      http::read(*stream_, buffer, res);
      out.status = res.result_int();
      out.body = res.body();
      if (auto it = res.find(http::field::retry_after); it != res.end()) out.retry_after = std::string(it->value());
      if (!res.keep_alive()) stream_.reset();
    } catch (const std::exception& e) {
      out.error = e.what();
      stream_.reset();
    }
    return out;
  }

 private:
  void Connect() {
    namespace asio = boost::asio;
    stream_.emplace(ioc_);
    stream_->connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_));
  }
  uint16_t port_;
  boost::asio::io_context ioc_;
  std::optional<boost::beast::tcp_stream> stream_;
};

}  // namespace engram::testing_util
