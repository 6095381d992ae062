// Restricting a scenario's operation mix to some kinds (`loadtest run --only-kinds`), and
// refusing a mix its driver cannot execute.
//
// A peer answers only some kinds (the PostgreSQL peer: Traversal). Sending it the others would
// either drop them silently or mix instant "unsupported" failures into the latency
// histograms, so neither happens: a scenario that draws a kind the driver does not support is
// refused, unless --only-kinds names the kinds to keep. The filter sets the weights of the
// other kinds to 0 and scales every rate by the kept kinds' share of the mix, so the kept
// kinds run at the rate they have in the full scenario (a 70% traversal mix at 500 ops/s
// gives traversals at 350 ops/s). The stream is then drawn from the kept kinds alone: its
// operations are not those of the unfiltered stream, but the same for every driver and every
// run with the same filter, which is what a comparison needs. What was left out is recorded
// per kind in the result's context (`kinds_not_run`) and printed after the summary.
//
// Threading: values and pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "core/status.h"
#include "loadgen/driver.h"
#include "workload/scenario.h"

namespace engram::loadgen {

struct ExcludedKind {
  workload::OpKind kind = workload::OpKind::kStore;
  double share = 0;        // of the unfiltered mix, in [0, 1]
  bool supported = true;   // by the driver of the run
};

struct KindFilter {
  std::vector<workload::OpKind> kept;  // empty: no filter
  std::vector<ExcludedKind> excluded;  // kinds with weight > 0 that were removed
  double kept_share = 1;               // the kept kinds' share of the unfiltered mix
};

// "traversal,store" -> kinds. Names are the TOML key stems (traversal, embedding_search,
// pattern_completion, ...) or the result's names (Traversal, Search, ...), any case.
Result<std::vector<workload::OpKind>> ParseKinds(std::string_view list);

// Keeps only `keep` in the scenario's mix (nothing changes when `keep` is empty) and scales
// its rates by the kept share. InvalidArgument when a kind the driver does not support would
// still be drawn (the message names them and the --only-kinds that would run), or when no
// kept kind has weight.
Result<KindFilter> FilterKinds(workload::Scenario* scenario, const std::vector<workload::OpKind>& keep,
                               const Driver& driver);

// `kinds_not_run` for the result's context: per excluded kind its share of the unfiltered mix,
// the operations it would have had in this run's schedule (`measured_operations` of the
// filtered run scaled by share / kept share), and why it was not run.
boost::json::object KindFilterContext(const KindFilter& filter, uint64_t measured_operations,
                                      std::string_view driver_name);
// One line for the end of the summary ("" when nothing was filtered).
std::string DescribeKindFilter(const KindFilter& filter, uint64_t measured_operations,
                               std::string_view driver_name);

}  // namespace engram::loadgen
