// Small pieces: endpoints and the loopback rule, seeds and shards, request mapping, the
// recorder's per-second harvest.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <thread>

#include "loadgen/endpoint.h"
#include "loadgen/http_driver.h"
#include "loadgen/json_text.h"
#include "loadgen/recorder.h"
#include "loadgen/runner.h"
#include "workload/op_stream.h"

namespace engram::loadgen {
namespace {

namespace json = boost::json;
using workload::OpKind;

TEST(EndpointTest, AcceptsLoopbackAndRefusesRemoteUnlessAllowed) {
  for (const char* url : {"http://127.0.0.1:7432", "http://localhost:7433/", "http://[::1]:80", "http://127.1.2.3"}) {
    auto e = ParseEndpoint(url);
    ASSERT_TRUE(e.ok()) << url;
    EXPECT_TRUE(Resolve(&*e, false).ok()) << url;
    EXPECT_FALSE(e->addresses.empty());
  }
  auto e = ParseEndpoint("http://localhost:7433/");
  EXPECT_EQ(e->host, "localhost");
  EXPECT_EQ(e->port, 7433);
  EXPECT_EQ(e->url, "http://localhost:7433");
  auto remote = ParseEndpoint("http://192.0.2.7:7432");
  ASSERT_TRUE(remote.ok());
  Status st = Resolve(&*remote, false);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("loopback"), std::string::npos);
  EXPECT_TRUE(Resolve(&*remote, true).ok());
  EXPECT_FALSE(ParseEndpoint("https://127.0.0.1:7432").ok());
  EXPECT_FALSE(ParseEndpoint("http://127.0.0.1:99999").ok());
  EXPECT_FALSE(ParseEndpoint("127.0.0.1:7432").ok());
}

TEST(SeedTest, AcceptsDecimalAndHex) {
  EXPECT_EQ(ParseSeed("3735928559").value(), 0xDEADBEEFULL);
  EXPECT_EQ(ParseSeed("0xDEADBEEF").value(), 0xDEADBEEFULL);
  EXPECT_EQ(ParseSeed("0xdead_beef").value(), 0xDEADBEEFULL);
  EXPECT_EQ(ParseSeed("18446744073709551615").value(), ~uint64_t{0});
  for (const char* bad : {"", "0x", "-1", "12abc", "0xZZ", "18446744073709551616"}) EXPECT_FALSE(ParseSeed(bad).ok()) << bad;
}

TEST(ShardTest, ParsesIOfN) {
  EXPECT_EQ(ParseShard("0/1").value(), std::make_pair(0u, 1u));
  EXPECT_EQ(ParseShard("3/4").value(), std::make_pair(3u, 4u));
  for (const char* bad : {"4/4", "1", "a/b", "0/0", "1/2/3"}) EXPECT_FALSE(ParseShard(bad).ok()) << bad;
}

TEST(RequestMappingTest, EachOperationKindGoesToItsRoute) {
  auto scenario = workload::ParseScenario(R"(
name = "all"
description = "every kind"
[arrival]
pattern = "constant"
rate = 10.0
[operations]
store_weight = 1
recall_weight = 1
semantic_recall_weight = 1
blended_recall_weight = 1
embedding_search_weight = 1
pattern_completion_weight = 1
traversal_weight = 1
activation_weight = 1
consolidation_weight = 1
health_weight = 1
[data]
num_nodes = 50
embedding_dim = 4
)", "all.toml");
  ASSERT_TRUE(scenario.ok()) << scenario.error().ToString();
  workload::OpStream stream(*scenario);
  std::map<OpKind, std::string> paths;
  for (uint64_t i = 0; i < 400; ++i) {
    const workload::Operation op = stream.At(i);
    const HttpCall c = RequestFor(op);
    paths[op.kind] = std::string(c.method) + " " + std::string(c.path);
    if (op.kind == OpKind::kHealth) {
      EXPECT_TRUE(c.body.empty());
      continue;
    }
    const json::value body = json::parse(c.body);  // always valid JSON
    const json::object& o = body.as_object();
    switch (op.kind) {
      case OpKind::kStore:
        EXPECT_EQ(o.at("id").as_string(), "s" + std::to_string(i));
        EXPECT_EQ(o.at("embedding").as_array().size(), 4u);
        break;
      case OpKind::kRecall: EXPECT_EQ(o.at("mode").as_string(), "episodic"); break;
      case OpKind::kSemanticRecall: EXPECT_EQ(o.at("mode").as_string(), "semantic"); break;
      case OpKind::kBlendedRecall: EXPECT_EQ(o.at("mode").as_string(), "blended"); break;
      case OpKind::kSearch: EXPECT_EQ(o.at("embedding").as_array().size(), 4u); break;
      case OpKind::kPatternCompletion: EXPECT_EQ(o.at("embedding").as_array().size(), op.known_dims); break;
      case OpKind::kTraversal: EXPECT_EQ(o.at("id").as_string(), op.target_id); break;
      case OpKind::kActivation: EXPECT_EQ(o.at("seeds").as_array()[0].as_string(), op.target_id); break;
      case OpKind::kConsolidation: EXPECT_TRUE(o.empty()); break;
      case OpKind::kHealth: break;
    }
  }
  const std::map<OpKind, std::string> want = {{OpKind::kStore, "POST /api/v1/episodes"},
                                              {OpKind::kRecall, "POST /api/v1/recall"},
                                              {OpKind::kSemanticRecall, "POST /api/v1/recall"},
                                              {OpKind::kBlendedRecall, "POST /api/v1/recall"},
                                              {OpKind::kSearch, "POST /api/v1/search"},
                                              {OpKind::kPatternCompletion, "POST /api/v1/complete"},
                                              {OpKind::kTraversal, "POST /api/v1/neighbors"},
                                              {OpKind::kActivation, "POST /api/v1/activate"},
                                              {OpKind::kConsolidation, "POST /api/v1/consolidate"},
                                              {OpKind::kHealth, "GET /health"}};
  EXPECT_EQ(paths, want);
}

TEST(RequestMappingTest, HealthIsABareGetOfSlashHealth) {
  auto e = ParseEndpoint("http://127.0.0.1:7433");
  ASSERT_TRUE(e.ok());
  HttpDriverOptions o;
  o.endpoint = *e;
  const HttpDriver driver(o);
  workload::Operation op;
  op.kind = OpKind::kHealth;
  Request r;
  driver.Prepare(op, &r);
  // No body, so no Content-Type or Content-Length; no space header.
  EXPECT_EQ(r.wire, "GET /health HTTP/1.1\r\nHost: 127.0.0.1:7433\r\nUser-Agent: engram-loadtest\r\n\r\n");
  // A POST keeps its framing headers.
  op.kind = OpKind::kConsolidation;
  op.space = "default";
  driver.Prepare(op, &r);
  EXPECT_TRUE(r.wire.starts_with("POST /api/v1/consolidate HTTP/1.1\r\n")) << r.wire;
  EXPECT_NE(r.wire.find("X-Memory-Space: default\r\n"), std::string::npos) << r.wire;
  EXPECT_NE(r.wire.find("Content-Length: 2\r\n\r\n{}"), std::string::npos) << r.wire;
}

TEST(JsonTextTest, EscapesStringsAndWritesWholeDoublesAsDoubles) {
  std::string s;
  AppendJsonString(&s, "a\"b\\c\nd\x01");
  EXPECT_EQ(s, R"("a\"b\\c\nd\u0001")");
  EXPECT_EQ(json::parse(s).as_string(), "a\"b\\c\nd\x01");
  const std::string pretty = PrettyJson(json::object{{"x", 3.0}, {"y", 0.25}, {"n", 7}});
  EXPECT_TRUE(json::parse(pretty).at("x").is_double());
  EXPECT_TRUE(json::parse(pretty).at("n").is_int64());
}

Request Done(OpKind kind, int64_t base, double intended_s, double sent_s, double done_s, bool failed = false) {
  Request r;
  r.kind = kind;
  r.intended_ns = base + static_cast<int64_t>(intended_s * 1e9);
  r.dispatch_ns = r.intended_ns;
  r.sent_ns = base + static_cast<int64_t>(sent_s * 1e9);
  r.done_ns = base + static_cast<int64_t>(done_s * 1e9);
  r.error = failed ? ErrorKind::kHttp5xx : ErrorKind::kNone;
  return r;
}

TEST(RecorderTest, HarvestAccountsForEveryRecordFromEveryThread) {
  const int64_t base = 1'000'000'000'000;
  RecorderSet set(base);
  auto record = [&](int t) {
    for (int i = 0; i < 100; ++i) {
      // Completions in seconds 0 and 1; sends 10 ms earlier.
      const double at = (i % 2) + 0.5 + t * 0.01;
      Request r = Done(i % 3 == 0 ? OpKind::kSearch : OpKind::kStore, base, at - 0.02, at - 0.01, at, i % 10 == 0);
      set.RecordSent(r);
      set.RecordDone(r);
    }
  };
  std::thread a(record, 0), b(record, 1);
  a.join();
  b.join();
  SecondData s0 = set.Harvest(0);
  EXPECT_EQ(s0.ops, 100u);
  EXPECT_EQ(s0.sent, 100u);
  EXPECT_EQ(s0.errors, 20u);
  EXPECT_EQ(s0.latency.count(), 100u);
  EXPECT_NEAR(s0.latency.max() / 1e6, 20.0, 0.1);  // completion - intended
  // A completion arriving for second 0 after it was harvested goes into the next harvest.
  Request late = Done(OpKind::kStore, base, 0.1, 0.2, 0.3);
  set.RecordDone(late);
  SecondData s1 = set.Harvest(1);
  EXPECT_EQ(s1.ops, 101u);
  const Totals t = set.Collect();
  EXPECT_EQ(t.kinds[static_cast<size_t>(OpKind::kSearch)].count + t.kinds[static_cast<size_t>(OpKind::kStore)].count, 201u);
  EXPECT_EQ(t.late_records, 1u);
  EXPECT_EQ(t.sent, 200u);
  EXPECT_EQ(t.errors_by_kind[static_cast<size_t>(ErrorKind::kHttp5xx)], 20u);
  EXPECT_NEAR(t.kinds[static_cast<size_t>(OpKind::kStore)].service.max() / 1e6, 100.0, 0.2);  // the late one
}

TEST(RecorderTest, WarmupIsCountedApart) {
  RecorderSet set(0);
  Request r = Done(OpKind::kStore, 0, 0.1, 0.1, 0.2);
  r.warmup = true;
  set.RecordSent(r);
  set.RecordDone(r);
  const Totals t = set.Collect();
  EXPECT_EQ(t.warmup_ops, 1u);
  EXPECT_EQ(t.kinds[0].count, 0u);
  EXPECT_EQ(t.sent, 0u);
  EXPECT_EQ(set.Harvest(0).ops, 0u);
}

}  // namespace
}  // namespace engram::loadgen
