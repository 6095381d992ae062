#include "loadgen/kind_filter.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "loadgen/runner.h"

namespace engram::loadgen {

using workload::OpKind;

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string KindList(const std::vector<OpKind>& kinds, bool stems) {
  std::string out;
  for (OpKind k : kinds) {
    out += (out.empty() ? "" : ",") + std::string(stems ? workload::OpKindKeyStem(k) : workload::OpKindName(k));
  }
  return out;
}

uint64_t ExpectedOps(const KindFilter& f, const ExcludedKind& e, uint64_t measured) {
  return f.kept_share > 0 ? static_cast<uint64_t>(std::llround(static_cast<double>(measured) * e.share / f.kept_share))
                          : 0;
}

}  // namespace

Result<std::vector<OpKind>> ParseKinds(std::string_view list) {
  std::vector<OpKind> out;
  size_t at = 0;
  while (at <= list.size()) {
    const size_t comma = std::min(list.find(',', at), list.size());
    const std::string name = Lower(list.substr(at, comma - at));
    at = comma + 1;
    if (name.empty()) continue;
    std::optional<OpKind> kind;
    for (OpKind k : workload::kAllOpKinds) {
      if (name == workload::OpKindKeyStem(k) || name == Lower(workload::OpKindName(k))) kind = k;
    }
    if (!kind) {
      std::string all;
      for (OpKind k : workload::kAllOpKinds) all += (all.empty() ? "" : ", ") + std::string(workload::OpKindKeyStem(k));
      return Status::InvalidArgument("--only-kinds: unknown operation kind '", name, "' (kinds: ", all, ")");
    }
    if (std::find(out.begin(), out.end(), *kind) == out.end()) out.push_back(*kind);
  }
  if (out.empty()) return Status::InvalidArgument("--only-kinds names no operation kind");
  return out;
}

Result<KindFilter> FilterKinds(workload::Scenario* s, const std::vector<OpKind>& keep, const Driver& driver) {
  KindFilter f;
  f.kept = keep;
  double total = 0, kept = 0;
  for (OpKind k : workload::kAllOpKinds) total += s->weight(k);
  std::vector<OpKind> unsupported, supported_drawn;
  for (OpKind k : workload::kAllOpKinds) {
    const double w = s->weight(k);
    if (w <= 0) continue;
    const bool in = keep.empty() || std::find(keep.begin(), keep.end(), k) != keep.end();
    if (in && !driver.Supports(k)) unsupported.push_back(k);
    if (driver.Supports(k)) supported_drawn.push_back(k);
    if (in) {
      kept += w;
    } else {
      f.excluded.push_back(ExcludedKind{k, total > 0 ? w / total : 0, driver.Supports(k)});
    }
  }
  if (!unsupported.empty()) {
    std::string drawn;
    for (OpKind k : unsupported) {
      drawn += fmt::format("{}{} ({:.0f}%)", drawn.empty() ? "" : ", ", workload::OpKindName(k), 100 * s->weight(k) / total);
    }
    std::string advice = supported_drawn.empty()
                             ? "it draws no kind this driver supports"
                             : fmt::format("run its supported kinds alone with --only-kinds {}", KindList(supported_drawn, true));
    return Status::InvalidArgument("the ", driver.name(), " driver does not execute ", drawn, ", which scenario '", s->name,
                                   "' draws; ", advice, " (docs/loadtest.md \"Operation kinds a driver does not support\")");
  }
  if (keep.empty()) return f;
  if (!(kept > 0)) {
    return Status::InvalidArgument("--only-kinds ", KindList(keep, true), ": scenario '", s->name,
                                   "' gives none of these kinds a weight");
  }
  for (OpKind k : workload::kAllOpKinds) {
    if (std::find(keep.begin(), keep.end(), k) == keep.end()) s->weights[static_cast<int>(k)] = 0;
  }
  f.kept_share = kept / total;
  ScaleRates(s, f.kept_share);
  if (s->validation.expected_throughput_ops_sec) *s->validation.expected_throughput_ops_sec *= f.kept_share;
  return f;
}

boost::json::object KindFilterContext(const KindFilter& f, uint64_t measured, std::string_view driver_name) {
  boost::json::object o;
  if (f.kept.empty()) return o;
  boost::json::array kept;
  for (OpKind k : f.kept) kept.emplace_back(workload::OpKindName(k));
  o["only_kinds"] = std::move(kept);
  o["kept_share"] = f.kept_share;
  boost::json::array excluded;
  for (const ExcludedKind& e : f.excluded) {
    boost::json::object x;
    x["kind"] = workload::OpKindName(e.kind);
    x["share"] = e.share;
    x["expected_operations"] = ExpectedOps(f, e, measured);
    x["reason"] = e.supported ? std::string("excluded by --only-kinds")
                              : fmt::format("not supported by the {} driver", driver_name);
    excluded.emplace_back(std::move(x));
  }
  o["kinds_not_run"] = std::move(excluded);
  return o;
}

std::string DescribeKindFilter(const KindFilter& f, uint64_t measured, std::string_view driver_name) {
  if (f.kept.empty()) return "";
  std::string out = fmt::format("only {} ({:.0f}% of the scenario's mix, its rates scaled by {:.2f})",
                                KindList(f.kept, false), 100 * f.kept_share, f.kept_share);
  if (f.excluded.empty()) return out + "\n";
  out += "; not run:";
  for (const ExcludedKind& e : f.excluded) {
    out += fmt::format(" {} {:.0f}% (~{} ops, {})", workload::OpKindName(e.kind), 100 * e.share, ExpectedOps(f, e, measured),
                       e.supported ? "excluded" : fmt::format("not supported by {}", driver_name));
  }
  return out + "\n";
}

}  // namespace engram::loadgen
