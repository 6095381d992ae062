// The sender follows the schedule: realised per-second send rates match the scenario's
// pattern, and nothing is dropped — timeouts are errors with their latency. The HTTP tests run
// with one io thread (the io thread keeps the schedule itself, Driver::RunSchedule) and with
// two (the runner's sender thread submits each request).
#include <gtest/gtest.h>

#include <algorithm>

#include "loadgen/runner.h"
#include "test_util.h"

namespace engram::loadgen {
namespace {

using testing::Ms;
using testing::Quiet;
using testing::RunScenario;
using testing::TestServer;
using workload::OpKind;

constexpr char kMix[] = R"(
[operations]
store_weight = 0.5
embedding_search_weight = 0.5
[data]
num_nodes = 200
embedding_dim = 8
[connections]
count = 32
)";

// |sent - target| within 5% (or 3 operations, for small seconds): a per-second count can move
// by an operation or two across a second boundary, not by the pattern's shape.
void ExpectSecondsFollowSchedule(const RunReport& r, const std::vector<uint64_t>& want) {
  ASSERT_GE(r.timeline.size(), want.size());
  for (size_t s = 0; s < want.size(); ++s) {
    const TimelineEntry& t = r.timeline[s];
    EXPECT_EQ(t.target_ops, want[s]) << "second " << s;
    const double tol = std::max(3.0, 0.05 * static_cast<double>(want[s]));
    EXPECT_NEAR(static_cast<double>(t.sent_ops), static_cast<double>(want[s]), tol) << "second " << s;
  }
}

// The parameter is the HTTP driver's io threads.
class HttpOpenLoopTest : public ::testing::TestWithParam<int> {};

INSTANTIATE_TEST_SUITE_P(IoThreads, HttpOpenLoopTest, ::testing::Values(1, 2));

TEST_P(HttpOpenLoopTest, ConstantRateIsSentOnScheduleEverySecond) {
  TestServer server(8);
  auto driver = server.Driver(GetParam());
  auto r = RunScenario(std::string(R"(
name = "constant"
description = "c"
[duration]
total_seconds = 3
[arrival]
pattern = "constant"
rate = 300.0
)") + kMix, driver.get());
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  ExpectSecondsFollowSchedule(*r, {300, 300, 300});
  EXPECT_EQ(r->scheduled, 900u);
  EXPECT_EQ(r->total_operations(), 900u);
  EXPECT_EQ(r->sent, 900u);
  EXPECT_EQ(r->total_errors(), 0u) << (r->error_samples.empty() ? "" : r->error_samples[0]);
  EXPECT_NEAR(r->target_ops_per_sec, 300.0, 1e-9);
}

TEST_P(HttpOpenLoopTest, StepAndBurstPatternsShapeTheRealisedSendRates) {
  TestServer server(8);
  auto driver = server.Driver(GetParam());
  // 3 s of steps 100 -> 400 -> 150, then 2 s of 500/s bursts (1 s of every 2) over 100/s.
  auto r = RunScenario(std::string(R"(
name = "shaped"
description = "s"
[[phases]]
duration_sec = 3
pattern = "step"
rates = [100.0, 400.0, 150.0]
step_sec = 1
[[phases]]
duration_sec = 2
pattern = "periodic_burst"
base_rate = 100.0
burst_rate = 500.0
burst_duration_sec = 1
burst_period_sec = 2
)") + kMix, driver.get());
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  ExpectSecondsFollowSchedule(*r, {100, 400, 150, 500, 100});
  EXPECT_EQ(r->total_operations(), r->scheduled);
  EXPECT_EQ(r->total_errors(), 0u);
}

TEST_P(HttpOpenLoopTest, TimedOutOperationsAreErrorsWithTheirLatencyAndNothingIsDropped) {
  // Every search waits 400 ms in the server; the timeout is 150 ms.
  TestServer server(8, "search=400ms");
  auto driver = server.Driver(GetParam());
  RunOptions o = Quiet();
  o.timeout_ms = 150;
  auto r = RunScenario(std::string(R"(
name = "timeouts"
description = "t"
[duration]
total_seconds = 2
[arrival]
pattern = "constant"
rate = 200.0
)") + kMix, driver.get(), o);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  const OpReport& search = r->kinds[static_cast<size_t>(OpKind::kSearch)];
  const OpReport& store = r->kinds[static_cast<size_t>(OpKind::kStore)];
  ASSERT_GT(search.count, 100u);
  EXPECT_EQ(search.errors, search.count);
  EXPECT_EQ(search.success, 0u);
  EXPECT_EQ(r->errors_by_kind[static_cast<size_t>(ErrorKind::kTimeout)], search.count);
  // Each timed-out search is recorded with its latency: at least the timeout.
  EXPECT_GE(search.latency.min(), 150'000'000);
  EXPECT_EQ(search.latency.count(), search.count);
  EXPECT_EQ(store.errors, 0u);
  // Nothing dropped: every scheduled operation completed, and the pooled histogram has them all.
  EXPECT_EQ(r->total_operations(), r->scheduled);
  EXPECT_EQ(r->scheduled, 400u);
  EXPECT_EQ(r->latency.count(), r->scheduled);
  EXPECT_GE(Ms(r->latency.ValueAtQuantile(0.99)), 150.0);
}

TEST_P(HttpOpenLoopTest, OperationsQueuedBehindBusyConnectionsKeepTheirLatencyClock) {
  // Two connections, every search held 500 ms by the server, a 200 ms timeout: a connection is
  // busy until its request's deadline, so 100 ops/s pile up in the client's queue. Their
  // latency runs from the intended start, through the queue: all of them are late, and all
  // are accounted for.
  TestServer server(8, "search=500ms");
  auto driver = server.Driver(GetParam());
  RunOptions o = Quiet();
  o.timeout_ms = 200;
  o.connections = 2;
  auto r = RunScenario(R"(
name = "queued"
description = "q"
[duration]
total_seconds = 2
[arrival]
pattern = "constant"
rate = 100.0
[operations]
embedding_search_weight = 1.0
[data]
num_nodes = 0
embedding_dim = 8
)", driver.get(), o);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->scheduled, 200u);
  EXPECT_EQ(r->total_operations(), 200u);
  EXPECT_EQ(r->errors_by_kind[static_cast<size_t>(ErrorKind::kTimeout)], 200u);
  EXPECT_GE(r->latency.min(), 200'000'000);
  EXPECT_LE(r->peak_inflight, 2);
  EXPECT_GT(r->peak_outstanding, 10);
  // Most of each operation's 200 ms went to waiting for a connection (schedule lag), not to
  // the server (service time): a closed-loop client timing from the send would not see it.
  EXPECT_GT(Ms(r->schedule_lag.ValueAtQuantile(0.5)), 100.0);
  EXPECT_LT(Ms(r->service_time.ValueAtQuantile(0.5)), Ms(r->latency.ValueAtQuantile(0.5)) / 2);
}

TEST(OpenLoopTest, WarmupIsRecordedSeparately) {
  auto driver = testing::InProcess(8);
  auto r = RunScenario(std::string(R"(
name = "warm"
description = "w"
[duration]
total_seconds = 1
[warmup]
seconds = 1
rate = 50.0
[arrival]
pattern = "constant"
rate = 200.0
)") + kMix, driver.get());
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->warmup_ops, 50u);
  EXPECT_EQ(r->scheduled, 200u);
  EXPECT_EQ(r->total_operations(), 200u);
  EXPECT_EQ(r->latency.count(), 200u);
}

const std::string kHealthOnly = testing::HealthScenario(400);

TEST(HealthOperationTest, TheHttpDriverSendsGetHealthAndEveryOneSucceeds) {
  TestServer server(8);
  auto driver = server.Driver(1);
  const uint64_t before = server.HealthOkCount();
  auto r = RunScenario(kHealthOnly, driver.get());
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  const OpReport& health = r->kinds[static_cast<size_t>(OpKind::kHealth)];
  EXPECT_EQ(r->scheduled, 400u);
  EXPECT_EQ(health.count, 400u);
  EXPECT_EQ(health.success, 400u) << (r->error_samples.empty() ? "" : r->error_samples[0]);
  EXPECT_EQ(r->total_operations(), health.count);  // nothing else was sent
  // The server saw them as GET /health (a POST would be 405, a path under /api/v1 404): the
  // run's operations plus the runner's own reachability check.
  EXPECT_EQ(server.HealthOkCount() - before, 400u + 1u);
}

TEST(HealthOperationTest, TheInProcessDriverCountsHealthAsASuccess) {
  auto driver = testing::InProcess(8);
  auto r = RunScenario(kHealthOnly, driver.get());
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  const OpReport& health = r->kinds[static_cast<size_t>(OpKind::kHealth)];
  EXPECT_EQ(health.count, 400u);
  EXPECT_EQ(health.success, 400u) << (r->error_samples.empty() ? "" : r->error_samples[0]);
}

TEST(RateScalingTest, TargetRateScalesTheCurveToTheRequestedMean) {
  auto driver = testing::InProcess(8);
  RunOptions o = Quiet();
  o.target_rate = 500.0;
  o.duration_seconds = 60.0;
  Runner runner(testing::Scenario(R"(
name = "burst"
description = "b"
[arrival]
pattern = "periodic_burst"
base_rate = 200.0
burst_rate = 2000.0
burst_duration_sec = 5
burst_period_sec = 30
[operations]
store_weight = 1.0
)"), o, driver.get());
  ASSERT_TRUE(runner.Init().ok());
  EXPECT_NEAR(MeanRate(runner.schedule()), 500.0, 1e-6);
  // The shape is kept: bursts are still 10x the base.
  const auto& a = *runner.scenario().arrival;
  EXPECT_NEAR(a.burst_rate / a.base_rate, 10.0, 1e-12);
}

}  // namespace
}  // namespace engram::loadgen
