#include "engine/engine.h"

#include <pthread.h>
#include <sched.h>

#include <charconv>
#include <filesystem>
#include <sstream>

#include "core/clock.h"
#include "storage/store.h"

namespace engram {

namespace {
bool ValidSpaceName(const std::string& name) {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) return false;
  }
  return name != "." && name != "..";
}

// Index snapshot file names must be safe whatever the space name: hex-encode it.
std::string HexName(const std::string& name) {
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : name) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}
}  // namespace

std::string EncodeSpaceOptions(const SpaceOptions& o) {
  std::ostringstream out;
  out << "dim=" << o.dim << ";m=" << o.hnsw.m << ";ef_construction=" << o.hnsw.ef_construction
      << ";ef_search=" << o.hnsw.ef_search << ";vector_bits=" << static_cast<int>(o.hnsw.precision);
  return out.str();
}

Result<SpaceOptions> DecodeSpaceOptions(std::string_view text, const SpaceOptions& defaults) {
  SpaceOptions o = defaults;
  // Spaces stored before vector_bits existed kept float32 vectors in their index snapshots.
  o.hnsw.precision = index::VectorPrecision::kFloat32;
  while (!text.empty()) {
    const size_t semi = text.find(';');
    std::string_view item = text.substr(0, semi);
    text = semi == std::string_view::npos ? std::string_view() : text.substr(semi + 1);
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) return Status::DataLoss("space options item '", item, "' has no '='");
    std::string_view key = item.substr(0, eq), value = item.substr(eq + 1);
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec != std::errc() || p != value.data() + value.size()) {
      return Status::DataLoss("space option ", key, " has a bad value '", value, "'");
    }
    if (key == "dim") o.dim = static_cast<uint32_t>(v);
    else if (key == "m") o.hnsw.m = v;
    else if (key == "ef_construction") o.hnsw.ef_construction = v;
    else if (key == "ef_search") o.hnsw.ef_search = v;
    else if (key == "vector_bits") {
      const auto precision = index::VectorPrecisionFromBits(static_cast<int64_t>(v));
      if (!precision) return Status::DataLoss("space option vector_bits is ", v, ", not 8, 16 or 32");
      o.hnsw.precision = *precision;
    }
  }
  return o;
}

Engine::Engine(const EngineOptions& options) : options_(options) {}

Result<std::unique_ptr<Engine>> Engine::Open(const EngineOptions& options) {
  if (options.default_space.dim == 0 || options.default_space.dim > 65536) {
    return Status::InvalidArgument("embedding dimension must be in [1, 65536]");
  }
  std::unique_ptr<Engine> engine(new Engine(options));
  if (!options.data_dir.empty()) {
    storage::StoreOptions so;
    so.data_dir = options.data_dir + "/store";
    so.sync = options.fsync ? storage::SyncPolicy::kFsync : storage::SyncPolicy::kProcess;
    std::error_code ec;
    std::filesystem::create_directories(options.data_dir + "/index", ec);
    if (ec) return Status::IOError("creating ", options.data_dir, "/index: ", ec.message());
    ENGRAM_ASSIGN_OR_RETURN(engine->store_, storage::Store::Open(so));
    ENGRAM_ASSIGN_OR_RETURN(auto records, engine->store_->ListSpaces());
    for (const auto& r : records) {
      ENGRAM_ASSIGN_OR_RETURN(SpaceOptions so2, DecodeSpaceOptions(r.options_json, options.default_space));
      so2.dim = r.dim;
      auto space = std::make_unique<Space>(r.name, so2, engine->store_.get());
      ENGRAM_RETURN_IF_ERROR(space->LoadFromStore(engine->SnapshotPath(r.name)));
      engine->spaces_.emplace(r.name, std::move(space));
    }
  }
  if (engine->spaces_.count("default") == 0) {
    ENGRAM_RETURN_IF_ERROR(engine->CreateSpace("default").error());
  }
  if (options.background_consolidation) {
    engine->consolidator_ = std::jthread([e = engine.get()](std::stop_token st) { e->ConsolidatorLoop(st); });
  }
  return engine;
}

Engine::~Engine() { (void)Close(); }

std::string Engine::SnapshotPath(const std::string& space) const {
  return options_.data_dir + "/index/" + HexName(space) + ".hnsw";
}

Result<Space*> Engine::GetSpace(const std::string& name) const {
  std::shared_lock lock(spaces_mu_);
  auto it = spaces_.find(name);
  if (it == spaces_.end()) return Status::NotFound("memory space '", name, "' does not exist");
  return it->second.get();
}

Result<Space*> Engine::CreateSpace(const std::string& name, const SpaceOptions& options) {
  if (!ValidSpaceName(name)) {
    return Status::InvalidArgument("space name '", name, "' must be 1-128 characters of A-Z a-z 0-9 _ . -");
  }
  if (options.dim == 0 || options.dim > 65536) return Status::InvalidArgument("dim must be in [1, 65536]");
  std::unique_lock lock(spaces_mu_);
  if (spaces_.count(name) != 0) return Status::AlreadyExists("memory space '", name, "' already exists");
  if (store_ != nullptr) {
    storage::SpaceRecord r{name, options.dim, WallMicros(), EncodeSpaceOptions(options)};
    ENGRAM_RETURN_IF_ERROR(store_->PutSpace(r));
  }
  auto space = std::make_unique<Space>(name, options, store_.get());
  Space* raw = space.get();
  spaces_.emplace(name, std::move(space));
  return raw;
}

std::vector<SpaceStats> Engine::ListSpaces() const {
  std::shared_lock lock(spaces_mu_);
  std::vector<SpaceStats> out;
  for (const auto& [_, s] : spaces_) out.push_back(s->Stats());
  return out;
}

void Engine::ConsolidatorLoop(std::stop_token stop) {
  // Background work yields to requests: on a machine with few cores a consolidation burst at
  // normal priority would sit in front of queued requests and show up in their tail latency.
  // SCHED_IDLE rather than a nice level: it runs in the time the request threads leave, and a
  // waking request thread preempts it rather than waiting for its time slice (RocksDB's flush
  // and compaction threads are lowered the same way, storage/store.cc). Under sustained
  // saturation it waits, and the backlog grows until the load eases.
  sched_param idle{};
  (void)pthread_setschedparam(pthread_self(), SCHED_IDLE, &idle);
  (void)pthread_setname_np(pthread_self(), "engram-consol");
  while (!stop.stop_requested()) {
    {
      std::unique_lock lock(wake_mu_);
      wake_.wait_for(lock, stop, std::chrono::milliseconds(500), [] { return false; });
    }
    if (stop.stop_requested()) break;
    std::vector<Space*> due;
    {
      std::shared_lock lock(spaces_mu_);
      for (const auto& [_, s] : spaces_) {
        if (s->ConsolidationBacklog() >= s->options().consolidate_every) due.push_back(s.get());
      }
    }
    for (Space* s : due) {
      if (stop.stop_requested()) break;
      if (s->Consolidate(false).ok()) consolidation_runs_.fetch_add(1);
    }
  }
}

Status Engine::Checkpoint() {
  if (store_ == nullptr) return Status::Ok();
  std::shared_lock lock(spaces_mu_);
  for (const auto& [name, s] : spaces_) {
    ENGRAM_RETURN_IF_ERROR(s->SaveSnapshot(SnapshotPath(name)));
  }
  return store_->Flush();
}

Status Engine::Close() {
  std::lock_guard lock(closing_mu_);
  if (closed_) return Status::Ok();
  closed_ = true;
  if (consolidator_.joinable()) {
    consolidator_.request_stop();
    consolidator_.join();
  }
  return Checkpoint();
}

uint64_t Engine::StoreDiskBytes() const { return store_ ? store_->ApproximateDiskBytes() : 0; }

}  // namespace engram
