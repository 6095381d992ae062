// Store: the store of record for the memory engine, a RocksDB database in one data directory.
//
// The engine keeps its working set in memory and writes every change here before acknowledging
// it; on restart it rebuilds itself by visiting the store (ForEachEpisode, ForEachEdge). Records
// of all spaces share one database; keys carry the space, so no call on one space ever visits or
// changes another space's records.
//
// Threading: a Store is safe for concurrent use from many threads without external
// synchronization (RocksDB serializes writers and groups their WAL syncs). A ForEach* call sees
// a consistent snapshot taken when it starts. One data directory may be open in one Store of one
// process at a time; Open() on a directory that is in use fails.
//
// Ownership: Open() returns the sole owner; destroying the Store closes the database.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "storage/records.h"

namespace rocksdb {
class DB;
class WriteBatch;
}  // namespace rocksdb

namespace engram::storage {

// When an acknowledged write is durable.
enum class SyncPolicy {
  kProcess,  // default: the write is in RocksDB's WAL in the OS before the call returns; survives
             // a crash or kill -9 of the process, not a power loss or kernel crash.
  kFsync,    // the WAL is fsynced before the call returns (RocksDB groups concurrent writers
             // into one fsync); survives power loss.
};

struct StoreOptions {
  std::string data_dir;                 // created if missing; no default
  SyncPolicy sync = SyncPolicy::kProcess;
  size_t block_cache_bytes = 64 << 20;  // default 64 MiB; 0 disables the block cache
};

class Store {
 public:
  // Opens (creating if missing) the database in options.data_dir, replaying its WAL.
  // FailedPrecondition if another Store or process holds the directory; IOError or DataLoss if
  // the directory cannot be read.
  static Result<std::unique_ptr<Store>> Open(const StoreOptions& options);

  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;
  ~Store();  // closes cleanly (syncs the WAL, so a clean shutdown also survives power loss)

  // Creates or replaces the space's definition.
  Status PutSpace(const SpaceRecord& space);
  // Every space, ordered by name (bytewise).
  Result<std::vector<SpaceRecord>> ListSpaces() const;

  // Writes the episodes and the edges in ONE atomic write batch: after a crash either all of
  // them are there or none. Overwrites an existing record with the same seq (or edge with the
  // same from and to).
  Status PutEpisodes(std::string_view space, std::span<const EpisodeRecord> episodes,
                     std::span<const EdgeRecord> edges = {});
  Status PutEdges(std::string_view space, std::span<const EdgeRecord> edges);
  // Removes the episode with that seq and the given edges (matched by from and to) atomically.
  // Removing what is not there is not an error.
  Status DeleteEpisode(std::string_view space, uint64_t seq, std::span<const EdgeRecord> edges = {});

  // Visits the space's episodes with seq >= from_seq in seq order; stops at the first non-OK
  // Status from fn and returns it. DataLoss if a stored record does not decode.
  Status ForEachEpisode(std::string_view space, uint64_t from_seq,
                        const std::function<Status(EpisodeRecord&&)>& fn) const;
  // Visits the space's edges ordered by (from, to); stops at the first non-OK Status from fn.
  Status ForEachEdge(std::string_view space, const std::function<Status(const EdgeRecord&)>& fn) const;

  // Small metadata values (e.g. the index snapshot's watermark), keyed by any string. Written
  // with the same sync policy as records.
  Status PutMeta(std::string_view key, std::string_view value);
  // nullopt when the key was never written.
  Result<std::optional<std::string>> GetMeta(std::string_view key) const;

  // Flushes memtables to table files (graceful shutdown), so the next Open has no WAL to replay.
  Status Flush();
  // The bytes of every file in the data directory (tables, WAL, manifest, logs).
  uint64_t ApproximateDiskBytes() const;
  const StoreOptions& options() const { return options_; }

 private:
  Store(StoreOptions options, std::unique_ptr<rocksdb::DB> db, bool sync);
  Status Write(rocksdb::WriteBatch& batch, std::string_view what);

  StoreOptions options_;
  std::unique_ptr<rocksdb::DB> db_;
  bool sync_;
};

}  // namespace engram::storage
