// Helpers shared by the storage tests and the crash-test writer process.
#pragma once

#include <stdlib.h>

#include <cmath>
#include <cstdlib>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>

#include "storage/records.h"

namespace engram::storage::test_util {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class ScratchDir {
 public:
  ScratchDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") +
                          "/engram_storage_XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) std::abort();
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A deterministic, fully populated episode for `seq`: a verifier can rebuild exactly what a writer
// stored from the seq alone.
inline EpisodeRecord MakeEpisode(uint64_t seq, size_t dim = 768) {
  EpisodeRecord e;
  e.seq = seq;
  e.id = "ep-" + std::to_string(seq);
  e.what = "episode " + std::to_string(seq) + ": caf\xc3\xa9, \xe6\x97\xa5\xe6\x9c\xac, \xf0\x9f\xa7\xa0";
  e.when_us = 1'700'000'000'000'000 + static_cast<int64_t>(seq) * 1000;
  e.where = seq % 2 == 0 ? "kitchen" : "";
  e.who = {"alice", "bob-" + std::to_string(seq % 7)};
  if (seq % 3 == 0) e.tags = {"t" + std::to_string(seq % 5), ""};
  e.embedding.resize(dim);
  for (size_t i = 0; i < dim; ++i) {
    e.embedding[i] = static_cast<float>(std::sin(static_cast<double>(seq) * 0.37 + i * 0.11));
  }
  if (dim > 0) e.embedding[0] = -0.0f;
  e.confidence = 0.5f + static_cast<float>(seq % 50) / 100.0f;
  e.strength = 1.0f / static_cast<float>(seq + 1);
  e.created_us = e.when_us + 17;
  return e;
}

// Bitwise equality, so -0.0f versus 0.0f (and NaN payloads) count as differences.
inline bool SameBits(const EpisodeRecord& a, const EpisodeRecord& b) {
  auto bits = [](float f) {
    uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    return u;
  };
  if (a.seq != b.seq || a.id != b.id || a.what != b.what || a.when_us != b.when_us ||
      a.where != b.where || a.who != b.who || a.tags != b.tags ||
      bits(a.confidence) != bits(b.confidence) || bits(a.strength) != bits(b.strength) ||
      a.created_us != b.created_us || a.embedding.size() != b.embedding.size()) {
    return false;
  }
  return a.embedding.empty() ||
         std::memcmp(a.embedding.data(), b.embedding.data(), a.embedding.size() * sizeof(float)) == 0;
}

}  // namespace engram::storage::test_util
