// A fixed-iteration mode for Google Benchmark binaries whose source we do not change.
//
// Instruction counting needs every benchmark to run an exact, known number of iterations (the
// gate differences the counts of n and 2n iterations; see src/benchgate/runner.h), but Google
// Benchmark 1.7 picks iteration counts from timing and has no flag to fix them (1.8's
// --benchmark_min_time=<n>x came later). This file is linked into kernels_bench_gate with
// -Wl,--wrap on benchmark::internal::RegisterBenchmarkInternal, the one non-inline call every
// RegisterBenchmark() goes through: when ENGRAM_BENCH_FIXED_ITERATIONS=N is set, each
// benchmark is registered with ->Iterations(N); otherwise the binary behaves exactly like the
// one built from the same source without the wrapper.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

using benchmark::internal::Benchmark;

// The linker resolves calls to the wrapped symbol to __wrap_<symbol>, and __real_<symbol> to the
// original. The asm labels give our C++ functions those mangled names.
Benchmark* EngramRealRegisterBenchmark(Benchmark* b) __asm__(
    "__real__ZN9benchmark8internal25RegisterBenchmarkInternalEPNS0_9BenchmarkE");
Benchmark* EngramWrapRegisterBenchmark(Benchmark* b) __asm__(
    "__wrap__ZN9benchmark8internal25RegisterBenchmarkInternalEPNS0_9BenchmarkE");

namespace {

// 0 when unset; exits on a malformed value rather than measuring something else.
int64_t FixedIterations() {
  static const int64_t n = [] {
    const char* text = std::getenv("ENGRAM_BENCH_FIXED_ITERATIONS");
    if (text == nullptr || *text == '\0') return int64_t{0};
    char* end = nullptr;
    const long long v = std::strtoll(text, &end, 10);
    if (*end != '\0' || v < 1 || v > 1000000000) {
      std::fprintf(stderr, "ENGRAM_BENCH_FIXED_ITERATIONS=%s: expected an integer in [1, 1e9]\n",
                   text);
      std::exit(2);
    }
    benchmark::AddCustomContext("fixed_iterations", std::to_string(v));
    return static_cast<int64_t>(v);
  }();
  return n;
}

}  // namespace

Benchmark* EngramWrapRegisterBenchmark(Benchmark* b) {
  if (const int64_t n = FixedIterations(); n > 0) b->Iterations(n);
  return EngramRealRegisterBenchmark(b);
}
