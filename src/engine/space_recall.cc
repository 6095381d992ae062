// Space: vector search and recall (episodic, semantic, blended).
#include "engine/space.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "core/clock.h"
#include "engine/space_internal.h"
#include "kernels/kernels.h"

namespace engram {


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
    h.id = slot_ids_[slot];
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
  for (const auto& h : IndexSearch(q.data(), k, ef)) out.push_back({slot_ids_[h.slot], h.similarity});
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


}  // namespace engram
