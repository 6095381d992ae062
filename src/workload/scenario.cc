#include "workload/scenario.h"

#include <toml++/toml.h>

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <exception>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <numbers>
#include <sstream>

#include "workload/arrival.h"
#include "workload/digest.h"

namespace engram::workload {

namespace {

constexpr double kMaxRate = 1e7;                // ops/s
constexpr double kMaxSeconds = 30.0 * 86400.0;  // one scenario: at most 30 days
constexpr double kMaxWeight = 1e9;
constexpr double kInf = std::numeric_limits<double>::infinity();

constexpr std::array<std::string_view, kNumOpKinds> kOpNames = {
    "Store",     "Recall",     "SemanticRecall", "BlendedRecall", "Search", "PatternCompletion",
    "Traversal", "Activation", "Consolidation",  "Health"};
constexpr std::array<std::string_view, kNumOpKinds> kOpStems = {
    "store",          "recall",           "semantic_recall",
    "blended_recall", "embedding_search", "pattern_completion",
    "traversal",      "activation",       "consolidation",
    "health"};

std::string_view NodeTypeName(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table:
      return "table";
    case toml::node_type::array:
      return "array";
    case toml::node_type::string:
      return "string";
    case toml::node_type::integer:
      return "integer";
    case toml::node_type::floating_point:
      return "float";
    case toml::node_type::boolean:
      return "boolean";
    case toml::node_type::date:
      return "date";
    case toml::node_type::time:
      return "time";
    case toml::node_type::date_time:
      return "date-time";
    default:
      return "nothing";
  }
}

std::string Join(const std::vector<std::string_view>& items) {
  std::string out;
  for (auto s : items) {
    if (!out.empty()) {
      out += ", ";
    }
    out += s;
  }
  return out;
}

std::string FormatNumber(double v) {
  std::ostringstream o;
  o << v;
  return o.str();
}

// Error helpers: every message is "<source>:<line>: <key path>: <what is wrong>".
struct Ctx {
  std::string source;
  template <typename... A>
  Status Error(int64_t line, const A&... a) const {
    return Status::InvalidArgument(source, ":", line, ": ", a...);
  }
};

// Reads the keys of one table, remembering its path for messages.
class TableReader {
 public:
  TableReader(const Ctx& ctx, const toml::table& table, std::string path)
      : ctx_(ctx), table_(table), path_(std::move(path)) {}

  const Ctx& ctx() const { return ctx_; }
  const toml::table& table() const { return table_; }
  std::string Path(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }
  int64_t TableLine() const { return table_.source().begin.line; }
  // The line of `key` (of the table itself when the key is absent).
  int64_t KeyLine(std::string_view key) const {
    for (auto&& [k, v] : table_) {
      if (k.str() == key) {
        const int64_t line = k.source().begin.line;
        return line > 0 ? line : static_cast<int64_t>(v.source().begin.line);
      }
    }
    return TableLine();
  }
  const toml::node* Get(std::string_view key) const { return table_.get(key); }
  bool Has(std::string_view key) const { return Get(key) != nullptr; }

  // Every key of the table must be in `allowed`.
  Status RejectUnknown(const std::vector<std::string_view>& allowed,
                       std::string_view why = "") const {
    for (auto&& [k, v] : table_) {
      bool known = false;
      for (auto a : allowed) {
        known = known || k.str() == a;
      }
      if (!known) {
        int64_t line = k.source().begin.line;
        if (line <= 0) {
          line = v.source().begin.line;
        }
        const std::string list = allowed.empty() ? "(none)" : Join(allowed);
        return ctx_.Error(line, "unknown key '", Path(k.str()), "'", why,
                          "; expected one of: ", list);
      }
    }
    return Status::Ok();
  }

  template <typename... A>
  Status KeyError(std::string_view key, const A&... a) const {
    return ctx_.Error(KeyLine(key), Path(key), ": ", a...);
  }

  // A number (integer or float) in [lo, hi] (or (lo, hi] when lo_open). Leaves *out alone
  // when the key is absent.
  Status Number(std::string_view key, double* out, double lo, double hi, bool lo_open = false,
                bool required = false) const {
    const toml::node* n = Get(key);
    if (n == nullptr) {
      if (required) {
        return ctx_.Error(TableLine(), "missing required key '", Path(key), "'");
      }
      return Status::Ok();
    }
    double v;
    if (auto i = n->as_integer()) {
      v = static_cast<double>(i->get());
    } else if (auto f = n->as_floating_point()) {
      v = f->get();
    } else {
      return KeyError(key, "expected a number, found ", NodeTypeName(*n));
    }
    if (!std::isfinite(v)) {
      return KeyError(key, "must be a finite number");
    }
    if (v < lo || (lo_open && v == lo) || v > hi) {
      std::string range = std::string(lo_open ? "(" : "[") + FormatNumber(lo) + ", " +
                          (hi == kInf ? std::string("inf") : FormatNumber(hi)) + "]";
      return KeyError(key, "value ", FormatNumber(v), " is out of range ", range);
    }
    *out = v;
    return Status::Ok();
  }

  Status Integer(std::string_view key, int64_t* out, int64_t lo, int64_t hi) const {
    const toml::node* n = Get(key);
    if (n == nullptr) {
      return Status::Ok();
    }
    auto i = n->as_integer();
    if (!i) {
      return KeyError(key, "expected an integer, found ", NodeTypeName(*n));
    }
    const int64_t v = i->get();
    if (v < lo || v > hi) {
      return KeyError(key, "value ", v, " is out of range [", lo, ", ", hi, "]");
    }
    *out = v;
    return Status::Ok();
  }

  template <typename IntT>
  Status Int(std::string_view key, IntT* out, int64_t lo, int64_t hi) const {
    int64_t v = static_cast<int64_t>(*out);
    ENGRAM_RETURN_IF_ERROR(Integer(key, &v, lo, hi));
    *out = static_cast<IntT>(v);
    return Status::Ok();
  }

  Status Bool(std::string_view key, bool* out) const {
    const toml::node* n = Get(key);
    if (n == nullptr) {
      return Status::Ok();
    }
    auto b = n->as_boolean();
    if (!b) {
      return KeyError(key, "expected true or false, found ", NodeTypeName(*n));
    }
    *out = b->get();
    return Status::Ok();
  }

  Status String(std::string_view key, std::string* out, bool required = false) const {
    const toml::node* n = Get(key);
    if (n == nullptr) {
      if (required) {
        return ctx_.Error(TableLine(), "missing required key '", Path(key), "'");
      }
      return Status::Ok();
    }
    auto s = n->as_string();
    if (!s) {
      return KeyError(key, "expected a string, found ", NodeTypeName(*n));
    }
    *out = s->get();
    return Status::Ok();
  }

  // A sub-table (inline or not); nullptr when absent, an error when of another type.
  Result<const toml::table*> Table(std::string_view key) const {
    const toml::node* n = Get(key);
    if (n == nullptr) {
      return static_cast<const toml::table*>(nullptr);
    }
    auto t = n->as_table();
    if (!t) {
      return KeyError(key, "expected a table, found ", NodeTypeName(*n));
    }
    return static_cast<const toml::table*>(t);
  }

  Status NumberArray(std::string_view key, std::vector<double>* out, double lo, double hi) const {
    const toml::node* n = Get(key);
    if (n == nullptr) {
      return Status::Ok();
    }
    auto arr = n->as_array();
    if (!arr) {
      return KeyError(key, "expected an array of numbers, found ", NodeTypeName(*n));
    }
    out->clear();
    for (size_t i = 0; i < arr->size(); ++i) {
      const toml::node& e = *arr->get(i);
      double v;
      if (auto iv = e.as_integer()) {
        v = static_cast<double>(iv->get());
      } else if (auto fv = e.as_floating_point()) {
        v = fv->get();
      } else {
        return KeyError(key, "element ", i, " is a ", NodeTypeName(e), ", expected a number");
      }
      if (!std::isfinite(v) || v < lo || v > hi) {
        return KeyError(key, "element ", i, " = ", FormatNumber(v), " is out of range [",
                        FormatNumber(lo), ", ", FormatNumber(hi), "]");
      }
      out->push_back(v);
    }
    return Status::Ok();
  }

 private:
  const Ctx& ctx_;
  const toml::table& table_;
  std::string path_;
};

Result<uint64_t> ParseSeed(const TableReader& r) {
  const toml::node* n = r.Get("seed");
  if (n == nullptr) {
    return kDefaultSeed;
  }
  if (auto i = n->as_integer()) {
    if (i->get() < 0) {
      return r.KeyError("seed", "must be >= 0 (use a string for values >= 2^63)");
    }
    return static_cast<uint64_t>(i->get());
  }
  if (auto s = n->as_string()) {
    std::string text = s->get();
    std::string digits = text;
    int base = 10;
    if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
      digits = digits.substr(2);
      base = 16;
    }
    std::string clean;
    for (char c : digits) {
      if (c != '_') {
        clean += c;
      }
    }
    if (clean.empty()) {
      return r.KeyError("seed", "'", text, "' is not a number");
    }
    uint64_t v = 0;
    for (char c : clean) {
      int d;
      if (c >= '0' && c <= '9') {
        d = c - '0';
      } else if (base == 16 && c >= 'a' && c <= 'f') {
        d = c - 'a' + 10;
      } else if (base == 16 && c >= 'A' && c <= 'F') {
        d = c - 'A' + 10;
      } else {
        return r.KeyError("seed", "'", text, "' is not a ", base == 16 ? "hex" : "decimal",
                          " number");
      }
      if (v > (std::numeric_limits<uint64_t>::max() - static_cast<uint64_t>(d)) /
                  static_cast<uint64_t>(base)) {
        return r.KeyError("seed", "'", text, "' does not fit in 64 bits");
      }
      v = v * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
    }
    return v;
  }
  return r.KeyError("seed", "expected an integer or a string such as \"0xDEADBEEF\", found ",
                    NodeTypeName(*n));
}

Result<PatternKind> ParsePatternName(const TableReader& r) {
  std::string name;
  ENGRAM_RETURN_IF_ERROR(r.String("pattern", &name, /*required=*/true));
  static constexpr std::pair<std::string_view, PatternKind> kNames[] = {
      {"constant", PatternKind::kConstant},
      {"poisson", PatternKind::kPoisson},
      {"exponential", PatternKind::kExponential},
      {"periodic_burst", PatternKind::kPeriodicBurst},
      {"ramp", PatternKind::kRamp},
      {"step", PatternKind::kStep},
      {"diurnal", PatternKind::kDiurnal},
  };
  for (auto& [n, k] : kNames) {
    if (name == n) {
      return k;
    }
  }
  return r.KeyError("pattern", "unknown pattern '", name,
                    "'; expected one of: constant, poisson, exponential, periodic_burst, ramp, "
                    "step, diurnal");
}

Status ParseSpacing(const TableReader& r, Spacing* out) {
  std::string s;
  if (!r.Has("spacing")) {
    return Status::Ok();
  }
  ENGRAM_RETURN_IF_ERROR(r.String("spacing", &s));
  if (s == "even") {
    *out = Spacing::kEven;
  } else if (s == "poisson") {
    *out = Spacing::kPoisson;
  } else {
    return r.KeyError("spacing", "unknown spacing '", s, "'; expected even or poisson");
  }
  return Status::Ok();
}

// Parses the pattern keys of [arrival] or of one [[phases]] entry. `extra` are keys the
// caller reads itself (a phase's name and duration_sec).
Result<ArrivalPattern> ParsePattern(const TableReader& r,
                                    std::initializer_list<std::string_view> extra) {
  ArrivalPattern p;
  ENGRAM_ASSIGN_OR_RETURN(p.kind, ParsePatternName(r));
  const std::string why = " for pattern '" + std::string(PatternKindName(p.kind)) + "'";
  auto allow = [&](std::initializer_list<std::string_view> keys) -> Status {
    std::vector<std::string_view> all(extra);
    all.insert(all.end(), keys.begin(), keys.end());
    return r.RejectUnknown(all, why);
  };
  switch (p.kind) {
    case PatternKind::kConstant:
      ENGRAM_RETURN_IF_ERROR(allow({"pattern", "rate", "spacing"}));
      ENGRAM_RETURN_IF_ERROR(r.Number("rate", &p.rate, 0, kMaxRate, true, true));
      ENGRAM_RETURN_IF_ERROR(ParseSpacing(r, &p.spacing));
      break;
    case PatternKind::kPoisson:
    case PatternKind::kExponential:
      ENGRAM_RETURN_IF_ERROR(allow({"pattern", "lambda"}));
      ENGRAM_RETURN_IF_ERROR(r.Number("lambda", &p.rate, 0, kMaxRate, true, true));
      p.spacing = Spacing::kPoisson;
      break;
    case PatternKind::kPeriodicBurst:
      ENGRAM_RETURN_IF_ERROR(allow({"pattern", "base_rate", "burst_rate", "burst_duration_sec",
                                    "burst_period_sec", "spacing"}));
      ENGRAM_RETURN_IF_ERROR(r.Number("base_rate", &p.base_rate, 0, kMaxRate, false, true));
      ENGRAM_RETURN_IF_ERROR(r.Number("burst_rate", &p.burst_rate, 0, kMaxRate, true, true));
      ENGRAM_RETURN_IF_ERROR(
          r.Number("burst_duration_sec", &p.burst_duration_sec, 0, kMaxSeconds, true, true));
      ENGRAM_RETURN_IF_ERROR(
          r.Number("burst_period_sec", &p.burst_period_sec, 0, kMaxSeconds, true, true));
      if (p.burst_duration_sec > p.burst_period_sec) {
        return r.KeyError("burst_duration_sec", "burst_duration_sec (",
                          FormatNumber(p.burst_duration_sec), ") exceeds burst_period_sec (",
                          FormatNumber(p.burst_period_sec), ")");
      }
      ENGRAM_RETURN_IF_ERROR(ParseSpacing(r, &p.spacing));
      break;
    case PatternKind::kRamp:
      ENGRAM_RETURN_IF_ERROR(allow({"pattern", "from_rate", "to_rate", "spacing"}));
      ENGRAM_RETURN_IF_ERROR(r.Number("from_rate", &p.from_rate, 0, kMaxRate, false, true));
      ENGRAM_RETURN_IF_ERROR(r.Number("to_rate", &p.to_rate, 0, kMaxRate, false, true));
      if (p.from_rate == 0 && p.to_rate == 0) {
        return r.KeyError("to_rate", "from_rate and to_rate are both 0");
      }
      ENGRAM_RETURN_IF_ERROR(ParseSpacing(r, &p.spacing));
      break;
    case PatternKind::kStep: {
      ENGRAM_RETURN_IF_ERROR(allow({"pattern", "rates", "step_sec", "spacing"}));
      if (!r.Has("rates")) {
        return r.ctx().Error(r.TableLine(), "missing required key '", r.Path("rates"), "'");
      }
      ENGRAM_RETURN_IF_ERROR(r.NumberArray("rates", &p.rates, 0, kMaxRate));
      double max_rate = 0;
      for (double v : p.rates) {
        max_rate = std::max(max_rate, v);
      }
      if (p.rates.empty() || max_rate == 0) {
        return r.KeyError("rates", "needs at least one rate > 0");
      }
      ENGRAM_RETURN_IF_ERROR(r.Number("step_sec", &p.step_sec, 0, kMaxSeconds, true, true));
      ENGRAM_RETURN_IF_ERROR(ParseSpacing(r, &p.spacing));
      break;
    }
    case PatternKind::kDiurnal:
      ENGRAM_RETURN_IF_ERROR(allow({"pattern", "base_rate", "amplitude", "period_sec", "spacing"}));
      ENGRAM_RETURN_IF_ERROR(r.Number("base_rate", &p.base_rate, 0, kMaxRate, true, true));
      ENGRAM_RETURN_IF_ERROR(r.Number("amplitude", &p.amplitude, 0, kMaxRate, false, true));
      if (p.amplitude > p.base_rate) {
        return r.KeyError("amplitude", "amplitude (", FormatNumber(p.amplitude),
                          ") exceeds base_rate (", FormatNumber(p.base_rate),
                          "): the rate would go negative");
      }
      ENGRAM_RETURN_IF_ERROR(r.Number("period_sec", &p.period_sec, 0, kMaxSeconds, true, true));
      ENGRAM_RETURN_IF_ERROR(ParseSpacing(r, &p.spacing));
      break;
  }
  return p;
}

Status ParseParams(const TableReader& r, OpKind kind, bool all_kinds, OpParams* p) {
  // Which parameters each kind uses; [operations.params] may set any of them.
  std::vector<std::string_view> keys;
  if (all_kinds) {
    keys = {"k", "ef", "hops", "max_results", "threshold", "completion_fraction"};
  } else {
    switch (kind) {
      case OpKind::kRecall:
      case OpKind::kSemanticRecall:
      case OpKind::kBlendedRecall:
        keys = {"k", "ef", "threshold"};
        break;
      case OpKind::kSearch:
        keys = {"k", "ef"};
        break;
      case OpKind::kPatternCompletion:
        keys = {"k", "ef", "completion_fraction"};
        break;
      case OpKind::kTraversal:
        keys = {"hops", "max_results"};
        break;
      case OpKind::kActivation:
        keys = {"hops", "max_results", "threshold"};
        break;
      case OpKind::kStore:
      case OpKind::kConsolidation:
      case OpKind::kHealth:
        break;
    }
  }
  ENGRAM_RETURN_IF_ERROR(r.RejectUnknown(keys));
  ENGRAM_RETURN_IF_ERROR(r.Int("k", &p->k, 1, 10000));
  ENGRAM_RETURN_IF_ERROR(r.Int("ef", &p->ef, 0, 100000));
  ENGRAM_RETURN_IF_ERROR(r.Int("hops", &p->hops, 1, 16));
  ENGRAM_RETURN_IF_ERROR(r.Int("max_results", &p->max_results, 1, 1000000));
  ENGRAM_RETURN_IF_ERROR(r.Number("threshold", &p->threshold, 0, 1));
  ENGRAM_RETURN_IF_ERROR(r.Number("completion_fraction", &p->completion_fraction, 0, 1, true));
  return Status::Ok();
}

Status ParseOperations(const Ctx& ctx, const TableReader& root, Scenario* s) {
  ENGRAM_ASSIGN_OR_RETURN(const toml::table* t, root.Table("operations"));
  if (t == nullptr) {
    return ctx.Error(1, "missing required table [operations]");
  }
  TableReader r(ctx, *t, "operations");
  {
    std::vector<std::string> allowed_s;
    allowed_s.reserve(2 * kOpStems.size() + 1);
    for (auto stem : kOpStems) {
      allowed_s.push_back(std::string(stem) + "_weight");
    }
    allowed_s.push_back("params");
    for (auto stem : kOpStems) {
      allowed_s.push_back(std::string(stem));
    }
    for (auto&& [k, v] : *t) {
      bool known = false;
      for (auto& a : allowed_s) {
        known = known || k.str() == a;
      }
      if (!known) {
        int64_t line = k.source().begin.line;
        if (line <= 0) {
          line = v.source().begin.line;
        }
        return ctx.Error(line, "unknown key '", r.Path(k.str()),
                         "'; expected <kind>_weight, params or a per-kind table, with <kind> "
                         "one of: store, recall, semantic_recall, blended_recall, "
                         "embedding_search, pattern_completion, traversal, activation, "
                         "consolidation, health");
      }
    }
  }
  double total = 0;
  for (int i = 0; i < kNumOpKinds; ++i) {
    ENGRAM_RETURN_IF_ERROR(
        r.Number(std::string(kOpStems[i]) + "_weight", &s->weights[i], 0, kMaxWeight));
    total += s->weights[i];
  }
  if (total <= 0) {
    return ctx.Error(r.TableLine(),
                     "operations: all operation weights are zero; give at least "
                     "one *_weight > 0");
  }
  for (OpKind k : {OpKind::kTraversal, OpKind::kActivation, OpKind::kPatternCompletion}) {
    const std::string key = std::string(OpKindKeyStem(k)) + "_weight";
    if (s->weight(k) > 0 && s->data.num_nodes == 0) {
      return r.KeyError(key, "> 0 needs dataset nodes to start from, but data.num_nodes = 0");
    }
  }
  OpParams common;
  ENGRAM_ASSIGN_OR_RETURN(const toml::table* pt, r.Table("params"));
  if (pt != nullptr) {
    TableReader pr(ctx, *pt, "operations.params");
    ENGRAM_RETURN_IF_ERROR(ParseParams(pr, OpKind::kStore, /*all_kinds=*/true, &common));
  }
  for (int i = 0; i < kNumOpKinds; ++i) {
    s->params[i] = common;
    ENGRAM_ASSIGN_OR_RETURN(const toml::table* kt, r.Table(kOpStems[i]));
    if (kt != nullptr) {
      TableReader kr(ctx, *kt, r.Path(kOpStems[i]));
      ENGRAM_RETURN_IF_ERROR(ParseParams(kr, kAllOpKinds[i], false, &s->params[i]));
    }
  }
  return Status::Ok();
}

Status ParseDistribution(const TableReader& r, int dim, EmbeddingDistribution* d) {
  std::string type;
  ENGRAM_RETURN_IF_ERROR(r.String("type", &type, /*required=*/true));
  if (type == "clustered") {
    d->kind = DistributionKind::kClustered;
    ENGRAM_RETURN_IF_ERROR(
        r.RejectUnknown({"type", "num_clusters", "std_dev"}, " for type 'clustered'"));
    ENGRAM_RETURN_IF_ERROR(r.Int("num_clusters", &d->num_clusters, 1, 100000));
    ENGRAM_RETURN_IF_ERROR(r.Number("std_dev", &d->std_dev, 0, 100));
  } else if (type == "uniform") {
    d->kind = DistributionKind::kUniform;
    ENGRAM_RETURN_IF_ERROR(r.RejectUnknown({"type"}, " for type 'uniform'"));
  } else if (type == "hot_spot") {
    d->kind = DistributionKind::kHotSpot;
    ENGRAM_RETURN_IF_ERROR(r.RejectUnknown({"type", "center", "std_dev"}, " for type 'hot_spot'"));
    if (!r.Has("center")) {
      return r.ctx().Error(r.TableLine(), "missing required key '", r.Path("center"), "'");
    }
    ENGRAM_RETURN_IF_ERROR(r.NumberArray("center", &d->center, -1e6, 1e6));
    if (d->center.empty()) {
      return r.KeyError("center", "must not be empty");
    }
    if (static_cast<int>(d->center.size()) > dim) {
      return r.KeyError("center", "has ", d->center.size(), " values, more than embedding_dim ",
                        dim);
    }
    d->center.resize(static_cast<size_t>(dim), 0.0);
    ENGRAM_RETURN_IF_ERROR(r.Number("std_dev", &d->std_dev, 0, 100));
  } else {
    return r.KeyError("type", "unknown distribution '", type,
                      "'; expected clustered, uniform or hot_spot");
  }
  return Status::Ok();
}

Status ParseData(const Ctx& ctx, const TableReader& root, Scenario* s) {
  ENGRAM_ASSIGN_OR_RETURN(const toml::table* t, root.Table("data"));
  if (t == nullptr) {
    return Status::Ok();
  }
  TableReader r(ctx, *t, "data");
  ENGRAM_RETURN_IF_ERROR(r.RejectUnknown({"num_nodes", "embedding_dim", "memory_spaces",
                                          "embedding_distribution", "graph", "preload"}));
  DataSpec& d = s->data;
  ENGRAM_RETURN_IF_ERROR(r.Int("num_nodes", &d.num_nodes, 0, 10'000'000'000LL));
  ENGRAM_RETURN_IF_ERROR(r.Int("embedding_dim", &d.embedding_dim, 1, 65536));
  ENGRAM_RETURN_IF_ERROR(r.Int("memory_spaces", &d.memory_spaces, 1, 100000));
  ENGRAM_RETURN_IF_ERROR(r.Bool("preload", &d.preload));
  ENGRAM_ASSIGN_OR_RETURN(const toml::table* dt, r.Table("embedding_distribution"));
  if (dt != nullptr) {
    TableReader dr(ctx, *dt, "data.embedding_distribution");
    ENGRAM_RETURN_IF_ERROR(ParseDistribution(dr, d.embedding_dim, &d.distribution));
  }
  ENGRAM_ASSIGN_OR_RETURN(const toml::table* gt, r.Table("graph"));
  if (gt != nullptr) {
    TableReader gr(ctx, *gt, "data.graph");
    ENGRAM_RETURN_IF_ERROR(gr.RejectUnknown({"shape", "avg_degree"}));
    std::string shape;
    ENGRAM_RETURN_IF_ERROR(gr.String("shape", &shape, /*required=*/true));
    if (shape == "none") {
      d.graph.shape = GraphShape::kNone;
    } else if (shape == "scale_free") {
      d.graph.shape = GraphShape::kScaleFree;
    } else if (shape == "random") {
      d.graph.shape = GraphShape::kRandom;
    } else {
      return gr.KeyError("shape", "unknown graph shape '", shape,
                         "'; expected scale_free, random or none");
    }
    ENGRAM_RETURN_IF_ERROR(gr.Number("avg_degree", &d.graph.avg_degree, 0, 1000));
  }
  return Status::Ok();
}

Status ParseScenarioTable(const Ctx& ctx, const toml::table& root, Scenario* s) {
  TableReader r(ctx, root, "");
  ENGRAM_RETURN_IF_ERROR(
      r.RejectUnknown({"name", "description", "seed", "duration", "arrival", "phases", "operations",
                       "data", "validation", "chaos", "warmup", "connections"}));
  ENGRAM_RETURN_IF_ERROR(r.String("name", &s->name, /*required=*/true));
  if (s->name.empty()) {
    return r.KeyError("name", "must not be empty");
  }
  ENGRAM_RETURN_IF_ERROR(r.String("description", &s->description, /*required=*/true));
  s->seed_given = r.Has("seed");
  ENGRAM_ASSIGN_OR_RETURN(s->seed, ParseSeed(r));

  // [duration]
  bool duration_given = false;
  ENGRAM_ASSIGN_OR_RETURN(const toml::table* dur, r.Table("duration"));
  if (dur != nullptr) {
    TableReader dr(ctx, *dur, "duration");
    ENGRAM_RETURN_IF_ERROR(dr.RejectUnknown({"total_seconds"}));
    duration_given = dr.Has("total_seconds");
    ENGRAM_RETURN_IF_ERROR(dr.Number("total_seconds", &s->duration_seconds, 0, kMaxSeconds, true));
  }

  // [arrival]
  ENGRAM_ASSIGN_OR_RETURN(const toml::table* arr, r.Table("arrival"));
  if (arr != nullptr) {
    TableReader ar(ctx, *arr, "arrival");
    ENGRAM_ASSIGN_OR_RETURN(ArrivalPattern p, ParsePattern(ar, {}));
    s->arrival = std::move(p);
  }

  // [[phases]]
  if (const toml::node* pn = r.Get("phases")) {
    const toml::array* pa = pn->as_array();
    if (pa == nullptr || !pa->is_array_of_tables()) {
      return r.KeyError("phases", "expected an array of tables ([[phases]]), found ",
                        NodeTypeName(*pn));
    }
    if (pa->empty()) {
      return r.KeyError("phases", "must not be empty");
    }
    double total = 0;
    for (size_t i = 0; i < pa->size(); ++i) {
      const toml::table& pt = *pa->get(i)->as_table();
      TableReader pr(ctx, pt, "phases[" + std::to_string(i) + "]");
      Phase phase;
      ENGRAM_RETURN_IF_ERROR(pr.String("name", &phase.name));
      ENGRAM_RETURN_IF_ERROR(
          pr.Number("duration_sec", &phase.duration_sec, 0, kMaxSeconds, true, true));
      ENGRAM_ASSIGN_OR_RETURN(phase.pattern, ParsePattern(pr, {"name", "duration_sec"}));
      total += phase.duration_sec;
      s->phases.push_back(std::move(phase));
    }
    if (duration_given && std::fabs(total - s->duration_seconds) > 1e-9) {
      return ctx.Error(dur->source().begin.line, "duration.total_seconds (",
                       FormatNumber(s->duration_seconds),
                       ") differs from the sum of the phase durations (", FormatNumber(total),
                       "); drop it or make them agree");
    }
    if (total > kMaxSeconds) {
      return r.KeyError("phases", "phases last ", FormatNumber(total), " s, more than the limit ",
                        FormatNumber(kMaxSeconds));
    }
    s->duration_seconds = total;
  } else if (!s->arrival.has_value()) {
    return ctx.Error(1, "missing required table [arrival] (or [[phases]])");
  }

  ENGRAM_RETURN_IF_ERROR(ParseData(ctx, r, s));
  ENGRAM_RETURN_IF_ERROR(ParseOperations(ctx, r, s));  // after [data]: checks num_nodes

  // [validation]
  ENGRAM_ASSIGN_OR_RETURN(const toml::table* vt, r.Table("validation"));
  if (vt != nullptr) {
    TableReader vr(ctx, *vt, "validation");
    ENGRAM_RETURN_IF_ERROR(vr.RejectUnknown(
        {"expected_p99_latency_ms", "expected_throughput_ops_sec", "max_error_rate"}));
    double v = 0;
    if (vr.Has("expected_p99_latency_ms")) {
      ENGRAM_RETURN_IF_ERROR(vr.Number("expected_p99_latency_ms", &v, 0, 3.6e6, true));
      s->validation.expected_p99_latency_ms = v;
    }
    if (vr.Has("expected_throughput_ops_sec")) {
      ENGRAM_RETURN_IF_ERROR(vr.Number("expected_throughput_ops_sec", &v, 0, kMaxRate, true));
      s->validation.expected_throughput_ops_sec = v;
    }
    if (vr.Has("max_error_rate")) {
      ENGRAM_RETURN_IF_ERROR(vr.Number("max_error_rate", &v, 0, 1));
      s->validation.max_error_rate = v;
    }
  }

  // [chaos]
  ENGRAM_ASSIGN_OR_RETURN(const toml::table* ct, r.Table("chaos"));
  if (ct != nullptr) {
    TableReader cr(ctx, *ct, "chaos");
    ENGRAM_RETURN_IF_ERROR(cr.RejectUnknown({"enabled"}));
    ENGRAM_RETURN_IF_ERROR(cr.Bool("enabled", &s->chaos_enabled));
  }

  // [warmup]
  ENGRAM_ASSIGN_OR_RETURN(const toml::table* wt, r.Table("warmup"));
  if (wt != nullptr) {
    TableReader wr(ctx, *wt, "warmup");
    ENGRAM_RETURN_IF_ERROR(wr.RejectUnknown({"seconds", "rate"}));
    ENGRAM_RETURN_IF_ERROR(wr.Number("seconds", &s->warmup_seconds, 0, 86400));
    if (wr.Has("rate")) {
      double rate = 0;
      ENGRAM_RETURN_IF_ERROR(wr.Number("rate", &rate, 0, kMaxRate, true));
      s->warmup_rate = rate;
    }
  }

  // [connections]
  ENGRAM_ASSIGN_OR_RETURN(const toml::table* nt, r.Table("connections"));
  if (nt != nullptr) {
    TableReader nr(ctx, *nt, "connections");
    ENGRAM_RETURN_IF_ERROR(nr.RejectUnknown({"count"}));
    ENGRAM_RETURN_IF_ERROR(nr.Int("count", &s->connections, 1, 65536));
  }
  return Status::Ok();
}

std::string Percent(double part, double total) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.4g%%", 100.0 * part / total);
  return buf;
}

std::string DescribePattern(const ArrivalPattern& p) {
  std::ostringstream o;
  switch (p.kind) {
    case PatternKind::kConstant:
      o << "constant " << p.rate << " ops/s";
      break;
    case PatternKind::kPoisson:
    case PatternKind::kExponential:
      o << PatternKindName(p.kind) << " lambda " << p.rate << " ops/s";
      break;
    case PatternKind::kPeriodicBurst:
      o << "periodic_burst base " << p.base_rate << " ops/s, " << p.burst_rate
        << " ops/s for the first " << p.burst_duration_sec << " s of every " << p.burst_period_sec
        << " s";
      break;
    case PatternKind::kRamp:
      o << "ramp " << p.from_rate << " -> " << p.to_rate << " ops/s";
      break;
    case PatternKind::kStep: {
      o << "step [";
      for (size_t i = 0; i < p.rates.size(); ++i) {
        o << (i ? ", " : "") << p.rates[i];
      }
      o << "] ops/s, " << p.step_sec << " s each";
      break;
    }
    case PatternKind::kDiurnal:
      o << "diurnal " << p.base_rate << " +/- " << p.amplitude << " ops/s, period " << p.period_sec
        << " s";
      break;
  }
  if (p.kind != PatternKind::kPoisson && p.kind != PatternKind::kExponential) {
    o << (p.spacing == Spacing::kPoisson ? ", poisson spacing" : ", even spacing");
  }
  return o.str();
}

}  // namespace

std::string_view OpKindName(OpKind kind) { return kOpNames[static_cast<int>(kind)]; }

std::optional<OpKind> OpKindFromName(std::string_view name) {
  for (int i = 0; i < kNumOpKinds; ++i) {
    if (kOpNames[i] == name) {
      return kAllOpKinds[i];
    }
  }
  return std::nullopt;
}

std::string_view OpKindKeyStem(OpKind kind) { return kOpStems[static_cast<int>(kind)]; }

std::string_view PatternKindName(PatternKind kind) {
  switch (kind) {
    case PatternKind::kConstant:
      return "constant";
    case PatternKind::kPoisson:
      return "poisson";
    case PatternKind::kExponential:
      return "exponential";
    case PatternKind::kPeriodicBurst:
      return "periodic_burst";
    case PatternKind::kRamp:
      return "ramp";
    case PatternKind::kStep:
      return "step";
    case PatternKind::kDiurnal:
      return "diurnal";
  }
  return "?";
}

std::string_view DistributionKindName(DistributionKind kind) {
  switch (kind) {
    case DistributionKind::kClustered:
      return "clustered";
    case DistributionKind::kUniform:
      return "uniform";
    case DistributionKind::kHotSpot:
      return "hot_spot";
  }
  return "?";
}

std::string_view GraphShapeName(GraphShape shape) {
  switch (shape) {
    case GraphShape::kNone:
      return "none";
    case GraphShape::kScaleFree:
      return "scale_free";
    case GraphShape::kRandom:
      return "random";
  }
  return "?";
}

double ArrivalPattern::RateAt(double t, double duration) const {
  if (t < 0) {
    return 0;
  }
  switch (kind) {
    case PatternKind::kConstant:
    case PatternKind::kPoisson:
    case PatternKind::kExponential:
      return rate;
    case PatternKind::kPeriodicBurst: {
      const double in_period = std::fmod(t, burst_period_sec);
      return in_period < burst_duration_sec ? burst_rate : base_rate;
    }
    case PatternKind::kRamp:
      if (duration <= 0) {
        return from_rate;
      }
      return from_rate + (to_rate - from_rate) * std::min(t / duration, 1.0);
    case PatternKind::kStep: {
      if (rates.empty()) {
        return 0;
      }
      const double idx = std::floor(t / step_sec);
      const size_t i =
          idx >= static_cast<double>(rates.size()) ? rates.size() - 1 : static_cast<size_t>(idx);
      return rates[i];
    }
    case PatternKind::kDiurnal:
      return base_rate + amplitude * std::sin(2.0 * std::numbers::pi * t / period_sec);
  }
  return 0;
}

std::vector<Phase> Scenario::MeasuredPhases() const {
  if (!phases.empty()) {
    return phases;
  }
  Phase p;
  p.name = "arrival";
  p.duration_sec = duration_seconds;
  if (arrival.has_value()) {
    p.pattern = *arrival;
  }
  return {p};
}

std::string FormatSeed(uint64_t seed) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%" PRIx64, seed);
  return buf;
}

std::string Fnv1a64Hex(std::string_view bytes) {
  Fnv1a64 h;
  h.Add(bytes.data(), bytes.size());
  char buf[20];
  std::snprintf(buf, sizeof(buf), "%016" PRIx64, h.value());
  return buf;
}

Result<Scenario> ParseScenario(std::string_view toml_text, std::string_view source_name) {
  Ctx ctx{std::string(source_name)};
  Scenario s;
  s.source_path = std::string(source_name);
  s.content_hash = Fnv1a64Hex(toml_text);
  try {
    toml::table root = toml::parse(toml_text, source_name);
    ENGRAM_RETURN_IF_ERROR(ParseScenarioTable(ctx, root, &s));
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument(ctx.source, ":", e.source().begin.line, ":",
                                   e.source().begin.column,
                                   ": TOML syntax error: ", e.description());
  } catch (const std::exception& e) {
    return Status::Internal(ctx.source,
                            ": unexpected error while reading the scenario: ", e.what());
  }
  return s;
}

Result<Scenario> LoadScenario(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::NotFound("cannot open scenario file '", path, "'");
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) {
    return Status::IOError("cannot read scenario file '", path, "'");
  }
  return ParseScenario(buf.str(), path);
}

std::string DescribeScenario(const Scenario& s) {
  std::ostringstream o;
  o << s.name << "  (" << s.source_path << ", fnv1a64 " << s.content_hash << ")\n";
  o << "  " << s.description << "\n";
  o << "  seed " << FormatSeed(s.seed) << (s.seed_given ? "" : " (default)") << "; measured "
    << s.duration_seconds << " s after " << s.warmup_seconds << " s warm-up; " << s.connections
    << " connections" << (s.chaos_enabled ? "; chaos enabled" : "") << "\n";
  const std::vector<Phase> phases = s.MeasuredPhases();
  if (s.phases.empty()) {
    o << "  arrival: " << DescribePattern(phases[0].pattern) << "\n";
  } else {
    o << "  phases" << (s.arrival ? " (replace [arrival] for the measured run)" : "") << ":\n";
    for (size_t i = 0; i < phases.size(); ++i) {
      o << "    " << i << (phases[i].name.empty() ? "" : " " + phases[i].name) << ": "
        << phases[i].duration_sec << " s, " << DescribePattern(phases[i].pattern) << "\n";
    }
  }
  const ScheduleSpec spec = ScheduleSpecFor(s);
  o << "  expected operations: ~" << static_cast<uint64_t>(ExpectedOperations(spec, false))
    << " measured";
  if (s.warmup_seconds > 0) {
    o << " + ~"
      << static_cast<uint64_t>(ExpectedOperations(spec, true) - ExpectedOperations(spec, false))
      << " warm-up";
  }
  o << "\n";
  double total = 0;
  for (double w : s.weights) {
    total += w;
  }
  o << "  operations:";
  for (OpKind k : kAllOpKinds) {
    if (s.weight(k) > 0) {
      o << " " << OpKindName(k) << " " << Percent(s.weight(k), total);
    }
  }
  o << "\n";
  const DataSpec& d = s.data;
  o << "  data: " << d.num_nodes << " nodes x " << d.embedding_dim << " dims, "
    << DistributionKindName(d.distribution.kind);
  if (d.distribution.kind == DistributionKind::kClustered) {
    o << " (" << d.distribution.num_clusters << " clusters, std_dev " << d.distribution.std_dev
      << ")";
  } else if (d.distribution.kind == DistributionKind::kHotSpot) {
    o << " (std_dev " << d.distribution.std_dev << ")";
  }
  o << ", " << d.memory_spaces << (d.memory_spaces == 1 ? " space" : " spaces") << ", graph "
    << GraphShapeName(d.graph.shape);
  if (d.graph.shape != GraphShape::kNone) {
    o << " (avg degree " << d.graph.avg_degree << ")";
  }
  o << (d.preload ? ", preloaded" : ", not preloaded") << "\n";
  const Validation& v = s.validation;
  if (v.expected_p99_latency_ms || v.expected_throughput_ops_sec || v.max_error_rate) {
    std::ostringstream parts;
    if (v.expected_p99_latency_ms) {
      parts << "; p99 <= " << *v.expected_p99_latency_ms << " ms";
    }
    if (v.expected_throughput_ops_sec) {
      parts << "; throughput >= " << *v.expected_throughput_ops_sec << " ops/s";
    }
    if (v.max_error_rate) {
      parts << "; error rate <= " << *v.max_error_rate;
    }
    o << "  validation: " << parts.str().substr(2) << "\n";
  }
  return o.str();
}

}  // namespace engram::workload
