#include "engine/space.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <thread>
#include <unordered_set>

#include "core/clock.h"
#include "core/random.h"
#include "kernels/kernels.h"
#include "storage/store.h"

namespace engram {

namespace {
constexpr uint32_t kPendingSlot = UINT32_MAX;
constexpr uint8_t kPending = 0, kLive = 1, kDeleted = 2;
constexpr size_t kMaxIdBytes = 256;
constexpr size_t kMaxTags = 256;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::vector<std::string> WordsOf(std::string_view text) {
  std::vector<std::string> words;
  std::string cur;
  for (char ch : text) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c >= 0x80) {
      cur.push_back(static_cast<char>(std::tolower(c)));
    } else if (!cur.empty()) {
      words.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) words.push_back(std::move(cur));
  std::sort(words.begin(), words.end());
  words.erase(std::unique(words.begin(), words.end()), words.end());
  return words;
}

// |a ∩ b| / |a ∪ b| over sorted unique word lists.
float Jaccard(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  if (a.empty() && b.empty()) return 1.0f;
  size_t i = 0, j = 0, common = 0;
  while (i < a.size() && j < b.size()) {
    if (a[i] == b[j]) {
      ++common, ++i, ++j;
    } else if (a[i] < b[j]) {
      ++i;
    } else {
      ++j;
    }
  }
  return static_cast<float>(common) / static_cast<float>(a.size() + b.size() - common);
}

// Fraction of `wanted` found in `have` (case-insensitive).
float Coverage(const std::vector<std::string>& wanted, const std::vector<std::string>& have) {
  if (wanted.empty()) return 1.0f;
  size_t found = 0;
  for (const auto& w : wanted) {
    const std::string lw = Lower(w);
    for (const auto& h : have) {
      if (Lower(h) == lw) {
        ++found;
        break;
      }
    }
  }
  return static_cast<float>(found) / static_cast<float>(wanted.size());
}

template <typename T>
void TopK(std::vector<T>& v, size_t k, auto better) {
  if (v.size() > k) {
    std::partial_sort(v.begin(), v.begin() + k, v.end(), better);
    v.resize(k);
  } else {
    std::sort(v.begin(), v.end(), better);
  }
}
}  // namespace

struct Space::Meta {
  std::string id;
  std::string what;
  std::string where;
  int64_t when_us = 0;
  int64_t created_us = 0;
  std::vector<std::string> who;
  std::vector<std::string> tags;
  float confidence = 1.0f;
};

struct Space::State {
  std::atomic<float> strength{1.0f};
  std::atomic<int64_t> last_access_us{0};
  std::atomic<uint64_t> access_count{0};
  std::atomic<uint8_t> status{kPending};
  std::atomic<int32_t> concept_index{-1};
};

struct Space::Adjacency {
  std::vector<Edge> edges;
};

struct Space::ConceptSet {
  std::vector<float> centroids;  // n x dim, unit length
  std::vector<float> sums;       // n x dim, running sums of member embeddings
  std::vector<std::vector<uint32_t>> members;
  size_t size() const { return members.size(); }
};

struct Space::Ranked {
  struct Hit {
    uint32_t slot;
    RecallHit hit;
  };
  RecallResult result;    // mode, flags and counts; its hits stay empty
  std::vector<Hit> hits;  // best first, at most k

  void Keep(size_t k) {
    TopK(hits, k, [](const Hit& a, const Hit& b) { return a.hit.score > b.hit.score; });
  }
};

Space::Space(std::string name, const SpaceOptions& options, storage::Store* store)
    : name_(std::move(name)),
      options_(options),
      store_(store),
      index_(std::make_unique<index::HnswIndex>(options.dim, options.hnsw)),
      embeddings_(options.dim),
      meta_(std::make_unique<ChunkedArray<Meta>>()),
      state_(std::make_unique<ChunkedArray<State>>()),
      adjacency_(std::make_unique<ChunkedArray<Adjacency>>()),
      concepts_(std::make_shared<ConceptSet>()) {}

Space::~Space() = default;

Status Space::ValidateSpec(const EpisodeSpec& spec) const {
  if (spec.embedding.size() != options_.dim) {
    return Status::InvalidArgument("embedding has ", spec.embedding.size(), " values, space '",
                                   name_, "' expects ", options_.dim);
  }
  double norm2 = 0;
  for (size_t i = 0; i < spec.embedding.size(); ++i) {
    const float v = spec.embedding[i];
    if (!std::isfinite(v)) {
      return Status::InvalidArgument("embedding[", i, "] is ", std::isnan(v) ? "NaN" : "infinite");
    }
    norm2 += static_cast<double>(v) * v;
  }
  if (norm2 == 0.0) return Status::InvalidArgument("embedding is all zeros and has no direction");
  if (spec.id.size() > kMaxIdBytes) {
    return Status::InvalidArgument("id is ", spec.id.size(), " bytes; at most ", kMaxIdBytes);
  }
  if (!(spec.confidence >= 0.0f && spec.confidence <= 1.0f)) {
    return Status::InvalidArgument("confidence ", spec.confidence, " is outside [0, 1]");
  }
  if (spec.tags.size() > kMaxTags || spec.who.size() > kMaxTags) {
    return Status::InvalidArgument("at most ", kMaxTags, " tags and ", kMaxTags, " who entries");
  }
  return Status::Ok();
}

void Space::Normalise(const float* in, float* out) const {
  std::copy(in, in + options_.dim, out);
  kernels::Normalize(out, options_.dim);
}

bool Space::IsLive(uint32_t slot) const {
  return slot < next_slot_.load(std::memory_order_acquire) &&
         (*state_)[slot].status.load(std::memory_order_acquire) == kLive;
}

Result<uint32_t> Space::SlotOf(const std::string& id) const {
  std::shared_lock lock(ids_mu_);
  auto it = ids_.find(id);
  if (it == ids_.end() || it->second == kPendingSlot) {
    return Status::NotFound("no episode '", id, "' in space '", name_, "'");
  }
  return it->second;
}

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

size_t Space::Tokenise(uint32_t slot, std::vector<std::string>* keys) const {
  const Meta& m = (*meta_)[slot];
  keys->clear();
  for (auto& w : WordsOf(m.what)) keys->push_back("w:" + w);
  if (!m.where.empty()) keys->push_back("p:" + Lower(m.where));
  for (auto& w : m.who) keys->push_back("u:" + Lower(w));
  for (auto& t : m.tags) keys->push_back("t:" + Lower(t));
  return keys->size();
}

void Space::IndexTokens(uint32_t slot) {
  std::vector<std::string> keys;
  if (Tokenise(slot, &keys) == 0) return;
  std::unique_lock lock(tokens_mu_);
  for (auto& k : keys) postings_[k].push_back(slot);
}

void Space::UnindexTokens(uint32_t slot) {
  std::vector<std::string> keys;
  if (Tokenise(slot, &keys) == 0) return;
  std::unique_lock lock(tokens_mu_);
  for (auto& k : keys) {
    auto it = postings_.find(k);
    if (it == postings_.end()) continue;
    std::erase(it->second, slot);
    if (it->second.empty()) postings_.erase(it);
  }
}

Result<std::string> Space::Remember(const EpisodeSpec& spec) {
  ENGRAM_ASSIGN_OR_RETURN(auto ids, RememberBatch(std::span<const EpisodeSpec>(&spec, 1)));
  return ids[0];
}

Result<std::vector<std::string>> Space::RememberBatch(std::span<const EpisodeSpec> specs,
                                                      std::span<const LinkSpec> links,
                                                      int parallelism) {
  if (specs.empty()) return Status::InvalidArgument("no episodes to remember");
  for (size_t i = 0; i < specs.size(); ++i) {
    ENGRAM_RETURN_IF_ERROR(ValidateSpec(specs[i]).WithContext("episodes[" + std::to_string(i) + "]"));
  }
  const size_t n = specs.size();

  // Reserve the caller's ids so a concurrent remember of the same id gets a conflict.
  std::vector<std::string> reserved;
  {
    std::unique_lock lock(ids_mu_);
    for (size_t i = 0; i < n; ++i) {
      const std::string& id = specs[i].id;
      if (id.empty()) continue;
      if (ids_.count(id) != 0) {
        for (auto& r : reserved) ids_.erase(r);
        return Status::AlreadyExists("episode '", id, "' already exists in space '", name_, "'");
      }
      ids_.emplace(id, kPendingSlot);
      reserved.push_back(id);
    }
  }
  auto release = [&] {
    std::unique_lock lock(ids_mu_);
    for (auto& r : reserved) ids_.erase(r);
  };

  // Allocate a contiguous run of slots.
  uint32_t base;
  {
    std::lock_guard lock(append_mu_);
    base = next_slot_.load(std::memory_order_relaxed);
    const size_t rows = static_cast<size_t>(base) + n;
    Status st = embeddings_.EnsureRows(rows);
    if (st.ok()) st = meta_->EnsureRows(rows);
    if (st.ok()) st = state_->EnsureRows(rows);
    if (st.ok()) st = adjacency_->EnsureRows(rows);
    if (!st.ok()) {
      release();
      return st;
    }
    next_slot_.store(static_cast<uint32_t>(rows), std::memory_order_release);
  }

  const int64_t now = WallMicros();
  std::vector<std::string> out_ids(n);
  Rng id_rng(Mix64(static_cast<uint64_t>(now), base));
  for (size_t i = 0; i < n; ++i) {
    const uint32_t slot = base + static_cast<uint32_t>(i);
    const EpisodeSpec& s = specs[i];
    Meta& m = (*meta_)[slot];
    m.id = s.id.empty() ? "ep-" + std::to_string(slot) + "-" + std::to_string(id_rng.Next() % 1000000007ULL)
                        : s.id;
    m.what = s.what;
    m.where = s.where;
    m.when_us = s.when_us != 0 ? s.when_us : now;
    m.created_us = now;
    m.who = s.who;
    m.tags = s.tags;
    m.confidence = s.confidence;
    State& st = (*state_)[slot];
    st.strength.store(1.0f, std::memory_order_relaxed);
    st.last_access_us.store(now, std::memory_order_relaxed);
    Normalise(s.embedding.data(), embeddings_.Row(slot));
    out_ids[i] = m.id;
  }
  if (reserved.size() < n) {  // generated ids: reserve them too
    std::unique_lock lock(ids_mu_);
    for (size_t i = 0; i < n; ++i) {
      if (specs[i].id.empty()) {
        ids_.emplace(out_ids[i], kPendingSlot);
        reserved.push_back(out_ids[i]);
      }
    }
  }

  // Insert into the vector index, in parallel for bulk loads; HNSW's chosen level-0
  // neighbours become association edges.
  std::vector<std::vector<index::Neighbor>> found(n);
  std::vector<Status> errors(n);
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i; (i = next.fetch_add(1)) < n;) {
      errors[i] = index_->Add(base + static_cast<uint32_t>(i), embeddings_.Row(base + i), &found[i]);
    }
  };
  const int threads = std::clamp(parallelism, 1, static_cast<int>(std::min<size_t>(n, 16)));
  if (threads == 1) {
    worker();
  } else {
    std::vector<std::jthread> pool;
    for (int t = 0; t < threads; ++t) pool.emplace_back(worker);
  }

  std::vector<storage::EdgeRecord> edges;
  auto fail = [&](Status st) {
    for (size_t i = 0; i < n; ++i) {
      (void)index_->MarkDeleted(base + static_cast<uint32_t>(i));
      (*state_)[base + i].status.store(kDeleted, std::memory_order_release);
    }
    deleted_.fetch_add(n);
    release();
    return st;
  };
  for (size_t i = 0; i < n; ++i) {
    if (!errors[i].ok()) return fail(errors[i]);
    const uint32_t slot = base + static_cast<uint32_t>(i);
    auto& cands = found[i];
    std::sort(cands.begin(), cands.end(), [](auto& a, auto& b) { return a.similarity > b.similarity; });
    size_t made = 0;
    for (const auto& c : cands) {
      if (made >= options_.auto_link_k) break;
      if (c.slot == slot || c.similarity < options_.link_min_similarity) continue;
      const bool in_batch = c.slot >= base && c.slot < base + n;
      if (!in_batch && !IsLive(c.slot)) continue;
      edges.push_back({slot, c.slot, std::max(c.similarity, 0.0f)});
      ++made;
    }
  }
  // Links name episodes of this batch (not yet published in ids_) or stored ones. A bulk
  // load sends ~5 links per episode, so the batch's ids are looked up by hash, not by scan.
  std::unordered_map<std::string_view, uint32_t> batch_slot;
  if (!links.empty()) {
    batch_slot.reserve(n);
    for (size_t j = 0; j < n; ++j) batch_slot.emplace(out_ids[j], base + static_cast<uint32_t>(j));
  }
  for (size_t i = 0; i < links.size(); ++i) {
    const LinkSpec& l = links[i];
    if (!(l.weight > 0.0f && l.weight <= 1.0f)) {
      return fail(Status::InvalidArgument("links[", i, "].weight ", l.weight, " is outside (0, 1]"));
    }
    auto resolve = [&](const std::string& id) -> Result<uint32_t> {
      if (auto it = batch_slot.find(id); it != batch_slot.end()) return it->second;
      return SlotOf(id);
    };
    auto from = resolve(l.from);
    auto to = resolve(l.to);
    if (!from.ok()) return fail(from.error().WithContext("links[" + std::to_string(i) + "].from"));
    if (!to.ok()) return fail(to.error().WithContext("links[" + std::to_string(i) + "].to"));
    edges.push_back({*from, *to, l.weight});
  }

  if (store_ != nullptr) {
    std::vector<storage::EpisodeRecord> records(n);
    for (size_t i = 0; i < n; ++i) {
      const uint32_t slot = base + static_cast<uint32_t>(i);
      const Meta& m = (*meta_)[slot];
      auto& r = records[i];
      r.seq = slot;
      r.id = m.id;
      r.what = m.what;
      r.when_us = m.when_us;
      r.where = m.where;
      r.who = m.who;
      r.tags = m.tags;
      r.embedding.assign(embeddings_.Row(slot), embeddings_.Row(slot) + options_.dim);
      r.confidence = m.confidence;
      r.strength = 1.0f;
      r.created_us = m.created_us;
    }
    Status st = store_->PutEpisodes(name_, records, edges);
    if (!st.ok()) return fail(st);
  }

  // Acknowledged: publish.
  for (const auto& e : edges) AddEdge(static_cast<uint32_t>(e.from), static_cast<uint32_t>(e.to), e.weight);
  {
    std::unique_lock lock(ids_mu_);
    for (size_t i = 0; i < n; ++i) ids_[out_ids[i]] = base + static_cast<uint32_t>(i);
  }
  for (size_t i = 0; i < n; ++i) {
    (*state_)[base + i].status.store(kLive, std::memory_order_release);
    IndexTokens(base + static_cast<uint32_t>(i));
  }
  live_.fetch_add(n);
  return out_ids;
}

Status Space::Link(const LinkSpec& link) {
  if (!(link.weight > 0.0f && link.weight <= 1.0f)) {
    return Status::InvalidArgument("weight ", link.weight, " is outside (0, 1]");
  }
  ENGRAM_ASSIGN_OR_RETURN(uint32_t from, SlotOf(link.from));
  ENGRAM_ASSIGN_OR_RETURN(uint32_t to, SlotOf(link.to));
  if (from == to) return Status::InvalidArgument("an episode cannot be linked to itself");
  if (store_ != nullptr) {
    storage::EdgeRecord e{from, to, link.weight};
    ENGRAM_RETURN_IF_ERROR(store_->PutEdges(name_, std::span<const storage::EdgeRecord>(&e, 1)));
  }
  AddEdge(from, to, link.weight);
  return Status::Ok();
}

Result<Episode> Space::Get(const std::string& id, bool with_embedding) const {
  ENGRAM_ASSIGN_OR_RETURN(uint32_t slot, SlotOf(id));
  const Meta& m = (*meta_)[slot];
  const State& s = (*state_)[slot];
  Episode e;
  e.id = m.id;
  e.what = m.what;
  e.when_us = m.when_us;
  e.where = m.where;
  e.who = m.who;
  e.tags = m.tags;
  if (with_embedding) e.embedding.assign(embeddings_.Row(slot), embeddings_.Row(slot) + options_.dim);
  e.confidence = m.confidence;
  e.strength = s.strength.load(std::memory_order_relaxed);
  e.created_us = m.created_us;
  e.last_access_us = s.last_access_us.load(std::memory_order_relaxed);
  e.access_count = s.access_count.load(std::memory_order_relaxed);
  const int32_t c = s.concept_index.load(std::memory_order_relaxed);
  if (c >= 0) e.concept_id = "c-" + std::to_string(c);
  return e;
}

Status Space::Forget(const std::string& id) {
  ENGRAM_ASSIGN_OR_RETURN(uint32_t slot, SlotOf(id));
  std::vector<Edge> mine = EdgesOf(slot);
  if (store_ != nullptr) {
    std::vector<storage::EdgeRecord> edges;
    for (const auto& e : mine) {
      edges.push_back({slot, e.to, e.weight});
      edges.push_back({e.to, slot, e.weight});
    }
    ENGRAM_RETURN_IF_ERROR(store_->DeleteEpisode(name_, slot, edges));
  }
  {
    std::unique_lock lock(ids_mu_);
    auto it = ids_.find(id);
    if (it == ids_.end() || it->second != slot) {
      return Status::NotFound("no episode '", id, "' in space '", name_, "'");
    }
    ids_.erase(it);
    (*state_)[slot].status.store(kDeleted, std::memory_order_release);
  }
  (void)index_->MarkDeleted(slot);
  for (const auto& e : mine) {
    std::lock_guard lock(adjacency_mu_[e.to % kStripes]);
    auto& theirs = (*adjacency_)[e.to].edges;
    const size_t before = theirs.size();
    std::erase_if(theirs, [&](const Edge& x) { return x.to == slot; });
    edges_.fetch_sub(before - theirs.size(), std::memory_order_relaxed);
  }
  {
    std::lock_guard lock(adjacency_mu_[slot % kStripes]);
    edges_.fetch_sub((*adjacency_)[slot].edges.size(), std::memory_order_relaxed);
    (*adjacency_)[slot].edges.clear();
  }
  UnindexTokens(slot);
  live_.fetch_sub(1);
  deleted_.fetch_add(1);
  return Status::Ok();
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

void Space::Retrievability(const std::vector<uint32_t>& slots, int64_t now_us, float* out) const {
  const size_t n = slots.size();
  std::vector<float> strength(n), age(n);
  for (size_t i = 0; i < n; ++i) {
    const State& st = (*state_)[slots[i]];
    strength[i] = st.strength.load(std::memory_order_relaxed);
    age[i] = std::max<float>(0.0f, static_cast<float>(now_us - st.last_access_us.load(std::memory_order_relaxed)) * 1e-6f);
  }
  if (options_.decay == DecayKind::kPowerLaw) {
    kernels::DecayPowerLaw(strength.data(), age.data(), n, options_.decay_tau_seconds, options_.decay_alpha, out);
  } else {
    kernels::DecayExponential(strength.data(), age.data(), n, options_.decay_tau_seconds, out);
  }
}

void Space::Touch(uint32_t slot, int64_t now_us) {
  State& s = (*state_)[slot];
  s.last_access_us.store(now_us, std::memory_order_relaxed);
  s.access_count.fetch_add(1, std::memory_order_relaxed);
  const float st = s.strength.load(std::memory_order_relaxed);
  s.strength.store(std::min(1.0f, st + 0.1f * (1.0f - st)), std::memory_order_relaxed);
}

Space::Ranked Space::EpisodicRecall(const float* cue, const RecallQuery& query) const {
  Ranked ranked;
  RecallResult& result = ranked.result;
  result.mode = RecallMode::kEpisodic;
  const size_t want = std::max<size_t>(query.k * 2, 16);
  std::vector<index::Neighbor> hits = IndexSearch(cue, want, query.ef);

  std::unordered_map<uint32_t, size_t> pos;  // slot -> position in the arrays below
  std::vector<uint32_t> slots;
  std::vector<float> sim, act;
  for (const auto& h : hits) {
    pos.emplace(h.slot, slots.size());
    slots.push_back(h.slot);
    sim.push_back(h.similarity);
    act.push_back(0.0f);
  }
  if (query.hops > 0 && !hits.empty()) {
    std::vector<std::pair<uint32_t, float>> seeds;
    for (size_t i = 0; i < std::min<size_t>(hits.size(), 8); ++i) {
      if (hits[i].similarity > 0) seeds.emplace_back(hits[i].slot, hits[i].similarity);
    }
    auto spread = Spread(seeds, query.hops);
    result.activated = spread.size();
    // Episodes the vector search already found keep their activation; of the others only the
    // most activated can reach the top k, so only they are scored.
    auto found_by_search = [&](const std::pair<uint32_t, float>& s) { return pos.count(s.first) != 0; };
    auto split = std::stable_partition(spread.begin(), spread.end(), found_by_search);
    const size_t keep = std::max(query.k * 4, options_.activation_scored_min);
    if (static_cast<size_t>(spread.end() - split) > keep) {
      std::nth_element(split, split + static_cast<std::ptrdiff_t>(keep), spread.end(),
                       [](const auto& a, const auto& b) { return a.second > b.second; });
      spread.erase(split + static_cast<std::ptrdiff_t>(keep), spread.end());
    }
    std::vector<const float*> rows;
    std::vector<size_t> fresh;
    for (const auto& [slot, a] : spread) {
      auto it = pos.find(slot);
      if (it != pos.end()) {
        act[it->second] = a;
        continue;
      }
      pos.emplace(slot, slots.size());
      fresh.push_back(slots.size());
      slots.push_back(slot);
      sim.push_back(0.0f);
      act.push_back(a);
      rows.push_back(embeddings_.Row(slot));
    }
    if (!rows.empty()) {
      std::vector<float> fresh_sim(rows.size());
      kernels::BatchDotPtrs(cue, rows.data(), rows.size(), options_.dim, fresh_sim.data());
      for (size_t i = 0; i < fresh.size(); ++i) sim[fresh[i]] = fresh_sim[i];
    }
  }

  // Decay for all candidates in one kernel call.
  const size_t n = slots.size();
  std::vector<float> retr(n);
  Retrievability(slots, WallMicros(), retr.data());
  result.candidates = n;
  for (size_t i = 0; i < n; ++i) {
    const float base = options_.weight_similarity * std::max(sim[i], 0.0f) + options_.weight_activation * act[i];
    const float score = base * (options_.decay_floor + (1.0f - options_.decay_floor) * retr[i]);
    if (score < query.min_score) continue;
    RecallHit h;
    h.score = score;
    h.similarity = sim[i];
    h.activation = act[i];
    h.retrievability = retr[i];
    ranked.hits.push_back({slots[i], std::move(h)});
  }
  ranked.Keep(query.k);
  return ranked;
}

std::shared_ptr<const Space::ConceptSet> Space::Concepts() const {
  std::lock_guard lock(concepts_mu_);
  return concepts_;
}

Space::Ranked Space::SemanticRecall(const float* cue, const RecallQuery& query) const {
  auto set = Concepts();
  const size_t nc = set->size();
  if (nc == 0) {
    Ranked fallback = EpisodicRecall(cue, query);
    fallback.result.mode = RecallMode::kSemantic;
    fallback.result.semantic_fallback = true;
    return fallback;
  }
  Ranked ranked;
  RecallResult& result = ranked.result;
  result.mode = RecallMode::kSemantic;
  std::vector<float> csim(nc);
  kernels::BatchDot(cue, set->centroids.data(), nc, options_.dim, csim.data());
  std::vector<uint32_t> order(nc);
  for (uint32_t i = 0; i < nc; ++i) order[i] = i;
  const size_t top_concepts = std::min<size_t>(nc, 3);
  std::partial_sort(order.begin(), order.begin() + top_concepts, order.end(),
                    [&](uint32_t a, uint32_t b) { return csim[a] > csim[b]; });
  const int64_t now = WallMicros();
  for (size_t ci = 0; ci < top_concepts; ++ci) {
    const uint32_t c = order[ci];
    const auto& members = set->members[c];
    const size_t scan = std::min(members.size(), options_.concept_members_scanned);
    std::vector<const float*> rows;
    std::vector<uint32_t> slots;
    for (size_t j = members.size() - scan; j < members.size(); ++j) {
      if (!IsLive(members[j])) continue;
      rows.push_back(embeddings_.Row(members[j]));
      slots.push_back(members[j]);
    }
    std::vector<float> msim(rows.size());
    kernels::BatchDotPtrs(cue, rows.data(), rows.size(), options_.dim, msim.data());
    result.candidates += rows.size();
    std::vector<float> retrs(rows.size());
    Retrievability(slots, now, retrs.data());
    for (size_t j = 0; j < rows.size(); ++j) {
      const float retr = retrs[j];
      const float base = 0.5f * (std::max(csim[c], 0.0f) + std::max(msim[j], 0.0f));
      const float score = base * (options_.decay_floor + (1.0f - options_.decay_floor) * retr);
      if (score < query.min_score) continue;
      RecallHit h;
      h.score = score;
      h.similarity = msim[j];
      h.retrievability = retr;
      h.concept_id = "c-" + std::to_string(c);
      ranked.hits.push_back({slots[j], std::move(h)});
    }
  }
  ranked.Keep(query.k);
  return ranked;
}

Result<RecallResult> Space::Recall(const RecallQuery& query) {
  if (query.cue.size() != options_.dim) {
    return Status::InvalidArgument("cue has ", query.cue.size(), " values, space '", name_,
                                   "' expects ", options_.dim);
  }
  for (size_t i = 0; i < query.cue.size(); ++i) {
    if (!std::isfinite(query.cue[i])) return Status::InvalidArgument("cue[", i, "] is not finite");
  }
  if (query.k == 0 || query.k > 10000) return Status::InvalidArgument("k must be in [1, 10000]");
  if (query.hops < 0 || query.hops > 6) return Status::InvalidArgument("hops must be in [0, 6]");
  std::vector<float> cue(options_.dim);
  Normalise(query.cue.data(), cue.data());

  Ranked ranked;
  if (query.mode == RecallMode::kEpisodic) {
    ranked = EpisodicRecall(cue.data(), query);
  } else if (query.mode == RecallMode::kSemantic) {
    ranked = SemanticRecall(cue.data(), query);
  } else {
    RecallQuery wide = query;
    wide.k = query.k * 2;
    wide.min_score = 0.0f;
    Ranked e = EpisodicRecall(cue.data(), wide);
    Ranked s = SemanticRecall(cue.data(), wide);
    RecallResult& result = ranked.result;
    result.mode = RecallMode::kBlended;
    result.semantic_fallback = s.result.semantic_fallback;
    result.candidates = e.result.candidates + s.result.candidates;
    result.activated = e.result.activated;
    std::unordered_map<uint32_t, RecallHit> merged;
    for (auto& [slot, h] : e.hits) {
      RecallHit m = h;
      m.score = (s.result.semantic_fallback ? 1.0f : options_.weight_episodic) * h.score;
      merged.emplace(slot, std::move(m));
    }
    if (!s.result.semantic_fallback) {
      for (auto& [slot, h] : s.hits) {
        auto [it, inserted] = merged.emplace(slot, h);
        if (inserted) {
          it->second.score = options_.weight_semantic * h.score;
        } else {
          it->second.score += options_.weight_semantic * h.score;
          it->second.concept_id = h.concept_id;
        }
      }
    }
    for (auto& [slot, h] : merged) {
      if (h.score >= query.min_score) ranked.hits.push_back({slot, std::move(h)});
    }
    ranked.Keep(query.k);
  }
  // Only the final top k get their ids, text and confidence; recall reinforces them.
  RecallResult result = std::move(ranked.result);
  const int64_t now = WallMicros();
  for (auto& [slot, h] : ranked.hits) {
    const Meta& m = (*meta_)[slot];
    h.id = m.id;
    h.what = m.what;
    h.confidence = std::clamp(h.score * m.confidence, 0.0f, 1.0f);
    Touch(slot, now);
    result.hits.push_back(std::move(h));
  }
  return result;
}

Result<std::vector<SearchHit>> Space::Search(std::span<const float> query, size_t k, int ef) const {
  if (query.size() != options_.dim) {
    return Status::InvalidArgument("query has ", query.size(), " values, space '", name_,
                                   "' expects ", options_.dim);
  }
  for (size_t i = 0; i < query.size(); ++i) {
    if (!std::isfinite(query[i])) return Status::InvalidArgument("query[", i, "] is not finite");
  }
  if (k == 0 || k > 10000) return Status::InvalidArgument("k must be in [1, 10000]");
  if (ef < 0 || ef > 100000) return Status::InvalidArgument("ef must be in [0, 100000]");
  std::vector<float> q(options_.dim);
  Normalise(query.data(), q.data());
  std::vector<SearchHit> out;
  for (const auto& h : IndexSearch(q.data(), k, ef)) out.push_back({(*meta_)[h.slot].id, h.similarity});
  return out;
}

std::vector<index::Neighbor> Space::IndexSearch(const float* q, size_t k, int ef) const {
  // An int8 index orders close neighbours only roughly (its dot products are off by ~5e-4), so
  // it is asked for three times the answers, within its list size, and the float embeddings
  // pick the best k. At 100K x 768 the engine's recall@10 was 0.956 with twice and 0.960 with
  // three times (binary16: 0.962), at the same search time (docs/engine_performance.md,
  // "Index vectors as int8").
  const index::VectorPrecision precision = options_.hnsw.precision;
  size_t fetch = k;
  if (precision == index::VectorPrecision::kInt8) {
    const size_t list = ef > 0 ? static_cast<size_t>(ef) : options_.hnsw.ef_search;
    fetch = std::max(k, std::min(3 * k, list));
  }
  std::vector<index::Neighbor> hits = index_->Search(q, fetch, ef);
  std::erase_if(hits, [&](const index::Neighbor& h) { return !IsLive(h.slot); });
  if (precision != index::VectorPrecision::kFloat32) {
    for (auto& h : hits) h.similarity = kernels::Dot(q, embeddings_.Row(h.slot), options_.dim);
    std::stable_sort(hits.begin(), hits.end(), [](const index::Neighbor& a, const index::Neighbor& b) {
      return a.similarity > b.similarity;
    });
  }
  if (hits.size() > k) hits.resize(k);
  return hits;
}

Result<CompletionResult> Space::Complete(const CompletionCue& cue) const {
  const size_t dim = options_.dim;
  if (cue.k == 0 || cue.k > 1000) return Status::InvalidArgument("k must be in [1, 1000]");
  // Which embedding values are known.
  std::vector<float> known(dim, 0.0f);
  std::vector<uint8_t> is_known(dim, 0);
  size_t known_count = 0;
  if (!cue.mask.empty()) {
    if (cue.mask.size() != dim || cue.embedding.size() != dim) {
      return Status::InvalidArgument("with a mask, embedding and mask need ", dim, " values");
    }
    for (size_t i = 0; i < dim; ++i) {
      if (cue.mask[i]) is_known[i] = 1;
    }
  } else {
    if (cue.embedding.size() > dim) {
      return Status::InvalidArgument("partial embedding has ", cue.embedding.size(), " values, more than ", dim);
    }
    for (size_t i = 0; i < cue.embedding.size(); ++i) is_known[i] = 1;
  }
  for (size_t i = 0; i < dim; ++i) {
    if (!is_known[i]) continue;
    if (!std::isfinite(cue.embedding[i])) return Status::InvalidArgument("embedding[", i, "] is not finite");
    known[i] = cue.embedding[i];
    ++known_count;
  }
  const bool has_fields = cue.what || cue.where || !cue.who.empty() || !cue.tags.empty();
  const float known_norm = std::sqrt(kernels::SquaredNorm(known.data(), dim));
  const bool has_embedding = known_count > 0 && known_norm > 0.0f;
  if (!has_embedding && !has_fields) {
    return Status::InvalidArgument("the cue has no known field and no non-zero embedding values");
  }

  // Candidates: from the vector index (known values, zeros elsewhere) and from the token index.
  std::unordered_set<uint32_t> cand;
  if (has_embedding) {
    std::vector<float> q = known;
    kernels::Normalize(q.data(), dim);
    const size_t want = std::max<size_t>(50, cue.k * 4);
    for (const auto& h : index_->Search(q.data(), want, static_cast<int>(want * 2))) cand.insert(h.slot);
  }
  const std::vector<std::string> cue_words = cue.what ? WordsOf(*cue.what) : std::vector<std::string>{};
  if (has_fields) {
    std::vector<std::string> keys;
    for (auto& w : cue_words) keys.push_back("w:" + w);
    if (cue.where) keys.push_back("p:" + Lower(*cue.where));
    for (auto& w : cue.who) keys.push_back("u:" + Lower(w));
    for (auto& t : cue.tags) keys.push_back("t:" + Lower(t));
    std::shared_lock lock(tokens_mu_);
    for (auto& k : keys) {
      auto it = postings_.find(k);
      if (it == postings_.end()) continue;
      // Long postings say little; take the most recent part of each.
      const auto& p = it->second;
      for (size_t i = p.size() > 2000 ? p.size() - 2000 : 0; i < p.size(); ++i) cand.insert(p[i]);
    }
  }
  struct Scored {
    uint32_t slot;
    float score;
  };
  std::vector<Scored> scored;
  for (uint32_t slot : cand) {
    if (!IsLive(slot)) continue;
    const Meta& m = (*meta_)[slot];
    float total = 0, parts = 0;
    if (has_embedding) {
      const float* row = embeddings_.Row(slot);
      double dot = 0, norm = 0;
      for (size_t i = 0; i < dim; ++i) {
        if (!is_known[i]) continue;
        dot += static_cast<double>(known[i]) * row[i];
        norm += static_cast<double>(row[i]) * row[i];
      }
      const float masked = norm > 0 ? static_cast<float>(dot / (std::sqrt(norm) * known_norm)) : 0.0f;
      total += std::max(masked, 0.0f);
      parts += 1;
    }
    if (cue.what) {
      total += Jaccard(cue_words, WordsOf(m.what));
      parts += 1;
    }
    if (cue.where) {
      total += Lower(*cue.where) == Lower(m.where) ? 1.0f : 0.0f;
      parts += 1;
    }
    if (!cue.who.empty()) {
      total += Coverage(cue.who, m.who);
      parts += 1;
    }
    if (!cue.tags.empty()) {
      total += Coverage(cue.tags, m.tags);
      parts += 1;
    }
    scored.push_back({slot, parts > 0 ? total / parts : 0.0f});
  }
  if (scored.empty()) return Status::NotFound("nothing in space '", name_, "' matches the cue");
  TopK(scored, cue.k, [](const Scored& a, const Scored& b) {
    return a.score > b.score || (a.score == b.score && a.slot < b.slot);
  });

  CompletionResult out;
  for (const auto& s : scored) out.sources.push_back({(*meta_)[s.slot].id, s.score});
  // Matches vote with weight exp((score - best) / 0.05): a clear best match dominates, near
  // ties share. Field confidences and the filled-in embedding both use these weights.
  std::vector<float> vote(scored.size());
  float weight_sum = 0;
  for (size_t i = 0; i < scored.size(); ++i) {
    vote[i] = std::exp((scored[i].score - scored[0].score) / 0.05f);
    weight_sum += vote[i];
  }
  const Meta& best = (*meta_)[scored[0].slot];
  Episode& e = out.completed;
  e.what = cue.what ? *cue.what : best.what;
  e.where = cue.where ? *cue.where : best.where;
  e.who = cue.who.empty() ? best.who : cue.who;
  e.tags = cue.tags.empty() ? best.tags : cue.tags;
  e.when_us = best.when_us;
  // Each filled field's confidence: the score-weighted share of the matches that agree with it.
  auto agree = [&](auto same) {
    if (weight_sum <= 0) return 0.0f;
    float w = 0;
    for (size_t i = 0; i < scored.size(); ++i) {
      if (same((*meta_)[scored[i].slot])) w += vote[i];
    }
    return w / weight_sum;
  };
  float conf_sum = 0;
  auto fill = [&](const char* field, bool given, auto same) {
    if (given) return;
    const float c = agree(same);
    out.fields.push_back({field, c});
    out.completed_fields.push_back(field);
    conf_sum += c;
  };
  fill("what", cue.what.has_value(), [&](const Meta& m) { return m.what == best.what; });
  fill("where", cue.where.has_value(), [&](const Meta& m) { return m.where == best.where; });
  fill("who", !cue.who.empty(), [&](const Meta& m) { return m.who == best.who; });
  fill("tags", !cue.tags.empty(), [&](const Meta& m) { return m.tags == best.tags; });
  fill("when", false, [&](const Meta& m) { return m.when_us == best.when_us; });
  // The embedding: known values kept, the rest the score-weighted mean of the matches.
  // The embedding: known values kept (scaled to the matches' norm over those dimensions), the
  // rest the vote-weighted mean of the matches.
  e.embedding.assign(dim, 0.0f);
  float known_part_norm = 0;
  for (size_t j = 0; j < scored.size(); ++j) {
    const float* row = embeddings_.Row(scored[j].slot);
    const float w = vote[j] / weight_sum;
    double part = 0;
    for (size_t i = 0; i < dim; ++i) {
      if (is_known[i]) {
        part += static_cast<double>(row[i]) * row[i];
      } else {
        e.embedding[i] += w * row[i];
      }
    }
    known_part_norm += w * static_cast<float>(std::sqrt(part));
  }
  if (known_count < dim) out.completed_fields.push_back("embedding");
  for (size_t i = 0; i < dim; ++i) {
    if (is_known[i] && known_norm > 0) e.embedding[i] = known[i] / known_norm * known_part_norm;
  }
  kernels::Normalize(e.embedding.data(), dim);
  const float field_conf = out.fields.empty() ? 1.0f : conf_sum / static_cast<float>(out.fields.size());
  out.confidence = std::clamp(scored[0].score * field_conf, 0.0f, 1.0f);
  e.confidence = out.confidence;
  return out;
}

Result<std::vector<NeighborHit>> Space::Neighbors(const std::string& id, int hops, size_t limit) const {
  if (hops < 1 || hops > 6) return Status::InvalidArgument("hops must be in [1, 6]");
  if (limit == 0 || limit > 100000) return Status::InvalidArgument("limit must be in [1, 100000]");
  ENGRAM_ASSIGN_OR_RETURN(uint32_t start, SlotOf(id));
  std::unordered_map<uint32_t, float> seen{{start, 1.0f}};
  std::vector<uint32_t> frontier{start};
  std::vector<NeighborHit> out;
  for (int h = 1; h <= hops && !frontier.empty() && out.size() < limit; ++h) {
    std::vector<uint32_t> next;
    for (uint32_t u : frontier) {
      const float wu = seen[u];
      for (const auto& e : EdgesOf(u)) {
        if (seen.count(e.to) != 0 || !IsLive(e.to)) continue;
        seen.emplace(e.to, wu * e.weight);
        next.push_back(e.to);
        out.push_back({(*meta_)[e.to].id, h, wu * e.weight});
        if (out.size() >= limit) break;
      }
      if (out.size() >= limit) break;
    }
    frontier.swap(next);
  }
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
  for (const auto& [slot, a] : spread) out.push_back({(*meta_)[slot].id, a});
  return out;
}

size_t Space::ConsolidationBacklog() const {
  return next_slot_.load(std::memory_order_acquire) - consolidated_upto_.load(std::memory_order_acquire);
}

Result<ConsolidationReport> Space::Consolidate(bool full) {
  std::lock_guard lock(consolidate_mu_);
  const int64_t t0 = MonoNanos();
  const size_t dim = options_.dim;
  auto set = full ? std::make_shared<ConceptSet>() : std::make_shared<ConceptSet>(*Concepts());
  const size_t before = set->size();
  uint32_t from = full ? 0 : consolidated_upto_.load();
  const uint32_t end = next_slot_.load(std::memory_order_acquire);
  ConsolidationReport report;
  std::vector<float> sims;
  uint32_t slot = from;
  for (; slot < end; ++slot) {
    const uint8_t status = (*state_)[slot].status.load(std::memory_order_acquire);
    if (status == kPending) break;  // not acknowledged yet: the next run takes it
    if (status != kLive) continue;
    const float* e = embeddings_.Row(slot);
    const size_t n = set->size();
    size_t best = 0;
    float best_sim = -2.0f;
    if (n > 0) {
      sims.resize(n);
      kernels::BatchDot(e, set->centroids.data(), n, dim, sims.data());
      for (size_t c = 0; c < n; ++c) {
        if (sims[c] > best_sim) best_sim = sims[c], best = c;
      }
    }
    if (n == 0 || (best_sim < options_.concept_threshold && n < options_.max_concepts)) {
      best = n;
      set->centroids.insert(set->centroids.end(), e, e + dim);
      set->sums.insert(set->sums.end(), e, e + dim);
      set->members.emplace_back();
    } else {
      float* sum = set->sums.data() + best * dim;
      float* centroid = set->centroids.data() + best * dim;
      for (size_t i = 0; i < dim; ++i) sum[i] += e[i];
      std::copy(sum, sum + dim, centroid);
      kernels::Normalize(centroid, dim);
    }
    set->members[best].push_back(slot);
    (*state_)[slot].concept_index.store(static_cast<int32_t>(best), std::memory_order_relaxed);
    ++report.episodes_processed;
  }
  {
    std::lock_guard swap_lock(concepts_mu_);
    concepts_ = set;
  }
  consolidated_upto_.store(slot, std::memory_order_release);
  report.concepts_total = set->size();
  report.concepts_created = full ? set->size() : set->size() - before;
  report.duration_us = (MonoNanos() - t0) / 1000;
  return report;
}

SpaceStats Space::Stats() const {
  SpaceStats s;
  s.name = name_;
  s.dim = options_.dim;
  s.episodes = live_.load();
  s.deleted = deleted_.load();
  s.slots = next_slot_.load();
  s.edges = edges_.load();
  s.concepts = Concepts()->size();
  s.consolidation_backlog = ConsolidationBacklog();
  s.index_size = index_->size();
  s.index_capacity = index_->capacity();
  s.memory_bytes = s.slots * (options_.dim * sizeof(float) + sizeof(Meta) + sizeof(State) + 64) +
                   s.edges * sizeof(Edge) + index_->MemoryBytes();
  return s;
}

Status Space::LoadFromStore(const std::string& snapshot_path) {
  if (store_ == nullptr) return Status::Ok();
  uint32_t max_slot = 0;
  bool any = false;
  Status st = store_->ForEachEpisode(name_, 0, [&](storage::EpisodeRecord&& r) -> Status {
    if (r.embedding.size() != options_.dim) {
      return Status::DataLoss("episode '", r.id, "' has ", r.embedding.size(), " values, space expects ", options_.dim);
    }
    if (r.seq >= ChunkedArray<Meta>::kMaxSize) return Status::DataLoss("episode seq ", r.seq, " out of range");
    const uint32_t slot = static_cast<uint32_t>(r.seq);
    ENGRAM_RETURN_IF_ERROR(embeddings_.EnsureRows(slot + 1));
    ENGRAM_RETURN_IF_ERROR(meta_->EnsureRows(slot + 1));
    ENGRAM_RETURN_IF_ERROR(state_->EnsureRows(slot + 1));
    ENGRAM_RETURN_IF_ERROR(adjacency_->EnsureRows(slot + 1));
    Meta& m = (*meta_)[slot];
    m.id = std::move(r.id);
    m.what = std::move(r.what);
    m.where = std::move(r.where);
    m.when_us = r.when_us;
    m.created_us = r.created_us;
    m.who = std::move(r.who);
    m.tags = std::move(r.tags);
    m.confidence = r.confidence;
    std::copy(r.embedding.begin(), r.embedding.end(), embeddings_.Row(slot));
    State& s = (*state_)[slot];
    s.strength.store(r.strength);
    s.last_access_us.store(r.created_us);
    s.status.store(kLive);
    ids_[m.id] = slot;
    max_slot = std::max(max_slot, slot);
    any = true;
    return Status::Ok();
  });
  ENGRAM_RETURN_IF_ERROR(st.WithContext("recovering space '" + name_ + "'"));
  const uint32_t slots = any ? max_slot + 1 : 0;
  size_t live = 0;
  for (uint32_t i = 0; i < slots; ++i) {
    State& s = (*state_)[i];
    if (s.status.load() == kLive) {
      ++live;
      IndexTokens(i);
    } else {
      s.status.store(kDeleted);
    }
  }
  next_slot_.store(slots);
  live_.store(live);
  deleted_.store(slots - live);

  // The vector index: the snapshot plus what came after it, or a rebuild.
  uint32_t watermark = 0;
  bool loaded = false;
  auto meta = store_->GetMeta("index_watermark/" + name_);
  if (meta.ok() && meta->has_value()) {
    auto idx = index::HnswIndex::Load(snapshot_path, options_.dim, options_.hnsw);
    if (idx.ok()) {
      watermark = static_cast<uint32_t>(std::stoul(**meta));
      if (watermark <= slots && (*idx)->size() >= watermark) {
        index_ = std::move(idx).value();
        loaded = true;
      }
    }
  }
  if (!loaded) {
    index_ = std::make_unique<index::HnswIndex>(options_.dim, options_.hnsw);
    watermark = 0;
  }
  for (uint32_t i = 0; i < watermark; ++i) {
    if (!IsLive(i)) (void)index_->MarkDeleted(i);
  }
  std::atomic<uint32_t> next{watermark};
  std::vector<Status> errors(2);
  auto worker = [&](int t) {
    for (uint32_t i; (i = next.fetch_add(1)) < slots;) {
      if (!IsLive(i)) continue;
      Status s = index_->Add(i, embeddings_.Row(i));
      if (!s.ok()) errors[t] = s;
    }
  };
  {
    std::jthread a(worker, 0), b(worker, 1);
  }
  for (auto& e : errors) ENGRAM_RETURN_IF_ERROR(e);
  for (uint32_t i = watermark; i < slots; ++i) {
    if (!IsLive(i)) (void)index_->MarkDeleted(i);
  }

  return store_->ForEachEdge(name_, [&](const storage::EdgeRecord& e) -> Status {
    if (e.from < slots && e.to < slots && IsLive(static_cast<uint32_t>(e.from)) && IsLive(static_cast<uint32_t>(e.to))) {
      AddEdge(static_cast<uint32_t>(e.from), static_cast<uint32_t>(e.to), e.weight);
    }
    return Status::Ok();
  });
}

Status Space::SaveSnapshot(const std::string& snapshot_path) {
  if (store_ == nullptr) return Status::Ok();
  std::lock_guard lock(append_mu_);
  const uint32_t slots = next_slot_.load();
  ENGRAM_RETURN_IF_ERROR(index_->Save(snapshot_path));
  return store_->PutMeta("index_watermark/" + name_, std::to_string(slots));
}

}  // namespace engram
