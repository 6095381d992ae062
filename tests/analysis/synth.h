// Synthetic loadtest result files with known noise, for the analysis tests.
//
// A run is 60 s of lognormal latencies at a fixed rate, cut into 10 s segments. Each segment
// draws a multiplicative factor exp(segment_noise * N(0,1)) and each run one exp(run_noise *
// N(0,1)), so the noise a comparison sees is known. `scale` multiplies every latency: an
// injected slowdown of exactly (scale - 1). All randomness comes from engram::Rng(rng_seed),
// so a file is the same on every machine. The output follows docs/result_schema.md in full.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace engram::analysis::testing {

struct SynthRun {
  std::string config_name = "M17 Baseline";
  std::string scenario_path = "scenarios/m17_baseline.toml";
  std::string scenario_hash = "5f3c9a1e0b7d2468";
  std::string seed = "0xdeadbeef";
  double seconds = 60;
  double segment_seconds = 10;
  double target_rate = 200;        // ops/s of the schedule
  double achieved_fraction = 1.0;  // achieved = target * this (below 0.9: server-limited)
  bool generator_saturated = false;
  // rate.server_saturated; nullopt leaves the field out (a file from an older loadtest).
  std::optional<bool> server_saturated = false;
  std::vector<std::string> saturation_reasons;
  double throughput_limit_fraction = 0.9;  // expected_throughput_ops_sec = target * this
  double median_ms = 1.0;
  double sigma = 0.5;  // lognormal shape
  double scale = 1.0;  // multiplies every latency
  double segment_noise = 0.03;
  double run_noise = 0.01;
  double error_rate = 0.0;
  double max_error_rate = 0.01;  // the scenario's limit; < 0: no limit
  double expected_p99_ms = 10.0;
  uint64_t rng_seed = 1;
  std::string host = "testhost";
  std::string time_utc = "2025-11-08T14:05:30Z";
};

// The result document as JSON text.
std::string SynthResultJson(const SynthRun& run);

// Writes the named fixture set the tests and tests/analysis/compare_script_test.sh use into
// `dir` (see synth.cc for the list), with a capacity.json for the synthetic M17 scenario on
// the synthetic machine. Returns false if a file could not be written.
bool WriteFixtureSet(const std::string& dir);

}  // namespace engram::analysis::testing
