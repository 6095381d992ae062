// Value types of the engine's API: what callers put in and get back. Plain structs, no
// behaviour; the server maps them to and from JSON.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace engram {

// What a caller asks to remember. An empty id asks the engine to make one.
struct EpisodeSpec {
  std::string id;
  std::string what;
  int64_t when_us = 0;  // event time, microseconds since the Unix epoch; 0 = now
  std::string where;
  std::vector<std::string> who;
  std::vector<std::string> tags;
  std::vector<float> embedding;  // the space's dimension; normalised by the engine
  float confidence = 1.0f;       // in [0, 1]
};

// An explicit association between two episodes of one space, by id.
struct LinkSpec {
  std::string from;
  std::string to;
  float weight = 1.0f;  // in (0, 1]
};

struct Episode {
  std::string id;
  std::string what;
  int64_t when_us = 0;
  std::string where;
  std::vector<std::string> who;
  std::vector<std::string> tags;
  std::vector<float> embedding;  // unit length
  float confidence = 1.0f;
  float strength = 1.0f;         // memory strength; recall reinforces it
  int64_t created_us = 0;
  int64_t last_access_us = 0;
  uint64_t access_count = 0;
  std::string concept_id;        // empty until consolidated
};

enum class RecallMode { kEpisodic, kSemantic, kBlended };

struct RecallQuery {
  std::vector<float> cue;  // an embedding of the space's dimension
  size_t k = 10;
  RecallMode mode = RecallMode::kEpisodic;
  int hops = 2;            // spreading activation depth (0 = similarity only)
  int ef = 0;              // HNSW list size; 0 = the space's default
  float min_score = 0.0f;  // hits scoring below are dropped
};

struct RecallHit {
  std::string id;
  std::string what;
  float score = 0;           // the ranking score, in [0, 1]
  float similarity = 0;      // cosine between cue and episode
  float activation = 0;      // spreading activation reached
  float retrievability = 1;  // decay factor from strength and time since last access
  float confidence = 0;      // score x the episode's own confidence
  std::string concept_id;    // the concept that led to it (semantic), if any
};

struct RecallResult {
  std::vector<RecallHit> hits;
  RecallMode mode = RecallMode::kEpisodic;
  bool semantic_fallback = false;  // semantic asked, no concepts yet: episodic answered
  size_t candidates = 0;           // episodes scored
  size_t activated = 0;            // episodes reached by spreading activation
};

struct SearchHit {
  std::string id;
  float similarity = 0;
};

// A partial cue for pattern completion: any subset of the fields, and/or part of an
// embedding. `embedding` holds the known leading values (size <= dim) unless `mask` is given,
// in which case it has the full dimension and mask[i] says whether value i is known.
struct CompletionCue {
  std::optional<std::string> what;
  std::optional<std::string> where;
  std::vector<std::string> who;
  std::vector<std::string> tags;
  std::vector<float> embedding;
  std::vector<bool> mask;
  size_t k = 5;  // alternatives to return
};

struct FieldConfidence {
  std::string field;
  float confidence = 0;  // the score-weighted share of the best matches that agree
};

struct CompletionResult {
  Episode completed;                  // the cue with missing fields filled in
  float confidence = 0;               // overall, in [0, 1]
  std::vector<FieldConfidence> fields;
  std::vector<SearchHit> sources;     // the episodes it was completed from, best first
  std::vector<std::string> completed_fields;
};

struct NeighborHit {
  std::string id;
  int hop = 0;         // 1 = direct association
  float weight = 0;    // product of edge weights along the path found
};

struct ActivationHit {
  std::string id;
  float activation = 0;
};

struct ConsolidationReport {
  size_t episodes_processed = 0;
  size_t concepts_created = 0;
  size_t concepts_total = 0;
  int64_t duration_us = 0;
};

struct SpaceStats {
  std::string name;
  uint32_t dim = 0;
  size_t episodes = 0;       // live
  size_t deleted = 0;
  size_t slots = 0;          // live + deleted
  size_t edges = 0;          // directed association entries
  size_t concepts = 0;
  size_t consolidation_backlog = 0;
  size_t index_size = 0;
  size_t index_capacity = 0;
  size_t memory_bytes = 0;   // approximate
};

}  // namespace engram
