// A Space is one memory space (tenant): its episodes, vector index, association graph and
// concepts. Nothing in one Space can reach another's data.
//
// Threading: every public method is safe to call concurrently from many threads. Reads
// (Recall, Search, Complete, Neighbors, Activate, Get) never wait for a remember's disk write;
// remembers of different episodes proceed in parallel except for a short slot allocation.
// Ownership: the Engine owns its Spaces; a Space borrows the Engine's Store (may be null for a
// purely in-memory engine).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "engine/chunked_array.h"
#include "engine/types.h"
#include "index/hnsw_index.h"

namespace engram {

namespace storage {
class Store;
}

enum class DecayKind { kPowerLaw, kExponential };

struct SpaceOptions {
  uint32_t dim = 768;
  index::HnswOptions hnsw;           // m 16, ef_construction 128, ef_search 96
  size_t auto_link_k = 8;            // association edges made on remember, from HNSW's choice
  float link_min_similarity = 0.0f;  // weaker candidates are not linked
  // Retrievability r = strength * (1 + age/tau)^-alpha (power law, default) or
  // strength * exp(-age/tau), with age = seconds since last access.
  DecayKind decay = DecayKind::kPowerLaw;
  float decay_tau_seconds = 86400.0f;
  float decay_alpha = 0.5f;
  // Spreading activation: next = min(1, retain*act + decay*sum(w*act_neighbour)), pruned
  // below threshold, over at most node_budget episodes around the seeds.
  float activation_retain = 0.5f;
  float activation_decay = 0.7f;
  float activation_threshold = 0.01f;
  size_t activation_node_budget = 256;
  // Of the episodes reached only by spreading (not by the vector search), the most activated
  // max(4k, 64) are scored; the rest could not outrank them.
  size_t activation_scored_min = 64;
  // Recall score = (w_sim*similarity + w_act*activation) * (floor + (1-floor)*retrievability).
  float weight_similarity = 0.7f;
  float weight_activation = 0.3f;
  float decay_floor = 0.5f;
  // Blended recall = w_episodic*episodic score + w_semantic*semantic score.
  float weight_episodic = 0.6f;
  float weight_semantic = 0.4f;
  // Consolidation (leader clustering): an episode joins the most similar concept when the
  // similarity is at least the threshold (or the space has max_concepts), else founds one.
  float concept_threshold = 0.75f;
  size_t max_concepts = 256;  // semantic recall scans every centroid, so keep this modest
  size_t consolidate_every = 1000;  // backlog that wakes the background consolidator
  size_t concept_members_scanned = 256;  // most recent members scanned per concept
};

class Space {
 public:
  Space(std::string name, const SpaceOptions& options, storage::Store* store);
  ~Space();
  Space(const Space&) = delete;
  Space& operator=(const Space&) = delete;

  const std::string& name() const { return name_; }
  const SpaceOptions& options() const { return options_; }

  // Stores the episodes (and explicit links between them or to existing episodes) as one
  // atomic unit: all are acknowledged or none. Returns the ids in input order.
  Result<std::vector<std::string>> RememberBatch(std::span<const EpisodeSpec> specs,
                                                 std::span<const LinkSpec> links = {},
                                                 int parallelism = 1);
  Result<std::string> Remember(const EpisodeSpec& spec);
  Status Link(const LinkSpec& link);

  Result<Episode> Get(const std::string& id, bool with_embedding = true) const;
  Status Forget(const std::string& id);

  Result<RecallResult> Recall(const RecallQuery& query);
  Result<std::vector<SearchHit>> Search(std::span<const float> query, size_t k, int ef) const;
  Result<CompletionResult> Complete(const CompletionCue& cue) const;
  Result<std::vector<NeighborHit>> Neighbors(const std::string& id, int hops, size_t limit) const;
  Result<std::vector<ActivationHit>> Activate(std::span<const std::string> seeds, int hops,
                                              size_t limit) const;
  // Clusters episodes not yet consolidated into concepts (all of them if `full`).
  Result<ConsolidationReport> Consolidate(bool full = false);
  size_t ConsolidationBacklog() const;

  SpaceStats Stats() const;

  // Recovery: rebuilds memory from the store, loading the index snapshot when one is usable.
  Status LoadFromStore(const std::string& snapshot_path);
  // Writes the index snapshot and its watermark. REQUIRES: no concurrent writes.
  Status SaveSnapshot(const std::string& snapshot_path);

 private:
  struct Meta;
  struct State;
  struct Adjacency;
  struct ConceptSet;
  struct Edge {
    uint32_t to;
    float weight;
  };

  Status ValidateSpec(const EpisodeSpec& spec) const;
  void Normalise(const float* in, float* out) const;
  Result<uint32_t> SlotOf(const std::string& id) const;
  bool IsLive(uint32_t slot) const;
  // The vector index's hits for the unit vector `q` (k of them, list size ef), live slots only,
  // with exact float similarities from the stored embeddings and ordered by them: an index that
  // stores binary16 reports similarities about 1e-5 off, which may swap near ties.
  std::vector<index::Neighbor> IndexSearch(const float* q, size_t k, int ef) const;
  void AddEdge(uint32_t a, uint32_t b, float weight);
  std::vector<Edge> EdgesOf(uint32_t slot) const;
  // Spreading activation from (slot, initial activation) seeds over `hops` steps.
  std::vector<std::pair<uint32_t, float>> Spread(const std::vector<std::pair<uint32_t, float>>& seeds,
                                                 int hops) const;
  // out[i] = the decay factor of slots[i] at now_us (one SIMD kernel call for all of them).
  void Retrievability(const std::vector<uint32_t>& slots, int64_t now_us, float* out) const;
  void Touch(uint32_t slot, int64_t now_us);
  // Ranked hits keyed by slot; ids and text are filled in once, by Recall, for the final top k.
  struct Ranked;
  Ranked EpisodicRecall(const float* cue, const RecallQuery& query) const;
  Ranked SemanticRecall(const float* cue, const RecallQuery& query) const;
  std::shared_ptr<const ConceptSet> Concepts() const;
  // Computes the episode's TokenSet (Meta::tokens) and adds the slot to the postings of its
  // tokens. REQUIRES: the slot's Meta is written and not yet published as live.
  void IndexTokens(uint32_t slot);
  void UnindexTokens(uint32_t slot);

  const std::string name_;
  const SpaceOptions options_;
  storage::Store* const store_;

  std::unique_ptr<index::HnswIndex> index_;
  ChunkedArray<float> embeddings_;
  std::unique_ptr<ChunkedArray<Meta>> meta_;
  std::unique_ptr<ChunkedArray<State>> state_;
  // kPending, kLive or kDeleted per slot: a byte each, apart from State, so that the liveness
  // tests of graph walks and searches read a small dense array (100K slots: 100 KB).
  ChunkedArray<std::atomic<uint8_t>> status_;
  // Each slot's episode id, apart from Meta so that answers listing many episodes (a 2-hop
  // walk reports up to thousands) read a dense array: short ids sit inside the std::string.
  ChunkedArray<std::string> slot_ids_;
  std::unique_ptr<ChunkedArray<Adjacency>> adjacency_;

  std::mutex append_mu_;                    // slot allocation
  std::atomic<uint32_t> next_slot_{0};      // slots [0, next_slot_) are allocated
  std::atomic<size_t> live_{0};
  std::atomic<size_t> deleted_{0};
  std::atomic<size_t> edges_{0};

  mutable std::shared_mutex ids_mu_;
  std::unordered_map<std::string, uint32_t> ids_;  // kPendingSlot while a remember is in flight

  static constexpr size_t kStripes = 256;
  mutable std::array<std::mutex, kStripes> adjacency_mu_;

  // The token index: "field:token" keys ("w:" word, "p:" place, "u:" who, "t:" tag, lower
  // case) interned as ids, each with the slots that hold it, in the order they were added.
  mutable std::shared_mutex tokens_mu_;
  std::unordered_map<std::string, uint32_t> token_ids_;
  std::vector<std::vector<uint32_t>> postings_;  // by token id

  std::mutex consolidate_mu_;               // one consolidator at a time
  mutable std::mutex concepts_mu_;          // guards the pointer swap only
  std::shared_ptr<const ConceptSet> concepts_;
  std::atomic<uint32_t> consolidated_upto_{0};
};

}  // namespace engram
