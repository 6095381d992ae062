#include "loadgen/json_text.h"

#include <fmt/format.h>

#include <cmath>

#include "workload/dataset.h"

namespace engram::loadgen {

namespace json = boost::json;
using workload::OpKind;

namespace {

void AppendStringArray(std::string* out, const std::vector<std::string>& v) {
  out->push_back('[');
  for (size_t i = 0; i < v.size(); ++i) {
    if (i != 0) out->push_back(',');
    AppendJsonString(out, v[i]);
  }
  out->push_back(']');
}

}  // namespace

void AppendEpisode(std::string* out, const workload::EpisodeSpec& e) {
  out->append("{\"id\":");
  AppendJsonString(out, e.id);
  out->append(",\"what\":");
  AppendJsonString(out, e.what);
  fmt::format_to(std::back_inserter(*out), ",\"when_us\":{}", e.when_micros);
  out->append(",\"where\":");
  AppendJsonString(out, e.where);
  out->append(",\"who\":");
  AppendStringArray(out, e.who);
  out->append(",\"tags\":");
  AppendStringArray(out, e.tags);
  out->append(",\"embedding\":");
  AppendFloatArray(out, e.embedding);
  fmt::format_to(std::back_inserter(*out), ",\"confidence\":{}}}", e.confidence);
}

HttpCall RequestFor(const workload::Operation& op) {
  HttpCall c;
  c.method = "POST";
  std::string& b = c.body;
  auto it = std::back_inserter(b);
  const workload::OpParams& p = op.params;
  auto recall = [&](std::string_view mode) {
    c.path = "/api/v1/recall";
    b.append("{\"cue\":");
    AppendFloatArray(&b, op.query);
    fmt::format_to(it, ",\"k\":{},\"mode\":\"{}\",\"hops\":{},\"ef\":{}}}", p.k, mode, std::min(p.hops, 6), p.ef);
  };
  switch (op.kind) {
    case OpKind::kStore:
      c.path = "/api/v1/episodes";
      if (op.episode.has_value()) AppendEpisode(&b, *op.episode);
      break;
    case OpKind::kRecall: recall("episodic"); break;
    case OpKind::kSemanticRecall: recall("semantic"); break;
    case OpKind::kBlendedRecall: recall("blended"); break;
    case OpKind::kSearch:
      c.path = "/api/v1/search";
      b.append("{\"embedding\":");
      AppendFloatArray(&b, op.query);
      fmt::format_to(it, ",\"k\":{},\"ef\":{}}}", p.k, p.ef);
      break;
    case OpKind::kPatternCompletion:
      c.path = "/api/v1/complete";
      b.append("{\"what\":");
      AppendJsonString(&b, op.cue_what);
      b.append(",\"embedding\":");
      AppendFloatArray(&b, op.query);
      fmt::format_to(it, ",\"k\":{}}}", std::min(p.k, 1000));
      break;
    case OpKind::kTraversal:
      c.path = "/api/v1/neighbors";
      b.append("{\"id\":");
      AppendJsonString(&b, op.target_id);
      fmt::format_to(it, ",\"hops\":{},\"limit\":{}}}", p.hops, p.max_results);
      break;
    case OpKind::kActivation:
      c.path = "/api/v1/activate";
      b.append("{\"seeds\":[");
      AppendJsonString(&b, op.target_id);
      fmt::format_to(it, "],\"hops\":{},\"limit\":{}}}", p.hops, p.max_results);
      break;
    case OpKind::kConsolidation:
      c.path = "/api/v1/consolidate";
      b.append("{}");
      break;
    case OpKind::kHealth:
      c.method = "GET";
      c.path = "/health";
      break;
  }
  return c;
}

std::string BatchBody(std::span<const workload::EpisodeSpec> nodes, std::span<const workload::Edge> links) {
  std::string b;
  size_t dims = nodes.empty() ? 0 : nodes[0].embedding.size();
  b.reserve(64 + nodes.size() * (200 + 11 * dims) + links.size() * 48);
  b.append("{\"episodes\":[");
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (i != 0) b.push_back(',');
    AppendEpisode(&b, nodes[i]);
  }
  b.append("],\"links\":[");
  auto it = std::back_inserter(b);
  for (size_t i = 0; i < links.size(); ++i) {
    fmt::format_to(it, "{}{{\"from\":\"n{}\",\"to\":\"n{}\",\"weight\":{}}}", i == 0 ? "" : ",", links[i].from,
                   links[i].to, links[i].weight);
  }
  b.append("]}");
  return b;
}

namespace {

void Pretty(const json::value& v, int indent, std::string* out) {
  auto it = std::back_inserter(*out);
  auto newline = [&](int level) {
    out->push_back('\n');
    out->append(static_cast<size_t>(level) * 2, ' ');
  };
  switch (v.kind()) {
    case json::kind::null: out->append("null"); break;
    case json::kind::bool_: out->append(v.get_bool() ? "true" : "false"); break;
    case json::kind::int64: fmt::format_to(it, "{}", v.get_int64()); break;
    case json::kind::uint64: fmt::format_to(it, "{}", v.get_uint64()); break;
    case json::kind::double_: {
      const double d = v.get_double();
      if (!std::isfinite(d)) {
        out->append("null");
      } else {
        // Shortest round trip ("1e+20" is valid JSON), always recognisable as a double: a
        // reader that asks for a double must not be handed the integer 3 for 3.0.
        const size_t start = out->size();
        fmt::format_to(it, "{}", d);
        if (out->find_first_of(".eE", start) == std::string::npos) out->append(".0");
      }
      break;
    }
    case json::kind::string: AppendJsonString(out, v.get_string()); break;
    case json::kind::array: {
      const json::array& a = v.get_array();
      if (a.empty()) {
        out->append("[]");
        break;
      }
      // Arrays of scalars on one line; arrays of objects one element per line.
      bool scalars = true;
      for (const auto& e : a) scalars = scalars && !e.is_object() && !e.is_array();
      out->push_back('[');
      for (size_t i = 0; i < a.size(); ++i) {
        if (i != 0) out->push_back(',');
        if (scalars) {
          if (i != 0) out->push_back(' ');
        } else {
          newline(indent + 1);
        }
        Pretty(a[i], indent + 1, out);
      }
      if (!scalars) newline(indent);
      out->push_back(']');
      break;
    }
    case json::kind::object: {
      const json::object& o = v.get_object();
      if (o.empty()) {
        out->append("{}");
        break;
      }
      out->push_back('{');
      bool first = true;
      for (const auto& kv : o) {
        if (!first) out->push_back(',');
        first = false;
        newline(indent + 1);
        AppendJsonString(out, kv.key());
        out->append(": ");
        Pretty(kv.value(), indent + 1, out);
      }
      newline(indent);
      out->push_back('}');
      break;
    }
  }
}

}  // namespace

std::string PrettyJson(const json::value& v) {
  std::string out;
  Pretty(v, 0, &out);
  out.push_back('\n');
  return out;
}

}  // namespace engram::loadgen
