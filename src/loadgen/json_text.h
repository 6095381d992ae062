// JSON text for requests and result files, written by hand where Boost.JSON's defaults hurt:
// request bodies carry embeddings, and floats printed in their shortest round-trip form
// ("0.0123457") are about half the size of Boost.JSON's 17-digit doubles and faster to write.
// Result files are pretty-printed with shortest-form doubles so people and diffs can read them.
//
// Threading: pure functions.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "core/json_writer.h"

#include "workload/dataset.h"
#include "workload/op_stream.h"

namespace engram::loadgen {

using engram::AppendFloatArray;  // core/json_writer.h
using engram::AppendJsonString;
// One episode object: {"id":..,"what":..,"when_us":..,"where":..,"who":[..],"tags":[..],
// "embedding":[..],"confidence":..}.
void AppendEpisode(std::string* out, const workload::EpisodeSpec& e);

// The HTTP request of an operation (see docs/loadtest.md for the mapping).
struct HttpCall {
  std::string_view method;
  std::string_view path;  // the whole path: "/api/v1/recall", or "/health" (outside /api/v1)
  std::string body;       // empty for GET /health
};
HttpCall RequestFor(const workload::Operation& op);

// {"episodes":[...],"links":[{"from":"n1","to":"n0","weight":0.5},...]}.
std::string BatchBody(std::span<const workload::EpisodeSpec> nodes,
                      std::span<const workload::Edge> links);

// Pretty-printed JSON (2-space indent) with doubles in shortest round-trip form; non-finite
// doubles become null (JSON has no NaN).
std::string PrettyJson(const boost::json::value& v);

}  // namespace engram::loadgen
