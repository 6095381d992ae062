// The capacity search (harness/capacity.h) against fake measurements whose knee is known, so
// the search is tested without a server: it brackets the knee from either side, bisects to the
// tolerance, decides each rate by a majority of runs, lets a clear failure decide alone, and
// stops within its budget saying so.
#include "harness/capacity.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "harness/server_process.h"

namespace engram::harness {
namespace {

// Sustained up to `knee` ops/s; `noise` makes chosen (rate, attempt) runs come out the other way.
struct FakeServer {
  explicit FakeServer(double k = 1000, bool c = false) : knee(k), clear(c) {}
  double knee;
  bool clear;  // failures are clear (decisive alone)
  std::map<std::pair<double, int>, bool> flip;
  std::vector<std::pair<double, int>> runs;

  MeasureStep Fn() {
    return [this](double rate, int attempt) -> Result<StepOutcome> {
      runs.emplace_back(rate, attempt);
      StepOutcome o;
      o.sustained = rate <= knee;
      if (flip.count({rate, attempt}) != 0) o.sustained = !o.sustained;
      o.clear_failure = !o.sustained && clear;
      o.record.verdict = o.sustained ? "sustained" : "saturated";
      return o;
    };
  }
};

SearchOptions Options(double start) {
  SearchOptions o;
  o.start_rate = start;
  return o;
}

TEST(CapacitySearchTest, GrowsFromAHoldingStartAndBisectsToTheTolerance) {
  FakeServer server(1370);
  auto r = FindSustainableRate(Options(1000), server.Fn());
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->outcome, "found");
  ASSERT_TRUE(r->sustainable && r->lowest_failed);
  EXPECT_LE(*r->sustainable, 1370);
  EXPECT_GT(*r->lowest_failed, 1370);
  EXPECT_LE(*r->lowest_failed / *r->sustainable, 1.10 + 1e-9);
  // 1000 and 2000 first, then geometric midpoints, each rate decided by 2 agreeing runs.
  EXPECT_EQ(server.runs[0], std::make_pair(1000.0, 1));
  EXPECT_EQ(server.runs[1], std::make_pair(1000.0, 2));
  EXPECT_EQ(server.runs[2], std::make_pair(2000.0, 1));
  EXPECT_EQ(server.runs[4].first, 1410.0);  // sqrt(1000 * 2000), 3 significant digits
  EXPECT_EQ(r->steps.size(), server.runs.size());
  for (const auto& s : r->steps) EXPECT_EQ(s.sustained, s.rate <= 1370) << s.rate;
}

TEST(CapacitySearchTest, ShrinksFromAFailingStart) {
  FakeServer server(300);
  auto r = FindSustainableRate(Options(1000), server.Fn());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, "found");
  EXPECT_LE(*r->sustainable, 300);
  EXPECT_GE(*r->sustainable, 300 / 1.10);
  EXPECT_EQ(server.runs[2].first, 500.0);
  EXPECT_EQ(server.runs[4].first, 250.0);
}

TEST(CapacitySearchTest, OneUnluckyRunDoesNotSinkASustainableRateButTwoDo) {
  FakeServer lucky(1370);
  lucky.flip[{1000.0, 1}] = true;  // a hiccup in the first run at 1000
  auto r = FindSustainableRate(Options(1000), lucky.Fn());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(lucky.runs[1], std::make_pair(1000.0, 2));
  EXPECT_EQ(lucky.runs[2], std::make_pair(1000.0, 3));  // 1 : 1, the third run decides
  EXPECT_GE(*r->sustainable, 1000.0);

  FakeServer unlucky(1370);
  unlucky.flip[{1000.0, 1}] = true;
  unlucky.flip[{1000.0, 2}] = true;
  auto u = FindSustainableRate(Options(1000), unlucky.Fn());
  ASSERT_TRUE(u.ok());
  EXPECT_LT(*u->sustainable, 1000.0);  // the majority said no: the search went down
}

TEST(CapacitySearchTest, AClearFailureDecidesAlone) {
  FakeServer server(1370, true);
  auto r = FindSustainableRate(Options(1000), server.Fn());
  ASSERT_TRUE(r.ok());
  for (size_t i = 0; i < server.runs.size(); ++i) {
    if (server.runs[i].first > 1370) {
      EXPECT_EQ(server.runs[i].second, 1) << server.runs[i].first;
    }
  }
}

TEST(CapacitySearchTest, OneRepeatDecidesOnOneRun) {
  FakeServer server(1370);
  SearchOptions o = Options(1000);
  o.repeats = 1;
  auto r = FindSustainableRate(o, server.Fn());
  ASSERT_TRUE(r.ok());
  for (const auto& run : server.runs) EXPECT_EQ(run.second, 1);
}

TEST(CapacitySearchTest, TheRateRangeBoundsTheSearch) {
  FakeServer fast(1e9);
  SearchOptions o = Options(1000);
  o.max_rate = 5000;
  auto r = FindSustainableRate(o, fast.Fn());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, "at_max_rate");
  EXPECT_EQ(*r->sustainable, 5000);
  EXPECT_FALSE(r->lowest_failed.has_value());
  EXPECT_NE(r->note.find("at least"), std::string::npos);

  FakeServer dead(0);
  o = Options(1000);
  o.min_rate = 100;
  auto d = FindSustainableRate(o, dead.Fn());
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->outcome, "below_min_rate");
  EXPECT_FALSE(d->sustainable.has_value());
  EXPECT_EQ(*d->lowest_failed, 100);
}

TEST(CapacitySearchTest, TheStepBudgetStopsTheSearchAndSaysSo) {
  FakeServer server(1370);
  SearchOptions o = Options(1000);
  o.max_steps = 3;
  auto r = FindSustainableRate(o, server.Fn());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(server.runs.size(), 3u);
  EXPECT_EQ(r->outcome, "budget_exhausted");
  EXPECT_EQ(*r->sustainable, 1000);  // what it knew when it stopped
  EXPECT_NE(r->note.find("stopped after 3 runs"), std::string::npos) << r->note;
}

TEST(CapacitySearchTest, TheTimeBudgetStopsTheSearch) {
  FakeServer server(1370);
  double now = 0;
  SearchOptions o = Options(1000);
  o.max_seconds = 50;
  o.elapsed_seconds = [&now] { return now; };
  const MeasureStep slow = [&](double rate, int attempt) {
    now += 20;  // every run takes 20 "seconds"
    return server.Fn()(rate, attempt);
  };
  auto r = FindSustainableRate(o, slow);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(server.runs.size(), 3u);
  EXPECT_EQ(r->outcome, "budget_exhausted");
}

TEST(CapacitySearchTest, AMeasurementErrorEndsTheSearch) {
  const MeasureStep broken = [](double, int) -> Result<StepOutcome> {
    return Status::Unavailable("engram died");
  };
  auto r = FindSustainableRate(Options(1000), broken);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "engram died");
}

TEST(CapacitySearchTest, OptionsThatMakeNoSearchAreRefused) {
  FakeServer server;
  EXPECT_FALSE(FindSustainableRate(Options(0), server.Fn()).ok());
  SearchOptions o = Options(1000);
  o.growth = 1;
  EXPECT_FALSE(FindSustainableRate(o, server.Fn()).ok());
  o = Options(1000);
  o.min_rate = 10;
  o.max_rate = 5;
  EXPECT_FALSE(FindSustainableRate(o, server.Fn()).ok());
  EXPECT_TRUE(server.runs.empty());
}

TEST(CapacitySearchTest, RatesAreRoundedToThreeSignificantDigits) {
  EXPECT_DOUBLE_EQ(RoundRate(1414.2), 1410);
  EXPECT_DOUBLE_EQ(RoundRate(1189.2), 1190);
  EXPECT_DOUBLE_EQ(RoundRate(70.7), 70.7);
  EXPECT_DOUBLE_EQ(RoundRate(141421), 141000);
}

TEST(CapacityPlanTest, TheEndSizeIsTheDatasetPlusTheScenariosStores) {
  std::string why;
  // 10 000 nodes + (5 s warm-up + 60 s) x 1000 ops/s x 40% stores.
  EXPECT_EQ(EndOfRunEpisodes(std::string(ENGRAM_SCENARIOS_DIR) + "/m17_baseline.toml", &why), 36000u);
  EXPECT_NE(why.find("10000 dataset nodes + 26000 stores"), std::string::npos) << why;
  EXPECT_EQ(EndOfRunEpisodes(std::string(ENGRAM_SCENARIOS_DIR) + "/capacity/health_only.toml", nullptr), 0u);
}

TEST(CpuPlanTest, CpuListsAreWrittenAsRanges) {
  EXPECT_EQ(CpuList({0, 1, 2, 5}), "0-2,5");
  EXPECT_EQ(CpuList({3}), "3");
  EXPECT_EQ(CpuList({}), "");
  const CpuPlan off = PlanCpus(false);
  EXPECT_FALSE(off.pinned);
  EXPECT_TRUE(off.server.empty());
  const CpuPlan on = PlanCpus(true);
  if (on.pinned) {
    ASSERT_EQ(on.loadgen.size(), 1u);
    EXPECT_FALSE(on.server.empty());
    EXPECT_GT(on.loadgen[0], on.server.back());  // the last CPU is the load generator's
  }
}

}  // namespace
}  // namespace engram::harness
