// How many CPUs this process may run on.
#pragma once

namespace engram {

// The CPUs in this process's affinity mask (what `taskset` or a cgroup cpuset leaves it), at
// least 1. std::thread::hardware_concurrency() counts the machine's CPUs instead: a server
// pinned to one core of two would start two threads that only switch between each other.
int UsableCpus();

}  // namespace engram
