#include "core/cpus.h"

#include <gtest/gtest.h>
#include <sched.h>

#include <thread>

namespace engram {
namespace {

TEST(UsableCpusTest, CountsTheAffinityMaskNotTheMachine) {
  cpu_set_t mine;
  CPU_ZERO(&mine);
  ASSERT_EQ(sched_getaffinity(0, sizeof(mine), &mine), 0);
  EXPECT_EQ(UsableCpus(), CPU_COUNT(&mine));

  // A thread pinned to one CPU (as `taskset -c 0` pins a process) sees 1.
  int first = 0;
  while (!CPU_ISSET(first, &mine)) ++first;
  int seen = 0;
  std::thread pinned([&] {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    if (sched_setaffinity(0, sizeof(one), &one) == 0) seen = UsableCpus();
  });
  pinned.join();
  EXPECT_EQ(seen, 1);
}

}  // namespace
}  // namespace engram
