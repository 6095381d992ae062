#include "benchgate/fingerprint.h"

#include <sys/utsname.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include "benchgate/build_info.h"
#include "benchgate/json_util.h"
#include "kernels/kernels.h"

namespace engram::benchgate {

namespace json = boost::json;

const char* ModeName(Mode mode) {
  return mode == Mode::kWallTime ? "wall_time" : "instructions";
}

const std::vector<std::string>& DispatcherIsaFlags() {
  // SSE4: ssse3 sse4_1 sse4_2 pclmulqdq aes; AVX2: avx avx2 bmi1 bmi2 fma f16c abm(lzcnt) movbe;
  // AVX3: avx512f/vl/dq/bw; AVX3_DL: vnni vbmi vbmi2 bitalg vpopcntdq gfni vaes vpclmulqdq;
  // AVX3_ZEN4 adds avx512_bf16; AVX3_SPR adds avx512_fp16.
  static const std::vector<std::string> kFlags = {
      "aes",         "abm",           "avx",           "avx2",          "avx512_bf16",
      "avx512_bitalg", "avx512_fp16", "avx512_vbmi2",  "avx512_vnni",   "avx512_vpopcntdq",
      "avx512bw",    "avx512cd",      "avx512dq",      "avx512f",       "avx512vbmi",
      "avx512vl",    "bmi1",          "bmi2",          "f16c",          "fma",
      "gfni",        "movbe",         "pclmulqdq",     "sse4_1",        "sse4_2",
      "ssse3",       "vaes",          "vpclmulqdq"};
  return kFlags;
}

Fingerprint DetectHost() {
  Fingerprint fp;
  utsname u{};
  if (uname(&u) == 0) {
    fp.arch = u.machine;
    std::string os = u.sysname;
    std::transform(os.begin(), os.end(), os.begin(), [](unsigned char c) { return std::tolower(c); });
    fp.os = os;
  }
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  std::set<std::string> flags;
  while (std::getline(cpuinfo, line)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon);
    while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.pop_back();
    std::string value = line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.erase(0, 1);
    if (key == "model name" && fp.cpu_model.empty()) fp.cpu_model = value;
    if ((key == "flags" || key == "Features") && flags.empty()) {
      std::istringstream in(value);
      std::string f;
      while (in >> f) flags.insert(f);
    }
  }
  for (const std::string& f : DispatcherIsaFlags()) {
    if (flags.count(f) != 0) fp.isa_flags.push_back(f);
  }
  std::sort(fp.isa_flags.begin(), fp.isa_flags.end());
  fp.simd_target = kernels::DispatchedTargetName();
  fp.compiler = ENGRAM_BENCHGATE_COMPILER;
  fp.cxx_flags = ENGRAM_BENCHGATE_CXX_FLAGS;
  fp.build_type = ENGRAM_BENCHGATE_BUILD_TYPE;
  return fp;
}

std::vector<std::string> FieldsFor(Mode mode) {
  if (mode == Mode::kWallTime) {
    return {"arch", "os", "cpu_model", "isa_flags", "simd_target", "compiler", "cxx_flags",
            "build_type"};
  }
  return {"arch",         "os",        "cpu_model",  "isa_flags", "valgrind_simd_target",
          "valgrind_version", "compiler", "cxx_flags", "build_type"};
}

std::string FieldValue(const Fingerprint& fp, const std::string& field) {
  if (field == "arch") return fp.arch;
  if (field == "os") return fp.os;
  if (field == "cpu_model") return fp.cpu_model;
  if (field == "isa_flags") {
    std::string out;
    for (const auto& f : fp.isa_flags) out += (out.empty() ? "" : " ") + f;
    return out;
  }
  if (field == "simd_target") return fp.simd_target;
  if (field == "valgrind_simd_target") return fp.valgrind_simd_target;
  if (field == "valgrind_version") return fp.valgrind_version;
  if (field == "compiler") return fp.compiler;
  if (field == "cxx_flags") return fp.cxx_flags;
  if (field == "build_type") return fp.build_type;
  return "";
}

std::vector<FieldDifference> Differences(const Fingerprint& baseline, const Fingerprint& current,
                                         Mode mode) {
  std::vector<FieldDifference> out;
  for (const std::string& field : FieldsFor(mode)) {
    const std::string b = FieldValue(baseline, field), c = FieldValue(current, field);
    if (b != c) out.push_back({field, b, c});
  }
  return out;
}

std::string FingerprintKey(const Fingerprint& fp, Mode mode) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a 64
  for (const std::string& field : FieldsFor(mode)) {
    for (unsigned char c : field + "=" + FieldValue(fp, field) + "\n") {
      h ^= c;
      h *= 1099511628211ULL;
    }
  }
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%s:%016llx", ModeName(mode), static_cast<unsigned long long>(h));
  return buf;
}

std::string Describe(const Fingerprint& fp) {
  std::string out = fp.cpu_model.empty() ? "unknown CPU" : fp.cpu_model;
  out += " | " + (fp.simd_target.empty() ? std::string("?") : fp.simd_target);
  if (!fp.valgrind_simd_target.empty()) {
    out += " (" + fp.valgrind_simd_target + " under " + fp.valgrind_version + ")";
  }
  out += " | " + fp.compiler + " " + fp.cxx_flags + " | " + fp.build_type;
  return out;
}

json::object FingerprintToJson(const Fingerprint& fp) {
  json::object o;
  o["arch"] = fp.arch;
  o["os"] = fp.os;
  o["cpu_model"] = fp.cpu_model;
  json::array flags;
  for (const auto& f : fp.isa_flags) flags.emplace_back(f);
  o["isa_flags"] = std::move(flags);
  o["simd_target"] = fp.simd_target;
  o["valgrind_simd_target"] = fp.valgrind_simd_target;
  o["valgrind_version"] = fp.valgrind_version;
  o["compiler"] = fp.compiler;
  o["cxx_flags"] = fp.cxx_flags;
  o["build_type"] = fp.build_type;
  return o;
}

Fingerprint FingerprintFromJson(const json::object& o) {
  Fingerprint fp;
  fp.arch = StringOr(o, "arch", "");
  fp.os = StringOr(o, "os", "");
  fp.cpu_model = StringOr(o, "cpu_model", "");
  if (const json::value* f = o.if_contains("isa_flags"); f != nullptr && f->is_array()) {
    for (const json::value& v : f->as_array()) {
      if (v.is_string()) fp.isa_flags.emplace_back(v.as_string());
    }
    std::sort(fp.isa_flags.begin(), fp.isa_flags.end());
  }
  fp.simd_target = StringOr(o, "simd_target", "");
  fp.valgrind_simd_target = StringOr(o, "valgrind_simd_target", "");
  fp.valgrind_version = StringOr(o, "valgrind_version", "");
  fp.compiler = StringOr(o, "compiler", "");
  fp.cxx_flags = StringOr(o, "cxx_flags", "");
  fp.build_type = StringOr(o, "build_type", "");
  return fp;
}

}  // namespace engram::benchgate
