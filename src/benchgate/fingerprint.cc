#include "benchgate/fingerprint.h"

#include <sys/utsname.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
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

const char* QuantityName(Mode mode) {
  return mode == Mode::kWallTime ? "wall times" : "instruction counts";
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

namespace {

// What each field is, for each mode. `since_2_1`: added to the format later, so a set written
// before may lack it; an empty value there is "not recorded", not a different value.
struct FieldRule {
  const char* name;
  bool wall_time;     // a difference can change wall times
  bool instructions;  // a difference can change instruction counts
  bool since_2_1;
};

constexpr FieldRule kRules[] = {
    {"arch", true, true, false},
    {"os", true, true, false},
    {"cpu_model", true, false, false},
    {"isa_flags", true, false, false},
    {"simd_target", true, false, false},
    {"valgrind_simd_target", false, true, false},
    {"valgrind_version", false, true, false},
    {"compiler", true, true, false},
    {"cxx_flags", true, true, false},
    {"build_type", true, true, false},
    {"libraries", true, true, true},
};

bool Matters(const FieldRule& rule, Mode mode) {
  return mode == Mode::kWallTime ? rule.wall_time : rule.instructions;
}

const FieldRule* RuleFor(const std::string& field) {
  for (const FieldRule& r : kRules) {
    if (field == r.name) return &r;
  }
  return nullptr;
}

std::string Reason(const FieldRule& rule, Mode mode) {
  if (Matters(rule, mode)) return std::string("can change ") + QuantityName(mode);
  if (mode == Mode::kInstructions) {
    return "cannot change instruction counts: under Valgrind the code runs on Valgrind's CPU, "
           "not the host's, and what it dispatches to there is valgrind_simd_target";
  }
  return "cannot change wall times: they are measured without Valgrind";
}

const std::vector<std::string>* ListField(const Fingerprint& fp, const std::string& field) {
  if (field == "isa_flags") return &fp.isa_flags;
  if (field == "libraries") return &fp.libraries;
  return nullptr;
}

std::string Join(const std::vector<std::string>& items, const std::string& field) {
  const char* sep = field == "libraries" ? ", " : " ";  // library entries hold a space
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : sep) + item;
  return out;
}

// The entries of `a` that `b` lacks (both sorted).
std::vector<std::string> Minus(const std::vector<std::string>& a,
                               const std::vector<std::string>& b) {
  std::vector<std::string> out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

}  // namespace

const std::vector<std::string>& FingerprintFields() {
  static const std::vector<std::string> kFields = [] {
    std::vector<std::string> v;
    for (const FieldRule& r : kRules) v.emplace_back(r.name);
    return v;
  }();
  return kFields;
}

bool FieldMatters(const std::string& field, Mode mode) {
  const FieldRule* r = RuleFor(field);
  return r != nullptr && Matters(*r, mode);
}

std::vector<std::string> FieldsFor(Mode mode) {
  std::vector<std::string> out;
  for (const std::string& field : FingerprintFields()) {
    if (FieldMatters(field, mode)) out.push_back(field);
  }
  return out;
}

std::string FieldValue(const Fingerprint& fp, const std::string& field) {
  if (const std::vector<std::string>* list = ListField(fp, field)) return Join(*list, field);
  if (field == "arch") return fp.arch;
  if (field == "os") return fp.os;
  if (field == "cpu_model") return fp.cpu_model;
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
  for (const FieldRule& rule : kRules) {
    const std::string field = rule.name;
    const std::string b = FieldValue(baseline, field), c = FieldValue(current, field);
    if (b == c) continue;
    FieldDifference d;
    d.field = field;
    d.baseline = b;
    d.current = c;
    d.matters = Matters(rule, mode);
    d.reason = Reason(rule, mode);
    const bool one_side_empty = b.empty() || c.empty();
    if (one_side_empty && !d.matters) continue;
    if (one_side_empty && rule.since_2_1) {
      d.unrecorded = true;
      d.matters = false;
      d.reason = "not checked, recorded since format 2.1; a difference " + d.reason;
    } else if (const std::vector<std::string>* bl = ListField(baseline, field)) {
      const std::vector<std::string>* cl = ListField(current, field);
      d.list = true;
      d.baseline = Join(Minus(*bl, *cl), field);
      d.current = Join(Minus(*cl, *bl), field);
    }
    out.push_back(std::move(d));
  }
  return out;
}

bool AnyMatters(const std::vector<FieldDifference>& differences) {
  return std::any_of(differences.begin(), differences.end(),
                     [](const FieldDifference& d) { return d.matters; });
}

std::string DescribeDifference(const FieldDifference& d) {
  std::string out;
  if (d.unrecorded) {
    out = d.field + ": not recorded " +
          (d.baseline.empty() ? "by the baseline; here '" + d.current + "'"
                              : "here; baseline '" + d.baseline + "'");
  } else if (d.list) {
    out = "differs in " + d.field + ":";
    if (!d.baseline.empty()) out += " only in the baseline '" + d.baseline + "'";
    if (!d.baseline.empty() && !d.current.empty()) out += ",";
    if (!d.current.empty()) out += " only here '" + d.current + "'";
  } else {
    out = "differs in " + d.field + ": baseline '" + d.baseline + "', here '" + d.current + "'";
  }
  return out + " [" + d.reason + "]";
}

std::string FingerprintKey(const Fingerprint& fp, Mode mode) {
  uint64_t h = kFnv1a64Basis;
  for (const std::string& field : FieldsFor(mode)) {
    h = Fnv1a64(field + "=" + FieldValue(fp, field) + "\n", h);
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

namespace {

std::vector<std::string> SortedStrings(const json::object& o, std::string_view key) {
  std::vector<std::string> out;
  if (const json::value* a = o.if_contains(key); a != nullptr && a->is_array()) {
    for (const json::value& v : a->as_array()) {
      if (v.is_string()) out.emplace_back(v.as_string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

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
  if (!fp.libraries.empty()) {
    json::array libs;
    for (const auto& l : fp.libraries) libs.emplace_back(l);
    o["libraries"] = std::move(libs);
  }
  return o;
}

Fingerprint FingerprintFromJson(const json::object& o) {
  Fingerprint fp;
  fp.arch = StringOr(o, "arch", "");
  fp.os = StringOr(o, "os", "");
  fp.cpu_model = StringOr(o, "cpu_model", "");
  fp.isa_flags = SortedStrings(o, "isa_flags");
  fp.simd_target = StringOr(o, "simd_target", "");
  fp.valgrind_simd_target = StringOr(o, "valgrind_simd_target", "");
  fp.valgrind_version = StringOr(o, "valgrind_version", "");
  fp.compiler = StringOr(o, "compiler", "");
  fp.cxx_flags = StringOr(o, "cxx_flags", "");
  fp.build_type = StringOr(o, "build_type", "");
  fp.libraries = SortedStrings(o, "libraries");
  return fp;
}

}  // namespace engram::benchgate
