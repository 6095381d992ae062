#include "workload/scenario.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "workload/digest.h"

namespace engram::workload {
namespace {

Scenario ParseOk(const std::string& text) {
  Result<Scenario> r = ParseScenario(text, "test.toml");
  EXPECT_TRUE(r.ok()) << r.error().ToString();
  return r.ok() ? *r : Scenario{};
}

std::string ParseError(const std::string& text) {
  Result<Scenario> r = ParseScenario(text, "test.toml");
  EXPECT_FALSE(r.ok()) << "expected an error for:\n" << text;
  if (r.ok()) return "";
  EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument) << r.error().ToString();
  return r.error().message();
}

constexpr const char* kMinimal = R"(name = "t"
description = "d"
[arrival]
pattern = "constant"
rate = 100.0
[operations]
store_weight = 1
)";

TEST(ScenarioTest, EveryShippedScenarioParses) {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(ENGRAM_SCENARIOS_DIR)) {
    if (e.is_regular_file() && e.path().extension() == ".toml") files.push_back(e.path());
  }
  // The scenarios the spec and DESIGN.md name must all be there.
  for (const char* want :
       {"m17_baseline.toml", "competitive/hybrid_production_100k.toml",
        "competitive/qdrant_ann_1m_768d.toml", "competitive/neo4j_traversal_100k.toml",
        "competitive/milvus_ann_10m_768d.toml", "production/diurnal.toml", "production/burst.toml",
        "scaling/ramp_to_break.toml", "legacy/m17_legacy_schema.toml",
        "capacity/health_only.toml"}) {
    const std::string path = std::string(ENGRAM_SCENARIOS_DIR) + "/" + want;
    EXPECT_NE(std::find(files.begin(), files.end(), path), files.end()) << "missing " << want;
  }
  for (const std::string& f : files) {
    Result<Scenario> s = LoadScenario(f);
    ASSERT_TRUE(s.ok()) << f << ": " << s.error().ToString();
    EXPECT_EQ(s->source_path, f);
    EXPECT_EQ(s->content_hash.size(), 16u);
    EXPECT_FALSE(DescribeScenario(*s).empty());
  }
}

TEST(ScenarioTest, M17BaselineIsTheSpecifiedScenario) {
  Result<Scenario> r = LoadScenario(std::string(ENGRAM_SCENARIOS_DIR) + "/m17_baseline.toml");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  const Scenario& s = *r;
  EXPECT_EQ(s.name, "M17 Baseline");
  EXPECT_EQ(s.seed, 0xDEADBEEFu);
  EXPECT_TRUE(s.seed_given);
  EXPECT_DOUBLE_EQ(s.duration_seconds, 60);
  ASSERT_TRUE(s.arrival.has_value());
  EXPECT_EQ(s.arrival->kind, PatternKind::kConstant);
  EXPECT_DOUBLE_EQ(s.arrival->rate, 1000);
  EXPECT_DOUBLE_EQ(s.weight(OpKind::kStore), 0.4);
  EXPECT_DOUBLE_EQ(s.weight(OpKind::kRecall), 0.4);
  EXPECT_DOUBLE_EQ(s.weight(OpKind::kSemanticRecall), 0.1);
  EXPECT_DOUBLE_EQ(s.weight(OpKind::kBlendedRecall), 0.1);
  EXPECT_DOUBLE_EQ(s.weight(OpKind::kSearch), 0);
  EXPECT_EQ(s.data.num_nodes, 10000u);
  EXPECT_EQ(s.data.embedding_dim, 768);
  EXPECT_EQ(s.data.distribution.kind, DistributionKind::kClustered);
  EXPECT_TRUE(s.data.preload);
  EXPECT_DOUBLE_EQ(*s.validation.expected_p99_latency_ms, 10.0);
  EXPECT_DOUBLE_EQ(*s.validation.max_error_rate, 0.01);
}

TEST(ScenarioTest, CompetitiveHybridUsesTheCompetitiveSeedAndMix) {
  Result<Scenario> r =
      LoadScenario(std::string(ENGRAM_SCENARIOS_DIR) + "/competitive/hybrid_production_100k.toml");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->seed, 0xABCD1234u);
  EXPECT_EQ(r->data.num_nodes, 100000u);
  EXPECT_EQ(r->data.graph.shape, GraphShape::kScaleFree);
  EXPECT_DOUBLE_EQ(r->weight(OpKind::kSearch), 0.3);
  EXPECT_DOUBLE_EQ(r->weight(OpKind::kPatternCompletion), 0.1);
  EXPECT_DOUBLE_EQ(r->duration_seconds, 60);
}

TEST(ScenarioTest, LegacySchemaFileParsesUnchanged) {
  Result<Scenario> r =
      LoadScenario(std::string(ENGRAM_SCENARIOS_DIR) + "/legacy/m17_legacy_schema.toml");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  const Scenario& s = *r;
  EXPECT_FALSE(s.seed_given);
  EXPECT_EQ(s.seed, kDefaultSeed);
  EXPECT_EQ(s.arrival->kind, PatternKind::kPeriodicBurst);
  EXPECT_DOUBLE_EQ(s.arrival->burst_duration_sec, 5);
  EXPECT_DOUBLE_EQ(s.arrival->burst_period_sec, 20);
  EXPECT_DOUBLE_EQ(s.weight(OpKind::kStore), 40);
  EXPECT_DOUBLE_EQ(s.weight(OpKind::kRecall), 50);
  EXPECT_DOUBLE_EQ(s.weight(OpKind::kSearch), 10);
  EXPECT_EQ(s.data.distribution.num_clusters, 50);
  EXPECT_DOUBLE_EQ(s.data.distribution.std_dev, 0.15);
  EXPECT_FALSE(s.chaos_enabled);
}

// The example in DESIGN.md, verbatim apart from the description.
TEST(ScenarioTest, DesignDocumentExampleParses) {
  Scenario s = ParseOk(R"(
name = "M17 Baseline"                 # required
description = "..."                   # required
[duration]
total_seconds = 60                    # table optional; default 300
[arrival]                             # required; the pattern's parameters sit beside `pattern`
pattern = "constant"                  # constant: rate
rate = 1000.0
[operations]                          # relative weights: need not sum to 1 (40/50/10 is valid)
store_weight = 0.4
recall_weight = 0.4
embedding_search_weight = 0.1
pattern_completion_weight = 0.1       # optional, default 0
[data]
num_nodes = 100_000
embedding_dim = 768
memory_spaces = 1                     # > 1: spaces named space_0 .. space_{n-1}
embedding_distribution = { type = "clustered", num_clusters = 50, std_dev = 0.15 }
[validation]                          # optional; each key optional
expected_p99_latency_ms = 10.0
expected_throughput_ops_sec = 900.0
max_error_rate = 0.01
[chaos]                               # optional
enabled = false
)");
  EXPECT_EQ(s.data.num_nodes, 100000u);
  EXPECT_EQ(s.data.distribution.num_clusters, 50);
  EXPECT_DOUBLE_EQ(s.weight(OpKind::kPatternCompletion), 0.1);
}

// docs/scenario_format.md's example must stay a valid scenario.
TEST(ScenarioTest, DocumentedExampleParses) {
  std::ifstream in(std::string(ENGRAM_DOCS_DIR) + "/scenario_format.md");
  ASSERT_TRUE(in.good());
  std::stringstream doc;
  doc << in.rdbuf();
  const std::string text = doc.str();
  const size_t section = text.find("## Example");
  ASSERT_NE(section, std::string::npos);
  const size_t begin = text.find("```toml\n", section);
  ASSERT_NE(begin, std::string::npos);
  const size_t end = text.find("```", begin + 8);
  ASSERT_NE(end, std::string::npos);
  const Scenario s = ParseOk(text.substr(begin + 8, end - begin - 8));
  EXPECT_EQ(s.phases.size(), 2u);
  EXPECT_EQ(s.data.graph.shape, GraphShape::kScaleFree);
}

TEST(ScenarioTest, LegacyPatternsAndDistributionsParse) {
  Scenario p = ParseOk(R"(name = "p"
description = "d"
[arrival]
pattern = "poisson"
lambda = 250.0
[operations]
recall_weight = 1
[data]
embedding_dim = 4
embedding_distribution = { type = "hot_spot", center = [1.0, 0.5] }
)");
  EXPECT_EQ(p.arrival->kind, PatternKind::kPoisson);
  EXPECT_EQ(p.arrival->spacing, Spacing::kPoisson);
  EXPECT_DOUBLE_EQ(p.arrival->rate, 250);
  EXPECT_DOUBLE_EQ(p.duration_seconds, 300);  // [duration] absent: the legacy default
  EXPECT_EQ(p.data.distribution.kind, DistributionKind::kHotSpot);
  EXPECT_EQ(p.data.distribution.center, (std::vector<double>{1.0, 0.5, 0.0, 0.0}));

  Scenario e = ParseOk(R"(name = "e"
description = "d"
[arrival]
pattern = "exponential"
lambda = 10
[operations]
store_weight = 1
[data.embedding_distribution]
type = "uniform"
)");
  EXPECT_EQ(e.arrival->kind, PatternKind::kExponential);
  EXPECT_EQ(e.data.distribution.kind, DistributionKind::kUniform);

  Scenario d = ParseOk(kMinimal);
  EXPECT_EQ(d.data.distribution.kind, DistributionKind::kClustered);
  EXPECT_EQ(d.data.distribution.num_clusters, 10);
  EXPECT_DOUBLE_EQ(d.data.distribution.std_dev, 0.1);
}

TEST(ScenarioTest, UnknownKeyErrorNamesTheKeyAndItsLine) {
  const std::string msg = ParseError(R"(name = "t"
description = "d"
[arrival]
pattern = "constant"
rate = 100.0
[operations]
store_weight = 1
stor_weight = 2
)");
  EXPECT_NE(msg.find("test.toml:8:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("operations.stor_weight"), std::string::npos) << msg;
}

TEST(ScenarioTest, UnknownKeysAreCaughtInEveryTable) {
  struct Case {
    std::string text;
    std::string key;
    std::string line;
  };
  const std::vector<Case> cases = {
      {std::string(kMinimal) + "bogus = 1\n", "operations.bogus", "test.toml:8:"},
      {"nam = \"x\"\n" + std::string(kMinimal), "'nam'", "test.toml:1:"},
      {std::string(kMinimal) + "[data]\nembedding_distribution = { type = \"clustered\", "
                               "clusters = 3 }\n",
       "data.embedding_distribution.clusters", "test.toml:9:"},
      {std::string(kMinimal) + "[data]\ngraph = { shape = \"random\", degree = 3 }\n",
       "data.graph.degree", "test.toml:9:"},
      {std::string(kMinimal) + "[operations.traversal]\nk = 3\n", "operations.traversal.k",
       "test.toml:9:"},
      {std::string(kMinimal) + "[validation]\np99 = 3\n", "validation.p99", "test.toml:9:"},
      {std::string(kMinimal) + "[chaos]\nenabled = true\nkind = \"kill\"\n", "chaos.kind",
       "test.toml:10:"},
      // A parameter of another pattern is unknown for this one.
      {"name = \"t\"\ndescription = \"d\"\n[arrival]\npattern = \"constant\"\nrate = 1.0\n"
       "burst_rate = 5.0\n[operations]\nstore_weight = 1\n",
       "arrival.burst_rate", "test.toml:6:"},
      {std::string(kMinimal) + "[[phases]]\nduration_sec = 10\npattern = \"ramp\"\n"
                               "from_rate = 1\nto_rate = 2\nrate = 3\n",
       "phases[0].rate", "test.toml:13:"},
      {std::string(kMinimal) + "[duration]\nseconds = 5\n", "duration.seconds", "test.toml:9:"},
  };
  for (const Case& c : cases) {
    const std::string msg = ParseError(c.text);
    EXPECT_NE(msg.find(c.key), std::string::npos) << msg;
    EXPECT_NE(msg.find(c.line), std::string::npos) << msg;
    EXPECT_NE(msg.find("unknown key"), std::string::npos) << msg;
  }
}

TEST(ScenarioTest, OutOfRangeAndMistypedValuesAreErrorsNamingKeyAndLine) {
  auto with_arrival = [](const std::string& arrival) {
    return "name = \"t\"\ndescription = \"d\"\n[arrival]\n" + arrival +
           "\n[operations]\nstore_weight = 1\n";
  };
  struct Case {
    std::string text;
    std::string key;
    std::string line;
  };
  const std::vector<Case> cases = {
      {with_arrival("pattern = \"constant\"\nrate = -5.0"), "arrival.rate", "test.toml:5:"},
      {with_arrival("pattern = \"constant\"\nrate = 0"), "arrival.rate", "test.toml:5:"},
      {with_arrival("pattern = \"constant\"\nrate = \"fast\""), "arrival.rate", "test.toml:5:"},
      {with_arrival("pattern = \"sawtooth\""), "arrival.pattern", "test.toml:4:"},
      {with_arrival("pattern = \"diurnal\"\nbase_rate = 10.0\namplitude = 20.0\nperiod_sec = 5"),
       "arrival.amplitude", "test.toml:6:"},
      {with_arrival("pattern = \"periodic_burst\"\nbase_rate = 1.0\nburst_rate = 5.0\n"
                    "burst_duration_sec = 30\nburst_period_sec = 10"),
       "arrival.burst_duration_sec", "test.toml:7:"},
      {with_arrival("pattern = \"step\"\nrates = [0.0, 0.0]\nstep_sec = 5"), "arrival.rates",
       "test.toml:5:"},
      {with_arrival("pattern = \"step\"\nrates = [1.0, -2.0]\nstep_sec = 5"), "arrival.rates",
       "test.toml:5:"},
      {std::string(kMinimal) + "[data]\nembedding_dim = 0\n", "data.embedding_dim", "test.toml:9:"},
      {std::string(kMinimal) + "[data]\nnum_nodes = 1.5\n", "data.num_nodes", "test.toml:9:"},
      {std::string(kMinimal) + "[data]\nmemory_spaces = -1\n", "data.memory_spaces",
       "test.toml:9:"},
      {std::string(kMinimal) + "[data]\nembedding_distribution = { type = \"clustered\", "
                               "std_dev = -0.1 }\n",
       "data.embedding_distribution.std_dev", "test.toml:9:"},
      {std::string(kMinimal) + "[validation]\nmax_error_rate = 1.5\n", "validation.max_error_rate",
       "test.toml:9:"},
      {std::string(kMinimal) + "[duration]\ntotal_seconds = -60\n", "duration.total_seconds",
       "test.toml:9:"},
      {std::string(kMinimal) + "[chaos]\nenabled = \"yes\"\n", "chaos.enabled", "test.toml:9:"},
      {std::string(kMinimal) + "[operations.params]\nk = 0\n", "operations.params.k",
       "test.toml:9:"},
      {std::string(kMinimal) + "[connections]\ncount = 0\n", "connections.count", "test.toml:9:"},
      {"seed = -1\n" + std::string(kMinimal), "seed", "test.toml:1:"},
      {"seed = \"0xZZ\"\n" + std::string(kMinimal), "seed", "test.toml:1:"},
      {"seed = \"0x1FFFFFFFFFFFFFFFF\"\n" + std::string(kMinimal), "seed", "test.toml:1:"},
  };
  for (const Case& c : cases) {
    const std::string msg = ParseError(c.text);
    EXPECT_NE(msg.find(c.key), std::string::npos) << msg;
    EXPECT_NE(msg.find(c.line), std::string::npos) << msg;
  }
}

TEST(ScenarioTest, AllZeroWeightsAreAnError) {
  const std::string msg = ParseError(R"(name = "t"
description = "d"
[arrival]
pattern = "constant"
rate = 10.0
[operations]
store_weight = 0
recall_weight = 0.0
)");
  EXPECT_NE(msg.find("test.toml:6:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("weights are zero"), std::string::npos) << msg;
  const std::string neg = ParseError(std::string(kMinimal) + "recall_weight = -1\n");
  EXPECT_NE(neg.find("operations.recall_weight"), std::string::npos) << neg;
}

TEST(ScenarioTest, MissingRequiredPartsAreErrors) {
  EXPECT_NE(ParseError("description = \"d\"\n[arrival]\npattern = \"constant\"\nrate = 1.0\n"
                       "[operations]\nstore_weight = 1\n")
                .find("'name'"),
            std::string::npos);
  EXPECT_NE(ParseError("name = \"t\"\ndescription = \"d\"\n[operations]\nstore_weight = 1\n")
                .find("[arrival]"),
            std::string::npos);
  EXPECT_NE(ParseError("name = \"t\"\ndescription = \"d\"\n[arrival]\npattern = \"constant\"\n"
                       "[operations]\nstore_weight = 1\n")
                .find("arrival.rate"),
            std::string::npos);
  // Traversal needs nodes to start from.
  const std::string traversal =
      ParseError(std::string(kMinimal) + "traversal_weight = 1\n[data]\nnum_nodes = 0\n");
  EXPECT_NE(traversal.find("test.toml:8: operations.traversal_weight"), std::string::npos)
      << traversal;
}

TEST(ScenarioTest, SyntaxErrorNamesTheLine) {
  const std::string msg = ParseError("name = \"t\"\ndescription = \"d\"\n[arrival\n");
  EXPECT_NE(msg.find("test.toml:3:"), std::string::npos) << msg;
}

TEST(ScenarioTest, HexSeedIsAcceptedAsIntegerOrString) {
  EXPECT_EQ(ParseOk("seed = 0xDEADBEEF\n" + std::string(kMinimal)).seed, 0xDEADBEEFu);
  EXPECT_EQ(ParseOk("seed = \"0xABCD1234\"\n" + std::string(kMinimal)).seed, 0xABCD1234u);
  EXPECT_EQ(ParseOk("seed = \"0xFFFFFFFFFFFFFFFF\"\n" + std::string(kMinimal)).seed,
            0xFFFFFFFFFFFFFFFFull);
  EXPECT_EQ(ParseOk("seed = \"18446744073709551615\"\n" + std::string(kMinimal)).seed,
            0xFFFFFFFFFFFFFFFFull);
  EXPECT_EQ(ParseOk("seed = 42\n" + std::string(kMinimal)).seed, 42u);
  EXPECT_EQ(ParseOk("seed = 0x7FFFFFFFFFFFFFFF\n" + std::string(kMinimal)).seed,
            0x7FFFFFFFFFFFFFFFull);
  const Scenario d = ParseOk(kMinimal);
  EXPECT_EQ(d.seed, 0xDEADBEEFu);
  EXPECT_FALSE(d.seed_given);
  EXPECT_EQ(FormatSeed(0xDEADBEEF), "0xdeadbeef");
}

TEST(ScenarioTest, PhasesReplaceArrivalAndSetTheDuration) {
  const Scenario s = ParseOk(std::string(kMinimal) + R"(
[[phases]]
name = "up"
duration_sec = 30
pattern = "ramp"
from_rate = 10.0
to_rate = 100.0
[[phases]]
duration_sec = 20
pattern = "step"
rates = [100, 200]
step_sec = 10
spacing = "poisson"
[[phases]]
duration_sec = 10
pattern = "diurnal"
base_rate = 50.0
amplitude = 25.0
period_sec = 10
)");
  ASSERT_EQ(s.phases.size(), 3u);
  EXPECT_DOUBLE_EQ(s.duration_seconds, 60);
  EXPECT_EQ(s.phases[0].name, "up");
  EXPECT_EQ(s.phases[1].pattern.spacing, Spacing::kPoisson);
  EXPECT_EQ(s.MeasuredPhases().size(), 3u);
  // A [duration] that disagrees with the phases is an error.
  const std::string msg = ParseError(std::string(kMinimal) +
                                     "[duration]\ntotal_seconds = 99\n[[phases]]\n"
                                     "duration_sec = 10\npattern = \"constant\"\nrate = 5.0\n");
  EXPECT_NE(msg.find("total_seconds"), std::string::npos) << msg;
}

TEST(ScenarioTest, OperationParametersApplyCommonThenPerKind) {
  const Scenario s = ParseOk(std::string(kMinimal) + R"(traversal_weight = 1
embedding_search_weight = 1
[operations.params]
k = 20
hops = 3
[operations.traversal]
hops = 4
[operations.embedding_search]
ef = 200
)");
  EXPECT_EQ(s.op_params(OpKind::kTraversal).hops, 4);
  EXPECT_EQ(s.op_params(OpKind::kActivation).hops, 3);
  EXPECT_EQ(s.op_params(OpKind::kSearch).k, 20);
  EXPECT_EQ(s.op_params(OpKind::kSearch).ef, 200);
  EXPECT_EQ(s.op_params(OpKind::kRecall).ef, 0);
  EXPECT_DOUBLE_EQ(s.op_params(OpKind::kPatternCompletion).completion_fraction, 0.5);
}

TEST(ScenarioTest, HealthWeightNeedsNoDatasetAndTakesNoParameters) {
  const Scenario s = ParseOk(R"(name = "h"
description = "d"
[arrival]
pattern = "constant"
rate = 1000.0
[operations]
health_weight = 1
[operations.health]
[data]
num_nodes = 0
preload = false
)");
  EXPECT_DOUBLE_EQ(s.weight(OpKind::kHealth), 1);
  EXPECT_EQ(OpKindKeyStem(OpKind::kHealth), "health");
  EXPECT_EQ(s.data.num_nodes, 0u);
  // Health has no parameters: any key in its table is unknown, and the error names the kinds.
  const std::string msg = ParseError(std::string(kMinimal) + "health_weight = 1\n[operations.health]\nk = 3\n");
  EXPECT_NE(msg.find("operations.health.k"), std::string::npos) << msg;
  EXPECT_NE(msg.find("test.toml:10:"), std::string::npos) << msg;
  const std::string typo = ParseError(std::string(kMinimal) + "helth_weight = 1\n");
  EXPECT_NE(typo.find("health"), std::string::npos) << typo;
}

TEST(ScenarioTest, ContentHashIsFnv1aOfTheFileBytes) {
  const Scenario s = ParseOk(kMinimal);
  EXPECT_EQ(s.content_hash, Fnv1a64Hex(kMinimal));
  EXPECT_EQ(Fnv1a64Hex(""), "cbf29ce484222325");
  EXPECT_EQ(Fnv1a64Hex("a"), "af63dc4c8601ec8c");
}

TEST(ScenarioTest, MissingFileIsNotFound) {
  Result<Scenario> r = LoadScenario("/nonexistent/scenario.toml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), StatusCode::kNotFound);
}

TEST(ScenarioTest, OpKindNamesAreThoseOfTheResultFile) {
  const std::vector<std::string> expected = {
      "Store",     "Recall",     "SemanticRecall", "BlendedRecall", "Search", "PatternCompletion",
      "Traversal", "Activation", "Consolidation",  "Health"};
  ASSERT_EQ(expected.size(), static_cast<size_t>(kNumOpKinds));
  for (int i = 0; i < kNumOpKinds; ++i) {
    EXPECT_EQ(OpKindName(kAllOpKinds[i]), expected[i]);
    EXPECT_EQ(OpKindFromName(expected[i]), kAllOpKinds[i]);
  }
  EXPECT_FALSE(OpKindFromName("Bogus").has_value());
}

}  // namespace
}  // namespace engram::workload
