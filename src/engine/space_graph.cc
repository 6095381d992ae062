// Space: the association graph (edges, spreading activation, neighbours).
#include "engine/space.h"

#include <algorithm>

#include "engine/space_internal.h"
#include "kernels/kernels.h"

namespace engram {

using internal::TopK;

void Space::AddEdge(uint32_t a, uint32_t b, float weight) {
  if (a == b) return;
  auto add = [&](uint32_t from, uint32_t to) {
    std::lock_guard lock(adjacency_mu_[from % kStripes]);
    auto& edges = (*adjacency_)[from].edges;
    for (auto& e : edges) {
      if (e.to == to) {
        e.weight = std::max(e.weight, weight);
        return;
      }
    }
    edges.push_back({to, weight});
    edges_.fetch_add(1, std::memory_order_relaxed);
  };
  add(a, b);
  add(b, a);
}

std::vector<Space::Edge> Space::EdgesOf(uint32_t slot) const {
  std::lock_guard lock(adjacency_mu_[slot % kStripes]);
  return (*adjacency_)[slot].edges;
}

namespace {
// Per-thread scratch for Spread: slot -> local index without hashing, stamped by generation
// so a reset costs nothing (as hnswlib's visited lists do).
struct SpreadScratch {
  std::vector<uint32_t> stamp, index;
  uint32_t generation = 0;
  std::vector<uint32_t> nodes, edge_begin, row, col, cursor;
  std::vector<float> weight, act, next;
  std::vector<std::pair<uint32_t, float>> edges;  // (to, weight) of every gathered node, flat
  kernels::SpreadGraph graph;                      // row/col/weight in the kernel's layout

  void Reset(size_t slots) {
    if (stamp.size() < slots) {
      stamp.resize(slots, 0);
      index.resize(slots, 0);
    }
    if (++generation == 0) {
      std::fill(stamp.begin(), stamp.end(), 0);
      generation = 1;
    }
    nodes.clear();
    edge_begin.clear();
    edges.clear();
  }
  bool Has(uint32_t slot) const { return stamp[slot] == generation; }
};

constexpr size_t kSpreadPrefetch = 4;  // Spread fetches adjacency headers this many nodes ahead
}  // namespace

std::vector<std::pair<uint32_t, float>> Space::Spread(
    const std::vector<std::pair<uint32_t, float>>& seeds, int hops) const {
  std::vector<std::pair<uint32_t, float>> out;
  if (seeds.empty()) return out;
  // Gather the subgraph within `hops` of the seeds (at most node_budget episodes), then run
  // synchronous pull steps over it with the SIMD kernel.
  thread_local SpreadScratch s;
  s.Reset(next_slot_.load(std::memory_order_acquire));
  // The cheap tests come first: the stamp array is small and hot, while IsLive reads the
  // episode's state, a cache miss per edge (it was 40% of Spread's samples when it ran first,
  // including for every edge met after the budget was full).
  auto visit = [&](uint32_t slot, bool check_live) {
    if (slot >= s.stamp.size() || s.Has(slot) || s.nodes.size() >= options_.activation_node_budget) return;
    if (check_live && !IsLive(slot)) return;
    s.stamp[slot] = s.generation;
    s.index[slot] = static_cast<uint32_t>(s.nodes.size());
    s.nodes.push_back(slot);
  };
  auto gather = [&](uint32_t slot) {  // appends the node's edges under its stripe lock
    s.edge_begin.push_back(static_cast<uint32_t>(s.edges.size()));
    std::lock_guard lock(adjacency_mu_[slot % kStripes]);
    for (const Edge& e : (*adjacency_)[slot].edges) s.edges.emplace_back(e.to, e.weight);
  };
  for (const auto& seed : seeds) visit(seed.first, false);
  size_t layer_begin = 0;
  for (int h = 0; h < hops; ++h) {
    const size_t layer_end = s.nodes.size();
    for (size_t i = layer_begin; i < layer_end; ++i) {
      // The gather is bound by cache misses on the episodes' adjacency headers and lists:
      // fetch a header a few nodes ahead (its list's address is only safe to read under the
      // stripe lock, so the list itself is not prefetched).
      if (i + kSpreadPrefetch < layer_end) __builtin_prefetch(&(*adjacency_)[s.nodes[i + kSpreadPrefetch]]);
      gather(s.nodes[i]);
      const size_t from = s.edge_begin.back(), to = s.edges.size();
      for (size_t e = from; e < to; ++e) visit(s.edges[e].first, true);
    }
    layer_begin = layer_end;
  }
  // Only the nodes gathered so far (within hops - 1 of a seed) send activation that a step
  // reads: a node h hops out first receives activation in step h, and there are `hops` steps,
  // so the last layer's own edge lists would add only zero terms and are not copied (most
  // of the subgraph is that layer). The association graph is symmetric (AddEdge links both
  // ways), so a gathered node u's edge to v is v's incoming edge from u: the pull layout's
  // rows are built from the senders' lists by counting.
  const size_t senders = s.edge_begin.size();
  s.edge_begin.push_back(static_cast<uint32_t>(s.edges.size()));

  const size_t n = s.nodes.size();
  s.row.assign(n + 1, 0);
  for (size_t u = 0; u < senders; ++u) {
    for (uint32_t e = s.edge_begin[u]; e < s.edge_begin[u + 1]; ++e) {
      const uint32_t to = s.edges[e].first;
      if (to < s.stamp.size() && s.Has(to)) ++s.row[s.index[to] + 1];
    }
  }
  for (size_t v = 0; v < n; ++v) s.row[v + 1] += s.row[v];
  s.col.resize(s.row[n]);
  s.weight.resize(s.row[n]);
  s.cursor.assign(s.row.begin(), s.row.end() - 1);
  for (size_t u = 0; u < senders; ++u) {
    for (uint32_t e = s.edge_begin[u]; e < s.edge_begin[u + 1]; ++e) {
      const uint32_t to = s.edges[e].first;
      if (to >= s.stamp.size() || !s.Has(to)) continue;
      const uint32_t at = s.cursor[s.index[to]]++;
      s.col[at] = static_cast<uint32_t>(u);
      s.weight[at] = s.edges[e].second;
    }
  }
  s.act.assign(n, 0.0f);
  s.next.assign(n, 0.0f);
  for (const auto& seed : seeds) {
    if (seed.first < s.stamp.size() && s.Has(seed.first)) s.act[s.index[seed.first]] = std::clamp(seed.second, 0.0f, 1.0f);
  }
  s.graph.Assign(s.row.data(), s.col.data(), s.weight.data(), n);
  for (int h = 0; h < hops; ++h) {
    kernels::SpreadStep(s.graph, s.act.data(), options_.activation_retain,
                        options_.activation_decay, options_.activation_threshold, s.next.data());
    s.act.swap(s.next);
  }
  for (size_t v = 0; v < n; ++v) {
    if (s.act[v] > 0.0f) out.emplace_back(s.nodes[v], s.act[v]);
  }
  return out;
}

namespace {
// Per-thread visited marks of a breadth-first walk, stamped by generation (no reset cost).
struct VisitScratch {
  std::vector<uint32_t> stamp;
  uint32_t generation = 0;
  void Reset(size_t slots) {
    if (stamp.size() < slots) stamp.resize(slots, 0);
    if (++generation == 0) {
      std::fill(stamp.begin(), stamp.end(), 0);
      generation = 1;
    }
  }
  // Marks `slot`; false if it was marked already (or is beyond the walk's snapshot of slots).
  bool Visit(uint32_t slot) {
    if (slot >= stamp.size() || stamp[slot] == generation) return false;
    stamp[slot] = generation;
    return true;
  }
};
}  // namespace

Result<std::vector<NeighborHit>> Space::Neighbors(const std::string& id, int hops, size_t limit) const {
  if (hops < 1 || hops > 6) return Status::InvalidArgument("hops must be in [1, 6]");
  if (limit == 0 || limit > 100000) return Status::InvalidArgument("limit must be in [1, 100000]");
  ENGRAM_ASSIGN_OR_RETURN(uint32_t start, SlotOf(id));
  // Breadth first; each edge list is read in place under its stripe lock, and the results'
  // ids are looked up once the walk is over.
  thread_local VisitScratch visited;
  visited.Reset(next_slot_.load(std::memory_order_acquire));
  visited.Visit(start);
  struct Reached {
    uint32_t slot;
    int hop;
    float weight;
  };
  std::vector<Reached> reached;
  reached.reserve(std::min<size_t>(limit, 1024));
  std::vector<std::pair<uint32_t, float>> frontier{{start, 1.0f}}, next;
  for (int h = 1; h <= hops && !frontier.empty() && reached.size() < limit; ++h) {
    next.clear();
    for (const auto& [u, wu] : frontier) {
      std::lock_guard lock(adjacency_mu_[u % kStripes]);
      for (const Edge& e : (*adjacency_)[u].edges) {
        if (!IsLive(e.to) || !visited.Visit(e.to)) continue;
        next.emplace_back(e.to, wu * e.weight);
        reached.push_back({e.to, h, wu * e.weight});
        if (reached.size() >= limit) break;
      }
      if (reached.size() >= limit) break;
    }
    frontier.swap(next);
  }
  std::vector<NeighborHit> out;
  out.reserve(reached.size());
  for (const Reached& r : reached) out.push_back({slot_ids_[r.slot], r.hop, r.weight});
  return out;
}

Result<std::vector<ActivationHit>> Space::Activate(std::span<const std::string> seeds, int hops,
                                                   size_t limit) const {
  if (seeds.empty()) return Status::InvalidArgument("no seed episodes");
  if (hops < 1 || hops > 6) return Status::InvalidArgument("hops must be in [1, 6]");
  if (limit == 0 || limit > 100000) return Status::InvalidArgument("limit must be in [1, 100000]");
  std::vector<std::pair<uint32_t, float>> s;
  for (const auto& id : seeds) {
    ENGRAM_ASSIGN_OR_RETURN(uint32_t slot, SlotOf(id));
    s.emplace_back(slot, 1.0f);
  }
  auto spread = Spread(s, hops);
  TopK(spread, limit, [](const auto& a, const auto& b) { return a.second > b.second || (a.second == b.second && a.first < b.first); });
  std::vector<ActivationHit> out;
  for (const auto& [slot, a] : spread) out.push_back({slot_ids_[slot], a});
  return out;
}


}  // namespace engram
