// OpPipeline: the look-ahead generator between the schedule and the sender.
#include "loadgen/pipeline.h"

#include <gtest/gtest.h>

#include <dirent.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"
#include "workload/op_stream.h"

namespace engram::loadgen {
namespace {

// 3000 health operations (3 s at 1000 ops/s, no warm-up), so the pipeline runs many chunks.
workload::Scenario ThreeSeconds() {
  std::string toml = testing::HealthScenario(1000);
  toml.replace(toml.find("total_seconds = 1"), 17, "total_seconds = 3");
  return testing::Scenario(toml);
}

// Scheduling policies of this process's threads (field 41 of /proc/self/task/<tid>/stat).
std::vector<int> ThreadPolicies() {
  std::vector<int> out;
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return out;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream in(std::string("/proc/self/task/") + e->d_name + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const size_t close = stat.rfind(')');  // the command name may hold spaces
    if (close == std::string::npos) continue;
    std::istringstream fields(stat.substr(close + 2));
    std::string f;
    for (int i = 3; i <= 41 && fields >> f; ++i) {
      if (i == 41) out.push_back(std::stoi(f));
    }
  }
  closedir(dir);
  return out;
}

TEST(OpPipelineTest, EveryRequestOnceInScheduleOrderWhenRetiredAsConsumed) {
  const workload::Scenario scenario = ThreeSeconds();
  const workload::ScheduleSpec spec = workload::ScheduleSpecFor(scenario);
  const workload::OpStream stream(scenario);
  auto driver = testing::InProcess(8);
  PipelineOptions options;
  options.workers = 2;
  options.chunk = 16;
  options.max_ahead = 64;  // small, so the workers refill (and free retired requests) often
  OpPipeline pipeline(spec, 0, 1, &stream, driver.get(), options);

  uint64_t expected = 0;
  int64_t previous_offset = -1;
  while (RequestPtr r = pipeline.Next()) {
    ASSERT_EQ(r->index, expected);
    ASSERT_GT(r->offset_ns, previous_offset);
    ASSERT_TRUE(r->op.has_value()) << "not prepared by the driver";
    EXPECT_EQ(r->kind, workload::OpKind::kHealth);
    previous_offset = r->offset_ns;
    ++expected;
    pipeline.Retire(std::move(r));
  }
  EXPECT_EQ(expected, 3000u);
  // Retiring after the workers have finished frees at once; it must not be lost or crash.
  pipeline.Retire(std::make_unique<Request>());
}

TEST(OpPipelineTest, WorkersRunAsSchedIdleSoTheSenderPreemptsThem) {
  const workload::Scenario scenario = ThreeSeconds();
  const workload::ScheduleSpec spec = workload::ScheduleSpecFor(scenario);
  const workload::OpStream stream(scenario);
  auto driver = testing::InProcess(8);
  const auto count_idle = [] {
    int n = 0;
    for (int p : ThreadPolicies()) n += p == SCHED_IDLE ? 1 : 0;
    return n;
  };
  const int before = count_idle();
  PipelineOptions options;
  options.workers = 2;
  options.chunk = 16;
  options.max_ahead = 64;  // far less than the schedule: the workers wait for the consumer, alive
  OpPipeline pipeline(spec, 0, 1, &stream, driver.get(), options);
  RequestPtr first = pipeline.Next();
  ASSERT_NE(first, nullptr);
  // Each worker sets its policy when it starts; wait (bounded) until both have.
  int idle = 0;
  for (int i = 0; i < 500 && (idle = count_idle() - before) < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(idle, 2);
}

}  // namespace
}  // namespace engram::loadgen
