// The machine-and-build fingerprint that a baseline is valid for.
//
// Wall time depends on the CPU model, the ISA the dispatcher picks and the code the compiler
// made; instruction counts depend on the code and on the dispatch level *as Valgrind presents
// the CPU* (Valgrind 3.19 has no AVX-512, so a machine that runs AVX3 natively runs AVX2 under
// it). So a fingerprint records both targets, and each mode compares only the fields that
// matter to it (FieldsFor). Baselines from another fingerprint are never compared silently.
//
// Threading: values; DetectHost reads /proc/cpuinfo.
#pragma once

#include <boost/json.hpp>

#include <string>
#include <vector>

#include "core/status.h"

namespace engram::benchgate {

enum class Mode { kWallTime, kInstructions };
const char* ModeName(Mode mode);  // "wall_time", "instructions"

struct Fingerprint {
  std::string arch;                    // "x86_64"
  std::string os;                      // "linux"
  std::string cpu_model;               // /proc/cpuinfo "model name"
  std::vector<std::string> isa_flags;  // the CPU flags Highway's x86 targets test, sorted
  std::string simd_target;             // dispatched target natively, e.g. "AVX3"
  std::string valgrind_simd_target;    // dispatched target under Valgrind, e.g. "AVX2"
  std::string valgrind_version;        // "valgrind-3.19.0"
  std::string compiler;                // "GNU 12.2.0"
  std::string cxx_flags;               // "-O3 -DNDEBUG"
  std::string build_type;              // "Release"

  bool operator==(const Fingerprint&) const = default;
};

// This machine and this build. Valgrind fields are left empty: the runner fills them from
// what a benchmark binary reports under Valgrind.
Fingerprint DetectHost();

struct FieldDifference {
  std::string field;
  std::string baseline;
  std::string current;
};

// The fields a mode's measurements depend on.
std::vector<std::string> FieldsFor(Mode mode);
std::string FieldValue(const Fingerprint& fp, const std::string& field);

// Differences between a baseline's fingerprint and the current one in the fields of `mode`.
std::vector<FieldDifference> Differences(const Fingerprint& baseline, const Fingerprint& current,
                                         Mode mode);

// A short stable id of the fields of `mode`, e.g. "wall_time:5d41402abc4b2a76": the history
// database groups trends by it.
std::string FingerprintKey(const Fingerprint& fp, Mode mode);

// One line for people: "AMD EPYC | AVX3 (AVX2 under valgrind-3.19.0) | GNU 12.2.0 -O3 | Release".
std::string Describe(const Fingerprint& fp);

boost::json::object FingerprintToJson(const Fingerprint& fp);
Fingerprint FingerprintFromJson(const boost::json::object& o);

// The flags Highway's x86 dispatcher tests (hwy/targets.cc), in cpuinfo spelling.
const std::vector<std::string>& DispatcherIsaFlags();

}  // namespace engram::benchgate
