// The result file holds to docs/result_schema.md, its figures come from its own histograms,
// it reads back losslessly, and shard results merge to the unsharded run's accounting.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

#include "loadgen/json_text.h"
#include "loadgen/report.h"
#include "test_util.h"

namespace engram::loadgen {
namespace {

namespace json = boost::json;
using workload::OpKind;

constexpr char kScenario[] = R"(
name = "report"
description = "a little of everything"
[duration]
total_seconds = 1.5
[warmup]
seconds = 0.25
[arrival]
pattern = "constant"
rate = 300.0
[operations]
store_weight = 0.3
recall_weight = 0.2
embedding_search_weight = 0.3
traversal_weight = 0.1
activation_weight = 0.1
[data]
num_nodes = 400
embedding_dim = 8
graph = { shape = "scale_free", avg_degree = 4 }
[validation]
expected_p99_latency_ms = 1000.0
expected_throughput_ops_sec = 250.0
max_error_rate = 0.5
)";

std::string TempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("loadgen_test_" + std::to_string(::getpid()) + "_" + name)).string();
}

const RunReport& SharedRun() {
  static const RunReport* report = [] {
    auto driver = testing::InProcess(8);
    auto r = testing::RunScenario(kScenario, driver.get());
    EXPECT_TRUE(r.ok()) << r.error().ToString();
    return new RunReport(std::move(r).value());
  }();
  return *report;
}

json::value WrittenAndReadBack(const RunReport& r) {
  const std::string path = TempPath("result.json");
  EXPECT_TRUE(WriteFileAtomically(path, PrettyJson(ToJson(r))).ok());
  std::ifstream f(path);
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::remove(path.c_str());
  return json::parse(text);
}

void ExpectKeys(const json::object& o, std::initializer_list<const char*> keys, const std::string& where) {
  for (const char* k : keys) EXPECT_TRUE(o.contains(k)) << where << " lacks '" << k << "'";
}

TEST(ResultFileTest, HasEveryFieldOfTheSchema) {
  const json::value v = WrittenAndReadBack(SharedRun());
  const json::object& o = v.as_object();
  ExpectKeys(o, {"schema_version", "config_name", "elapsed_seconds", "total_operations", "total_errors",
                 "overall_throughput", "overall_error_rate", "p50_latency_ms", "p95_latency_ms", "p99_latency_ms",
                 "per_operation_stats", "latency", "service_time", "rate", "timeline", "segments", "histograms",
                 "warmup", "dataset", "validation", "errors_by_kind", "context"},
             "top level");
  EXPECT_EQ(o.at("schema_version").as_int64(), 1);
  // Numbers that are doubles in the schema are written as doubles, even when whole.
  EXPECT_TRUE(o.at("elapsed_seconds").is_double());
  EXPECT_TRUE(o.at("overall_throughput").is_double());

  for (const char* op : {"Store", "Recall", "Search", "Traversal", "Activation"}) {
    ASSERT_TRUE(o.at("per_operation_stats").as_object().contains(op)) << op;
    ExpectKeys(o.at("per_operation_stats").at(op).as_object(),
               {"count", "success_count", "error_count", "p50_latency_us", "p95_latency_us", "p99_latency_us",
                "p999_latency_us", "mean_latency_us", "max_latency_us"},
               std::string("per_operation_stats.") + op);
  }
  EXPECT_FALSE(o.at("per_operation_stats").as_object().contains("Consolidation"));  // only kinds that ran
  for (const char* obj : {"latency", "service_time"}) {
    ExpectKeys(o.at(obj).as_object(),
               {"p50_ms", "p90_ms", "p95_ms", "p99_ms", "p999_ms", "p9999_ms", "max_ms", "mean_ms", "samples"}, obj);
  }
  const json::object& rate = o.at("rate").as_object();
  ExpectKeys(rate, {"target_ops_per_sec", "achieved_ops_per_sec", "scheduled_operations", "sent_operations",
                    "completed_operations", "schedule_lag_ms", "peak_inflight", "generator_cpu_percent",
                    "generator_saturated"},
             "rate");
  ExpectKeys(rate.at("schedule_lag_ms").as_object(), {"p50", "p99", "max"}, "rate.schedule_lag_ms");
  ASSERT_GE(o.at("timeline").as_array().size(), 2u);
  for (const auto& t : o.at("timeline").as_array()) {
    ExpectKeys(t.as_object(),
               {"second", "target_ops", "ops", "errors", "p50_ms", "p99_ms", "p999_ms", "max_ms", "lag_p99_ms"},
               "timeline[]");
  }
  ASSERT_GE(o.at("segments").as_array().size(), 1u);
  for (const auto& s : o.at("segments").as_array()) {
    ExpectKeys(s.as_object(), {"start_second", "end_second", "ops", "errors", "latency_histogram"}, "segments[]");
  }
  const json::object& h = o.at("histograms").as_object();
  ExpectKeys(h, {"latency", "service_time", "per_operation"}, "histograms");
  EXPECT_EQ(h.at("per_operation").as_object().size(), o.at("per_operation_stats").as_object().size());
  ExpectKeys(o.at("warmup").as_object(), {"seconds", "operations", "errors"}, "warmup");
  const json::object& ds = o.at("dataset").as_object();
  ExpectKeys(ds, {"nodes_requested", "nodes_loaded", "verified_count", "edges_loaded", "load_seconds", "preloaded",
                  "spaces", "search_recall"},
             "dataset");
  ExpectKeys(ds.at("search_recall").as_object(), {"k", "samples", "recall_at_k"}, "dataset.search_recall");
  ExpectKeys(o.at("validation").as_object(), {"passed", "checks"}, "validation");
  ASSERT_EQ(o.at("validation").at("checks").as_array().size(), 3u);
  for (const auto& c : o.at("validation").at("checks").as_array()) {
    ExpectKeys(c.as_object(), {"name", "limit", "actual", "passed"}, "validation.checks[]");
  }
  ExpectKeys(o.at("errors_by_kind").as_object(), {"timeout", "connection", "http_4xx", "http_5xx", "other"},
             "errors_by_kind");
  ExpectKeys(o.at("context").as_object(),
             {"time_utc", "host", "cpu_model", "cpu_flags", "cores", "kernel", "compiler", "build_type",
              "git_commit", "scenario_path", "scenario_hash", "seed", "target", "driver", "shard", "connections",
              "duration_override", "target_rate_override", "loadtest_version"},
             "context");
  EXPECT_TRUE(o.at("context").at("seed").as_string().starts_with("0x"));
}

TEST(ResultFileTest, EveryTopLevelFieldTheSchemaDocumentNamesIsWritten) {
  // The first column of every table in docs/result_schema.md names top-level fields.
  std::ifstream doc(std::string(ENGRAM_DOCS_DIR) + "/result_schema.md");
  ASSERT_TRUE(doc.good());
  const json::value v = WrittenAndReadBack(SharedRun());
  std::regex row(R"(^\| (`[^|]+`) \|)"), name("`([a-z0-9_]+)`");
  int found = 0;
  for (std::string line; std::getline(doc, line);) {
    std::smatch m;
    if (!std::regex_search(line, m, row)) continue;
    const std::string cell = m[1];
    for (auto it = std::sregex_iterator(cell.begin(), cell.end(), name); it != std::sregex_iterator(); ++it) {
      ++found;
      EXPECT_TRUE(v.as_object().contains((*it)[1].str())) << "docs/result_schema.md names '" << (*it)[1] << "'";
    }
  }
  EXPECT_GE(found, 20);
}

TEST(ResultFileTest, OverallPercentilesComeFromThePooledHistogram) {
  const json::value v = WrittenAndReadBack(SharedRun());
  const Histogram pooled = Histogram::Decode(v.at("histograms").at("latency").as_string()).value();
  EXPECT_EQ(pooled.count(), v.at("total_operations").to_number<uint64_t>());
  EXPECT_DOUBLE_EQ(v.at("p50_latency_ms").to_number<double>(), pooled.ValueAtQuantile(0.50) / 1e6);
  EXPECT_DOUBLE_EQ(v.at("p95_latency_ms").to_number<double>(), pooled.ValueAtQuantile(0.95) / 1e6);
  EXPECT_DOUBLE_EQ(v.at("p99_latency_ms").to_number<double>(), pooled.ValueAtQuantile(0.99) / 1e6);
  EXPECT_DOUBLE_EQ(v.at("latency").at("p999_ms").to_number<double>(), pooled.ValueAtQuantile(0.999) / 1e6);
  EXPECT_DOUBLE_EQ(v.at("latency").at("max_ms").to_number<double>(), pooled.max() / 1e6);
  // The pooled histogram is the union of the per-operation ones (not, say, their max P99).
  Histogram merged;
  uint64_t count = 0;
  for (const auto& kv : v.at("histograms").at("per_operation").as_object()) {
    const Histogram h = Histogram::Decode(kv.value().as_string()).value();
    EXPECT_DOUBLE_EQ(v.at("per_operation_stats").at(kv.key()).at("p99_latency_us").to_number<double>(),
                     h.ValueAtQuantile(0.99) / 1e3);
    count += v.at("per_operation_stats").at(kv.key()).at("count").to_number<uint64_t>();
    merged.Merge(h);
  }
  EXPECT_EQ(merged, pooled);
  EXPECT_EQ(count, pooled.count());
  // Timeline and segments account for every measured operation.
  uint64_t timeline_ops = 0, segment_ops = 0;
  for (const auto& t : v.at("timeline").as_array()) timeline_ops += t.at("ops").to_number<uint64_t>();
  for (const auto& s : v.at("segments").as_array()) segment_ops += s.at("ops").to_number<uint64_t>();
  EXPECT_EQ(timeline_ops, pooled.count());
  EXPECT_EQ(segment_ops, pooled.count());
}

TEST(ResultFileTest, ReadsBackLosslessly) {
  const RunReport& r = SharedRun();
  auto back = FromJson(ToJson(r));
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  EXPECT_EQ(PrettyJson(ToJson(*back)), PrettyJson(ToJson(r)));
}

TEST(ResultFileTest, SearchRecallIsMeasuredOnTheSample) {
  const RunReport& r = SharedRun();
  EXPECT_EQ(r.dataset.recall_k, 10);
  EXPECT_GT(r.dataset.recall_samples, 50u);
  EXPECT_GE(r.dataset.recall_at_k, 0.9);  // HNSW over 400 points is essentially exact
}

// Three in-process runs: unsharded, shard 0/2, shard 1/2. The schedule and the op stream depend
// only on (seed, index), so the shards' operations are a partition of the unsharded run's.
TEST(MergeTest, TwoShardsMergeToTheUnshardedRunsOperationCounts) {
  auto run = [](uint32_t i, uint32_t n) {
    auto driver = testing::InProcess(8);
    RunOptions o = testing::Quiet();
    o.shard_index = i;
    o.shard_count = n;
    o.preload = i == 0;  // shard 1 has its own (empty) engine: its dataset ops fail, still counted
    auto r = testing::RunScenario(kScenario, driver.get(), o);
    EXPECT_TRUE(r.ok()) << r.error().ToString();
    return std::move(r).value();
  };
  const RunReport whole = run(0, 1);
  const RunReport s0 = run(0, 2);
  const RunReport s1 = run(1, 2);
  auto merged = MergeReports({s0, s1}, {"s0.json", "s1.json"});
  ASSERT_TRUE(merged.ok()) << merged.error().ToString();
  for (OpKind k : workload::kAllOpKinds) {
    const size_t i = static_cast<size_t>(k);
    EXPECT_EQ(merged->kinds[i].count, whole.kinds[i].count) << workload::OpKindName(k);
    EXPECT_EQ(merged->kinds[i].count, s0.kinds[i].count + s1.kinds[i].count);
    EXPECT_EQ(merged->kinds[i].latency.count(), whole.kinds[i].count);
  }
  EXPECT_EQ(merged->scheduled, whole.scheduled);
  EXPECT_EQ(merged->total_operations(), whole.total_operations());
  EXPECT_EQ(merged->latency.count(), whole.latency.count());
  EXPECT_NEAR(merged->target_ops_per_sec, whole.target_ops_per_sec, 1e-9);
  ASSERT_TRUE(merged->limits.throughput_ops_sec.has_value());
  EXPECT_NEAR(*merged->limits.throughput_ops_sec, 250.0, 1e-9);  // each shard checked half

  // The same through files and the binary.
  const std::string a = TempPath("s0.json"), b = TempPath("s1.json"), out = TempPath("merged.json");
  ASSERT_TRUE(WriteFileAtomically(a, PrettyJson(ToJson(s0))).ok());
  ASSERT_TRUE(WriteFileAtomically(b, PrettyJson(ToJson(s1))).ok());
  const std::string cmd = std::string(ENGRAM_LOADTEST_BIN) + " merge " + out + " " + a + " " + b + " > /dev/null";
  const int rc = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(rc));
  EXPECT_LE(WEXITSTATUS(rc), 1);  // 1 only if the merged validation fails
  auto file = ReadReport(out);
  ASSERT_TRUE(file.ok()) << file.error().ToString();
  for (OpKind k : workload::kAllOpKinds) {
    EXPECT_EQ(file->kinds[static_cast<size_t>(k)].count, whole.kinds[static_cast<size_t>(k)].count);
  }
  EXPECT_EQ(file->context.at("shard").as_string(), "merged:0/2+1/2");
  for (const auto& p : {a, b, out}) std::remove(p.c_str());
}

TEST(MergeTest, RefusesResultsOfDifferentScenarios) {
  RunReport a = SharedRun();
  RunReport b = SharedRun();
  b.config_name = "other";
  EXPECT_FALSE(MergeReports({a, b}, {"a", "b"}).ok());
}

}  // namespace
}  // namespace engram::loadgen
