#include "server/api.h"

#include <boost/json.hpp>

#include <cfloat>
#include <cmath>
#include <map>

#include "core/clock.h"
#include "core/json_writer.h"
#include "kernels/kernels.h"

namespace engram::server {

namespace json = boost::json;

namespace {

constexpr std::string_view kPrefix = "/api/v1";

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else if (s[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

struct Target {
  std::string path;
  std::map<std::string, std::string> query;
};

Target SplitTarget(std::string_view target) {
  Target t;
  const size_t q = target.find('?');
  t.path = std::string(target.substr(0, q));
  if (t.path.size() > 1 && t.path.back() == '/') t.path.pop_back();
  if (q == std::string_view::npos) return t;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const size_t amp = rest.find('&');
    std::string_view item = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    const size_t eq = item.find('=');
    t.query[PercentDecode(item.substr(0, eq))] = eq == std::string_view::npos ? "" : PercentDecode(item.substr(eq + 1));
  }
  return t;
}

ApiResponse Json(int status, const json::value& v) {
  return ApiResponse{status, "application/json", json::serialize(v)};
}

ApiResponse JsonText(int status, std::string body) { return ApiResponse{status, "application/json", std::move(body)}; }

ApiResponse Error(const Status& st) { return ApiResponse{HttpStatusFor(st.code()), "application/json", ErrorBody(st)}; }

// Reads typed fields of a JSON object; every error names the field.
class Fields {
 public:
  explicit Fields(const json::object& o) : o_(o) {}

  Status OnlyKnown(std::initializer_list<std::string_view> allowed) const {
    for (const auto& kv : o_) {
      bool ok = false;
      for (auto a : allowed) ok |= kv.key() == a;
      if (!ok) return Status::InvalidArgument("unknown field '", std::string(kv.key()), "'");
    }
    return Status::Ok();
  }
  bool Has(std::string_view key) const { return o_.contains(key) && !o_.at(key).is_null(); }

  Result<std::string> String(std::string_view key, bool required, std::string fallback = "") const {
    if (!Has(key)) {
      if (required) return Status::InvalidArgument("missing field '", key, "'");
      return fallback;
    }
    const json::value& v = o_.at(key);
    if (!v.is_string()) return Status::InvalidArgument("field '", key, "' must be a string");
    return std::string(v.as_string());
  }

  Result<double> Number(std::string_view key, double fallback, double lo, double hi) const {
    if (!Has(key)) return fallback;
    const json::value& v = o_.at(key);
    double d;
    if (v.is_double()) d = v.as_double();
    else if (v.is_int64()) d = static_cast<double>(v.as_int64());
    else if (v.is_uint64()) d = static_cast<double>(v.as_uint64());
    else return Status::InvalidArgument("field '", key, "' must be a number");
    if (!(d >= lo && d <= hi)) return Status::InvalidArgument("field '", key, "' = ", d, " is outside [", lo, ", ", hi, "]");
    return d;
  }

  Result<int64_t> Int(std::string_view key, int64_t fallback, int64_t lo, int64_t hi) const {
    if (!Has(key)) return fallback;
    const json::value& v = o_.at(key);
    int64_t i;
    if (v.is_int64()) i = v.as_int64();
    else if (v.is_uint64() && v.as_uint64() <= static_cast<uint64_t>(INT64_MAX)) i = static_cast<int64_t>(v.as_uint64());
    else if (v.is_double() && std::floor(v.as_double()) == v.as_double() && std::abs(v.as_double()) < 9e18) i = static_cast<int64_t>(v.as_double());
    else return Status::InvalidArgument("field '", key, "' must be an integer");
    if (i < lo || i > hi) return Status::InvalidArgument("field '", key, "' = ", i, " is outside [", lo, ", ", hi, "]");
    return i;
  }

  Result<bool> Bool(std::string_view key, bool fallback) const {
    if (!Has(key)) return fallback;
    if (!o_.at(key).is_bool()) return Status::InvalidArgument("field '", key, "' must be true or false");
    return o_.at(key).as_bool();
  }

  Result<std::vector<float>> Floats(std::string_view key, bool required) const {
    std::vector<float> out;
    if (!Has(key)) {
      if (required) return Status::InvalidArgument("missing field '", key, "'");
      return out;
    }
    const json::value& v = o_.at(key);
    if (!v.is_array()) return Status::InvalidArgument("field '", key, "' must be an array of numbers");
    const json::array& a = v.as_array();
    out.reserve(a.size());
    for (size_t i = 0; i < a.size(); ++i) {
      double d;
      if (a[i].is_double()) d = a[i].as_double();
      else if (a[i].is_int64()) d = static_cast<double>(a[i].as_int64());
      else if (a[i].is_uint64()) d = static_cast<double>(a[i].as_uint64());
      else return Status::InvalidArgument(key, "[", i, "] is not a number");
      if (!std::isfinite(d) || std::abs(d) > FLT_MAX) return Status::InvalidArgument(key, "[", i, "] is not a finite float");
      out.push_back(static_cast<float>(d));
    }
    return out;
  }

  Result<std::vector<std::string>> Strings(std::string_view key) const {
    std::vector<std::string> out;
    if (!Has(key)) return out;
    const json::value& v = o_.at(key);
    if (v.is_string()) {
      out.emplace_back(v.as_string());
      return out;
    }
    if (!v.is_array()) return Status::InvalidArgument("field '", key, "' must be an array of strings");
    for (size_t i = 0; i < v.as_array().size(); ++i) {
      const auto& e = v.as_array()[i];
      if (!e.is_string()) return Status::InvalidArgument(key, "[", i, "] is not a string");
      out.emplace_back(e.as_string());
    }
    return out;
  }

  Result<std::vector<bool>> Bools(std::string_view key) const {
    std::vector<bool> out;
    if (!Has(key)) return out;
    if (!o_.at(key).is_array()) return Status::InvalidArgument("field '", key, "' must be an array");
    const json::array& a = o_.at(key).as_array();
    for (size_t i = 0; i < a.size(); ++i) {
      if (a[i].is_bool()) out.push_back(a[i].as_bool());
      else if (a[i].is_int64() && (a[i].as_int64() == 0 || a[i].as_int64() == 1)) out.push_back(a[i].as_int64() == 1);
      else return Status::InvalidArgument(key, "[", i, "] must be true/false or 0/1");
    }
    return out;
  }

 private:
  const json::object& o_;
};

Result<json::value> ParseJson(std::string_view body) {
  if (body.empty()) return Status::InvalidArgument("request body is empty; expected a JSON object");
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) return Status::InvalidArgument("request body is not valid JSON: ", ec.message());
  if (!v.is_object()) return Status::InvalidArgument("request body must be a JSON object");
  return v;
}

Result<EpisodeSpec> ParseEpisode(const json::object& o) {
  Fields f(o);
  ENGRAM_RETURN_IF_ERROR(f.OnlyKnown({"id", "what", "content", "when_us", "where", "who", "tags", "embedding", "confidence"}));
  EpisodeSpec s;
  ENGRAM_ASSIGN_OR_RETURN(s.id, f.String("id", false));
  ENGRAM_ASSIGN_OR_RETURN(s.what, f.String(f.Has("what") ? "what" : "content", false));
  ENGRAM_ASSIGN_OR_RETURN(s.when_us, f.Int("when_us", 0, 0, INT64_MAX));
  ENGRAM_ASSIGN_OR_RETURN(s.where, f.String("where", false));
  ENGRAM_ASSIGN_OR_RETURN(s.who, f.Strings("who"));
  ENGRAM_ASSIGN_OR_RETURN(s.tags, f.Strings("tags"));
  ENGRAM_ASSIGN_OR_RETURN(s.embedding, f.Floats("embedding", true));
  ENGRAM_ASSIGN_OR_RETURN(double c, f.Number("confidence", 1.0, 0.0, 1.0));
  s.confidence = static_cast<float>(c);
  return s;
}

json::array StringArray(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

json::array FloatArray(const std::vector<float>& v) {
  json::array a;
  a.reserve(v.size());
  for (float x : v) a.emplace_back(static_cast<double>(x));
  return a;
}

json::object EpisodeJson(const Episode& e) {
  json::object o;
  o["id"] = e.id;
  o["what"] = e.what;
  o["when_us"] = e.when_us;
  o["where"] = e.where;
  o["who"] = StringArray(e.who);
  o["tags"] = StringArray(e.tags);
  o["confidence"] = e.confidence;
  o["strength"] = e.strength;
  o["created_us"] = e.created_us;
  o["last_access_us"] = e.last_access_us;
  o["access_count"] = e.access_count;
  if (!e.concept_id.empty()) o["concept_id"] = e.concept_id;
  if (!e.embedding.empty()) o["embedding"] = FloatArray(e.embedding);
  return o;
}

// The same fields as EpisodeJson, written directly.
void WriteEpisode(JsonWriter& w, const Episode& e) {
  w.BeginObject().Key("id").String(e.id).Key("what").String(e.what).Key("when_us").Int(e.when_us);
  w.Key("where").String(e.where).Key("who").StringArray(e.who).Key("tags").StringArray(e.tags);
  w.Key("confidence").Float(e.confidence).Key("strength").Float(e.strength).Key("created_us").Int(e.created_us);
  w.Key("last_access_us").Int(e.last_access_us).Key("access_count").Uint(e.access_count);
  if (!e.concept_id.empty()) w.Key("concept_id").String(e.concept_id);
  if (!e.embedding.empty()) w.Key("embedding").FloatArray(e.embedding);
  w.EndObject();
}

json::object StatsJson(const SpaceStats& s) {
  json::object o;
  o["name"] = s.name;
  o["dim"] = s.dim;
  o["episodes"] = s.episodes;
  o["deleted"] = s.deleted;
  o["edges"] = s.edges;
  o["concepts"] = s.concepts;
  o["consolidation_backlog"] = s.consolidation_backlog;
  o["index_size"] = s.index_size;
  o["index_capacity"] = s.index_capacity;
  o["memory_bytes"] = s.memory_bytes;
  return o;
}

std::string_view ModeName(RecallMode m) {
  return m == RecallMode::kEpisodic ? "episodic" : m == RecallMode::kSemantic ? "semantic" : "blended";
}

}  // namespace

std::string ErrorBody(const Status& status) {
  json::object err;
  err["code"] = std::string(StatusCodeName(status.code()));
  err["message"] = status.message();
  json::object o;
  o["error"] = std::move(err);
  return json::serialize(o);
}

Lane LaneOf(Op op) {
  switch (op) {
    case Op::kRemember:
    case Op::kGet:
    case Op::kForget:
    case Op::kLink:
    case Op::kRecall:
    case Op::kSearch:
    case Op::kHealth:
    case Op::kUnknown:
    case Op::kCount:
      return Lane::kInteractive;
    case Op::kMetrics:
    case Op::kDiagnostics:
    case Op::kListSpaces:
    case Op::kCreateSpace:
    case Op::kRememberBatch:
    case Op::kComplete:
    case Op::kNeighbors:
    case Op::kActivate:
    case Op::kConsolidate:
    case Op::kCheckpoint:
      break;
  }
  return Lane::kBulk;
}

Api::Api(Engine* engine, Metrics* metrics, ApiOptions options)
    : engine_(engine), metrics_(metrics), options_(std::move(options)), start_mono_ns_(MonoNanos()) {}

Op Api::Classify(std::string_view method, std::string_view target) const {
  const std::string path = SplitTarget(target).path;
  if (path == "/health") return Op::kHealth;
  if (path == "/metrics") return Op::kMetrics;
  if (path.rfind(kPrefix, 0) != 0) return Op::kUnknown;
  const std::string_view p = std::string_view(path).substr(kPrefix.size());
  if (p == "/diagnostics") return Op::kDiagnostics;
  if (p == "/spaces") return method == "POST" ? Op::kCreateSpace : Op::kListSpaces;
  if (p == "/episodes") return Op::kRemember;
  if (p == "/episodes/batch") return Op::kRememberBatch;
  if (p.rfind("/episodes/", 0) == 0) {
    if (p.size() > 10 && p.substr(p.size() - 10) == "/neighbors") return Op::kNeighbors;
    return method == "DELETE" ? Op::kForget : Op::kGet;
  }
  if (p == "/links") return Op::kLink;
  if (p == "/recall") return Op::kRecall;
  if (p == "/search") return Op::kSearch;
  if (p == "/complete") return Op::kComplete;
  if (p == "/neighbors") return Op::kNeighbors;
  if (p == "/activate") return Op::kActivate;
  if (p == "/consolidate") return Op::kConsolidate;
  if (p == "/admin/checkpoint") return Op::kCheckpoint;
  return Op::kUnknown;
}

ApiResponse Api::Handle(const ApiRequest& request, Op op) const {
  try {
    return Dispatch(request, op);
  } catch (const std::bad_alloc&) {
    return Error(Status::ResourceExhausted("out of memory while serving the request"));
  } catch (const std::exception& e) {
    return Error(Status::Internal("unexpected error: ", e.what()));
  }
}

ApiResponse Api::Dispatch(const ApiRequest& req, Op op) const {
  const Target target = SplitTarget(req.target);
  auto want = [&](std::string_view method) { return req.method == method; };
  auto method_not_allowed = [&](std::string_view allowed) {
    return Error(Status::MethodNotAllowed(req.method, " is not allowed on ", target.path, "; use ", allowed));
  };
  std::string space_name = "default";
  if (auto it = target.query.find("space"); it != target.query.end()) space_name = it->second;
  if (!req.space_header.empty()) space_name = std::string(req.space_header);
  auto space = [&]() { return engine_->GetSpace(space_name); };
  // The common start of a POST to a space: method, space, JSON object body.
  struct Call {
    Space* space;
    json::value body;
  };
  auto post = [&]() -> Result<Call> {
    if (!want("POST")) return Status::MethodNotAllowed(req.method, " is not allowed on ", target.path, "; use POST");
    ENGRAM_ASSIGN_OR_RETURN(Space* sp, space());
    ENGRAM_ASSIGN_OR_RETURN(json::value body, ParseJson(req.body));
    return Call{sp, std::move(body)};
  };

  switch (op) {
    case Op::kHealth: {
      if (!want("GET")) return method_not_allowed("GET");
      json::object o;
      o["status"] = "ok";
      o["version"] = options_.version;
      o["commit"] = options_.git_commit;
      o["uptime_seconds"] = static_cast<double>(MonoNanos() - start_mono_ns_) * 1e-9;
      return Json(200, o);
    }
    case Op::kMetrics:
      if (!want("GET")) return method_not_allowed("GET");
      return ApiResponse{200, "text/plain; version=0.0.4; charset=utf-8", metrics_->Render(*engine_)};
    case Op::kDiagnostics: {
      if (!want("GET")) return method_not_allowed("GET");
      json::object o;
      json::array spaces;
      for (const auto& s : engine_->ListSpaces()) spaces.push_back(StatsJson(s));
      o["spaces"] = std::move(spaces);
      o["resident_bytes"] = ResidentBytes();
      o["threads"] = ThreadCount();
      o["inflight_requests"] = metrics_->inflight();
      o["requests_total"] = metrics_->total_requests();
      o["store_disk_bytes"] = engine_->StoreDiskBytes();
      o["consolidation_runs"] = engine_->consolidation_runs();
      o["simd_target"] = kernels::DispatchedTargetName();
      o["data_dir"] = engine_->options().data_dir;
      o["fsync"] = engine_->options().fsync;
      o["commit"] = options_.git_commit;
      o["uptime_seconds"] = static_cast<double>(MonoNanos() - start_mono_ns_) * 1e-9;
      return Json(200, o);
    }
    case Op::kListSpaces: {
      if (!want("GET")) return method_not_allowed("GET, POST");
      json::array spaces;
      for (const auto& s : engine_->ListSpaces()) spaces.push_back(StatsJson(s));
      json::object o;
      o["spaces"] = std::move(spaces);
      return Json(200, o);
    }
    case Op::kCreateSpace: {
      auto body = ParseJson(req.body);
      if (!body.ok()) return Error(body.error());
      Fields f(body->as_object());
      if (Status st = f.OnlyKnown({"name", "dim", "m", "ef_construction", "ef_search", "vector_bits"}); !st.ok()) return Error(st);
      SpaceOptions so = engine_->options().default_space;
      auto name = f.String("name", true);
      auto dim = f.Int("dim", so.dim, 1, 65536);
      auto m = f.Int("m", static_cast<int64_t>(so.hnsw.m), 2, 128);
      auto efc = f.Int("ef_construction", static_cast<int64_t>(so.hnsw.ef_construction), 8, 4096);
      auto efs = f.Int("ef_search", static_cast<int64_t>(so.hnsw.ef_search), 1, 100000);
      auto bits = f.Int("vector_bits", static_cast<int64_t>(so.hnsw.precision), 8, 32);
      for (const Status& st : {name.error(), dim.error(), m.error(), efc.error(), efs.error(), bits.error()}) {
        if (!st.ok()) return Error(st);
      }
      const auto precision = index::VectorPrecisionFromBits(*bits);
      if (!precision) return Error(Status::InvalidArgument("vector_bits must be 8, 16 or 32"));
      so.hnsw.precision = *precision;
      so.dim = static_cast<uint32_t>(*dim);
      so.hnsw.m = static_cast<size_t>(*m);
      so.hnsw.ef_construction = static_cast<size_t>(*efc);
      so.hnsw.ef_search = static_cast<size_t>(*efs);
      auto created = engine_->CreateSpace(*name, so);
      if (!created.ok()) return Error(created.error());
      return Json(201, StatsJson((*created)->Stats()));
    }
    case Op::kRemember: {
      auto call = post();
      if (!call.ok()) return Error(call.error());
      auto spec = ParseEpisode(call->body.as_object());
      if (!spec.ok()) return Error(spec.error());
      auto id = call->space->Remember(*spec);
      if (!id.ok()) return Error(id.error());
      std::string out;
      JsonWriter(&out).BeginObject().Key("id").String(*id).Key("space").String(space_name).EndObject();
      return JsonText(201, std::move(out));
    }
    case Op::kRememberBatch: {
      auto call = post();
      if (!call.ok()) return Error(call.error());
      const json::object& o = call->body.as_object();
      if (Status st = Fields(o).OnlyKnown({"episodes", "links"}); !st.ok()) return Error(st);
      if (!o.contains("episodes") || !o.at("episodes").is_array()) {
        return Error(Status::InvalidArgument("field 'episodes' must be an array of episodes"));
      }
      const json::array& eps = o.at("episodes").as_array();
      if (eps.size() > options_.max_batch) {
        return Error(Status::TooLarge("batch of ", eps.size(), " episodes; at most ", options_.max_batch));
      }
      std::vector<EpisodeSpec> specs;
      specs.reserve(eps.size());
      for (size_t i = 0; i < eps.size(); ++i) {
        if (!eps[i].is_object()) return Error(Status::InvalidArgument("episodes[", i, "] is not an object"));
        auto spec = ParseEpisode(eps[i].as_object());
        if (!spec.ok()) return Error(spec.error().WithContext("episodes[" + std::to_string(i) + "]"));
        specs.push_back(std::move(spec).value());
      }
      std::vector<LinkSpec> links;
      if (o.contains("links")) {
        if (!o.at("links").is_array()) return Error(Status::InvalidArgument("field 'links' must be an array"));
        const json::array& ls = o.at("links").as_array();
        for (size_t i = 0; i < ls.size(); ++i) {
          if (!ls[i].is_object()) return Error(Status::InvalidArgument("links[", i, "] is not an object"));
          Fields f(ls[i].as_object());
          auto from = f.String("from", true);
          auto to = f.String("to", true);
          auto w = f.Number("weight", 1.0, 0.0, 1.0);
          for (const Status& st : {f.OnlyKnown({"from", "to", "weight"}), from.error(), to.error(), w.error()}) {
            if (!st.ok()) return Error(st.WithContext("links[" + std::to_string(i) + "]"));
          }
          links.push_back({*from, *to, static_cast<float>(*w)});
        }
      }
      auto ids = call->space->RememberBatch(specs, links, options_.bulk_parallelism);
      if (!ids.ok()) return Error(ids.error());
      json::object out;
      out["count"] = ids->size();
      out["ids"] = StringArray(*ids);
      out["space"] = space_name;
      return Json(201, out);
    }
    case Op::kGet:
    case Op::kForget: {
      auto sp = space();
      if (!sp.ok()) return Error(sp.error());
      const std::string id = PercentDecode(std::string_view(target.path).substr(kPrefix.size() + 10));
      if (op == Op::kForget) {
        if (Status st = (*sp)->Forget(id); !st.ok()) return Error(st);
        json::object o;
        o["forgotten"] = id;
        return Json(200, o);
      }
      if (!want("GET")) return method_not_allowed("GET, DELETE");
      auto it = target.query.find("embedding");
      const bool with_embedding = it == target.query.end() || (it->second != "false" && it->second != "0");
      auto e = (*sp)->Get(id, with_embedding);
      if (!e.ok()) return Error(e.error());
      return Json(200, EpisodeJson(*e));
    }
    case Op::kLink: {
      auto call = post();
      if (!call.ok()) return Error(call.error());
      Fields f(call->body.as_object());
      auto from = f.String("from", true);
      auto to = f.String("to", true);
      auto w = f.Number("weight", 1.0, 0.0, 1.0);
      for (const Status& st : {f.OnlyKnown({"from", "to", "weight"}), from.error(), to.error(), w.error()}) {
        if (!st.ok()) return Error(st);
      }
      if (Status st = call->space->Link({*from, *to, static_cast<float>(*w)}); !st.ok()) return Error(st);
      json::object o;
      o["linked"] = true;
      return Json(201, o);
    }
    case Op::kRecall: {
      auto call = post();
      if (!call.ok()) return Error(call.error());
      Fields f(call->body.as_object());
      if (Status st = f.OnlyKnown({"cue", "embedding", "k", "mode", "hops", "ef", "min_score"}); !st.ok()) return Error(st);
      RecallQuery q;
      auto cue = f.Floats(f.Has("cue") ? "cue" : "embedding", true);
      auto k = f.Int("k", 10, 1, 10000);
      auto mode = f.String("mode", false, "episodic");
      auto hops = f.Int("hops", 2, 0, 6);
      auto ef = f.Int("ef", 0, 0, 100000);
      auto min_score = f.Number("min_score", 0.0, 0.0, 1.0);
      for (const Status& st : {cue.error(), k.error(), mode.error(), hops.error(), ef.error(), min_score.error()}) {
        if (!st.ok()) return Error(st);
      }
      q.cue = std::move(cue).value();
      q.k = static_cast<size_t>(*k);
      q.hops = static_cast<int>(*hops);
      q.ef = static_cast<int>(*ef);
      q.min_score = static_cast<float>(*min_score);
      if (*mode == "episodic") q.mode = RecallMode::kEpisodic;
      else if (*mode == "semantic") q.mode = RecallMode::kSemantic;
      else if (*mode == "blended") q.mode = RecallMode::kBlended;
      else return Error(Status::InvalidArgument("mode '", *mode, "' is not episodic, semantic or blended"));
      auto r = call->space->Recall(q);
      if (!r.ok()) return Error(r.error());
      std::string out;
      JsonWriter w(&out);
      w.BeginObject().Key("hits").BeginArray();
      for (const auto& h : r->hits) {
        w.BeginObject().Key("id").String(h.id).Key("what").String(h.what).Key("score").Float(h.score);
        w.Key("similarity").Float(h.similarity).Key("activation").Float(h.activation);
        w.Key("retrievability").Float(h.retrievability).Key("confidence").Float(h.confidence);
        if (!h.concept_id.empty()) w.Key("concept_id").String(h.concept_id);
        w.EndObject();
      }
      w.EndArray().Key("mode").String(ModeName(r->mode)).Key("semantic_fallback").Bool(r->semantic_fallback);
      w.Key("candidates").Uint(r->candidates).Key("activated").Uint(r->activated).EndObject();
      return JsonText(200, std::move(out));
    }
    case Op::kSearch: {
      auto call = post();
      if (!call.ok()) return Error(call.error());
      Fields f(call->body.as_object());
      auto emb = f.Floats(f.Has("embedding") ? "embedding" : "query", true);
      auto k = f.Int("k", 10, 1, 10000);
      auto ef = f.Int("ef", 0, 0, 100000);
      for (const Status& st : {f.OnlyKnown({"embedding", "query", "k", "ef"}), emb.error(), k.error(), ef.error()}) {
        if (!st.ok()) return Error(st);
      }
      auto r = call->space->Search(*emb, static_cast<size_t>(*k), static_cast<int>(*ef));
      if (!r.ok()) return Error(r.error());
      std::string out;
      JsonWriter w(&out);
      w.BeginObject().Key("hits").BeginArray();
      for (const auto& h : *r) w.BeginObject().Key("id").String(h.id).Key("similarity").Float(h.similarity).EndObject();
      w.EndArray().EndObject();
      return JsonText(200, std::move(out));
    }
    case Op::kComplete: {
      auto call = post();
      if (!call.ok()) return Error(call.error());
      Fields f(call->body.as_object());
      if (Status st = f.OnlyKnown({"what", "where", "who", "tags", "embedding", "mask", "k"}); !st.ok()) return Error(st);
      CompletionCue cue;
      auto k = f.Int("k", 5, 1, 1000);
      auto emb = f.Floats("embedding", false);
      auto mask = f.Bools("mask");
      auto who = f.Strings("who");
      auto tags = f.Strings("tags");
      for (const Status& st : {k.error(), emb.error(), mask.error(), who.error(), tags.error()}) {
        if (!st.ok()) return Error(st);
      }
      if (f.Has("what")) {
        auto w = f.String("what", true);
        if (!w.ok()) return Error(w.error());
        cue.what = *w;
      }
      if (f.Has("where")) {
        auto w = f.String("where", true);
        if (!w.ok()) return Error(w.error());
        cue.where = *w;
      }
      cue.k = static_cast<size_t>(*k);
      cue.embedding = std::move(emb).value();
      cue.mask = std::move(mask).value();
      cue.who = std::move(who).value();
      cue.tags = std::move(tags).value();
      auto r = call->space->Complete(cue);
      if (!r.ok()) return Error(r.error());
      std::string out;
      JsonWriter w(&out);
      w.BeginObject().Key("completed");
      WriteEpisode(w, r->completed);
      w.Key("confidence").Float(r->confidence).Key("field_confidence").BeginObject();
      for (const auto& fc : r->fields) w.Key(fc.field).Float(fc.confidence);
      w.EndObject().Key("completed_fields").StringArray(r->completed_fields).Key("sources").BeginArray();
      for (const auto& s : r->sources) w.BeginObject().Key("id").String(s.id).Key("score").Float(s.similarity).EndObject();
      w.EndArray().EndObject();
      return JsonText(200, std::move(out));
    }
    case Op::kNeighbors: {
      auto sp = space();
      if (!sp.ok()) return Error(sp.error());
      std::string id;
      int64_t hops = 1, limit = 100;
      if (target.path.rfind(std::string(kPrefix) + "/episodes/", 0) == 0) {
        if (!want("GET")) return method_not_allowed("GET");
        const std::string_view rest = std::string_view(target.path).substr(kPrefix.size() + 10);
        id = PercentDecode(rest.substr(0, rest.size() - 10));
        try {
          if (auto it = target.query.find("hops"); it != target.query.end()) hops = std::stoll(it->second);
          if (auto it = target.query.find("limit"); it != target.query.end()) limit = std::stoll(it->second);
        } catch (const std::exception&) {
          return Error(Status::InvalidArgument("hops and limit must be integers"));
        }
      } else {
        if (!want("POST")) return method_not_allowed("POST");
        auto body = ParseJson(req.body);
        if (!body.ok()) return Error(body.error());
        Fields f(body->as_object());
        auto i = f.String("id", true);
        auto h = f.Int("hops", 1, 1, 6);
        auto l = f.Int("limit", 100, 1, 100000);
        for (const Status& st : {f.OnlyKnown({"id", "hops", "limit"}), i.error(), h.error(), l.error()}) {
          if (!st.ok()) return Error(st);
        }
        id = *i, hops = *h, limit = *l;
      }
      if (hops < 1 || hops > 6 || limit < 1 || limit > 100000) {
        return Error(Status::InvalidArgument("hops must be in [1, 6] and limit in [1, 100000]"));
      }
      auto r = (*sp)->Neighbors(id, static_cast<int>(hops), static_cast<size_t>(limit));
      if (!r.ok()) return Error(r.error());
      std::string out;
      out.reserve(64 + r->size() * 48);
      JsonWriter w(&out);
      w.BeginObject().Key("id").String(id).Key("neighbors").BeginArray();
      for (const auto& n : *r) {
        w.BeginObject().Key("id").String(n.id).Key("hop").Int(n.hop).Key("weight").Float(n.weight).EndObject();
      }
      w.EndArray().EndObject();
      return JsonText(200, std::move(out));
    }
    case Op::kActivate: {
      auto call = post();
      if (!call.ok()) return Error(call.error());
      Fields f(call->body.as_object());
      auto seeds = f.Strings("seeds");
      auto hops = f.Int("hops", 2, 1, 6);
      auto limit = f.Int("limit", 50, 1, 100000);
      for (const Status& st : {f.OnlyKnown({"seeds", "hops", "limit"}), seeds.error(), hops.error(), limit.error()}) {
        if (!st.ok()) return Error(st);
      }
      auto r = call->space->Activate(*seeds, static_cast<int>(*hops), static_cast<size_t>(*limit));
      if (!r.ok()) return Error(r.error());
      std::string out;
      JsonWriter w(&out);
      w.BeginObject().Key("activated").BeginArray();
      for (const auto& a : *r) w.BeginObject().Key("id").String(a.id).Key("activation").Float(a.activation).EndObject();
      w.EndArray().EndObject();
      return JsonText(200, std::move(out));
    }
    case Op::kConsolidate: {
      if (!want("POST")) return method_not_allowed("POST");
      auto sp = space();
      if (!sp.ok()) return Error(sp.error());
      bool full = false;
      if (!req.body.empty()) {
        auto body = ParseJson(req.body);
        if (!body.ok()) return Error(body.error());
        Fields f(body->as_object());
        auto fl = f.Bool("full", false);
        for (const Status& st : {f.OnlyKnown({"full"}), fl.error()}) {
          if (!st.ok()) return Error(st);
        }
        full = *fl;
      }
      auto r = (*sp)->Consolidate(full);
      if (!r.ok()) return Error(r.error());
      json::object o;
      o["episodes_processed"] = r->episodes_processed;
      o["concepts_created"] = r->concepts_created;
      o["concepts_total"] = r->concepts_total;
      o["duration_us"] = r->duration_us;
      return Json(200, o);
    }
    case Op::kCheckpoint: {
      if (!want("POST")) return method_not_allowed("POST");
      if (Status st = engine_->Checkpoint(); !st.ok()) return Error(st);
      json::object o;
      o["checkpointed"] = true;
      return Json(200, o);
    }
    case Op::kUnknown:
    case Op::kCount:
      break;
  }
  return Error(Status::NotFound("no route for ", req.method, " ", target.path, " (see docs/http_api.md)"));
}

}  // namespace engram::server
