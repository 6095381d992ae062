// Space: consolidation of episodes into concepts.
#include "engine/space.h"

#include "core/clock.h"
#include "engine/space_internal.h"
#include "kernels/kernels.h"

namespace engram {

using internal::kPending;
using internal::kLive;

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
    const uint8_t status = status_[slot].load(std::memory_order_acquire);
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


}  // namespace engram
