#include "loadgen/preload.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "core/clock.h"

namespace engram::loadgen {

using workload::Edge;

uint64_t NodesInSpace(uint64_t n, uint32_t spaces, uint32_t s) {
  return s < n ? (n - s + spaces - 1) / spaces : 0;
}

namespace {

// The batches, and the bookkeeping that lets edges ride with batches once both ends exist.
class LoadPlan {
 public:
  LoadPlan(uint64_t num_nodes, uint32_t num_spaces, uint64_t batch_size)
      : n_(num_nodes), spaces_(num_spaces), batch_(batch_size) {
    first_batch_.resize(spaces_ + 1, 0);
    uint64_t max_batches = 0;
    for (uint32_t s = 0; s < spaces_; ++s) {
      const uint64_t b = (NodesInSpace(n_, spaces_, s) + batch_ - 1) / batch_;
      first_batch_[s + 1] = first_batch_[s] + b;
      max_batches = std::max(max_batches, b);
    }
    committed_.assign(first_batch_[spaces_], 0);
    committed_in_space_.assign(spaces_, 0);
    ready_.resize(spaces_);
    // Round robin over spaces, so every space fills at the same pace.
    for (uint64_t k = 0; k < max_batches; ++k) {
      for (uint32_t s = 0; s < spaces_; ++s) {
        if (first_batch_[s] + k < first_batch_[s + 1]) order_.push_back(first_batch_[s] + k);
      }
    }
  }

  uint64_t batches() const { return order_.size(); }
  uint64_t order(size_t k) const { return order_[k]; }
  uint32_t SpaceOfBatch(uint64_t g) const {
    return static_cast<uint32_t>(std::upper_bound(first_batch_.begin(), first_batch_.end(), g) - first_batch_.begin() - 1);
  }
  bool IsLastOfSpace(uint64_t g) const { return g + 1 == first_batch_[SpaceOfBatch(g) + 1]; }
  uint64_t BatchesInSpace(uint32_t s) const { return first_batch_[s + 1] - first_batch_[s]; }
  // Node indices of batch g.
  std::vector<uint64_t> NodesOf(uint64_t g) const {
    const uint32_t s = SpaceOfBatch(g);
    const uint64_t b = g - first_batch_[s];
    const uint64_t count = NodesInSpace(n_, spaces_, s);
    std::vector<uint64_t> out;
    for (uint64_t p = b * batch_; p < std::min(count, (b + 1) * batch_); ++p) out.push_back(s + p * spaces_);
    return out;
  }
  uint64_t BatchOfNode(uint64_t i) const {
    const uint32_t s = static_cast<uint32_t>(i % spaces_);
    return first_batch_[s] + (i / spaces_) / batch_;
  }

  // REQUIRES: lock held by the caller. The links batch g carries: its own edges and every
  // waiting edge whose ends are stored or in g. Edges that must wait are parked on the batch
  // of an end that is not stored yet.
  std::vector<Edge> Attach(uint64_t g, std::vector<Edge> own, bool take_all_ready, uint64_t* skipped) {
    const uint32_t s = SpaceOfBatch(g);
    std::vector<Edge> out;
    auto place = [&](const Edge& e) {
      const uint64_t bf = BatchOfNode(e.from), bt = BatchOfNode(e.to);
      const bool f_ok = bf == g || committed_[bf];
      const bool t_ok = bt == g || committed_[bt];
      if (f_ok && t_ok) {
        out.push_back(e);
      } else {
        waiting_[f_ok ? bt : bf].push_back(e);
      }
    };
    for (const Edge& e : own) {
      if (e.from % spaces_ != e.to % spaces_) {
        ++*skipped;  // spaces are isolated: no edge can cross them
        continue;
      }
      place(e);
    }
    if (auto it = waiting_.find(g); it != waiting_.end()) {
      std::vector<Edge> w = std::move(it->second);
      waiting_.erase(it);
      for (const Edge& e : w) place(e);
    }
    std::vector<Edge>& ready = ready_[s];
    const size_t take = take_all_ready ? ready.size() : std::min<size_t>(ready.size(), 20000);
    out.insert(out.end(), ready.end() - static_cast<std::ptrdiff_t>(take), ready.end());
    ready.resize(ready.size() - take);
    return out;
  }

  // REQUIRES: lock held. Batch g is stored: edges that waited for it move on.
  void Commit(uint64_t g) {
    committed_[g] = 1;
    committed_in_space_[SpaceOfBatch(g)] += 1;
    auto it = waiting_.find(g);
    if (it == waiting_.end()) return;
    std::vector<Edge> w = std::move(it->second);
    waiting_.erase(it);
    for (const Edge& e : w) {
      const uint64_t bf = BatchOfNode(e.from), bt = BatchOfNode(e.to);
      if (committed_[bf] && committed_[bt]) {
        ready_[static_cast<uint32_t>(e.from % spaces_)].push_back(e);
      } else {
        waiting_[committed_[bf] ? bt : bf].push_back(e);
      }
    }
  }

  uint64_t CommittedInSpace(uint32_t s) const { return committed_in_space_[s]; }
  uint64_t Unplaced() const {
    uint64_t n = 0;
    for (const auto& [g, v] : waiting_) n += v.size();
    for (const auto& v : ready_) n += v.size();
    return n;
  }

 private:
  uint64_t n_;
  uint32_t spaces_;
  uint64_t batch_;
  std::vector<uint64_t> first_batch_;  // per space, then the total
  std::vector<uint64_t> order_;
  std::vector<char> committed_;
  std::vector<uint64_t> committed_in_space_;
  std::unordered_map<uint64_t, std::vector<Edge>> waiting_;
  std::vector<std::vector<Edge>> ready_;  // per space: both ends stored
};

}  // namespace

Result<PreloadReport> Preload(Driver* driver, const workload::DatasetGenerator& data, const PreloadOptions& options,
                              EmbeddingTable* keep) {
  PreloadReport rep;
  const int64_t t0 = MonoNanos();
  const uint64_t n = data.num_nodes();
  const uint32_t spaces = static_cast<uint32_t>(std::max(1, data.spec().memory_spaces));
  const uint32_t dim = static_cast<uint32_t>(data.embedding_dim());
  rep.nodes_requested = n;
  rep.spaces = data.SpaceNames();

  // Spaces: create, or check that the existing one fits and is empty.
  for (const std::string& name : rep.spaces) {
    ENGRAM_ASSIGN_OR_RETURN(bool created, driver->CreateSpace(name, dim));
    (void)created;
  }
  ENGRAM_ASSIGN_OR_RETURN(std::vector<SpaceInfo> before, driver->ListSpaces());
  std::map<std::string, SpaceInfo> existing;
  for (auto& s : before) existing[s.name] = s;
  for (const std::string& name : rep.spaces) {
    auto it = existing.find(name);
    if (it == existing.end()) return Status::Unavailable("space '", name, "' was created but the server does not list it");
    if (it->second.dim != 0 && it->second.dim != dim) {
      return Status::FailedPrecondition("space '", name, "' on the server has dimension ", it->second.dim,
                                        " but the scenario's embeddings have ", dim, " (start engram with --dim ", dim,
                                        ", or use a fresh server)");
    }
    if (it->second.episodes > 0) {
      rep.leftover_episodes += it->second.episodes;
      rep.warnings.push_back(fmt::format("the server has leftover data: space '{}' already holds {} episodes", name,
                                         it->second.episodes));
    }
  }
  if (rep.leftover_episodes > 0 && !options.allow_leftover) {
    std::string all;
    for (const auto& w : rep.warnings) all += (all.empty() ? "" : "; ") + w;
    return Status::FailedPrecondition(all, " (", rep.leftover_episodes, " episodes in all); runs must start from a fresh "
                                      "store: restart engram with --in-memory or a new --data-dir, or pass "
                                      "--allow-leftover-data to load on top of it");
  }

  const bool keep_rows = keep != nullptr && static_cast<double>(n) * dim * 4 <= static_cast<double>(options.keep_embeddings_bytes);
  if (keep != nullptr) {
    keep->dim = dim;
    keep->num_spaces = spaces;
    keep->rows.clear();
    if (keep_rows) {
      for (uint32_t s = 0; s < spaces; ++s) {
        keep->rows[data.SpaceName(static_cast<int>(s))].resize(NodesInSpace(n, spaces, s) * dim);
      }
    }
  }

  LoadPlan plan(n, spaces, std::max<uint64_t>(1, options.batch_size));
  std::mutex mu;
  std::condition_variable cv;
  size_t next = 0;
  Status failure;
  uint64_t loaded = 0, edges = 0, skipped = 0;
  int running = 0;

  auto worker = [&] {
    for (;;) {
      uint64_t g;
      {
        std::unique_lock lock(mu);
        if (!failure.ok() || next >= plan.batches()) break;
        g = plan.order(next++);
        // The last batch of a space goes after all the others of its space are stored.
        const uint32_t s = plan.SpaceOfBatch(g);
        if (plan.IsLastOfSpace(g)) {
          cv.wait(lock, [&] { return !failure.ok() || plan.CommittedInSpace(s) + 1 == plan.BatchesInSpace(s); });
          if (!failure.ok()) break;
        }
      }
      const uint32_t s = plan.SpaceOfBatch(g);
      const std::string space = data.SpaceName(static_cast<int>(s));
      std::vector<workload::EpisodeSpec> nodes;
      std::vector<Edge> own;
      for (uint64_t i : plan.NodesOf(g)) {
        nodes.push_back(data.Node(i));
        if (keep_rows) {
          std::copy(nodes.back().embedding.begin(), nodes.back().embedding.end(),
                    keep->rows[space].begin() + static_cast<std::ptrdiff_t>((i / spaces) * dim));
        }
        for (const Edge& e : data.EdgesFrom(i)) own.push_back(e);
      }
      std::vector<Edge> links;
      {
        std::lock_guard lock(mu);
        links = plan.Attach(g, std::move(own), plan.IsLastOfSpace(g), &skipped);
      }
      Status st = driver->LoadBatch(space, nodes, links);
      std::lock_guard lock(mu);
      if (!st.ok()) {
        if (failure.ok()) {
          failure = st.WithContext(fmt::format("preloading nodes {}..{} into space '{}'", nodes.front().id,
                                               nodes.back().id, space));
        }
        cv.notify_all();
        break;
      }
      plan.Commit(g);
      loaded += nodes.size();
      edges += links.size();
      cv.notify_all();
    }
    std::lock_guard lock(mu);
    --running;
    cv.notify_all();
  };

  const int threads = static_cast<int>(std::clamp<uint64_t>(static_cast<uint64_t>(std::max(1, options.concurrency)), 1,
                                                            std::max<uint64_t>(1, plan.batches())));
  running = threads;
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) pool.emplace_back(worker);

  // Progress: an updating line on a terminal, a line every 10 s otherwise.
  int64_t last_print = MonoNanos();
  {
    std::unique_lock lock(mu);
    while (running > 0) {
      cv.wait_for(lock, std::chrono::milliseconds(200));
      const int64_t now = MonoNanos();
      const int64_t every = options.tty ? 1'000'000'000 : 10'000'000'000;
      if (!options.quiet && now - last_print >= every && running > 0) {
        last_print = now;
        const double secs = static_cast<double>(now - t0) * 1e-9;
        const double rate = static_cast<double>(loaded) / std::max(secs, 1e-9);
        const double eta = rate > 0 ? static_cast<double>(n - loaded) / rate : 0;
        std::fprintf(stderr, "%spreload: %llu/%llu nodes, %llu edges (%.0f nodes/s, ETA %.0f s)%s",
                     options.tty ? "\r\033[K" : "", static_cast<unsigned long long>(loaded),
                     static_cast<unsigned long long>(n), static_cast<unsigned long long>(edges), rate, eta,
                     options.tty ? "" : "\n");
        std::fflush(stderr);
      }
    }
  }
  for (auto& t : pool) t.join();
  if (options.tty && !options.quiet) std::fprintf(stderr, "\r\033[K");
  if (!failure.ok()) {
    if (failure.code() == StatusCode::kAlreadyExists) {
      return Status::FailedPrecondition(failure.message(), " (the dataset's ids already exist: the server has leftover data)");
    }
    return failure;
  }
  rep.preloaded = true;
  rep.nodes_loaded = loaded;
  rep.edges_loaded = edges;
  rep.edges_skipped = skipped;
  if (const uint64_t unplaced = plan.Unplaced(); unplaced > 0) {
    rep.warnings.push_back(fmt::format("{} edges could not be placed in any batch", unplaced));
    rep.edges_skipped += unplaced;
  }

  ENGRAM_RETURN_IF_ERROR(driver->FinishPreload());

  // Verify by count.
  ENGRAM_ASSIGN_OR_RETURN(std::vector<SpaceInfo> after, driver->ListSpaces());
  std::map<std::string, uint64_t> counts;
  for (const auto& s : after) counts[s.name] = s.episodes;
  for (uint32_t s = 0; s < spaces; ++s) {
    const std::string name = data.SpaceName(static_cast<int>(s));
    const uint64_t want = NodesInSpace(n, spaces, s) + existing[name].episodes;
    const uint64_t have = counts.count(name) != 0 ? counts[name] : 0;
    rep.verified_count += have;
    if (have != want) {
      return Status::DataLoss("preload did not verify: space '", name, "' holds ", have, " episodes, expected ", want,
                              " (", NodesInSpace(n, spaces, s), " loaded", existing[name].episodes > 0 ? " + leftover" : "",
                              ")");
    }
  }
  rep.load_seconds = static_cast<double>(MonoNanos() - t0) * 1e-9;
  return rep;
}

Result<uint64_t> CountDataset(Driver* driver, const workload::DatasetGenerator& data, double wait_seconds,
                              bool* complete) {
  const uint32_t spaces = static_cast<uint32_t>(std::max(1, data.spec().memory_spaces));
  const int64_t deadline = MonoNanos() + static_cast<int64_t>(wait_seconds * 1e9);
  for (;;) {
    ENGRAM_ASSIGN_OR_RETURN(std::vector<SpaceInfo> list, driver->ListSpaces());
    std::map<std::string, uint64_t> counts;
    for (const auto& s : list) counts[s.name] = s.episodes;
    uint64_t total = 0;
    bool all = true;
    for (uint32_t s = 0; s < spaces; ++s) {
      const std::string name = data.SpaceName(static_cast<int>(s));
      const uint64_t have = counts.count(name) != 0 ? counts[name] : 0;
      total += have;
      all = all && have >= NodesInSpace(data.num_nodes(), spaces, s);
    }
    if (all || MonoNanos() >= deadline) {
      *complete = all;
      return total;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

}  // namespace engram::loadgen
