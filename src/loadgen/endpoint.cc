#include "loadgen/endpoint.h"

#include <boost/asio/io_context.hpp>

#include <charconv>

namespace engram::loadgen {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

Result<Endpoint> ParseEndpoint(const std::string& url) {
  constexpr std::string_view kScheme = "http://";
  std::string_view s = url;
  if (s.substr(0, kScheme.size()) != kScheme) {
    return Status::InvalidArgument("endpoint '", url, "' must start with http:// (https is not supported)");
  }
  s.remove_prefix(kScheme.size());
  while (!s.empty() && s.back() == '/') s.remove_suffix(1);
  Endpoint e;
  e.url = std::string(kScheme) + std::string(s);
  const size_t slash = s.find('/');
  std::string_view authority = s.substr(0, slash);
  if (slash != std::string_view::npos) e.base_path = std::string(s.substr(slash));
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {  // [::1]:7432
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return Status::InvalidArgument("endpoint '", url, "': unclosed '['");
    e.host = std::string(authority.substr(1, close - 1));
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return Status::InvalidArgument("endpoint '", url, "': expected ':' after ']'");
      port_text = rest.substr(1);
    }
  } else {
    const size_t colon = authority.rfind(':');
    e.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (e.host.empty()) return Status::InvalidArgument("endpoint '", url, "' has no host");
  if (!port_text.empty()) {
    unsigned value = 0;
    auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc() || p != port_text.data() + port_text.size() || value == 0 || value > 65535) {
      return Status::InvalidArgument("endpoint '", url, "': bad port '", port_text, "'");
    }
    e.port = static_cast<uint16_t>(value);
  }
  const bool v6 = e.host.find(':') != std::string::npos;
  e.host_header = (v6 ? "[" + e.host + "]" : e.host) + ":" + std::to_string(e.port);
  return e;
}

Status Resolve(Endpoint* e, bool allow_remote) {
  asio::io_context ioc;
  tcp::resolver resolver(ioc);
  boost::system::error_code ec;
  auto results = resolver.resolve(e->host, std::to_string(e->port), ec);
  if (ec || results.empty()) {
    return Status::Unavailable("cannot resolve endpoint host '", e->host, "': ", ec ? ec.message() : "no addresses");
  }
  e->addresses.clear();
  for (const auto& r : results) {
    const asio::ip::address a = r.endpoint().address();
    const bool loopback = a.is_loopback() || (a.is_v6() && a.to_v6().is_v4_mapped() &&
                                              asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).is_loopback());
    if (!loopback && !allow_remote) {
      return Status::InvalidArgument("endpoint '", e->url, "' resolves to ", a.to_string(),
                                     ", which is not a loopback address; load is only sent to this machine "
                                     "unless --allow-remote is given");
    }
    e->addresses.push_back(r.endpoint());
  }
  return Status::Ok();
}

}  // namespace engram::loadgen
