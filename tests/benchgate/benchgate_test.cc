// Tests of the regression gate's parts: Google Benchmark JSON, statistics, fingerprints,
// baselines, the compare rules on fixture files, callgrind output, history, change points and
// report.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <utility>
#include <vector>

#include "benchgate/callgrind.h"
#include "benchgate/changepoint.h"
#include "benchgate/compare.h"
#include "benchgate/fingerprint.h"
#include "benchgate/gbench_json.h"
#include "benchgate/history.h"
#include "benchgate/json_util.h"
#include "benchgate/libraries.h"
#include "benchgate/report.h"
#include "benchgate/results.h"
#include "benchgate/runner.h"
#include "benchgate/stats.h"
#include "core/random.h"
#include "test_util.h"

namespace engram::benchgate {
namespace {

using testing::RunCommand;
using testing::TempDir;

const std::string kFixtures = BENCHGATE_FIXTURES;
const std::string kBenchGate = BENCH_GATE_BIN;

std::string Fixture(const std::string& name) { return kFixtures + "/" + name; }

std::vector<std::string> ScenarioFiles(const std::string& scenario) {
  return {Fixture(scenario + "_p0.json"), Fixture(scenario + "_p1.json"),
          Fixture(scenario + "_p2.json")};
}

Fingerprint FixtureFingerprint(const std::string& file) {
  auto doc = ParseJson(*ReadFile(Fixture(file)));
  return FingerprintFromJson(doc->as_object().at("fingerprint").as_object());
}

// A ResultSet from a fixture scenario, on the given fingerprint.
ResultSet ScenarioSet(const std::string& scenario, const Fingerprint& fp) {
  ResultSet set;
  StampResultSet(set, fp, "fixture");
  std::vector<GbFile> files;
  for (const auto& path : ScenarioFiles(scenario)) files.push_back(*ReadGbenchJsonFile(path));
  EXPECT_TRUE(AddGbenchSamples(files, "cpu_time", 0, set).ok());
  Summarize(set);
  return set;
}

const RowResult& Row(const Comparison& c, const std::string& name) {
  auto it = std::find_if(c.rows.begin(), c.rows.end(),
                         [&](const RowResult& r) { return r.benchmark == name; });
  EXPECT_NE(it, c.rows.end()) << name;
  return *it;
}

// --- Google Benchmark JSON -------------------------------------------------------------------

TEST(GbenchJsonTest, NormalizeDropsOptionSuffixesOnly) {
  EXPECT_EQ(NormalizeBenchmarkName("engine_search_10k_768d/iterations:4"), "engine_search_10k_768d");
  EXPECT_EQ(NormalizeBenchmarkName("vector_similarity_768d_1000c/scalar/iterations:8"),
            "vector_similarity_768d_1000c/scalar");
  EXPECT_EQ(NormalizeBenchmarkName("x/repeats:5/min_time:0.050/real_time"), "x");
  EXPECT_EQ(NormalizeBenchmarkName("decay_calculation_10000m"), "decay_calculation_10000m");
}

TEST(GbenchJsonTest, ParsesRunsContextAndConvertsUnits) {
  auto ns = ReadGbenchJsonFile(Fixture("baseline_p0.json"));
  ASSERT_TRUE(ns.ok()) << ns.error().ToString();
  EXPECT_EQ(ns->context.at("simd_target"), "AVX2");
  EXPECT_EQ(ns->context.at("library_build_type"), "debug");
  ASSERT_EQ(ns->runs.size(), 18u);  // 3 benchmarks x (5 repetitions + 1 aggregate)
  EXPECT_FALSE(ns->runs[0].aggregate);
  EXPECT_TRUE(ns->runs[5].aggregate);
  EXPECT_NEAR(ns->runs[0].cpu_time_ns, 1000, 5);
  auto us = ReadGbenchJsonFile(Fixture("current_pass_p0.json"));
  ASSERT_TRUE(us.ok());
  EXPECT_NEAR(us->runs[0].cpu_time_ns, 1010, 10);  // written in microseconds
  EXPECT_GT(us->runs[0].counters.at("items_per_second"), 0);
}

TEST(GbenchJsonTest, FailedRunIsAnErrorNamingTheBenchmark) {
  auto file = ParseGbenchJson(R"({"context":{},"benchmarks":[{"name":"bad","run_name":"bad",
      "run_type":"iteration","iterations":0,"real_time":0,"cpu_time":0,"time_unit":"ns",
      "error_occurred":true,"error_message":"boom"}]})");
  ASSERT_TRUE(file.ok());
  ResultSet set;
  Status st = AddGbenchSamples({*file}, "cpu_time", 0, set);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("bad"), std::string::npos);
  EXPECT_NE(st.message().find("boom"), std::string::npos);
}

TEST(GbenchJsonTest, RejectsNonBenchmarkJson) {
  EXPECT_FALSE(ParseGbenchJson("{\"foo\": 1}").ok());
  EXPECT_FALSE(ParseGbenchJson("not json").ok());
}

// --- statistics -----------------------------------------------------------------------------

TEST(StatsTest, MedianMeanStdDev) {
  EXPECT_EQ(Median({3, 1, 2}), 2);
  EXPECT_EQ(Median({4, 1, 2, 3}), 2.5);
  EXPECT_DOUBLE_EQ(Mean({1, 2, 3, 4}), 2.5);
  EXPECT_NEAR(StdDev({2, 4, 4, 4, 5, 5, 7, 9}), 2.138, 1e-3);
}

TEST(StatsTest, HolmMatchesHandComputedValues) {
  // p sorted: 0.01 (x4 = 0.04), 0.02 (x3 = 0.06), 0.03 (x2 = 0.06), 0.04 (x1, max so far 0.06)
  const auto adj = HolmAdjust({0.03, 0.01, 0.04, 0.02});
  EXPECT_NEAR(adj[1], 0.04, 1e-12);
  EXPECT_NEAR(adj[3], 0.06, 1e-12);
  EXPECT_NEAR(adj[0], 0.06, 1e-12);
  EXPECT_NEAR(adj[2], 0.06, 1e-12);
}

TEST(StatsTest, BootstrapIsSeededAndBracketsTheEstimate) {
  Sample a{{100, 101, 99, 100, 102, 98}, {0, 0, 1, 1, 2, 2}};
  Sample b{{110, 111, 109, 110, 112, 108}, {0, 0, 1, 1, 2, 2}};
  const RatioInterval r1 = BootstrapRatioOfMedians(a, b, 2000, 0.95, 7);
  const RatioInterval r2 = BootstrapRatioOfMedians(a, b, 2000, 0.95, 7);
  EXPECT_EQ(r1.low, r2.low);
  EXPECT_EQ(r1.high, r2.high);
  EXPECT_TRUE(r1.by_process);
  EXPECT_NEAR(r1.estimate, 1.10, 1e-9);
  EXPECT_LE(r1.low, r1.estimate);
  EXPECT_GE(r1.high, r1.estimate);
  EXPECT_GT(r1.low, 1.0);
  EXPECT_LT(r1.p_slower, 0.01);
}

// --- compare on fixture files ---------------------------------------------------------------

class CompareFixtureTest : public ::testing::Test {
 protected:
  Fingerprint here_ = FixtureFingerprint("fingerprint_here.json");
  Fingerprint other_ = FixtureFingerprint("fingerprint_other.json");
  BaselinesFile baselines_{{ScenarioSet("baseline", here_)}};
  CompareOptions options_;
};

TEST_F(CompareFixtureTest, SmallChangesPass) {
  const Comparison c = Compare(baselines_, ScenarioSet("current_pass", here_), options_);
  ASSERT_TRUE(c.compared) << c.message;
  for (const auto& r : c.rows) EXPECT_EQ(r.verdict, Verdict::kPass) << r.benchmark;
  EXPECT_EQ(c.ExitCode(false), 0);
}

TEST_F(CompareFixtureTest, TwelvePercentSlowerIsARegression) {
  const Comparison c = Compare(baselines_, ScenarioSet("current_regression", here_), options_);
  const RowResult& b = Row(c, "bench_b");
  EXPECT_EQ(b.verdict, Verdict::kRegression);
  EXPECT_NEAR(b.change, 0.12, 0.01);
  EXPECT_GT(b.low, 0.0);
  EXPECT_EQ(Row(c, "bench_a").verdict, Verdict::kPass);
  EXPECT_EQ(c.ExitCode(false), 1);
  EXPECT_NE(FormatTable(c).find("REGRESSION"), std::string::npos);
}

TEST_F(CompareFixtureTest, FifteenPercentFasterIsAnImprovementAndPasses) {
  const Comparison c = Compare(baselines_, ScenarioSet("current_improvement", here_), options_);
  EXPECT_EQ(Row(c, "bench_a").verdict, Verdict::kImprovement);
  EXPECT_LT(Row(c, "bench_a").high, 0.0);
  EXPECT_EQ(c.ExitCode(false), 0);
}

TEST_F(CompareFixtureTest, DisagreeingProcessRunsAreNoisyNotARegression) {
  const Comparison c = Compare(baselines_, ScenarioSet("current_noisy", here_), options_);
  const RowResult& r = Row(c, "bench_c");
  EXPECT_EQ(r.verdict, Verdict::kNoisy);
  EXPECT_LT(r.low, 0.0);  // the interval includes zero
  EXPECT_EQ(c.ExitCode(false), 0);
  EXPECT_EQ(c.ExitCode(true), 3);
}

TEST_F(CompareFixtureTest, OtherFingerprintIsNotComparedUnlessForced) {
  BaselinesFile other{{ScenarioSet("baseline", other_)}};
  const Comparison c = Compare(other, ScenarioSet("current_regression", here_), options_);
  EXPECT_FALSE(c.compared);
  EXPECT_EQ(c.ExitCode(false), 0);
  EXPECT_NE(c.message.find("NOT COMPARED"), std::string::npos);
  std::vector<std::string> fields;
  for (const auto& d : c.differences) fields.push_back(d.field);
  EXPECT_NE(std::find(fields.begin(), fields.end(), "cpu_model"), fields.end());
  EXPECT_NE(std::find(fields.begin(), fields.end(), "simd_target"), fields.end());

  CompareOptions forced = options_;
  forced.force = true;
  const Comparison f = Compare(other, ScenarioSet("current_regression", here_), forced);
  EXPECT_TRUE(f.compared);
  EXPECT_TRUE(f.forced);
  EXPECT_EQ(f.ExitCode(false), 1);
}

TEST_F(CompareFixtureTest, InstructionModeIgnoresTheNativeTargetButNotValgrinds) {
  // Same CPU, compiler and valgrind target, different native target: instruction counts are
  // still comparable; wall times are not.
  Fingerprint native_only = here_;
  native_only.simd_target = "AVX3";
  const auto for_instructions = Differences(here_, native_only, Mode::kInstructions);
  ASSERT_EQ(for_instructions.size(), 1u);
  EXPECT_EQ(for_instructions[0].field, "simd_target");
  EXPECT_FALSE(AnyMatters(for_instructions));
  EXPECT_TRUE(AnyMatters(Differences(here_, native_only, Mode::kWallTime)));
  Fingerprint valgrind_differs = here_;
  valgrind_differs.valgrind_simd_target = "SSE4";
  EXPECT_TRUE(AnyMatters(Differences(here_, valgrind_differs, Mode::kInstructions)));
  // Wall times are measured without Valgrind: its target cannot change them.
  EXPECT_FALSE(AnyMatters(Differences(here_, valgrind_differs, Mode::kWallTime)));
}

TEST(CompareInstructionsTest, ExactCountsGateOnTheThreshold) {
  auto base = ReadResultSet(Fixture("instructions_baseline.json"));
  auto cur = ReadResultSet(Fixture("instructions_current.json"));
  ASSERT_TRUE(base.ok() && cur.ok());
  CompareOptions o;
  o.mode = Mode::kInstructions;
  const Comparison c = Compare(BaselinesFile{{*base}}, *cur, o);
  ASSERT_TRUE(c.compared) << c.message;
  EXPECT_EQ(Row(c, "decay_calculation_10000m").verdict, Verdict::kRegression);       // +6.0%
  EXPECT_EQ(Row(c, "vector_similarity_768d_1000c").verdict, Verdict::kPass);        // +4.0%
  EXPECT_EQ(Row(c, "spreading_activation_1000n_100i").verdict, Verdict::kImprovement);  // -15%
  EXPECT_EQ(c.ExitCode(false), 1);
  // Instruction baselines say nothing about wall time.
  o.mode = Mode::kWallTime;
  EXPECT_FALSE(Compare(BaselinesFile{{*base}}, *cur, o).compared);
}

// --- fingerprints: which differences can change instruction counts ------------------------------

// The instruction-count fixture's set, its counts scaled by `factor` (1.5: an injected +50%).
ResultSet InstructionSet(const Fingerprint& fp, double factor) {
  ResultSet set = *ReadResultSet(Fixture("instructions_baseline.json"));
  set.fingerprint = fp;
  for (auto& [name, b] : set.benchmarks) b.instructions *= factor;
  return set;
}

std::vector<std::string> FieldsOf(const std::vector<FieldDifference>& differences) {
  std::vector<std::string> out;
  for (const auto& d : differences) out.push_back(d.field);
  return out;
}

class InstructionFingerprintTest : public ::testing::Test {
 protected:
  InstructionFingerprintTest() {
    here_.libraries = {"libc.so.6 2.36", "libhwy.so.1 1.0.3", "libstdc++.so.6 6.0.30"};
    baselines_.sets.push_back(InstructionSet(here_, 1.0));
    options_.mode = Mode::kInstructions;
    // The issue's case, and more: another CPU model, other flags (abm, AVX-512), another native
    // target; the same Valgrind, Valgrind target, toolchain and libraries.
    other_host_ = here_;
    other_host_.cpu_model = "Other CPU 42";
    other_host_.isa_flags.push_back("abm");
    other_host_.isa_flags.push_back("avx512f");
    std::sort(other_host_.isa_flags.begin(), other_host_.isa_flags.end());
    other_host_.simd_target = "AVX3";
  }
  Fingerprint here_ = FixtureFingerprint("fingerprint_here.json");
  Fingerprint other_host_;
  BaselinesFile baselines_;
  CompareOptions options_;
};

TEST_F(InstructionFingerprintTest, HostThatDiffersOnlyInFieldsThatCannotMatterIsComparedAndFails) {
  const Comparison slow = Compare(baselines_, InstructionSet(other_host_, 1.5), options_);
  ASSERT_TRUE(slow.compared) << slow.message;
  EXPECT_EQ(FieldsOf(slow.differences),
            (std::vector<std::string>{"cpu_model", "isa_flags", "simd_target"}));
  EXPECT_FALSE(AnyMatters(slow.differences));
  EXPECT_EQ(slow.Count(Verdict::kRegression), 3);
  EXPECT_EQ(slow.ExitCode(false), 1);
  const std::string table = FormatTable(slow);
  EXPECT_NE(table.find("COMPARED: no instructions baseline has exactly this fingerprint"),
            std::string::npos) << table;
  EXPECT_NE(table.find("(cpu_model, isa_flags, simd_target)"), std::string::npos) << table;
  EXPECT_NE(table.find("differs in isa_flags: only here 'abm avx512f' [cannot change instruction "
                       "counts"), std::string::npos) << table;
  EXPECT_NE(table.find("-> FAIL"), std::string::npos) << table;

  const Comparison same = Compare(baselines_, InstructionSet(other_host_, 1.0), options_);
  ASSERT_TRUE(same.compared);
  EXPECT_EQ(same.Count(Verdict::kPass), 3);
  EXPECT_EQ(same.ExitCode(false), 0);
}

TEST_F(InstructionFingerprintTest, EachFieldThatCanChangeCountsRefusesWithTheFieldNamed) {
  const std::vector<std::pair<std::string, void (*)(Fingerprint&)>> changes = {
      {"valgrind_simd_target", [](Fingerprint& f) { f.valgrind_simd_target = "SSE4"; }},
      {"valgrind_version", [](Fingerprint& f) { f.valgrind_version = "valgrind-3.22.0"; }},
      {"compiler", [](Fingerprint& f) { f.compiler = "Clang 16.0.6"; }},
      {"cxx_flags", [](Fingerprint& f) { f.cxx_flags = "-O2 -DNDEBUG"; }},
      {"build_type", [](Fingerprint& f) { f.build_type = "RelWithDebInfo"; }},
      {"libraries", [](Fingerprint& f) { f.libraries[1] = "libhwy.so.1 1.1.0"; }},
      {"arch", [](Fingerprint& f) { f.arch = "aarch64"; }},
  };
  for (const auto& [field, change] : changes) {
    Fingerprint fp = other_host_;  // the host differs too; only `field` may refuse
    change(fp);
    const Comparison c = Compare(baselines_, InstructionSet(fp, 1.5), options_);
    EXPECT_FALSE(c.compared) << field;
    EXPECT_EQ(c.ExitCode(false), 0) << field;
    const auto it = std::find_if(c.differences.begin(), c.differences.end(),
                                 [&](const FieldDifference& d) { return d.field == field; });
    ASSERT_NE(it, c.differences.end()) << field;
    EXPECT_TRUE(it->matters) << field;
    EXPECT_EQ(it->reason, "can change instruction counts") << field;
    EXPECT_NE(c.message.find("The closest differs in " + field + ", which can change instruction "
                             "counts"), std::string::npos) << c.message;
    const std::string table = FormatTable(c);
    EXPECT_NE(table.find("  differs in " + field + ":"), std::string::npos) << table;
    EXPECT_NE(table.find("Result: not compared (exit 0)"), std::string::npos) << table;
    // --force compares anyway and says why it should not have.
    CompareOptions forced = options_;
    forced.force = true;
    const Comparison f = Compare(baselines_, InstructionSet(fp, 1.5), forced);
    EXPECT_TRUE(f.forced) << field;
    EXPECT_EQ(f.ExitCode(false), 1) << field;
  }
}

TEST_F(InstructionFingerprintTest, ListFieldsShowOnlyTheEntriesThatDiffer) {
  Fingerprint fp = here_;
  fp.libraries = {"libc.so.6 2.36", "libhwy.so.1 1.1.0", "libstdc++.so.6 6.0.30"};
  const auto d = Differences(here_, fp, Mode::kInstructions);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_TRUE(d[0].list);
  EXPECT_EQ(DescribeDifference(d[0]),
            "differs in libraries: only in the baseline 'libhwy.so.1 1.0.3', only here "
            "'libhwy.so.1 1.1.0' [can change instruction counts]");
}

TEST_F(InstructionFingerprintTest, BaselineWithoutLibrariesIsComparedOnTheRestAndSaysSo) {
  // A set written before format 2.1 records no libraries: it is compared on the other fields.
  Fingerprint old = here_;
  old.libraries.clear();
  BaselinesFile file{{InstructionSet(old, 1.0)}};
  const Comparison c = Compare(file, InstructionSet(other_host_, 1.5), options_);
  ASSERT_TRUE(c.compared) << c.message;
  EXPECT_EQ(c.ExitCode(false), 1);
  const auto it = std::find_if(c.differences.begin(), c.differences.end(),
                               [](const FieldDifference& d) { return d.field == "libraries"; });
  ASSERT_NE(it, c.differences.end());
  EXPECT_TRUE(it->unrecorded);
  EXPECT_FALSE(it->matters);
  EXPECT_NE(c.message.find("Not checked, because one side does not record them: libraries."),
            std::string::npos) << c.message;
  EXPECT_NE(FormatTable(c).find("libraries: not recorded by the baseline; here 'libc.so.6 2.36, "),
            std::string::npos) << FormatTable(c);
  // But a set without a fingerprint at all (the spec's shape) is never compared.
  ResultSet bare = InstructionSet(Fingerprint{}, 1.0);
  EXPECT_FALSE(Compare(BaselinesFile{{bare}}, InstructionSet(here_, 1.0), options_).compared);
}

TEST_F(InstructionFingerprintTest, AnIdenticalFingerprintIsPreferredToAComparableOne) {
  BaselinesFile file{{InstructionSet(other_host_, 2.0), InstructionSet(here_, 1.0)}};
  const Comparison c = Compare(file, InstructionSet(here_, 1.0), options_);
  ASSERT_TRUE(c.compared);
  EXPECT_TRUE(c.differences.empty());
  EXPECT_TRUE(c.message.empty()) << c.message;
  EXPECT_EQ(c.ExitCode(false), 0);  // against the 2x set it would have been an improvement
  EXPECT_EQ(c.Count(Verdict::kPass), 3);
}

TEST_F(InstructionFingerprintTest, WallTimeStillRefusesAHostWithOtherFlags) {
  // Wall time depends on the host: one extra CPU flag is enough to refuse, as before.
  Fingerprint flags_only = here_;
  flags_only.isa_flags.push_back("abm");
  std::sort(flags_only.isa_flags.begin(), flags_only.isa_flags.end());
  BaselinesFile file{{ScenarioSet("baseline", here_)}};
  const Comparison c =
      Compare(file, ScenarioSet("current_regression", flags_only), CompareOptions{});
  EXPECT_FALSE(c.compared);
  ASSERT_EQ(c.differences.size(), 1u);
  EXPECT_EQ(c.differences[0].field, "isa_flags");
  EXPECT_TRUE(c.differences[0].matters);
  EXPECT_EQ(c.differences[0].reason, "can change wall times");
  EXPECT_NE(FormatTable(c).find("differs in isa_flags: only here 'abm' [can change wall times]"),
            std::string::npos) << FormatTable(c);
}

TEST(FingerprintTest, InstructionKeyIgnoresTheHostAndWallTimeKeyDoesNot) {
  // The history groups runs by these keys: instruction runs from two hosts with the same
  // toolchain are one series, wall-time runs are not.
  Fingerprint a = FixtureFingerprint("fingerprint_here.json");
  Fingerprint b = a;
  b.cpu_model = "Other CPU 42";
  b.isa_flags.push_back("abm");
  EXPECT_EQ(FingerprintKey(a, Mode::kInstructions), FingerprintKey(b, Mode::kInstructions));
  EXPECT_NE(FingerprintKey(a, Mode::kWallTime), FingerprintKey(b, Mode::kWallTime));
  b.libraries = {"libhwy.so.1 1.0.3"};
  EXPECT_NE(FingerprintKey(a, Mode::kInstructions), FingerprintKey(b, Mode::kInstructions));
}

// --- shared libraries ---------------------------------------------------------------------------

TEST(LibrariesTest, ParsesLddOutput) {
  const auto libs = ParseLddOutput(
      "\tlinux-vdso.so.1 (0x00007ffd5a1f2000)\n"
      "\tlibhwy.so.1 => /lib/x86_64-linux-gnu/libhwy.so.1 (0x00007f2b1c5e0000)\n"
      "\tlibmissing.so.2 => not found\n"
      "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f2b1c200000)\n"
      "\t/lib64/ld-linux-x86-64.so.2 (0x00007f2b1c6a0000)\n");
  ASSERT_EQ(libs.size(), 3u);
  EXPECT_EQ(libs[0].name, "libhwy.so.1");
  EXPECT_EQ(libs[0].path, "/lib/x86_64-linux-gnu/libhwy.so.1");
  EXPECT_EQ(libs[1].name, "libc.so.6");
  EXPECT_EQ(libs[2].name, "ld-linux-x86-64.so.2");
  EXPECT_EQ(libs[2].path, "/lib64/ld-linux-x86-64.so.2");
  EXPECT_TRUE(ParseLddOutput("\tstatically linked\n").empty());
}

TEST(LibrariesTest, VersionsComeFromRealFileNamesThenGlibcsBanner) {
  EXPECT_EQ(VersionFromFileName("libhwy.so.1", "libhwy.so.1.0.3"), "1.0.3");
  EXPECT_EQ(VersionFromFileName("libbenchmark.so.1debian", "libbenchmark.so.1.7.1"), "1.7.1");
  EXPECT_EQ(VersionFromFileName("libstdc++.so.6", "libstdc++.so.6.0.30"), "6.0.30");
  EXPECT_EQ(VersionFromFileName("libc.so.6", "libc.so.6"), "");
  EXPECT_EQ(VersionFromFileName("libgcc_s.so.1", "libgcc_s.so.1"), "");
  EXPECT_EQ(VersionFromFileName("libfoo.so", "libfoo.so"), "");
  EXPECT_TRUE(IsGlibcLibrary("libm.so.6"));
  EXPECT_TRUE(IsGlibcLibrary("ld-linux-x86-64.so.2"));
  EXPECT_FALSE(IsGlibcLibrary("libcrypto.so.3"));
  EXPECT_FALSE(IsGlibcLibrary("libhwy.so.1"));
  std::string image(1000, '\0');
  image += "GNU C Library (Debian GLIBC 2.36-9+deb12u4) stable release version 2.36.";
  EXPECT_EQ(GlibcReleaseFromImage(image), "2.36");
  EXPECT_EQ(GlibcReleaseFromImage("no banner here"), "");
}

TEST(LibrariesTest, EveryLibraryOfARealBinaryGetsAVersion) {
  auto libs = LibraryVersions({kBenchGate});
  ASSERT_TRUE(libs.ok()) << libs.error().ToString();
  ASSERT_FALSE(libs->empty());
  bool libc = false;
  for (const std::string& entry : *libs) {
    const size_t space = entry.find(' ');
    ASSERT_NE(space, std::string::npos) << entry;
    EXPECT_FALSE(entry.substr(space + 1).empty()) << entry;
    if (entry.rfind("libc.so.6 ", 0) == 0) {
      libc = true;
      EXPECT_TRUE(std::isdigit(static_cast<unsigned char>(entry[space + 1]))) << entry;
    }
  }
  EXPECT_TRUE(libc);
  EXPECT_TRUE(std::is_sorted(libs->begin(), libs->end()));
}

// --- baselines file -------------------------------------------------------------------------

TEST(BaselinesTest, RoundTripKeepsSamplesAndFingerprint) {
  TempDir dir;
  Fingerprint fp = FixtureFingerprint("fingerprint_here.json");
  fp.libraries = {"libc.so.6 2.36", "libhwy.so.1 1.0.3"};
  BaselinesFile file{{ScenarioSet("baseline", fp)}};
  ASSERT_TRUE(WriteBaselines(dir / "b.json", file).ok());
  auto back = ReadBaselines(dir / "b.json");
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  ASSERT_EQ(back->sets.size(), 1u);
  EXPECT_EQ(back->sets[0].fingerprint, file.sets[0].fingerprint);
  const BenchmarkResult& b = back->sets[0].benchmarks.at("bench_b");
  EXPECT_EQ(b.samples_ns.size(), 15u);
  EXPECT_EQ(b.groups.size(), 15u);
  EXPECT_NEAR(b.median_ns, 50000, 200);
  EXPECT_LE(b.ci_low_ns, b.median_ns);
  EXPECT_GE(b.ci_high_ns, b.median_ns);
  EXPECT_EQ(b.processes, 3);
  const std::string text = *ReadFile(dir / "b.json");
  for (const char* key : {"\"version\"", "\"platform\"", "\"cpu\"", "\"timestamp\"", "\"mean_ns\"",
                          "\"std_dev_ns\"", "\"sample_size\"", "\"ci_low_ns\"", "\"fingerprint\""}) {
    EXPECT_NE(text.find(key), std::string::npos) << key;
  }
}

TEST(BaselinesTest, MissingFileReadsAsEmpty) {
  auto file = ReadBaselines("/nonexistent/baselines.json");
  ASSERT_TRUE(file.ok());
  EXPECT_TRUE(file->sets.empty());
}

TEST(BaselinesTest, SpecShapedFileIsReadable) {
  auto file = ReadBaselines(Fixture("spec_shape_baselines.json"));
  ASSERT_TRUE(file.ok()) << file.error().ToString();
  ASSERT_EQ(file->sets.size(), 1u);
  EXPECT_EQ(file->sets[0].cpu, "Apple M1 Pro");
  EXPECT_EQ(file->sets[0].benchmarks.at("decay_calculation_10000m").mean_ns, 65000000);
}

TEST(BaselinesTest, UpsertReplacesSameFingerprintAndAddsOthers) {
  const Fingerprint here = FixtureFingerprint("fingerprint_here.json");
  const Fingerprint other = FixtureFingerprint("fingerprint_other.json");
  BaselinesFile file;
  std::string diff = UpsertBaseline(file, ScenarioSet("baseline", here), Mode::kWallTime);
  EXPECT_NE(diff.find("new fingerprint"), std::string::npos);
  diff = UpsertBaseline(file, ScenarioSet("current_regression", here), Mode::kWallTime);
  EXPECT_EQ(file.sets.size(), 1u);
  EXPECT_NE(diff.find("bench_b: median_ns"), std::string::npos);
  EXPECT_NE(diff.find("+12."), std::string::npos);
  UpsertBaseline(file, ScenarioSet("baseline", other), Mode::kWallTime);
  EXPECT_EQ(file.sets.size(), 2u);

  // Instruction counts join the wall-time set of the same machine and keep its samples.
  auto instr = ReadResultSet(Fixture("instructions_baseline.json"));
  ASSERT_TRUE(instr.ok());
  UpsertBaseline(file, *instr, Mode::kInstructions);
  EXPECT_EQ(file.sets.size(), 2u);
  const ResultSet* set = FindBaseline(file, here, Mode::kInstructions);
  ASSERT_NE(set, nullptr);
  EXPECT_TRUE(set->benchmarks.at("bench_b").has_wall_time());
  EXPECT_EQ(set->benchmarks.at("decay_calculation_10000m").instructions, 90104);
}

TEST(BaselinesTest, InstructionUpdateFillsTheValgrindFieldsOfAWallTimeSet) {
  // `update --mode wall_time` runs no Valgrind, so its set does not know the Valgrind target;
  // a later `update --mode instructions` on the same machine must join that set, not add one.
  Fingerprint wall_only = FixtureFingerprint("fingerprint_here.json");
  wall_only.valgrind_simd_target.clear();
  wall_only.valgrind_version.clear();
  BaselinesFile file;
  UpsertBaseline(file, ScenarioSet("baseline", wall_only), Mode::kWallTime);
  auto instr = ReadResultSet(Fixture("instructions_baseline.json"));
  ASSERT_TRUE(instr.ok());
  UpsertBaseline(file, *instr, Mode::kInstructions);
  ASSERT_EQ(file.sets.size(), 1u);
  EXPECT_EQ(file.sets[0].fingerprint.valgrind_simd_target, "AVX2");
  // A different Valgrind target is a different fingerprint for instruction counts.
  ResultSet other = *instr;
  other.fingerprint.valgrind_simd_target = "SSE4";
  UpsertBaseline(file, other, Mode::kInstructions);
  EXPECT_EQ(file.sets.size(), 2u);
}

TEST(BaselinesTest, Format2_0FileIsReadAndAnUpdateMigratesItsSet) {
  // The format before library versions: read as it is, libraries not recorded.
  auto file = ReadBaselines(Fixture("baselines_format_2.0.json"));
  ASSERT_TRUE(file.ok()) << file.error().ToString();
  ASSERT_EQ(file->sets.size(), 1u);
  EXPECT_EQ(file->sets[0].version, "2.0");
  EXPECT_TRUE(file->sets[0].fingerprint.libraries.empty());
  EXPECT_EQ(file->sets[0].benchmarks.at("decay_calculation_10000m").instructions, 12586);
  // Re-measured on the same machine, now with libraries: the set is kept, its libraries
  // filled in and its version raised; written and read back, they stay.
  ResultSet measured = file->sets[0];
  measured.fingerprint.libraries = {"libc.so.6 2.36", "libhwy.so.1 1.0.3"};
  const std::string diff = UpsertBaseline(*file, measured, Mode::kInstructions);
  EXPECT_NE(diff.find("fingerprint: libraries now recorded: 'libc.so.6 2.36, libhwy.so.1 1.0.3'"),
            std::string::npos) << diff;
  ASSERT_EQ(file->sets.size(), 1u);
  EXPECT_EQ(file->sets[0].version, kFormatVersion);
  TempDir dir;
  ASSERT_TRUE(WriteBaselines(dir / "b.json", *file).ok());
  auto back = ReadBaselines(dir / "b.json");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->sets[0].fingerprint.libraries, measured.fingerprint.libraries);
  EXPECT_NE(ReadFile(dir / "b.json")->find("\"version\": \"2.1\""), std::string::npos);
}

TEST(BaselinesTest, ALaterMajorVersionIsRefusedNotMisread) {
  TempDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir / "b.json", R"({"version": "3.0", "sets": []})").ok());
  auto file = ReadBaselines(dir / "b.json");
  ASSERT_FALSE(file.ok());
  EXPECT_NE(file.error().message().find("format version 3.0 is newer"), std::string::npos)
      << file.error().ToString();
  ASSERT_TRUE(WriteFileAtomic(dir / "s.json", R"({"version": "3.1", "baselines": {}})").ok());
  EXPECT_FALSE(ReadResultSet(dir / "s.json").ok());
}

// --- callgrind --------------------------------------------------------------------------------

TEST(CallgrindTest, ReadsTotalsOfTheInstructionEvent) {
  auto total = ParseCallgrindTotal(*ReadFile(Fixture("callgrind.out.fixture")));
  ASSERT_TRUE(total.ok()) << total.error().ToString();
  EXPECT_EQ(*total, 888753u);
  EXPECT_FALSE(ParseCallgrindTotal("events: Ir\n", "Ir").ok());
  EXPECT_FALSE(ParseCallgrindTotal("events: Ir\ntotals: 5\n", "Dr").ok());
  auto two = ParseCallgrindTotal("events: Ir Dr\nsummary: 10 20\n", "Dr");
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(*two, 20u);
}

TEST(CallgrindTest, ExactFilterEscapesAndAllowsTheIterationsSuffix) {
  EXPECT_EQ(ExactFilter("a.b/scalar"), "^a\\.b/scalar(/iterations:[0-9]+)?$");
}

TEST(CallgrindTest, RdtscpScanRejectsNonElf) { EXPECT_FALSE(FindRdtscpOffsets("hello").ok()); }

// --- history and report -----------------------------------------------------------------------

TEST(HistoryTest, AppendsRunsAndReportDrawsOneChartPerBenchmark) {
  TempDir dir;
  const Fingerprint here = FixtureFingerprint("fingerprint_here.json");
  BaselinesFile baselines{{ScenarioSet("baseline", here)}};
  CompareOptions o;
  for (const char* scenario : {"baseline", "current_pass", "current_regression"}) {
    ResultSet set = ScenarioSet(scenario, here);
    set.commit = scenario;
    const Comparison c = Compare(baselines, set, o);
    ASSERT_TRUE(AppendHistory(dir / "h.sqlite", set, Mode::kWallTime, &c, "test").ok());
  }
  auto points = ReadHistory(dir / "h.sqlite");
  ASSERT_TRUE(points.ok()) << points.error().ToString();
  // 3 runs x 3 benchmarks x (median, mean, ci_low, ci_high); samples are stored but not read.
  EXPECT_EQ(points->size(), 36u);
  const std::string html = RenderHtmlReport(*points, ReportOptions{});
  size_t charts = 0;
  for (size_t at = html.find("<svg"); at != std::string::npos; at = html.find("<svg", at + 1)) ++charts;
  EXPECT_EQ(charts, 3u);
  EXPECT_NE(html.find("bench_b"), std::string::npos);
  EXPECT_NE(html.find("#d62728"), std::string::npos);  // the regression point is red
  EXPECT_EQ(html.find("<script"), std::string::npos);  // self-contained, no JS
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);
}

TEST(HistoryTest, ReadingAMissingDatabaseIsNotFound) {
  auto points = ReadHistory("/nonexistent/h.sqlite");
  EXPECT_FALSE(points.ok());
  EXPECT_EQ(points.error().code(), StatusCode::kNotFound);
}

// --- change points -----------------------------------------------------------------------------

// `n` values around `level` with relative Gaussian noise `noise`, from a seeded generator.
std::vector<double> Noisy(Rng& rng, size_t n, double level, double noise) {
  std::vector<double> v(n);
  for (double& x : v) x = level * (1 + noise * rng.Normal());
  return v;
}

std::vector<double> Concat(std::vector<double> a, const std::vector<double>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST(ChangePointTest, TenPercentStepAfterTenPointsIsFoundAtIndexTen) {
  // Noise of 2% (what wall-time medians show on a quiet machine): the step is 5 sigma.
  Rng rng(101);
  const std::vector<double> series =
      Concat(Noisy(rng, 10, 100e3, 0.02), Noisy(rng, 10, 110e3, 0.02));
  const std::vector<ChangePoint> found = DetectChangePoints(series);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].index, 10u);
  EXPECT_LE(found[0].p_value, 0.05);
  EXPECT_NEAR(found[0].relative_change(), 0.10, 0.03);
}

TEST(ChangePointTest, FlatNoisySeriesHasNone) {
  Rng rng(102);
  EXPECT_TRUE(DetectChangePoints(Noisy(rng, 40, 100e3, 0.02)).empty());
  // Counts that repeat exactly have no change at all.
  EXPECT_TRUE(DetectChangePoints(std::vector<double>(30, 3396898)).empty());
}

TEST(ChangePointTest, FlatSeriesRarelyRaiseAFalseAlarm) {
  // The permutation test alone would flag ~5% of flat series; the minimum magnitude removes
  // most of those. Twenty seeded series of 30 runs with 2% noise: at most one false alarm.
  int alarms = 0;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    Rng rng(1000 + seed);
    alarms += DetectChangePoints(Noisy(rng, 30, 100e3, 0.02)).empty() ? 0 : 1;
  }
  EXPECT_LE(alarms, 1);
}

TEST(ChangePointTest, IsDeterministicForAGivenSeed) {
  Rng rng(103);
  const std::vector<double> series =
      Concat(Noisy(rng, 12, 100e3, 0.03), Noisy(rng, 12, 106e3, 0.03));
  const auto a = DetectChangePoints(series), b = DetectChangePoints(series);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].index, b[i].index);
    EXPECT_EQ(a[i].p_value, b[i].p_value);
  }
}

TEST(ChangePointTest, FindsACreepAndARecoveryInExactCounts) {
  // Instruction counts: exact, so any change is significant; the two real shifts (+4%, then
  // back -10%) are found, the 0.1% one in between is below the minimum magnitude.
  std::vector<double> series(8, 1000000);
  series.insert(series.end(), 8, 1040000);
  series.insert(series.end(), 8, 1041000);
  series.insert(series.end(), 8, 936900);
  const std::vector<ChangePoint> found = DetectChangePoints(series);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].index, 8u);
  EXPECT_EQ(found[1].index, 24u);
  EXPECT_GT(found[0].relative_change(), 0.035);
  EXPECT_LT(found[1].relative_change(), -0.09);
}

TEST(ChangePointTest, RespectsTheMinimumSegment) {
  // A shift in the last two runs is not (yet) a change point: it may be two outliers.
  std::vector<double> series(20, 1000000);
  series[18] = series[19] = 1200000;
  EXPECT_TRUE(DetectChangePoints(series).empty());
  series[17] = 1200000;  // three runs: now it is
  const auto found = DetectChangePoints(series);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].index, 17u);
  EXPECT_TRUE(DetectChangePoints({1, 2, 3, 4, 5}).empty());  // too short to split
}

// A history with one instruction-count series stepping +10% after 10 runs, plus a run with an
// injected slowdown that must not count.
std::string HistoryWithAStep(const TempDir& dir) {
  const Fingerprint here = FixtureFingerprint("fingerprint_here.json");
  const std::string db = dir / "h.sqlite";
  for (int run = 0; run < 20; ++run) {
    ResultSet set;
    StampResultSet(set, here, "commit" + std::to_string(run));
    set.benchmarks["bench_step"].instructions = run < 10 ? 1000000 : 1100000;
    set.benchmarks["bench_flat"].instructions = 500000;
    if (run == 5) {
      ResultSet injected = set;
      injected.injected_slowdown = "0.5";
      injected.benchmarks["bench_step"].instructions = 1500000;
      injected.benchmarks["bench_flat"].instructions = 750000;
      EXPECT_TRUE(AppendHistory(db, injected, Mode::kInstructions, nullptr, "").ok());
    }
    EXPECT_TRUE(AppendHistory(db, set, Mode::kInstructions, nullptr, "").ok());
  }
  return db;
}

TEST(HistoryTest, ChangePointsAreListedAndMarkedOnTheChart) {
  TempDir dir;
  const std::string db = HistoryWithAStep(dir);
  auto points = ReadHistory(db);
  ASSERT_TRUE(points.ok()) << points.error().ToString();
  const std::vector<HistorySeries> series = GroupHistory(*points, /*skip_injected=*/true);
  ASSERT_EQ(series.size(), 2u);
  EXPECT_EQ(series[1].benchmark, "bench_step");
  EXPECT_EQ(series[1].points.size(), 20u);  // the injected run is left out
  const auto changes = SeriesChangePoints(series[1]);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(series[1].points[changes[0].index].commit, "commit10");
  EXPECT_TRUE(SeriesChangePoints(series[0]).empty());

  const std::string text = FormatChangePoints(series);
  EXPECT_NE(text.find("bench_flat"), std::string::npos);
  EXPECT_NE(text.find("no change point"), std::string::npos);
  EXPECT_NE(text.find("commit commit10"), std::string::npos) << text;
  EXPECT_NE(text.find("+10.0%"), std::string::npos) << text;

  const std::string html = RenderHtmlReport(*points, ReportOptions{});
  size_t marked = 0;
  for (size_t at = html.find("class='change-point'"); at != std::string::npos;
       at = html.find("class='change-point'", at + 1)) {
    ++marked;
  }
  EXPECT_EQ(marked, 1u);
  EXPECT_NE(html.find("+10.0%"), std::string::npos);
  ReportOptions without;
  without.change_points = false;
  EXPECT_EQ(RenderHtmlReport(*points, without).find("class='change-point'"), std::string::npos);
}

// --- the bench-gate CLI on fixture files ------------------------------------------------------

std::string CompareCommand(const std::string& scenario, const std::string& baseline_fp,
                           const std::string& extra = "") {
  std::string cmd = kBenchGate + " compare --no-history --baseline-gbench";
  for (const auto& f : ScenarioFiles("baseline")) cmd += " " + f;
  cmd += " --baseline-fingerprint " + Fixture(baseline_fp) + " --current-gbench";
  for (const auto& f : ScenarioFiles(scenario)) cmd += " " + f;
  return cmd + " --fingerprint " + Fixture("fingerprint_here.json") + " " + extra;
}

TEST(BenchGateCliTest, ExitCodesFollowTheVerdicts) {
  EXPECT_EQ(RunCommand(CompareCommand("current_pass", "fingerprint_here.json")).exit_code, 0);
  const auto regression = RunCommand(CompareCommand("current_regression", "fingerprint_here.json"));
  EXPECT_EQ(regression.exit_code, 1) << regression.output;
  EXPECT_NE(regression.output.find("REGRESSION"), std::string::npos);
  EXPECT_NE(regression.output.find("-> FAIL"), std::string::npos);
  EXPECT_EQ(RunCommand(CompareCommand("current_improvement", "fingerprint_here.json")).exit_code, 0);
  const auto noisy = RunCommand(CompareCommand("current_noisy", "fingerprint_here.json"));
  EXPECT_EQ(noisy.exit_code, 0) << noisy.output;
  EXPECT_NE(noisy.output.find("noisy"), std::string::npos);
  EXPECT_EQ(RunCommand(CompareCommand("current_noisy", "fingerprint_here.json", "--fail-on-noisy"))
                .exit_code, 3);
}

TEST(BenchGateCliTest, FingerprintMismatchSaysSoAndPassesUnlessForced) {
  const auto r = RunCommand(CompareCommand("current_regression", "fingerprint_other.json"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("NOT COMPARED"), std::string::npos);
  EXPECT_NE(r.output.find("differs in cpu_model"), std::string::npos);
  EXPECT_NE(r.output.find("--force"), std::string::npos);
  EXPECT_EQ(RunCommand(CompareCommand("current_regression", "fingerprint_other.json", "--force"))
                .exit_code, 1);
}

TEST(BenchGateCliTest, StoredInstructionBaselineFromAnotherHostIsComparedAndFails) {
  // The issue's case through the CLI: a format-2.0 baseline from a VM whose flags lack abm, a
  // measurement here (abm, libraries recorded) with +50% instructions.
  TempDir dir;
  auto base = ReadBaselines(Fixture("baselines_format_2.0.json"));
  ASSERT_TRUE(base.ok());
  ResultSet current = base->sets[0];
  current.fingerprint.isa_flags.push_back("abm");
  std::sort(current.fingerprint.isa_flags.begin(), current.fingerprint.isa_flags.end());
  current.fingerprint.libraries = {"libc.so.6 2.36", "libhwy.so.1 1.0.3"};
  current.injected_slowdown = "0.5";
  for (auto& [name, b] : current.benchmarks) b.instructions *= 1.5;
  ASSERT_TRUE(WriteResultSet(dir / "slow.json", current).ok());
  const std::string compare = kBenchGate + " compare --instructions --no-history --baselines " +
                              Fixture("baselines_format_2.0.json") + " --current ";
  const auto slow = RunCommand(compare + (dir / "slow.json"));
  EXPECT_EQ(slow.exit_code, 1) << slow.output;
  EXPECT_NE(slow.output.find("differs in isa_flags: only here 'abm' [cannot change instruction "
                             "counts"), std::string::npos) << slow.output;
  EXPECT_NE(slow.output.find("COMPARED: no instructions baseline has exactly"), std::string::npos);
  EXPECT_NE(slow.output.find("3 regression(s)"), std::string::npos) << slow.output;

  // The same measurement with another dispatched target under Valgrind: refused, field named.
  current.fingerprint.valgrind_simd_target = "SSE4";
  ASSERT_TRUE(WriteResultSet(dir / "sse4.json", current).ok());
  const auto refused = RunCommand(compare + (dir / "sse4.json"));
  EXPECT_EQ(refused.exit_code, 0) << refused.output;
  EXPECT_NE(refused.output.find("differs in valgrind_simd_target: baseline 'AVX2', here 'SSE4' "
                                "[can change instruction counts]"), std::string::npos)
      << refused.output;
  EXPECT_NE(refused.output.find("NOT COMPARED"), std::string::npos);
  EXPECT_NE(refused.output.find("Result: not compared (exit 0)"), std::string::npos);
}

TEST(BenchGateCliTest, FingerprintListsLibrariesAndTheFieldsEachModeCompares) {
  const auto r = RunCommand(kBenchGate + " fingerprint --bench " + kBenchGate + " 2>/dev/null");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto doc = ParseJson(r.output);
  ASSERT_TRUE(doc.ok()) << r.output;
  const auto& root = doc->as_object();
  const Fingerprint fp = FingerprintFromJson(root.at("fingerprint").as_object());
  EXPECT_FALSE(fp.libraries.empty());
  const auto& instructions = root.at("compared_fields").at("instructions").as_array();
  const auto has = [&](const char* f) {
    return std::find(instructions.begin(), instructions.end(), boost::json::value(f)) !=
           instructions.end();
  };
  EXPECT_TRUE(has("valgrind_simd_target"));
  EXPECT_TRUE(has("libraries"));
  EXPECT_FALSE(has("isa_flags"));
  EXPECT_FALSE(has("cpu_model"));
}

TEST(BenchGateCliTest, CompareAppendsHistoryAndReportWritesHtml) {
  TempDir dir;
  std::string cmd = CompareCommand("current_pass", "fingerprint_here.json");
  cmd.replace(cmd.find("--no-history"), 12, "--history " + (dir / "h.sqlite"));
  ASSERT_EQ(RunCommand(cmd).exit_code, 0);
  ASSERT_EQ(RunCommand(cmd).exit_code, 0);
  const auto report = RunCommand(kBenchGate + " report --history " + (dir / "h.sqlite") +
                                 " --out " + (dir / "r.html"));
  ASSERT_EQ(report.exit_code, 0) << report.output;
  EXPECT_NE(ReadFile(dir / "r.html")->find("<svg"), std::string::npos);
  const auto history = RunCommand(kBenchGate + " history --history " + (dir / "h.sqlite"));
  EXPECT_NE(history.output.find("bench_a"), std::string::npos);
}

TEST(BenchGateCliTest, HistoryPrintsChangePoints) {
  TempDir dir;
  const std::string db = HistoryWithAStep(dir);
  const auto r = RunCommand(kBenchGate + " history --change-points --history " + db);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("bench_step"), std::string::npos);
  EXPECT_NE(r.output.find("1 change point"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("1.000 M -> 1.100 M  +10.0%"), std::string::npos) << r.output;
  const auto filtered =
      RunCommand(kBenchGate + " history --change-points --benchmark bench_flat --history " + db);
  EXPECT_EQ(filtered.output.find("bench_step"), std::string::npos);
  EXPECT_NE(filtered.output.find("no change point"), std::string::npos);
}

TEST(BenchGateCliTest, BadInputIsExitTwo) {
  EXPECT_EQ(RunCommand(kBenchGate + " compare --current /nonexistent.json --no-history").exit_code, 2);
  EXPECT_EQ(RunCommand(kBenchGate + " frobnicate").exit_code, 2);
}

}  // namespace
}  // namespace engram::benchgate
