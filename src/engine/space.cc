#include "engine/space.h"

#include <algorithm>
#include <cmath>
#include <thread>
#include <unordered_map>

#include "core/clock.h"
#include "core/random.h"
#include "engine/space_internal.h"
#include "kernels/kernels.h"
#include "storage/store.h"

namespace engram {

using internal::kPendingSlot;
using internal::kLive;
using internal::kDeleted;
using internal::kMaxIdBytes;
using internal::kMaxTags;

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
         status_[slot].load(std::memory_order_acquire) == kLive;
}

Result<uint32_t> Space::SlotOf(const std::string& id) const {
  std::shared_lock lock(ids_mu_);
  auto it = ids_.find(id);
  if (it == ids_.end() || it->second == kPendingSlot) {
    return Status::NotFound("no episode '", id, "' in space '", name_, "'");
  }
  return it->second;
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
    if (st.ok()) st = status_.EnsureRows(rows);
    if (st.ok()) st = slot_ids_.EnsureRows(rows);
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
    std::string& id = slot_ids_[slot];
    id = s.id.empty() ? "ep-" + std::to_string(slot) + "-" + std::to_string(id_rng.Next() % 1000000007ULL)
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
    out_ids[i] = id;
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
      status_[base + i].store(kDeleted, std::memory_order_release);
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
      r.id = slot_ids_[slot];
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

  // Acknowledged: publish. The tokens come first, so that a reader that finds the episode
  // live (or by id) also finds its TokenSet written.
  for (const auto& e : edges) AddEdge(static_cast<uint32_t>(e.from), static_cast<uint32_t>(e.to), e.weight);
  for (size_t i = 0; i < n; ++i) IndexTokens(base + static_cast<uint32_t>(i));
  {
    std::unique_lock lock(ids_mu_);
    for (size_t i = 0; i < n; ++i) ids_[out_ids[i]] = base + static_cast<uint32_t>(i);
  }
  for (size_t i = 0; i < n; ++i) status_[base + i].store(kLive, std::memory_order_release);
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
  e.id = slot_ids_[slot];
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
    status_[slot].store(kDeleted, std::memory_order_release);
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
  s.memory_bytes = s.slots * (options_.dim * sizeof(float) + sizeof(Meta) + sizeof(State) + sizeof(std::string) + 65) +
                   s.edges * sizeof(Edge) + index_->MemoryBytes();
  return s;
}


}  // namespace engram
