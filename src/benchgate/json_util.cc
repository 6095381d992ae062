#include "benchgate/json_util.h"

#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>

namespace engram::benchgate {

namespace json = boost::json;

Status WriteFileAtomic(const std::string& path, std::string_view content) {
  return WriteFileAtomically(path, std::string(content));
}

Result<json::value> ParseJson(std::string_view text) {
  json::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return Status::InvalidArgument("invalid JSON: ", ec.message());
  return v;
}

std::string StringOr(const json::object& o, std::string_view key, std::string_view fallback) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) return std::string(fallback);
  return std::string(v->as_string());
}

double NumberOr(const json::object& o, std::string_view key, double fallback) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_number()) return fallback;
  return v->to_number<double>();
}

namespace {

bool IsFlatScalarArray(const json::value& v) {
  if (!v.is_array()) return false;
  for (const json::value& e : v.as_array()) {
    if (e.is_array() || e.is_object()) return false;
  }
  return true;
}

// Doubles as people write them ("0.95", not Boost's "9.5E-1"); integers stay integers.
std::string Scalar(const json::value& v) {
  if (v.is_double() && std::isfinite(v.as_double())) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.15g", v.as_double());
    std::string s = buf;
    if (s.find_first_of(".eE") == std::string::npos) s += ".0";
    return s;
  }
  return json::serialize(v);
}

void Pretty(const json::value& v, int indent, std::string& out) {
  const std::string pad(static_cast<size_t>(indent) * 2, ' ');
  const std::string inner(static_cast<size_t>(indent + 1) * 2, ' ');
  if (v.is_object()) {
    const json::object& o = v.as_object();
    if (o.empty()) {
      out += "{}";
      return;
    }
    out += "{\n";
    size_t i = 0;
    for (const auto& [key, value] : o) {
      out += inner + json::serialize(json::string(key)) + ": ";
      Pretty(value, indent + 1, out);
      out += (++i < o.size()) ? ",\n" : "\n";
    }
    out += pad + "}";
  } else if (v.is_array() && !IsFlatScalarArray(v)) {
    const json::array& a = v.as_array();
    if (a.empty()) {
      out += "[]";
      return;
    }
    out += "[\n";
    for (size_t i = 0; i < a.size(); ++i) {
      out += inner;
      Pretty(a[i], indent + 1, out);
      out += (i + 1 < a.size()) ? ",\n" : "\n";
    }
    out += pad + "]";
  } else if (v.is_array()) {
    const json::array& a = v.as_array();
    out += "[";
    for (size_t i = 0; i < a.size(); ++i) {
      if (i > 0) out += ", ";
      out += Scalar(a[i]);
    }
    out += "]";
  } else {
    out += Scalar(v);
  }
}

}  // namespace

std::string PrettyJson(const json::value& v) {
  std::string out;
  Pretty(v, 0, out);
  out += "\n";
  return out;
}

std::string UtcTimestamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

uint64_t Fnv1a64(std::string_view bytes, uint64_t h) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

}  // namespace engram::benchgate
