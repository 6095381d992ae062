// The scenario model: what a load test runs, parsed from a TOML file.
//
// The parser accepts the earlier system's schema unchanged (name, description, [duration],
// [arrival], [operations], [data], [validation], [chaos]) plus our extensions (seed, more
// operation kinds and their parameters, graph shape, preload, warm-up, connections, phases).
// docs/scenario_format.md lists every key with its type, default and range; keep the two in
// step. Unknown keys, wrong types and out-of-range values are errors that name the key and the
// line of the file.
//
// Threading: a Scenario is a plain value; parsing has no shared state.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace engram::workload {

// The default seed when a scenario names none. Never the wall clock: a run must be repeatable.
inline constexpr uint64_t kDefaultSeed = 0xDEADBEEFULL;

// Operation kinds, in the order the op stream's mix draws them. Changing the order changes
// every generated stream; a new kind goes at the end (with weight 0 it takes an empty interval
// after the others, so existing scenarios draw exactly what they drew before).
enum class OpKind {
  kStore,
  kRecall,
  kSemanticRecall,
  kBlendedRecall,
  kSearch,
  kPatternCompletion,
  kTraversal,
  kActivation,
  kConsolidation,
  kHealth,  // GET /health: no payload, touches no space; the trivial endpoint for capacity runs
};
inline constexpr int kNumOpKinds = 10;
inline constexpr std::array<OpKind, kNumOpKinds> kAllOpKinds = {
    OpKind::kStore,         OpKind::kRecall,        OpKind::kSemanticRecall,
    OpKind::kBlendedRecall, OpKind::kSearch,        OpKind::kPatternCompletion,
    OpKind::kTraversal,     OpKind::kActivation,    OpKind::kConsolidation,
    OpKind::kHealth};

// The name the result file uses: "Store", "Recall", "Search", "PatternCompletion",
// "SemanticRecall", "BlendedRecall", "Traversal", "Activation", "Consolidation", "Health".
std::string_view OpKindName(OpKind kind);
// The inverse of OpKindName; nullopt for an unknown name.
std::optional<OpKind> OpKindFromName(std::string_view name);
// The stem of the TOML keys for this kind: "store" (store_weight, [operations.store]),
// "recall", "semantic_recall", "blended_recall", "embedding_search", "pattern_completion",
// "traversal", "activation", "consolidation", "health".
std::string_view OpKindKeyStem(OpKind kind);

// An arrival pattern: a rate curve over the time since the pattern began, plus the spacing of
// operations along it.
enum class PatternKind {
  kConstant,       // rate
  kPoisson,        // lambda (mean ops/s), exponential spacing
  kExponential,    // lambda; the earlier system's synonym of poisson
  kPeriodicBurst,  // base_rate, burst_rate, burst_duration_sec, burst_period_sec
  kRamp,           // from_rate -> to_rate, linear over the phase
  kStep,           // rates[], each held for step_sec; the last one holds to the end
  kDiurnal,        // base_rate + amplitude * sin(2 pi t / period_sec)
};
std::string_view PatternKindName(PatternKind kind);

// How operations are placed along the cumulative rate curve Lambda(t) (integral of rate).
// kEven: operation i sits where Lambda reaches i (constant rate r gives exactly i / r).
// kPoisson: the increments of Lambda between operations are Exp(1), which makes the
// arrivals an (inhomogeneous) Poisson process with the pattern's rate.
enum class Spacing { kEven, kPoisson };

struct ArrivalPattern {
  PatternKind kind = PatternKind::kConstant;
  Spacing spacing = Spacing::kEven;  // kPoisson always for poisson/exponential
  double rate = 0;                   // constant: rate; poisson/exponential: lambda
  double base_rate = 0;              // periodic_burst, diurnal
  double burst_rate = 0;             // periodic_burst
  double burst_duration_sec = 0;     // periodic_burst
  double burst_period_sec = 0;       // periodic_burst
  double from_rate = 0;              // ramp
  double to_rate = 0;                // ramp
  std::vector<double> rates;         // step
  double step_sec = 0;               // step
  double amplitude = 0;              // diurnal
  double period_sec = 0;             // diurnal

  // Rate in ops/s at `t` seconds after the pattern began; `duration` is the length of the
  // phase the pattern fills (a ramp spans it).
  double RateAt(double t, double duration) const;
};

// One part of the measured schedule.
struct Phase {
  std::string name;         // optional label, "" when absent
  double duration_sec = 0;  // > 0
  ArrivalPattern pattern;
};

// Per-operation parameters. [operations.params] sets them for every kind; a per-kind table
// such as [operations.traversal] overrides them for that kind.
struct OpParams {
  int k = 10;                        // results wanted (recall, search, completion)
  int ef = 0;                        // HNSW search breadth; 0 = the engine's default
  int hops = 2;                      // traversal / activation depth
  int max_results = 100;             // traversal / activation result cap
  double threshold = 0.01;           // activation threshold (and recall confidence floor)
  double completion_fraction = 0.5;  // pattern completion: fraction of the embedding known
};

enum class DistributionKind { kClustered, kUniform, kHotSpot };
std::string_view DistributionKindName(DistributionKind kind);

struct EmbeddingDistribution {
  DistributionKind kind = DistributionKind::kClustered;
  int num_clusters = 10;       // clustered
  double std_dev = 0.1;        // clustered, hot_spot: per-component noise
  std::vector<double> center;  // hot_spot, padded with zeros to embedding_dim
};

enum class GraphShape { kNone, kScaleFree, kRandom };
std::string_view GraphShapeName(GraphShape shape);

struct GraphSpec {
  GraphShape shape = GraphShape::kNone;
  double avg_degree = 10;  // mean undirected degree; used unless shape == kNone
};

struct DataSpec {
  uint64_t num_nodes = 1000;
  int embedding_dim = 768;
  int memory_spaces = 1;  // > 1: space_0 .. space_{n-1}; 1: "default"
  EmbeddingDistribution distribution;
  GraphSpec graph;
  bool preload = true;  // load the dataset before the measured phase
};

struct Validation {
  std::optional<double> expected_p99_latency_ms;
  std::optional<double> expected_throughput_ops_sec;
  std::optional<double> max_error_rate;
};

struct Scenario {
  std::string name;
  std::string description;
  uint64_t seed = kDefaultSeed;
  bool seed_given = false;  // false: kDefaultSeed was used

  // Measured duration. With phases it is the sum of their durations.
  double duration_seconds = 300;
  double warmup_seconds = 0;
  // The warm-up's rate; nullopt: the mean rate of the first measured phase.
  std::optional<double> warmup_rate;

  // The [arrival] pattern. Absent only when [[phases]] are given.
  std::optional<ArrivalPattern> arrival;
  std::vector<Phase> phases;  // empty: one phase of `arrival` for duration_seconds

  std::array<double, kNumOpKinds> weights{};   // indexed by OpKind; sum > 0
  std::array<OpParams, kNumOpKinds> params{};  // indexed by OpKind, overrides applied

  DataSpec data;
  Validation validation;
  bool chaos_enabled = false;
  int connections = 32;

  std::string source_path;   // as given to LoadScenario / ParseScenario
  std::string content_hash;  // FNV-1a 64 of the file bytes, 16 lowercase hex digits

  double weight(OpKind kind) const { return weights[static_cast<int>(kind)]; }
  const OpParams& op_params(OpKind kind) const { return params[static_cast<int>(kind)]; }
  // The measured schedule as phases: `phases`, or one phase of `arrival`.
  std::vector<Phase> MeasuredPhases() const;
};

// Parses and validates a scenario. `source_name` prefixes error messages
// ("m17.toml:12: unknown key 'operations.foo'") and becomes source_path.
Result<Scenario> ParseScenario(std::string_view toml_text, std::string_view source_name);

// Reads and parses the file at `path`. NotFound if it cannot be read.
Result<Scenario> LoadScenario(const std::string& path);

// A few human-readable lines for `loadtest validate`.
std::string DescribeScenario(const Scenario& scenario);

// "0xdeadbeef".
std::string FormatSeed(uint64_t seed);

}  // namespace engram::workload
