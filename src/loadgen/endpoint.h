// Where the load goes: an http:// URL, parsed and resolved once, and the safety rule that load
// only targets this machine. A load generator pointed at someone else's server by a typo is a
// denial-of-service tool, so every resolved address must be loopback unless the caller
// explicitly allows remote targets (--allow-remote).
//
// Threading: values; Resolve() does blocking name resolution and is meant for start-up.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

#include "core/status.h"

namespace engram::loadgen {

inline constexpr const char* kDefaultEndpoint = "http://127.0.0.1:7432";

struct Endpoint {
  std::string url;   // as given, without a trailing '/'
  std::string host;  // "127.0.0.1", "localhost", "::1" (no brackets)
  uint16_t port = 80;
  std::string base_path;  // "" or "/prefix" (prepended to /api/v1/...)
  std::string host_header;  // "host:port" for the Host header
  std::vector<boost::asio::ip::tcp::endpoint> addresses;  // filled by Resolve()
};

// Parses "http://HOST[:PORT][/PATH]". Only http is supported (InvalidArgument otherwise).
Result<Endpoint> ParseEndpoint(const std::string& url);

// Resolves the host. Unless allow_remote, fails with InvalidArgument when any address is not
// loopback (127.0.0.0/8, ::1, ::ffff:127.x). Unavailable when the name does not resolve.
Status Resolve(Endpoint* endpoint, bool allow_remote);

}  // namespace engram::loadgen
