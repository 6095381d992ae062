// The records the store keeps: plain values, copied freely between threads.
//
// A record's byte layout lives in record_codec.h; a record's key layout in store.cc.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace engram::storage {

// One remembered episode, as stored. The engine owns the meaning of every field; the store only
// keeps them.
struct EpisodeRecord {
  uint64_t seq = 0;          // the engine's dense per-space slot number; also the storage order
  std::string id;            // user-visible id, unique within a space
  std::string what;
  int64_t when_us = 0;       // event time, microseconds since the Unix epoch
  std::string where;
  std::vector<std::string> who;
  std::vector<std::string> tags;
  std::vector<float> embedding;
  float confidence = 1.0f;
  float strength = 1.0f;
  int64_t created_us = 0;

  bool operator==(const EpisodeRecord&) const = default;
};

// A memory space's definition. `options_json` is opaque to the store.
struct SpaceRecord {
  std::string name;
  uint32_t dim = 768;
  int64_t created_us = 0;
  std::string options_json;

  bool operator==(const SpaceRecord&) const = default;
};

// A directed association edge between two episodes of one space, named by their seqs.
struct EdgeRecord {
  uint64_t from = 0;
  uint64_t to = 0;
  float weight = 0;

  bool operator==(const EdgeRecord&) const = default;
};

}  // namespace engram::storage
