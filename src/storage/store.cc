#include "storage/store.h"

#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <system_error>
#include <utility>

#include "storage/record_codec.h"

namespace engram::storage {

namespace {

// Key layout. The first byte names the record kind; per-space kinds follow it with the space name
// length-prefixed (u32 big-endian), so no space's key range contains another's ("a" and "ab"
// differ in their length bytes); integers are big-endian so bytewise order is numeric order.
//
//   'v'                                       storage format version (decimal text)
//   's' name                                  SpaceRecord
//   'e' len(space) space be64(seq)            EpisodeRecord
//   'g' len(space) space be64(from) be64(to)  edge weight
//   'm' key                                   PutMeta value, raw
constexpr char kFormatKey[] = "v";
constexpr char kSpaceTag = 's';
constexpr char kEpisodeTag = 'e';
constexpr char kEdgeTag = 'g';
constexpr char kMetaTag = 'm';
// Bump when the key layout changes; Open refuses a directory written with a newer layout.
constexpr std::string_view kStorageFormat = "1";

void PutBigEndian64(std::string* out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t GetBigEndian64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

std::string SpacePrefix(char tag, std::string_view space) {
  ENGRAM_CHECK(space.size() <= UINT32_MAX);
  std::string key;
  key.reserve(1 + 4 + space.size() + 16);
  key.push_back(tag);
  auto n = static_cast<uint32_t>(space.size());
  for (int i = 3; i >= 0; --i) key.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  key.append(space);
  return key;
}

std::string EpisodeKey(std::string_view space, uint64_t seq) {
  std::string key = SpacePrefix(kEpisodeTag, space);
  PutBigEndian64(&key, seq);
  return key;
}

std::string EdgeKey(std::string_view space, uint64_t from, uint64_t to) {
  std::string key = SpacePrefix(kEdgeTag, space);
  PutBigEndian64(&key, from);
  PutBigEndian64(&key, to);
  return key;
}

std::string TaggedKey(char tag, std::string_view rest) {
  std::string key(1, tag);
  key.append(rest);
  return key;
}

// The smallest key greater than every key starting with `prefix`. Our prefixes start with a tag
// byte below 0xff, so one always exists.
std::string PrefixSuccessor(std::string prefix) {
  while (!prefix.empty() && static_cast<uint8_t>(prefix.back()) == 0xff) prefix.pop_back();
  ENGRAM_CHECK(!prefix.empty());
  prefix.back() = static_cast<char>(static_cast<uint8_t>(prefix.back()) + 1);
  return prefix;
}

rocksdb::Slice ToSlice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
std::string_view ToView(const rocksdb::Slice& s) { return std::string_view(s.data(), s.size()); }

Status FromRocks(const rocksdb::Status& s, std::string_view dir, std::string_view what) {
  if (s.ok()) return Status::Ok();
  std::string message = internal::StrCat("storage at '", dir, "': ", what, ": ", s.ToString());
  switch (s.code()) {
    case rocksdb::Status::kNotFound:
      return Status(StatusCode::kNotFound, std::move(message));
    case rocksdb::Status::kCorruption:
      return Status(StatusCode::kDataLoss, std::move(message));
    case rocksdb::Status::kInvalidArgument:
      return Status(StatusCode::kInvalidArgument, std::move(message));
    case rocksdb::Status::kIOError:
      return Status(StatusCode::kIOError, std::move(message));
    case rocksdb::Status::kBusy:
    case rocksdb::Status::kTryAgain:
    case rocksdb::Status::kShutdownInProgress:
      return Status(StatusCode::kUnavailable, std::move(message));
    case rocksdb::Status::kTimedOut:
      return Status(StatusCode::kDeadlineExceeded, std::move(message));
    default:
      return Status(StatusCode::kInternal, std::move(message));
  }
}

// LZ4 when this RocksDB build has it: cheap to decode on recovery scans and it shrinks the text
// fields. Embeddings (the bulk of an episode) barely compress, so no stronger codec is worth its
// CPU.
rocksdb::CompressionType ChooseCompression() {
  auto supported = rocksdb::GetSupportedCompressions();
  if (std::find(supported.begin(), supported.end(), rocksdb::kLZ4Compression) != supported.end()) {
    return rocksdb::kLZ4Compression;
  }
  return rocksdb::kNoCompression;
}

// Visits every key in [start, PrefixSuccessor(prefix)) with the key's bytes after `prefix`.
// fill_cache is off: a scan reads each block once (recovery), caching it would only evict the
// blocks point reads use.
Status Scan(rocksdb::DB* db, std::string_view dir, const std::string& prefix,
            const std::string& start,
            const std::function<Status(std::string_view, std::string_view)>& fn) {
  const std::string upper = PrefixSuccessor(prefix);
  const rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions read;
  read.fill_cache = false;
  read.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(read));
  for (it->Seek(start); it->Valid(); it->Next()) {
    std::string_view key = ToView(it->key());
    ENGRAM_RETURN_IF_ERROR(fn(key.substr(prefix.size()), ToView(it->value())));
  }
  return FromRocks(it->status(), dir, "scanning");
}

}  // namespace

Store::Store(StoreOptions options, std::unique_ptr<rocksdb::DB> db, bool sync)
    : options_(std::move(options)), db_(std::move(db)), sync_(sync) {}

Store::~Store() {
  // kProcess writes sit in the OS page cache; one fsync at shutdown makes a clean stop survive a
  // later power loss too.
  rocksdb::Status s = sync_ ? rocksdb::Status::OK() : db_->SyncWAL();
  if (s.ok()) s = db_->Close();
  if (!s.ok()) {
    std::fprintf(stderr, "engram: closing storage at '%s': %s\n", options_.data_dir.c_str(),
                 s.ToString().c_str());
  }
}

Result<std::unique_ptr<Store>> Store::Open(const StoreOptions& options) {
  const std::string& dir = options.data_dir;
  if (dir.empty()) return Status::InvalidArgument("storage: StoreOptions.data_dir is empty");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IOError("cannot create data directory '", dir, "': ", ec.message());

  rocksdb::Options db_options;
  db_options.create_if_missing = true;
  db_options.IncreaseParallelism(2);
  // Flushes and compactions yield the core to requests. A 64 MB memtable flush is about 140 ms
  // of LZ4 compression; at normal priority on the server's core it put a p999 of 13 ms into
  // m17_baseline at 1000 ops/s (docs/engine_performance.md). kIdle makes RocksDB's pool
  // threads SCHED_IDLE (applied when a thread next starts a job), so they run in the time the
  // request threads leave. This is process-wide: it lowers the default Env's pools.
  (void)db_options.env->LowerThreadPoolCPUPriority(rocksdb::Env::Priority::HIGH, rocksdb::CpuPriority::kIdle);
  (void)db_options.env->LowerThreadPoolCPUPriority(rocksdb::Env::Priority::LOW, rocksdb::CpuPriority::kIdle);
  db_options.compression = ChooseCompression();
  // A torn WAL tail (power loss mid-write) recovers everything before it, which is every
  // acknowledged write under kFsync.
  db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  db_options.keep_log_file_num = 4;
  rocksdb::BlockBasedTableOptions table;
  if (options.block_cache_bytes == 0) {
    table.no_block_cache = true;
  } else {
    table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  }
  db_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));

  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, dir, &raw);
  if (!s.ok()) {
    // RocksDB holds an fcntl lock on <dir>/LOCK while open. Another process's lock fails with
    // "While lock file"; a second open in this process with "lock hold by current process".
    std::string text = s.ToString();
    if (s.IsIOError() && text.find("lock hold by current process") != std::string::npos) {
      return Status::FailedPrecondition("data directory '", dir,
                                        "' is in use by another Store in this engram process");
    }
    if (s.IsIOError() && text.find("lock file") != std::string::npos) {
      return Status::FailedPrecondition("data directory '", dir,
                                        "' is in use by another engram process (", text, ")");
    }
    return FromRocks(s, dir, "opening");
  }
  std::unique_ptr<Store> store(new Store(options, std::unique_ptr<rocksdb::DB>(raw),
                                         options.sync == SyncPolicy::kFsync));

  std::string format;
  s = raw->Get(rocksdb::ReadOptions(), kFormatKey, &format);
  if (s.IsNotFound()) {
    rocksdb::WriteOptions write;
    write.sync = true;
    ENGRAM_RETURN_IF_ERROR(
        FromRocks(raw->Put(write, kFormatKey, ToSlice(kStorageFormat)), dir, "writing format"));
  } else if (!s.ok()) {
    return FromRocks(s, dir, "reading format");
  } else if (format != kStorageFormat) {
    return Status::FailedPrecondition("data directory '", dir, "' has storage format '", format,
                                      "'; this build reads format ", kStorageFormat);
  }
  return store;
}

Status Store::Write(rocksdb::WriteBatch& batch, std::string_view what) {
  rocksdb::WriteOptions write;
  write.sync = sync_;
  write.disableWAL = false;  // the WAL is the durability contract; never turn it off
  return FromRocks(db_->Write(write, &batch), options_.data_dir, what);
}

Status Store::PutSpace(const SpaceRecord& space) {
  rocksdb::WriteBatch batch;
  batch.Put(TaggedKey(kSpaceTag, space.name), EncodeSpace(space));
  return Write(batch, "writing space");
}

Result<std::vector<SpaceRecord>> Store::ListSpaces() const {
  std::vector<SpaceRecord> spaces;
  const std::string prefix(1, kSpaceTag);
  ENGRAM_RETURN_IF_ERROR(Scan(
      db_.get(), options_.data_dir, prefix, prefix,
      [&](std::string_view name, std::string_view value) -> Status {
        Result<SpaceRecord> space = DecodeSpace(value);
        if (!space.ok()) return space.error().WithContext(internal::StrCat("space '", name, "'"));
        if (space->name != name) {
          return Status::DataLoss("space key '", name, "' holds the record of space '",
                                  space->name, "'");
        }
        spaces.push_back(std::move(space).value());
        return Status::Ok();
      }));
  return spaces;
}

Status Store::PutEpisodes(std::string_view space, std::span<const EpisodeRecord> episodes,
                          std::span<const EdgeRecord> edges) {
  if (episodes.empty() && edges.empty()) return Status::Ok();
  rocksdb::WriteBatch batch;
  for (const auto& episode : episodes) {
    batch.Put(EpisodeKey(space, episode.seq), EncodeEpisode(episode));
  }
  for (const auto& edge : edges) {
    batch.Put(EdgeKey(space, edge.from, edge.to), EncodeEdgeWeight(edge.weight));
  }
  return Write(batch, "writing episodes");
}

Status Store::PutEdges(std::string_view space, std::span<const EdgeRecord> edges) {
  return PutEpisodes(space, {}, edges);
}

Status Store::DeleteEpisode(std::string_view space, uint64_t seq,
                            std::span<const EdgeRecord> edges) {
  rocksdb::WriteBatch batch;
  batch.Delete(EpisodeKey(space, seq));
  for (const auto& edge : edges) batch.Delete(EdgeKey(space, edge.from, edge.to));
  return Write(batch, "deleting episode");
}

Status Store::ForEachEpisode(std::string_view space, uint64_t from_seq,
                             const std::function<Status(EpisodeRecord&&)>& fn) const {
  return Scan(db_.get(), options_.data_dir, SpacePrefix(kEpisodeTag, space),
              EpisodeKey(space, from_seq),
              [&](std::string_view suffix, std::string_view value) -> Status {
                if (suffix.size() != 8) {
                  return Status::DataLoss("episode key in space '", space, "' has ",
                                          suffix.size(), " bytes after the space, expected 8");
                }
                const uint64_t seq = GetBigEndian64(suffix);
                Result<EpisodeRecord> episode = DecodeEpisode(value);
                if (!episode.ok()) {
                  return episode.error().WithContext(
                      internal::StrCat("space '", space, "' episode seq ", seq));
                }
                if (episode->seq != seq) {
                  return Status::DataLoss("space '", space, "': key seq ", seq,
                                          " holds the record of seq ", episode->seq);
                }
                return fn(std::move(episode).value());
              });
}

Status Store::ForEachEdge(std::string_view space,
                          const std::function<Status(const EdgeRecord&)>& fn) const {
  const std::string prefix = SpacePrefix(kEdgeTag, space);
  return Scan(db_.get(), options_.data_dir, prefix, prefix,
              [&](std::string_view suffix, std::string_view value) -> Status {
                if (suffix.size() != 16) {
                  return Status::DataLoss("edge key in space '", space, "' has ", suffix.size(),
                                          " bytes after the space, expected 16");
                }
                EdgeRecord edge{GetBigEndian64(suffix), GetBigEndian64(suffix.substr(8)), 0};
                Result<float> weight = DecodeEdgeWeight(value);
                if (!weight.ok()) {
                  return weight.error().WithContext(internal::StrCat(
                      "space '", space, "' edge ", edge.from, " -> ", edge.to));
                }
                edge.weight = *weight;
                return fn(edge);
              });
}

Status Store::PutMeta(std::string_view key, std::string_view value) {
  rocksdb::WriteBatch batch;
  batch.Put(TaggedKey(kMetaTag, key), ToSlice(value));
  return Write(batch, "writing metadata");
}

Result<std::optional<std::string>> Store::GetMeta(std::string_view key) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), TaggedKey(kMetaTag, key), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  ENGRAM_RETURN_IF_ERROR(FromRocks(s, options_.data_dir, "reading metadata"));
  return std::optional<std::string>(std::move(value));
}

Status Store::Flush() {
  return FromRocks(db_->Flush(rocksdb::FlushOptions()), options_.data_dir, "flushing");
}

uint64_t Store::ApproximateDiskBytes() const {
  uint64_t total = 0;
  std::error_code ec;
  for (std::filesystem::recursive_directory_iterator it(options_.data_dir, ec), end;
       !ec && it != end; it.increment(ec)) {
    std::error_code size_ec;
    if (it->is_regular_file(size_ec)) {
      const uint64_t size = it->file_size(size_ec);
      if (!size_ec) total += size;
    }
  }
  return total;
}

}  // namespace engram::storage
