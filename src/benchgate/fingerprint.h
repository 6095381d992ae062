// The machine-and-build fingerprint that a baseline is valid for, and which differences
// between two fingerprints can change what each mode measures.
//
// Wall time depends on the host: its CPU model, the ISA the dispatcher picks there
// (simd_target, from the CPU flags Highway tests), and the code: compiler, flags, build type and
// the shared libraries the benchmarks load. Instruction counts depend on the code and on what
// the code sees *under Valgrind*: Valgrind runs it on a CPU of its own making (Valgrind 3.19
// has no AVX-512, so a machine that runs AVX3 natively runs AVX2 under it), and what the code
// dispatched to there is valgrind_simd_target, read from the measured binaries' own runs. The
// host's CPU model, flags and native target reach an instruction count only through that field,
// so they are recorded but do not decide. FieldMatters() is the rule, one line per field.
//
// A baseline is compared when its fingerprint equals this one, or differs only in fields that
// cannot change the mode's measurements (the comparison names them); a difference in a field
// that can change them refuses the comparison (unless forced). `libraries` arrived with format
// 2.1: a baseline written before it does not record them, and is compared on the other fields
// with that said (an "unrecorded" difference).
//
// Threading: values; DetectHost reads /proc/cpuinfo.
#pragma once

#include <boost/json.hpp>

#include <string>
#include <vector>

#include "core/status.h"

namespace engram::benchgate {

enum class Mode { kWallTime, kInstructions };
const char* ModeName(Mode mode);      // "wall_time", "instructions"
const char* QuantityName(Mode mode);  // "wall times", "instruction counts"

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
  // The shared libraries the measured binaries load, "soname version" sorted ("libhwy.so.1
  // 1.0.3"; libraries.h). Empty: not recorded (a baseline from before format 2.1).
  std::vector<std::string> libraries;

  bool operator==(const Fingerprint&) const = default;
};

// This machine and this build. The Valgrind fields and the libraries are left empty: the
// runner fills them from the binaries it measures.
Fingerprint DetectHost();

// Every field, in the order they are shown.
const std::vector<std::string>& FingerprintFields();
// The fields whose differences can change what `mode` measures.
std::vector<std::string> FieldsFor(Mode mode);
bool FieldMatters(const std::string& field, Mode mode);
// One field as text; list fields joined (isa_flags with " ", libraries with ", ").
std::string FieldValue(const Fingerprint& fp, const std::string& field);

struct FieldDifference {
  std::string field;
  // The two values; for list fields only the entries the other side lacks.
  std::string baseline;
  std::string current;
  bool list = false;
  bool matters = true;      // can change what the mode measures: refuses the comparison
  bool unrecorded = false;  // one side does not record this field; not held against it
  std::string reason;       // why it can or cannot change the mode's measurements
};

// Every field in which the two fingerprints differ, each classified for `mode`. A field one
// side leaves empty is left out when it cannot matter (nothing was measured there, e.g. the
// Valgrind target of a wall-time set), and is an unrecorded difference when it was added to the
// format later (libraries).
std::vector<FieldDifference> Differences(const Fingerprint& baseline, const Fingerprint& current,
                                         Mode mode);
// True when at least one of `differences` can change the measurements.
bool AnyMatters(const std::vector<FieldDifference>& differences);
// "differs in isa_flags: only here 'abm' [cannot change instruction counts: ...]".
std::string DescribeDifference(const FieldDifference& d);

// A short stable id of the fields that matter for `mode`, e.g. "wall_time:5d41402abc4b2a76":
// the history database groups trends by it.
std::string FingerprintKey(const Fingerprint& fp, Mode mode);

// One line for people: "AMD EPYC | AVX3 (AVX2 under valgrind-3.19.0) | GNU 12.2.0 -O3 | Release".
std::string Describe(const Fingerprint& fp);

boost::json::object FingerprintToJson(const Fingerprint& fp);
Fingerprint FingerprintFromJson(const boost::json::object& o);

// The flags Highway's x86 dispatcher tests (hwy/targets.cc), in cpuinfo spelling.
const std::vector<std::string>& DispatcherIsaFlags();

}  // namespace engram::benchgate
