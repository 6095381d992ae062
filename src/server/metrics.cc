#include "server/metrics.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "core/clock.h"
#include "engine/engine.h"

namespace engram::server {

namespace {
constexpr std::string_view kOpNames[] = {
    "health", "metrics", "diagnostics", "list_spaces", "create_space", "remember",
    "remember_batch", "get", "forget", "link", "recall", "search", "complete", "neighbors",
    "activate", "consolidate", "checkpoint", "unknown"};
static_assert(std::size(kOpNames) == static_cast<size_t>(Op::kCount));

// Prometheus bucket bounds in seconds: 50us .. 10s, roughly 1-2.5-5 per decade.
constexpr double kBounds[] = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                              0.025,   0.05,   0.1,     0.25,   0.5,   1.0,    2.5,    5.0, 10.0};

std::string EscapeLabel(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

std::string Num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.9g", v);
  return buf;
}
}  // namespace

std::string_view OpName(Op op) { return kOpNames[static_cast<size_t>(op)]; }

Op OpFromName(std::string_view name) {
  for (size_t i = 0; i < std::size(kOpNames); ++i) {
    if (kOpNames[i] == name) return static_cast<Op>(i);
  }
  return Op::kUnknown;
}

Metrics::Metrics() : start_mono_ns_(MonoNanos()) {
  for (size_t i = 0; i < static_cast<size_t>(Op::kCount); ++i) {
    latency_.push_back(std::make_unique<AtomicHistogram>());
    handler_.push_back(std::make_unique<AtomicHistogram>());
  }
}

void Metrics::RecordHandler(Op op, int64_t wall_nanos, int64_t cpu_nanos) {
  const size_t o = static_cast<size_t>(op);
  handler_[o]->Record(wall_nanos);
  handler_cpu_ns_[o].fetch_add(static_cast<uint64_t>(std::max<int64_t>(cpu_nanos, 0)), std::memory_order_relaxed);
}

void Metrics::RecordShed(Op op, ShedReason reason) {
  shed_[static_cast<size_t>(op)][static_cast<size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
}

uint64_t Metrics::shed_total() const {
  uint64_t total = 0;
  for (const auto& per_op : shed_) {
    for (const auto& c : per_op) total += c.load(std::memory_order_relaxed);
  }
  return total;
}

size_t Metrics::CodeIndex(int http_status) {
  for (size_t i = 0; i + 1 < kCodes.size(); ++i) {
    if (kCodes[i] == http_status) return i;
  }
  return kCodes.size() - 1;
}

void Metrics::Record(Op op, int http_status, int64_t nanos) {
  const size_t o = static_cast<size_t>(op);
  counts_[o][CodeIndex(http_status)].fetch_add(1, std::memory_order_relaxed);
  latency_[o]->Record(nanos);
}

uint64_t Metrics::total_requests() const {
  uint64_t total = 0;
  for (const auto& per_op : counts_) {
    for (const auto& c : per_op) total += c.load(std::memory_order_relaxed);
  }
  return total;
}

std::string Metrics::Render(const Engine& engine) const {
  std::ostringstream out;
  out << "# HELP engram_requests_total HTTP requests served, by operation and status code.\n"
      << "# TYPE engram_requests_total counter\n";
  for (size_t o = 0; o < static_cast<size_t>(Op::kCount); ++o) {
    for (size_t c = 0; c < kCodes.size(); ++c) {
      const uint64_t n = counts_[o][c].load(std::memory_order_relaxed);
      if (n == 0) continue;
      out << "engram_requests_total{op=\"" << kOpNames[o] << "\",code=\""
          << (kCodes[c] == 0 ? std::string("other") : std::to_string(kCodes[c])) << "\"} " << n << "\n";
    }
  }
  auto histograms = [&](const char* name, const char* help, const std::vector<std::unique_ptr<AtomicHistogram>>& per_op) {
    out << "# HELP " << name << " " << help << "\n# TYPE " << name << " histogram\n";
    for (size_t o = 0; o < static_cast<size_t>(Op::kCount); ++o) {
      const Histogram h = per_op[o]->Snapshot();
      if (h.empty()) continue;
      const std::string label = std::string("op=\"") + std::string(kOpNames[o]) + "\"";
      for (double b : kBounds) {
        out << name << "_bucket{" << label << ",le=\"" << Num(b) << "\"} " << h.CountAtOrBelow(static_cast<int64_t>(b * 1e9))
            << "\n";
      }
      out << name << "_bucket{" << label << ",le=\"+Inf\"} " << h.count() << "\n"
          << name << "_sum{" << label << "} " << Num(static_cast<double>(h.sum()) * 1e-9) << "\n"
          << name << "_count{" << label << "} " << h.count() << "\n";
    }
  };
  histograms("engram_request_duration_seconds",
             "Time from reading a request to its response being ready (waiting for a handler thread and injected delays included).",
             latency_);
  histograms("engram_handler_duration_seconds", "Time the handler itself ran (wall clock), without the wait for a handler thread.",
             handler_);
  out << "# HELP engram_handler_cpu_seconds_total CPU time of the handler threads, by operation.\n"
      << "# TYPE engram_handler_cpu_seconds_total counter\n";
  for (size_t o = 0; o < static_cast<size_t>(Op::kCount); ++o) {
    const uint64_t ns = handler_cpu_ns_[o].load(std::memory_order_relaxed);
    if (ns != 0) out << "engram_handler_cpu_seconds_total{op=\"" << kOpNames[o] << "\"} " << Num(static_cast<double>(ns) * 1e-9) << "\n";
  }
  out << "# HELP engram_requests_shed_total Requests answered 503 (Retry-After) without being run, by operation and reason.\n"
      << "# TYPE engram_requests_shed_total counter\n";
  for (size_t o = 0; o < static_cast<size_t>(Op::kCount); ++o) {
    for (size_t r = 0; r < 2; ++r) {
      const uint64_t n = shed_[o][r].load(std::memory_order_relaxed);
      if (n != 0) out << "engram_requests_shed_total{op=\"" << kOpNames[o] << "\",reason=\"" << (r == 0 ? "queue_full" : "queue_timeout") << "\"} " << n << "\n";
    }
  }
  out << "# HELP engram_handler_queue_depth Requests waiting for a handler thread, by lane.\n"
      << "# TYPE engram_handler_queue_depth gauge\n"
      << "engram_handler_queue_depth{lane=\"interactive\"} " << queued_[0].load(std::memory_order_relaxed) << "\n"
      << "engram_handler_queue_depth{lane=\"bulk\"} " << queued_[1].load(std::memory_order_relaxed) << "\n"
      << "# HELP engram_handlers_busy Handler threads running a request now, by lane.\n"
      << "# TYPE engram_handlers_busy gauge\n"
      << "engram_handlers_busy{lane=\"interactive\"} " << running_[0].load(std::memory_order_relaxed) << "\n"
      << "engram_handlers_busy{lane=\"bulk\"} " << running_[1].load(std::memory_order_relaxed) << "\n";
  out << "# HELP engram_inflight_requests Requests being served now.\n"
      << "# TYPE engram_inflight_requests gauge\n"
      << "engram_inflight_requests " << inflight() << "\n";

  const auto spaces = engine.ListSpaces();
  auto gauge = [&](const char* name, const char* help, auto value) {
    out << "# HELP " << name << " " << help << "\n# TYPE " << name << " gauge\n";
    for (const auto& s : spaces) out << name << "{space=\"" << EscapeLabel(s.name) << "\"} " << value(s) << "\n";
  };
  gauge("engram_episodes", "Live episodes per memory space.", [](const SpaceStats& s) { return s.episodes; });
  gauge("engram_association_edges", "Directed association edges per memory space.", [](const SpaceStats& s) { return s.edges; });
  gauge("engram_concepts", "Concepts formed by consolidation per memory space.", [](const SpaceStats& s) { return s.concepts; });
  gauge("engram_consolidation_backlog", "Episodes not yet consolidated per memory space.", [](const SpaceStats& s) { return s.consolidation_backlog; });
  gauge("engram_space_memory_bytes", "Approximate memory held per memory space.", [](const SpaceStats& s) { return s.memory_bytes; });
  out << "# HELP engram_memory_spaces Memory spaces.\n# TYPE engram_memory_spaces gauge\n"
      << "engram_memory_spaces " << spaces.size() << "\n"
      << "# HELP engram_consolidation_runs_total Background consolidation runs.\n"
      << "# TYPE engram_consolidation_runs_total counter\n"
      << "engram_consolidation_runs_total " << engine.consolidation_runs() << "\n"
      << "# HELP engram_store_disk_bytes Bytes of the store's files on disk.\n"
      << "# TYPE engram_store_disk_bytes gauge\n"
      << "engram_store_disk_bytes " << engine.StoreDiskBytes() << "\n"
      << "# HELP engram_process_resident_memory_bytes Resident set size of the server.\n"
      << "# TYPE engram_process_resident_memory_bytes gauge\n"
      << "engram_process_resident_memory_bytes " << ResidentBytes() << "\n"
      << "# HELP engram_process_threads Threads of the server process.\n"
      << "# TYPE engram_process_threads gauge\n"
      << "engram_process_threads " << ThreadCount() << "\n"
      << "# HELP engram_uptime_seconds Seconds since the server started.\n"
      << "# TYPE engram_uptime_seconds gauge\n"
      << "engram_uptime_seconds " << Num(static_cast<double>(MonoNanos() - start_mono_ns_) * 1e-9) << "\n";
  return out.str();
}

uint64_t ResidentBytes() {
  std::ifstream in("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  if (!(in >> size >> resident)) return 0;
  return resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

int ThreadCount() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Threads:", 0) == 0) return std::atoi(line.c_str() + 8);
  }
  return 0;
}

}  // namespace engram::server
