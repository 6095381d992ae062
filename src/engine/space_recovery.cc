// Space: recovery from the store and index snapshots.
#include "engine/space.h"

#include <thread>

#include "engine/space_internal.h"
#include "storage/store.h"

namespace engram {

using internal::kLive;
using internal::kDeleted;

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
    ENGRAM_RETURN_IF_ERROR(status_.EnsureRows(slot + 1));
    ENGRAM_RETURN_IF_ERROR(slot_ids_.EnsureRows(slot + 1));
    Meta& m = (*meta_)[slot];
    slot_ids_[slot] = std::move(r.id);
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
    status_[slot].store(kLive);
    ids_[slot_ids_[slot]] = slot;
    max_slot = std::max(max_slot, slot);
    any = true;
    return Status::Ok();
  });
  ENGRAM_RETURN_IF_ERROR(st.WithContext("recovering space '" + name_ + "'"));
  const uint32_t slots = any ? max_slot + 1 : 0;
  size_t live = 0;
  for (uint32_t i = 0; i < slots; ++i) {
    if (status_[i].load() == kLive) {
      ++live;
      IndexTokens(i);
    } else {
      status_[i].store(kDeleted);
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
