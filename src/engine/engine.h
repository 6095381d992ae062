// The Engine owns the memory spaces, the store of record and the background consolidator.
//
// Open() recovers every space from the data directory (episodes, edges, the vector index from
// its snapshot plus the episodes written after it). Close() (or the destructor) stops the
// consolidator, writes index snapshots and flushes the store.
//
// Threading: all methods are safe to call concurrently. Space pointers stay valid until the
// Engine is destroyed (spaces are never removed while it runs).
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "engine/space.h"

namespace engram {

namespace storage {
class Store;
}

struct EngineOptions {
  // Where the store and index snapshots live. Empty: a purely in-memory engine (tests, and
  // in-process load-test drivers); nothing survives the process.
  std::string data_dir;
  bool fsync = false;  // false: durable against process crash (kill -9); true: power loss too
  SpaceOptions default_space;  // options of spaces created without their own, and of "default"
  bool background_consolidation = true;
  int bulk_parallelism = 2;    // index-insert threads for one remember batch
};

class Engine {
 public:
  static Result<std::unique_ptr<Engine>> Open(const EngineOptions& options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // The space with that name, or NotFound.
  Result<Space*> GetSpace(const std::string& name) const;
  // Creates a space; AlreadyExists if it exists. Names: 1-128 bytes of [A-Za-z0-9_.-].
  Result<Space*> CreateSpace(const std::string& name, const SpaceOptions& options);
  Result<Space*> CreateSpace(const std::string& name) { return CreateSpace(name, options_.default_space); }
  std::vector<SpaceStats> ListSpaces() const;

  // Snapshots every space's index and flushes the store. Blocks writes while it runs.
  Status Checkpoint();
  Status Close();

  const EngineOptions& options() const { return options_; }
  uint64_t StoreDiskBytes() const;
  uint64_t consolidation_runs() const { return consolidation_runs_.load(); }

 private:
  explicit Engine(const EngineOptions& options);
  std::string SnapshotPath(const std::string& space) const;
  void ConsolidatorLoop(std::stop_token stop);

  EngineOptions options_;
  std::unique_ptr<storage::Store> store_;
  mutable std::shared_mutex spaces_mu_;
  std::map<std::string, std::unique_ptr<Space>> spaces_;
  std::mutex closing_mu_;
  bool closed_ = false;
  std::atomic<uint64_t> consolidation_runs_{0};
  std::mutex wake_mu_;
  std::condition_variable_any wake_;
  std::jthread consolidator_;
};

// Space options <-> the "key=value;..." text kept in the store's space record.
std::string EncodeSpaceOptions(const SpaceOptions& options);
Result<SpaceOptions> DecodeSpaceOptions(std::string_view text, const SpaceOptions& defaults);

}  // namespace engram
