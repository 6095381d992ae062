#include "loadgen/report.h"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <unistd.h>

#include "core/files.h"
#include "loadgen/json_text.h"

namespace engram::loadgen {

namespace json = boost::json;
using workload::kAllOpKinds;
using workload::OpKind;
using workload::OpKindName;

namespace {

constexpr std::array<std::string_view, kNumErrorKinds> kErrorKeys = {"none", "timeout", "connection", "http_4xx",
                                                                      "http_5xx", "other", "shed"};

double Ms(int64_t ns) { return static_cast<double>(ns) / 1e6; }
double Us(int64_t ns) { return static_cast<double>(ns) / 1e3; }

json::object LatencyObject(const Histogram& h) {
  json::object o;
  o["p50_ms"] = Ms(h.ValueAtQuantile(0.50));
  o["p90_ms"] = Ms(h.ValueAtQuantile(0.90));
  o["p95_ms"] = Ms(h.ValueAtQuantile(0.95));
  o["p99_ms"] = Ms(h.ValueAtQuantile(0.99));
  o["p999_ms"] = Ms(h.ValueAtQuantile(0.999));
  o["p9999_ms"] = Ms(h.ValueAtQuantile(0.9999));
  o["max_ms"] = Ms(h.max());
  o["mean_ms"] = h.mean() / 1e6;
  o["samples"] = h.count();
  return o;
}

json::object LagObject(const Histogram& h) {
  json::object o;
  o["p50"] = Ms(h.ValueAtQuantile(0.50));
  o["p99"] = Ms(h.ValueAtQuantile(0.99));
  o["max"] = Ms(h.max());
  return o;
}

Histogram DecodeOrEmpty(const std::string& s) {
  if (s.empty()) return Histogram();
  auto h = Histogram::Decode(s);
  return h.ok() ? std::move(h).value() : Histogram();
}

// Reading helpers: every miss names the field.
class Reader {
 public:
  explicit Reader(std::string where) : where_(std::move(where)) {}
  const json::object* Obj(const json::object& o, std::string_view key) {
    const json::value* v = o.if_contains(key);
    if (v == nullptr || !v->is_object()) return Fail(key, "an object"), nullptr;
    return &v->as_object();
  }
  const json::array* Arr(const json::object& o, std::string_view key) {
    const json::value* v = o.if_contains(key);
    if (v == nullptr || !v->is_array()) return Fail(key, "an array"), nullptr;
    return &v->as_array();
  }
  double Num(const json::object& o, std::string_view key) {
    const json::value* v = o.if_contains(key);
    if (v == nullptr) return Fail(key, "a number"), 0.0;
    if (v->is_double()) return v->as_double();
    if (v->is_int64()) return static_cast<double>(v->as_int64());
    if (v->is_uint64()) return static_cast<double>(v->as_uint64());
    if (v->is_null()) return 0.0;
    return Fail(key, "a number"), 0.0;
  }
  uint64_t U64(const json::object& o, std::string_view key) {
    const json::value* v = o.if_contains(key);
    if (v != nullptr && v->is_uint64()) return v->as_uint64();
    if (v != nullptr && v->is_int64() && v->as_int64() >= 0) return static_cast<uint64_t>(v->as_int64());
    const double d = Num(o, key);
    return d > 0 ? static_cast<uint64_t>(std::llround(d)) : 0;
  }
  std::string Str(const json::object& o, std::string_view key) {
    const json::value* v = o.if_contains(key);
    if (v == nullptr || !v->is_string()) return Fail(key, "a string"), std::string();
    return std::string(v->as_string());
  }
  bool Bool(const json::object& o, std::string_view key) {
    const json::value* v = o.if_contains(key);
    if (v == nullptr || !v->is_bool()) return Fail(key, "true or false"), false;
    return v->as_bool();
  }
  Histogram Hist(const std::string& text, std::string_view what) {
    auto h = Histogram::Decode(text);
    if (!h.ok()) {
      if (error_.ok()) error_ = Status::InvalidArgument(where_, ": histogram ", what, ": ", h.error().message());
      return Histogram();
    }
    return std::move(h).value();
  }
  Status error() const { return error_; }

 private:
  void Fail(std::string_view key, std::string_view want) {
    if (error_.ok()) error_ = Status::InvalidArgument(where_, ": field '", key, "' is missing or not ", want);
  }
  std::string where_;
  Status error_;
};

}  // namespace

uint64_t RunReport::total_operations() const {
  uint64_t n = 0;
  for (const auto& k : kinds) n += k.count;
  return n;
}
uint64_t RunReport::total_errors() const {
  uint64_t n = 0;
  for (const auto& k : kinds) n += k.errors;
  return n;
}
double RunReport::throughput() const {
  return elapsed_seconds > 0 ? static_cast<double>(total_operations()) / elapsed_seconds : 0;
}
double RunReport::error_rate() const {
  const uint64_t n = total_operations();
  return n > 0 ? static_cast<double>(total_errors()) / static_cast<double>(n) : 0;
}

std::vector<ValidationCheck> Validate(const RunReport& r) {
  std::vector<ValidationCheck> out;
  if (r.limits.p99_latency_ms) {
    const double a = Ms(r.latency.ValueAtQuantile(0.99));
    out.push_back({"expected_p99_latency_ms", *r.limits.p99_latency_ms, a, a <= *r.limits.p99_latency_ms});
  }
  if (r.limits.throughput_ops_sec) {
    const double a = r.throughput();
    out.push_back({"expected_throughput_ops_sec", *r.limits.throughput_ops_sec, a, a >= *r.limits.throughput_ops_sec});
  }
  if (r.limits.max_error_rate) {
    const double a = r.error_rate();
    out.push_back({"max_error_rate", *r.limits.max_error_rate, a, a <= *r.limits.max_error_rate});
  }
  return out;
}

bool ValidationPassed(const RunReport& r) {
  for (const auto& c : Validate(r)) {
    if (!c.passed) return false;
  }
  return true;
}

bool GeneratorSaturated(const RunReport& r, int connections) {
  // 1. The generator itself was late: its lag (until it sent a request, or queued it behind
  //    busy connections) had a P99 above 10 ms.
  if (Ms(r.generator_lag.ValueAtQuantile(0.99)) > kSaturationLagMs) return true;
  // 2. Fewer operations per second than asked for although the server was never the
  //    bottleneck: the connections were never all busy, so nothing waited for the server.
  const bool server_backpressure = r.peak_inflight >= connections;
  return r.target_ops_per_sec > 0 && r.throughput() < 0.95 * r.target_ops_per_sec && !server_backpressure &&
         r.total_operations() > 0;
}

int ContextConnections(const RunReport& r) {
  const json::value* v = r.context.if_contains("connections");
  if (v == nullptr) return 0;
  if (v->is_int64()) return static_cast<int>(v->as_int64());
  if (v->is_uint64()) return static_cast<int>(v->as_uint64());
  if (v->is_double()) return static_cast<int>(v->as_double());
  return 0;
}

json::value ToJson(const RunReport& r) {
  json::object o;
  o["schema_version"] = kSchemaVersion;
  // The earlier system's fields, same names and units.
  o["config_name"] = r.config_name;
  o["elapsed_seconds"] = r.elapsed_seconds;
  o["total_operations"] = r.total_operations();
  o["total_errors"] = r.total_errors();
  o["overall_throughput"] = r.throughput();
  o["overall_error_rate"] = r.error_rate();
  o["p50_latency_ms"] = Ms(r.latency.ValueAtQuantile(0.50));
  o["p95_latency_ms"] = Ms(r.latency.ValueAtQuantile(0.95));
  o["p99_latency_ms"] = Ms(r.latency.ValueAtQuantile(0.99));
  json::object per_op;
  for (OpKind kind : kAllOpKinds) {
    const OpReport& k = r.kinds[static_cast<size_t>(kind)];
    if (k.count == 0) continue;
    json::object s;
    s["count"] = k.count;
    s["success_count"] = k.success;
    s["error_count"] = k.errors;
    s["p50_latency_us"] = Us(k.latency.ValueAtQuantile(0.50));
    s["p95_latency_us"] = Us(k.latency.ValueAtQuantile(0.95));
    s["p99_latency_us"] = Us(k.latency.ValueAtQuantile(0.99));
    s["p999_latency_us"] = Us(k.latency.ValueAtQuantile(0.999));
    s["mean_latency_us"] = k.latency.mean() / 1e3;
    s["max_latency_us"] = Us(k.latency.max());
    per_op[OpKindName(kind)] = std::move(s);
  }
  o["per_operation_stats"] = std::move(per_op);

  o["latency"] = LatencyObject(r.latency);
  o["service_time"] = LatencyObject(r.service_time);

  json::object rate;
  rate["target_ops_per_sec"] = r.target_ops_per_sec;
  rate["achieved_ops_per_sec"] = r.throughput();
  rate["scheduled_operations"] = r.scheduled;
  rate["sent_operations"] = r.sent;
  rate["completed_operations"] = r.total_operations();
  rate["unsent_operations"] = r.scheduled > r.total_operations() ? r.scheduled - r.total_operations() : 0;
  rate["schedule_lag_ms"] = LagObject(r.schedule_lag);
  rate["generator_lag_ms"] = LagObject(r.generator_lag);
  rate["peak_inflight"] = r.peak_inflight;
  rate["peak_outstanding"] = r.peak_outstanding;
  rate["generator_cpu_percent"] = r.generator_cpu_percent;
  rate["generator_saturated"] = r.generator_saturated;
  rate["server_saturated"] = r.saturation.server_saturated;
  rate["retries"] = r.retries;
  rate["late_records"] = r.late_records;
  o["rate"] = std::move(rate);

  json::array timeline;
  int64_t due = 0, done = 0;  // for each second's backlog
  for (const TimelineEntry& t : r.timeline) {
    const Histogram lat = DecodeOrEmpty(t.latency_histogram);
    const Histogram lag = DecodeOrEmpty(t.lag_histogram);
    json::object e;
    e["second"] = t.second;
    e["target_ops"] = t.target_ops;
    e["sent_ops"] = t.sent_ops;
    e["ops"] = t.ops;
    e["errors"] = t.errors;
    e["p50_ms"] = Ms(lat.ValueAtQuantile(0.50));
    e["p99_ms"] = Ms(lat.ValueAtQuantile(0.99));
    e["p999_ms"] = Ms(lat.ValueAtQuantile(0.999));
    e["max_ms"] = Ms(lat.max());
    e["lag_p99_ms"] = Ms(lag.ValueAtQuantile(0.99));
    due += static_cast<int64_t>(t.target_ops);
    done += static_cast<int64_t>(t.ops);
    e["backlog"] = due - done;
    e["latency_histogram"] = t.latency_histogram;
    e["lag_histogram"] = t.lag_histogram;
    timeline.push_back(std::move(e));
  }
  o["timeline"] = std::move(timeline);
  o["saturation"] = SaturationToJson(r.saturation);

  json::array segments;
  for (const Segment& s : r.segments) {
    json::object e;
    e["start_second"] = s.start_second;
    e["end_second"] = s.end_second;
    e["ops"] = s.ops;
    e["errors"] = s.errors;
    e["latency_histogram"] = s.latency_histogram;
    segments.push_back(std::move(e));
  }
  o["segments"] = std::move(segments);

  json::object hist;
  hist["latency"] = r.latency.Encode();
  hist["service_time"] = r.service_time.Encode();
  hist["schedule_lag"] = r.schedule_lag.Encode();
  hist["generator_lag"] = r.generator_lag.Encode();
  json::object per_op_hist;
  for (OpKind kind : kAllOpKinds) {
    const OpReport& k = r.kinds[static_cast<size_t>(kind)];
    if (k.count > 0) per_op_hist[OpKindName(kind)] = k.latency.Encode();
  }
  hist["per_operation"] = std::move(per_op_hist);
  o["histograms"] = std::move(hist);

  json::object warm;
  warm["seconds"] = r.warmup_seconds;
  warm["operations"] = r.warmup_ops;
  warm["errors"] = r.warmup_errors;
  o["warmup"] = std::move(warm);

  json::object ds;
  const DatasetReport& d = r.dataset;
  ds["nodes_requested"] = d.nodes_requested;
  ds["nodes_loaded"] = d.nodes_loaded;
  ds["verified_count"] = d.verified_count;
  ds["edges_loaded"] = d.edges_loaded;
  ds["edges_skipped"] = d.edges_skipped;
  ds["load_seconds"] = d.load_seconds;
  ds["preloaded"] = d.preloaded;
  ds["leftover_episodes"] = d.leftover_episodes;
  json::array spaces;
  for (const auto& s : d.spaces) spaces.emplace_back(s);
  ds["spaces"] = std::move(spaces);
  json::array warnings;
  for (const auto& s : d.warnings) warnings.emplace_back(s);
  ds["warnings"] = std::move(warnings);
  json::object sr;
  sr["k"] = d.recall_k;
  sr["samples"] = d.recall_samples;
  if (d.recall_samples > 0) {
    sr["recall_at_k"] = d.recall_at_k;
  } else {
    sr["recall_at_k"] = nullptr;
  }
  ds["search_recall"] = std::move(sr);
  o["dataset"] = std::move(ds);

  json::object val;
  json::array checks;
  bool passed = true;
  for (const ValidationCheck& c : Validate(r)) {
    json::object e;
    e["name"] = c.name;
    e["limit"] = c.limit;
    e["actual"] = c.actual;
    e["passed"] = c.passed;
    passed = passed && c.passed;
    checks.push_back(std::move(e));
  }
  val["passed"] = passed;
  val["checks"] = std::move(checks);
  o["validation"] = std::move(val);

  json::object errs;
  for (int e = 1; e < kNumErrorKinds; ++e) errs[kErrorKeys[static_cast<size_t>(e)]] = r.errors_by_kind[static_cast<size_t>(e)];
  o["errors_by_kind"] = std::move(errs);
  json::array samples;
  for (const auto& s : r.error_samples) samples.emplace_back(s);
  o["error_samples"] = std::move(samples);
  o["context"] = r.context;
  return o;
}

Result<RunReport> FromJson(const json::value& v) {
  if (!v.is_object()) return Status::InvalidArgument("a result file must hold a JSON object");
  const json::object& o = v.as_object();
  Reader rd("result");
  RunReport r;
  if (rd.U64(o, "schema_version") != static_cast<uint64_t>(kSchemaVersion)) {
    return Status::InvalidArgument("result schema_version is not ", kSchemaVersion);
  }
  r.config_name = rd.Str(o, "config_name");
  r.elapsed_seconds = rd.Num(o, "elapsed_seconds");
  const json::object* hist = rd.Obj(o, "histograms");
  const json::object* per_op = rd.Obj(o, "per_operation_stats");
  if (hist == nullptr || per_op == nullptr) return rd.error();
  r.latency = rd.Hist(rd.Str(*hist, "latency"), "latency");
  r.service_time = rd.Hist(rd.Str(*hist, "service_time"), "service_time");
  r.schedule_lag = rd.Hist(rd.Str(*hist, "schedule_lag"), "schedule_lag");
  r.generator_lag = rd.Hist(rd.Str(*hist, "generator_lag"), "generator_lag");
  const json::object* per_op_hist = rd.Obj(*hist, "per_operation");
  if (per_op_hist == nullptr) return rd.error();
  for (const auto& kv : *per_op) {
    auto kind = workload::OpKindFromName(kv.key());
    if (!kind || !kv.value().is_object()) return Status::InvalidArgument("result: unknown operation '", kv.key(), "'");
    OpReport& k = r.kinds[static_cast<size_t>(*kind)];
    const json::object& s = kv.value().as_object();
    k.count = rd.U64(s, "count");
    k.success = rd.U64(s, "success_count");
    k.errors = rd.U64(s, "error_count");
    k.latency = rd.Hist(rd.Str(*per_op_hist, kv.key()), kv.key());
  }
  const json::object* rate = rd.Obj(o, "rate");
  if (rate == nullptr) return rd.error();
  r.target_ops_per_sec = rd.Num(*rate, "target_ops_per_sec");
  r.scheduled = rd.U64(*rate, "scheduled_operations");
  r.sent = rd.U64(*rate, "sent_operations");
  r.peak_inflight = static_cast<int64_t>(rd.U64(*rate, "peak_inflight"));
  r.peak_outstanding = rate->contains("peak_outstanding") ? static_cast<int64_t>(rd.U64(*rate, "peak_outstanding")) : 0;
  r.generator_cpu_percent = rd.Num(*rate, "generator_cpu_percent");
  r.generator_saturated = rd.Bool(*rate, "generator_saturated");
  r.retries = rate->contains("retries") ? rd.U64(*rate, "retries") : 0;
  r.late_records = rate->contains("late_records") ? rd.U64(*rate, "late_records") : 0;

  if (const json::array* tl = rd.Arr(o, "timeline")) {
    for (const auto& e : *tl) {
      if (!e.is_object()) continue;
      const json::object& t = e.as_object();
      TimelineEntry x;
      x.second = static_cast<int64_t>(rd.Num(t, "second"));
      x.target_ops = rd.U64(t, "target_ops");
      x.sent_ops = t.contains("sent_ops") ? rd.U64(t, "sent_ops") : 0;
      x.ops = rd.U64(t, "ops");
      x.errors = rd.U64(t, "errors");
      if (t.contains("latency_histogram")) x.latency_histogram = rd.Str(t, "latency_histogram");
      if (t.contains("lag_histogram")) x.lag_histogram = rd.Str(t, "lag_histogram");
      r.timeline.push_back(std::move(x));
    }
  }
  if (const json::array* sg = rd.Arr(o, "segments")) {
    for (const auto& e : *sg) {
      if (!e.is_object()) continue;
      const json::object& t = e.as_object();
      Segment s;
      s.start_second = static_cast<int64_t>(rd.Num(t, "start_second"));
      s.end_second = static_cast<int64_t>(rd.Num(t, "end_second"));
      s.ops = rd.U64(t, "ops");
      s.errors = rd.U64(t, "errors");
      s.latency_histogram = rd.Str(t, "latency_histogram");
      r.segments.push_back(std::move(s));
    }
  }
  if (const json::object* w = rd.Obj(o, "warmup")) {
    r.warmup_seconds = rd.Num(*w, "seconds");
    r.warmup_ops = rd.U64(*w, "operations");
    r.warmup_errors = rd.U64(*w, "errors");
  }
  if (const json::object* d = rd.Obj(o, "dataset")) {
    DatasetReport& ds = r.dataset;
    ds.nodes_requested = rd.U64(*d, "nodes_requested");
    ds.nodes_loaded = rd.U64(*d, "nodes_loaded");
    ds.verified_count = rd.U64(*d, "verified_count");
    ds.edges_loaded = rd.U64(*d, "edges_loaded");
    ds.edges_skipped = d->contains("edges_skipped") ? rd.U64(*d, "edges_skipped") : 0;
    ds.leftover_episodes = d->contains("leftover_episodes") ? rd.U64(*d, "leftover_episodes") : 0;
    ds.load_seconds = rd.Num(*d, "load_seconds");
    ds.preloaded = rd.Bool(*d, "preloaded");
    if (const json::array* sp = rd.Arr(*d, "spaces")) {
      for (const auto& s : *sp) {
        if (s.is_string()) ds.spaces.emplace_back(s.as_string());
      }
    }
    if (const json::value* w = d->if_contains("warnings"); w != nullptr && w->is_array()) {
      for (const auto& s : w->as_array()) {
        if (s.is_string()) ds.warnings.emplace_back(s.as_string());
      }
    }
    if (const json::object* sr = rd.Obj(*d, "search_recall")) {
      ds.recall_k = static_cast<int>(rd.Num(*sr, "k"));
      ds.recall_samples = rd.U64(*sr, "samples");
      ds.recall_at_k = rd.Num(*sr, "recall_at_k");
    }
  }
  if (const json::object* val = rd.Obj(o, "validation")) {
    if (const json::array* checks = rd.Arr(*val, "checks")) {
      for (const auto& c : *checks) {
        if (!c.is_object()) continue;
        const std::string name = rd.Str(c.as_object(), "name");
        const double limit = rd.Num(c.as_object(), "limit");
        if (name == "expected_p99_latency_ms") r.limits.p99_latency_ms = limit;
        if (name == "expected_throughput_ops_sec") r.limits.throughput_ops_sec = limit;
        if (name == "max_error_rate") r.limits.max_error_rate = limit;
      }
    }
  }
  if (const json::object* errs = rd.Obj(o, "errors_by_kind")) {
    for (int e = 1; e < kNumErrorKinds; ++e) {
      const std::string_view key = kErrorKeys[static_cast<size_t>(e)];
      // `shed` came later: a file without it shed nothing it could tell apart.
      if (static_cast<ErrorKind>(e) == ErrorKind::kShed && !errs->contains(key)) continue;
      r.errors_by_kind[static_cast<size_t>(e)] = rd.U64(*errs, key);
    }
  }
  if (const json::value* s = o.if_contains("error_samples"); s != nullptr && s->is_array()) {
    for (const auto& e : s->as_array()) {
      if (e.is_string()) r.error_samples.emplace_back(e.as_string());
    }
  }
  if (const json::object* ctx = rd.Obj(o, "context")) r.context = *ctx;
  if (!rd.error().ok()) return rd.error();
  // Derived, so recomputed (also for files written before the field existed).
  r.saturation = AssessSaturation(r, ContextConnections(r));
  return r;
}

Result<RunReport> MergeReports(const std::vector<RunReport>& parts, const std::vector<std::string>& sources) {
  if (parts.empty()) return Status::InvalidArgument("nothing to merge");
  const RunReport& first = parts.front();
  auto ctx_str = [](const RunReport& r, std::string_view key) -> std::string {
    const json::value* v = r.context.if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  RunReport m;
  m.config_name = first.config_name;
  m.context = first.context;
  m.limits = first.limits;
  m.limits.throughput_ops_sec.reset();
  std::map<int64_t, TimelineEntry> timeline;
  std::map<int64_t, std::pair<Segment, Histogram>> segments;
  std::vector<std::string> shards;
  double recall_sum = 0;
  // The dataset is loaded once (by the shard that preloads): take its numbers; recall
  // samples of all shards pool.
  m.dataset = first.dataset;
  for (const RunReport& p : parts) {
    if (p.dataset.preloaded) {
      m.dataset = p.dataset;
      break;
    }
  }
  m.dataset.recall_samples = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    const RunReport& p = parts[i];
    const std::string name = i < sources.size() ? sources[i] : "input " + std::to_string(i + 1);
    if (p.config_name != first.config_name || ctx_str(p, "scenario_hash") != ctx_str(first, "scenario_hash")) {
      return Status::InvalidArgument(name, " is a run of another scenario ('", p.config_name, "', hash ",
                                     ctx_str(p, "scenario_hash"), ") than the first input ('", first.config_name,
                                     "', hash ", ctx_str(first, "scenario_hash"), ")");
    }
    shards.push_back(ctx_str(p, "shard"));
    m.elapsed_seconds = std::max(m.elapsed_seconds, p.elapsed_seconds);
    for (size_t k = 0; k < m.kinds.size(); ++k) {
      m.kinds[k].count += p.kinds[k].count;
      m.kinds[k].success += p.kinds[k].success;
      m.kinds[k].errors += p.kinds[k].errors;
      m.kinds[k].latency.Merge(p.kinds[k].latency);
    }
    m.latency.Merge(p.latency);
    m.service_time.Merge(p.service_time);
    m.schedule_lag.Merge(p.schedule_lag);
    m.generator_lag.Merge(p.generator_lag);
    for (size_t e = 0; e < m.errors_by_kind.size(); ++e) m.errors_by_kind[e] += p.errors_by_kind[e];
    m.target_ops_per_sec += p.target_ops_per_sec;
    m.scheduled += p.scheduled;
    m.sent += p.sent;
    m.peak_inflight += p.peak_inflight;  // an upper bound: the peaks need not coincide
    m.peak_outstanding += p.peak_outstanding;
    m.generator_cpu_percent += p.generator_cpu_percent;
    m.generator_saturated = m.generator_saturated || p.generator_saturated;
    m.retries += p.retries;
    m.late_records += p.late_records;
    for (const TimelineEntry& t : p.timeline) {
      auto [it, fresh] = timeline.try_emplace(t.second, t);
      if (fresh) continue;
      TimelineEntry& x = it->second;
      x.target_ops += t.target_ops;
      x.sent_ops += t.sent_ops;
      x.ops += t.ops;
      x.errors += t.errors;
      Histogram a = DecodeOrEmpty(x.latency_histogram), b = DecodeOrEmpty(t.latency_histogram);
      a.Merge(b);
      x.latency_histogram = a.Encode();
      Histogram c = DecodeOrEmpty(x.lag_histogram), d = DecodeOrEmpty(t.lag_histogram);
      c.Merge(d);
      x.lag_histogram = c.Encode();
    }
    for (const Segment& s : p.segments) {
      auto& [seg, h] = segments[s.start_second];
      seg.start_second = s.start_second;
      seg.end_second = std::max(seg.end_second, s.end_second);
      seg.ops += s.ops;
      seg.errors += s.errors;
      h.Merge(DecodeOrEmpty(s.latency_histogram));
    }
    m.warmup_seconds = std::max(m.warmup_seconds, p.warmup_seconds);
    m.warmup_ops += p.warmup_ops;
    m.warmup_errors += p.warmup_errors;
    m.dataset.recall_k = std::max(m.dataset.recall_k, p.dataset.recall_k);
    m.dataset.recall_samples += p.dataset.recall_samples;
    recall_sum += p.dataset.recall_at_k * static_cast<double>(p.dataset.recall_samples);
    if (p.limits.throughput_ops_sec) {
      m.limits.throughput_ops_sec = m.limits.throughput_ops_sec.value_or(0) + *p.limits.throughput_ops_sec;
    }
    for (const auto& s : p.error_samples) {
      if (m.error_samples.size() < 20) m.error_samples.push_back(s);
    }
  }
  m.dataset.recall_at_k = m.dataset.recall_samples > 0 ? recall_sum / static_cast<double>(m.dataset.recall_samples) : 0;
  for (auto& [s, t] : timeline) m.timeline.push_back(std::move(t));
  for (auto& [s, sh] : segments) {
    sh.first.latency_histogram = sh.second.Encode();
    m.segments.push_back(std::move(sh.first));
  }
  std::string joined;
  for (const auto& s : shards) joined += (joined.empty() ? "" : "+") + s;
  m.context["shard"] = "merged:" + joined;
  json::array from;
  for (const auto& s : sources) from.emplace_back(s);
  m.context["merged_from"] = std::move(from);
  // The merged timeline is the whole load: judge it with all shards' connections together.
  int connections = 0;
  for (const RunReport& p : parts) connections += ContextConnections(p);
  m.context["connections"] = connections;
  m.saturation = AssessSaturation(m, connections);
  return m;
}

std::string FormatSummary(const RunReport& r) {
  std::string out;
  auto it = std::back_inserter(out);
  auto ctx = [&](std::string_view key) -> std::string {
    const json::value* v = r.context.if_contains(key);
    if (v == nullptr) return "";
    return v->is_string() ? std::string(v->as_string()) : json::serialize(*v);
  };
  const Histogram& l = r.latency;
  const Histogram& s = r.service_time;
  fmt::format_to(it, "== loadtest: {} -> {} ({} driver, seed {}, shard {}) ==\n", r.config_name, ctx("target"),
                 ctx("driver"), ctx("seed"), ctx("shard"));
  fmt::format_to(it, "measured {:.1f} s: {} ops, {} errors ({:.3f}%), throughput {:.1f} ops/s (target {:.1f})\n",
                 r.elapsed_seconds, r.total_operations(), r.total_errors(), 100 * r.error_rate(), r.throughput(),
                 r.target_ops_per_sec);
  fmt::format_to(it,
                 "latency (from intended start), ms: p50 {:.3f}  p90 {:.3f}  p95 {:.3f}  p99 {:.3f}  p99.9 {:.3f}  "
                 "max {:.3f}  mean {:.3f}  ({} samples)\n",
                 Ms(l.ValueAtQuantile(0.5)), Ms(l.ValueAtQuantile(0.9)), Ms(l.ValueAtQuantile(0.95)),
                 Ms(l.ValueAtQuantile(0.99)), Ms(l.ValueAtQuantile(0.999)), Ms(l.max()), l.mean() / 1e6, l.count());
  fmt::format_to(it,
                 "service time (from send), ms:    p50 {:.3f}  p90 {:.3f}  p95 {:.3f}  p99 {:.3f}  p99.9 {:.3f}  "
                 "max {:.3f}\n",
                 Ms(s.ValueAtQuantile(0.5)), Ms(s.ValueAtQuantile(0.9)), Ms(s.ValueAtQuantile(0.95)),
                 Ms(s.ValueAtQuantile(0.99)), Ms(s.ValueAtQuantile(0.999)), Ms(s.max()));
  fmt::format_to(it,
                 "sending: scheduled {}, sent {}, unsent {}; schedule lag ms p50 {:.3f} p99 {:.3f} max {:.3f}; "
                 "generator lag p99 {:.3f} ms; peak in flight {} (outstanding {}); generator CPU {:.0f}%{}\n",
                 r.scheduled, r.sent, r.scheduled > r.total_operations() ? r.scheduled - r.total_operations() : 0,
                 Ms(r.schedule_lag.ValueAtQuantile(0.5)), Ms(r.schedule_lag.ValueAtQuantile(0.99)),
                 Ms(r.schedule_lag.max()), Ms(r.generator_lag.ValueAtQuantile(0.99)), r.peak_inflight,
                 r.peak_outstanding, r.generator_cpu_percent, r.generator_saturated ? "  ** GENERATOR SATURATED **" : "");
  fmt::format_to(it, "server: {}\n", r.saturation.server_saturated ? "** " + r.saturation.Summary() + " **"
                                                                      : r.saturation.Summary());
  fmt::format_to(it, "errors: timeout {}, connection {}, http_4xx {}, http_5xx {}, other {}, shed {}\n",
                 r.errors_by_kind[1], r.errors_by_kind[2], r.errors_by_kind[3], r.errors_by_kind[4],
                 r.errors_by_kind[5], r.errors_by_kind[6]);
  fmt::format_to(it, "{:<18} {:>8} {:>7} {:>10} {:>10} {:>10} {:>10} {:>10}\n", "operation", "count", "errors",
                 "p50 us", "p95 us", "p99 us", "p99.9 us", "max us");
  for (OpKind kind : kAllOpKinds) {
    const OpReport& k = r.kinds[static_cast<size_t>(kind)];
    if (k.count == 0) continue;
    fmt::format_to(it, "{:<18} {:>8} {:>7} {:>10.0f} {:>10.0f} {:>10.0f} {:>10.0f} {:>10.0f}\n", OpKindName(kind),
                   k.count, k.errors, Us(k.latency.ValueAtQuantile(0.5)), Us(k.latency.ValueAtQuantile(0.95)),
                   Us(k.latency.ValueAtQuantile(0.99)), Us(k.latency.ValueAtQuantile(0.999)), Us(k.latency.max()));
  }
  const DatasetReport& d = r.dataset;
  if (d.preloaded) {
    fmt::format_to(it, "dataset: {} of {} nodes loaded in {:.1f} s, {} edges, verified count {}\n", d.nodes_loaded,
                   d.nodes_requested, d.load_seconds, d.edges_loaded, d.verified_count);
  } else {
    fmt::format_to(it, "dataset: not preloaded by this run ({} nodes requested, {} found)\n", d.nodes_requested,
                   d.verified_count);
  }
  if (d.recall_samples > 0) {
    fmt::format_to(it, "search recall@{}: {:.4f} over {} sampled searches\n", d.recall_k, d.recall_at_k, d.recall_samples);
  }
  fmt::format_to(it, "warm-up: {:.1f} s, {} ops, {} errors (excluded)\n", r.warmup_seconds, r.warmup_ops, r.warmup_errors);
  const auto checks = Validate(r);
  if (checks.empty()) {
    fmt::format_to(it, "validation: no limits set\n");
  } else {
    bool passed = true;
    std::string detail;
    for (const auto& c : checks) {
      passed = passed && c.passed;
      const bool upper = c.name != "expected_throughput_ops_sec";
      detail += fmt::format("{}{} {:.4g} {} {:.4g} {}", detail.empty() ? "" : "; ", c.name, c.actual,
                            upper ? "<=" : ">=", c.limit, c.passed ? "ok" : "FAILED");
    }
    fmt::format_to(it, "validation: {} ({})\n", passed ? "PASSED" : "FAILED", detail);
  }
  return out;
}

Result<RunReport> ReadReport(const std::string& path) {
  ENGRAM_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return Status::InvalidArgument(path, ": not valid JSON: ", ec.message());
  auto r = FromJson(v);
  if (!r.ok()) return r.error().WithContext(path);
  return r;
}

}  // namespace engram::loadgen
