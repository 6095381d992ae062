// OpPipeline: the look-ahead generator between the schedule and the sender.
#include "loadgen/pipeline.h"

#include <gtest/gtest.h>

#include <string>
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

}  // namespace
}  // namespace engram::loadgen
