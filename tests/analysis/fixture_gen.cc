// analysis_fixture_gen DIR: writes the synthetic fixture set (synth.cc) into DIR, for the
// shell-level tests of scripts/compare_m17_performance.sh.
// analysis_fixture_gen --example FILE: writes the small checked-in fixtures/example_result.json.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "synth.h"

int main(int argc, char** argv) {
  using engram::analysis::testing::SynthRun;
  if (argc == 3 && std::strcmp(argv[1], "--example") == 0) {
    SynthRun run;  // M17 Baseline's names and limits, but 20 s at 50 ops/s to stay small
    run.seconds = 20;
    run.target_rate = 50;
    run.rng_seed = 42;
    std::ofstream out(argv[2], std::ios::binary | std::ios::trunc);
    out << engram::analysis::testing::SynthResultJson(run);
    return out ? 0 : 1;
  }
  if (argc != 2) {
    std::fprintf(stderr, "usage: analysis_fixture_gen DIR | --example FILE\n");
    return 2;
  }
  std::error_code ec;
  std::filesystem::create_directories(argv[1], ec);
  if (!engram::analysis::testing::WriteFixtureSet(argv[1])) {
    std::fprintf(stderr, "analysis_fixture_gen: cannot write into %s\n", argv[1]);
    return 1;
  }
  return 0;
}
