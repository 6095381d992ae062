#include "analysis/run_result.h"

#include <gtest/gtest.h>

#include <string>

#include "analysis/baselines.h"
#include "synth.h"

namespace engram::analysis {
namespace {

const std::string kFixtures = ENGRAM_ANALYSIS_FIXTURES;

TEST(RunResultTest, LoadsTheCheckedInExampleWithEveryFieldTheCompareReads) {
  auto r = LoadRunResult(kFixtures + "/example_result.json");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->config_name, "M17 Baseline");
  EXPECT_EQ(r->seed, 0xdeadbeefULL);
  EXPECT_EQ(r->seed_text, "0xdeadbeef");
  EXPECT_EQ(r->ScenarioStem(), "m17_baseline");
  EXPECT_EQ(r->scenario_hash, "5f3c9a1e0b7d2468");
  EXPECT_GT(r->total_operations, 0u);
  EXPECT_GT(r->p99_latency_ms, r->p50_latency_ms);
  EXPECT_EQ(r->segments.size(), 2u);
  uint64_t ops = 0;
  for (const Segment& s : r->segments) {
    ops += s.ops;
    EXPECT_EQ(s.latency.count, s.ops);
  }
  EXPECT_EQ(ops, r->total_operations);
  ASSERT_TRUE(r->ErrorRateCheck().has_value());
  EXPECT_DOUBLE_EQ(r->ErrorRateCheck()->limit, 0.01);
  EXPECT_FALSE(r->ServerLimited());
}

TEST(RunResultTest, AFileFromBeforeServerSaturatedSaysNothingAboutIt) {
  auto r = LoadRunResult(kFixtures + "/example_result.json");  // written before the field
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_FALSE(r->server_saturated.has_value());
  EXPECT_TRUE(r->saturation_reasons.empty());
  EXPECT_EQ(r->cores, 2);
}

TEST(RunResultTest, ReadsServerSaturatedAndItsReasons) {
  testing::SynthRun run;
  run.server_saturated = true;
  run.saturation_reasons = {"backlog grew: 900", "overloaded: 12 shed"};
  auto r = ParseRunResult(testing::SynthResultJson(run), "sat.json");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  ASSERT_TRUE(r->server_saturated.has_value());
  EXPECT_TRUE(*r->server_saturated);
  EXPECT_EQ(r->SaturationText(), "server_saturated: backlog grew: 900; overloaded: 12 shed");
  EXPECT_NEAR(r->schedule_lag_p99_ms, 0.2, 1e-9);
  run.server_saturated = false;
  auto healthy = ParseRunResult(testing::SynthResultJson(run), "ok.json");
  ASSERT_TRUE(healthy.ok());
  EXPECT_FALSE(healthy->server_saturated.value());
}

TEST(RunResultTest, AServerSaturatedThatIsNotABoolIsRefused) {
  std::string text = testing::SynthResultJson(testing::SynthRun{});
  const std::string key = "\"server_saturated\":false";
  ASSERT_NE(text.find(key), std::string::npos);
  text.replace(text.find(key), key.size(), "\"server_saturated\":\"no\"");
  auto r = ParseRunResult(text, "bad.json");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("rate.server_saturated"), std::string::npos);
}

TEST(RunResultTest, MissingFileIsNotFoundAndNamesThePath) {
  auto r = LoadRunResult(kFixtures + "/does_not_exist.json");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), StatusCode::kNotFound);
  EXPECT_NE(r.error().message().find("does_not_exist.json"), std::string::npos);
}

TEST(RunResultTest, MalformedJsonIsRefused) {
  auto r = LoadRunResult(kFixtures + "/malformed.json");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("not valid JSON"), std::string::npos);
}

TEST(RunResultTest, MissingRequiredFieldIsNamed) {
  auto r = LoadRunResult(kFixtures + "/missing_rate.json");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("'rate'"), std::string::npos) << r.error().message();
}

TEST(RunResultTest, OtherSchemaVersionIsRefused) {
  auto r = LoadRunResult(kFixtures + "/schema_v2.json");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("schema_version is 2"), std::string::npos);
}

TEST(RunResultTest, NonObjectAndBadHistogramAreRefused) {
  EXPECT_FALSE(ParseRunResult("[1, 2]", "array.json").ok());
  std::string text = testing::SynthResultJson({});
  const auto at = text.find("HLL1:");
  ASSERT_NE(at, std::string::npos);
  text[at + 8] = text[at + 8] == 'A' ? 'B' : 'A';  // breaks the checksum
  auto r = ParseRunResult(text, "corrupt.json");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("latency_histogram"), std::string::npos);
}

TEST(RunResultTest, SeedsParseAsDecimalOrHex) {
  EXPECT_EQ(*ParseSeed("0xDEADBEEF"), 0xDEADBEEFULL);
  EXPECT_EQ(*ParseSeed("0xabcd1234"), 0xABCD1234ULL);
  EXPECT_EQ(*ParseSeed("42"), 42u);
  EXPECT_FALSE(ParseSeed("").ok());
  EXPECT_FALSE(ParseSeed("0x").ok());
  EXPECT_FALSE(ParseSeed("12ab").ok());
  EXPECT_FALSE(ParseSeed("0x10000000000000000").ok());
}

TEST(BaselinesTest, ShippedFileHasNeo4jForTheHybridScenarioAndNoInventedNumbers) {
  auto b =
      LoadBaselines(std::string(ENGRAM_SOURCE_DIR) + "/docs/reference/competitive_baselines.json");
  ASSERT_TRUE(b.ok()) << b.error().ToString();
  auto p99 = b->Find("hybrid_production_100k", kMetricP99Ms);
  ASSERT_EQ(p99.size(), 1u);
  EXPECT_EQ(p99[0].system, "Neo4j");
  EXPECT_DOUBLE_EQ(*p99[0].value, 27.96);
  auto qps = b->Find("hybrid_production_100k", kMetricThroughput);
  ASSERT_EQ(qps.size(), 1u);
  EXPECT_DOUBLE_EQ(*qps[0].value, 280.0);
  auto qdrant = b->Find("qdrant_ann_1m_768d", kMetricP99Ms);
  ASSERT_EQ(qdrant.size(), 1u);
  EXPECT_DOUBLE_EQ(*qdrant[0].value, 23.0);
  for (const CompetitiveBaseline& e : b->baselines) {
    EXPECT_FALSE(e.source.empty()) << e.system;
    EXPECT_FALSE(e.date.empty()) << e.system;
    EXPECT_FALSE(e.hardware.empty()) << e.system;
    if (!e.value) {
      EXPECT_NE(e.note.find("not measured here"), std::string::npos) << e.system;
    }
  }
}

TEST(BaselinesTest, EntriesWithoutSourceAreRefused) {
  EXPECT_FALSE(ParseBaselines(R"({"baselines":[{"system":"X","metric":"p99_latency_ms",
      "value":1,"scenario":"s"}]})",
                              "b.json")
                   .ok());
  EXPECT_FALSE(ParseBaselines(R"({"nothing":1})", "b.json").ok());
  auto ok = ParseBaselines(R"({"baselines":[{"system":"X","metric":"p99_latency_ms",
      "value":null,"source":"s","scenario":["a","b"]}]})",
                           "b.json");
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(ok->Find("a", kMetricP99Ms).empty());  // no value: never compared
}

}  // namespace
}  // namespace engram::analysis
