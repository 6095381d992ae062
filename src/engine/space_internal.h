// Internals shared by the files that implement Space (space.cc and space_*.cc): the per-slot
// records, the concept set, ranked hits and small helpers. Not part of the engine's API.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "engine/space.h"

namespace engram::internal {

constexpr uint32_t kPendingSlot = UINT32_MAX;
constexpr uint8_t kPending = 0, kLive = 1, kDeleted = 2;
constexpr size_t kMaxIdBytes = 256;
constexpr size_t kMaxTags = 256;
constexpr uint32_t kNoToken = UINT32_MAX;  // an episode without a place

// An episode's tokens as ids of the space's token index: its distinct words, then its who
// entries, then its tags, each group sorted and distinct. Computed once, when the episode is
// remembered; pattern completion compares these instead of re-reading the text.
struct TokenSet {
  std::vector<uint32_t> ids;
  uint32_t words = 0, who = 0;  // group sizes; the tags are the rest
  uint32_t where = kNoToken;
  std::span<const uint32_t> words_span() const;
  std::span<const uint32_t> who_span() const;
  std::span<const uint32_t> tags_span() const;
};


template <typename T, typename Better>
void TopK(std::vector<T>& v, size_t k, Better better) {
  if (v.size() > k) {
    std::partial_sort(v.begin(), v.begin() + k, v.end(), better);
    v.resize(k);
  } else {
    std::sort(v.begin(), v.end(), better);
  }
}

}  // namespace engram::internal

namespace engram {

struct Space::Meta {
  std::string what;
  std::string where;
  int64_t when_us = 0;
  int64_t created_us = 0;
  std::vector<std::string> who;
  std::vector<std::string> tags;
  float confidence = 1.0f;
  internal::TokenSet tokens;  // written before the episode is published, then never changed
};

struct Space::State {
  std::atomic<float> strength{1.0f};
  std::atomic<int64_t> last_access_us{0};
  std::atomic<uint64_t> access_count{0};
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
    internal::TopK(hits, k, [](const Hit& a, const Hit& b) { return a.hit.score > b.hit.score; });
  }
};

}  // namespace engram
