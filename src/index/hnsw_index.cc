#include "index/hnsw_index.h"

#include <algorithm>
#include <limits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <queue>

// hnswlib 0.6.2 reads one neighbour id past the end of a link list: the software prefetch in
// searchBaseLayer (hnswalg.h:214, `*(datal + j + 1)`, and the same in
// repairConnectionsForUpdate) loads the id after the last one when a list is full. At level 0
// that id lies inside the node's own record (it is the first float of the vector), but an
// upper-level list at a node's top level is the end of a separate malloc of
// size_links_per_element_ * level + 1 bytes, so the 4-byte load runs 3 bytes past it: ASan's
// heap-buffer-overflow. The loaded value only feeds _mm_prefetch, which never faults, and the
// 3 bytes are mapped heap (glibc's rounding of a small request, at worst the next chunk's
// header), so a Release build puts garbage into a prefetch hint and cannot crash from it; it
// is still undefined behaviour. We give hnswlib padded allocations instead of patching its header: its calls to
// malloc/realloc are unqualified names inside namespace hnswlib, so these declarations, seen
// before the header, are the ones they bind to; free() is ::free, which takes the padded
// blocks as they are. The padding is zeroed, so the over-read id is 0, a valid node. The graph
// algorithm (ours and the bare peer's) is untouched; only every hnswlib block is
// kHnswlibReadPastPadding bytes longer. If a later hnswlib calls ::malloc, the ASan runs of
// index_test report the over-read again.
namespace hnswlib {
namespace {
constexpr size_t kHnswlibReadPastPadding = 16;  // >= one tableint; 16 keeps sizes aligned

void ZeroPadding(void* block, size_t size) {
  if (block != nullptr) std::memset(static_cast<char*>(block) + size, 0, kHnswlibReadPastPadding);
}
void* malloc(size_t size) {
  void* block = std::malloc(size + kHnswlibReadPastPadding);
  ZeroPadding(block, size);
  return block;
}
void* realloc(void* block, size_t size) {
  void* grown = std::realloc(block, size + kHnswlibReadPastPadding);
  ZeroPadding(grown, size);
  return grown;
}
}  // namespace
}  // namespace hnswlib

#include <hnswlib/hnswlib.h>

#include "kernels/kernels.h"

namespace engram::index {

// hnswlib's SpaceInterface over our dispatched inner products: distance = 1 - dot, of float32,
// binary16 or int8 records (an int8 record is dim codes followed by its float scale).
class HnswIndex::Space : public hnswlib::SpaceInterface<float> {
 public:
  Space(size_t dim, VectorPrecision precision) : dim_(dim), precision_(precision) {}
  size_t get_data_size() override { return RecordBytes(dim_, precision_); }
  hnswlib::DISTFUNC<float> get_dist_func() override {
    switch (precision_) {
      case VectorPrecision::kInt8: return &DistanceInt8;
      case VectorPrecision::kFloat16: return &DistanceHalf;
      case VectorPrecision::kFloat32: break;
    }
    return &DistanceFloat;
  }
  void* get_dist_func_param() override { return &dim_; }

  // An int8 record is [float scale][4 bytes, zero][dim codes]: the scale first, in the line
  // hnswlib prefetches before it calls the distance (with the scale after the codes, every
  // distance waited for a second cache miss on the record's last line: 16% of a recall's
  // samples at 34K). The 8-byte header keeps the codes aligned, and makes these records a
  // different size from the earlier layout's (dim + 4), so an older snapshot is refused by
  // Load's size check and the index is rebuilt rather than misread.
  static constexpr size_t kInt8Header = 8;

  static size_t RecordBytes(size_t dim, VectorPrecision p) {
    switch (p) {
      case VectorPrecision::kInt8: return kInt8Header + dim;
      case VectorPrecision::kFloat16: return dim * sizeof(uint16_t);
      case VectorPrecision::kFloat32: break;
    }
    return dim * sizeof(float);
  }

 private:
  static float DistanceFloat(const void* a, const void* b, const void* param) {
    const size_t dim = *static_cast<const size_t*>(param);
    return 1.0f - kernels::Dot(static_cast<const float*>(a), static_cast<const float*>(b), dim);
  }
  static float DistanceHalf(const void* a, const void* b, const void* param) {
    const size_t dim = *static_cast<const size_t*>(param);
    return 1.0f - kernels::DotHalf(static_cast<const uint16_t*>(a), static_cast<const uint16_t*>(b), dim);
  }
  static float DistanceInt8(const void* a, const void* b, const void* param) {
    const size_t dim = *static_cast<const size_t*>(param);
    const auto* ca = static_cast<const int8_t*>(a);
    const auto* cb = static_cast<const int8_t*>(b);
    float sa, sb;
    std::memcpy(&sa, ca, sizeof(float));
    std::memcpy(&sb, cb, sizeof(float));
    static const kernels::DotInt8Fn dot = kernels::BestDotInt8();  // no dispatch per distance
    return 1.0f - sa * sb * static_cast<float>(dot(ca + kInt8Header, cb + kInt8Header, dim));
  }

  size_t dim_;
  VectorPrecision precision_;
};

const void* HnswIndex::Stored(const float* vec, std::vector<uint8_t>* record) const {
  switch (options_.precision) {
    case VectorPrecision::kFloat32:
      return vec;
    case VectorPrecision::kFloat16:
      record->resize(dim_ * sizeof(uint16_t));
      kernels::ToHalf(vec, dim_, reinterpret_cast<uint16_t*>(record->data()));
      return record->data();
    case VectorPrecision::kInt8: {
      record->assign(Space::RecordBytes(dim_, VectorPrecision::kInt8), 0);
      const float scale = kernels::ToInt8(vec, dim_, reinterpret_cast<int8_t*>(record->data() + Space::kInt8Header));
      std::memcpy(record->data(), &scale, sizeof(float));
      return record->data();
    }
  }
  return vec;
}

float HnswIndex::Distance(const void* a, const void* b) const {
  return hnsw_->fstdistfunc_(a, b, hnsw_->dist_func_param_);  // the space's, as hnswlib calls it
}

HnswIndex::HnswIndex(size_t dim, const HnswOptions& options)
    : dim_(dim), options_(options), space_(std::make_unique<Space>(dim, options.precision)) {
  hnsw_ = std::make_unique<hnswlib::HierarchicalNSW<float>>(
      space_.get(), std::max<size_t>(options.initial_capacity, 16), options.m,
      options.ef_construction, options.random_seed);
  hnsw_->setEf(options.ef_search);
}

HnswIndex::~HnswIndex() = default;

void HnswIndex::GrowIfFull() {
  {
    std::shared_lock lock(grow_mu_);
    if (hnsw_->cur_element_count < hnsw_->max_elements_) return;
  }
  std::unique_lock lock(grow_mu_);
  if (hnsw_->cur_element_count >= hnsw_->max_elements_) {
    hnsw_->resizeIndex(hnsw_->max_elements_ * 2);
  }
}

Status HnswIndex::Add(uint32_t slot, const float* vec, std::vector<Neighbor>* links) {
  // The first insert runs alone. hnswlib 0.6.2's addPoint, finding no entry point, stores
  // enterpoint_node_ = 0 and only then enterpoint_node_ = cur_c. When two first inserts race,
  // the one that wins hnswlib's `global` lock may be internal id 1, while id 0's insert still
  // waits for that lock with its record unwritten and its upper-level link list unallocated
  // (its level is already set). A Search() reading the entry point in between descends from
  // node 0 through an uninitialised linkLists_[0] and faults: the one way we found for
  // ConcurrentAddAndSearchKeepEveryVector to segfault (it did once), and forcing that
  // interleaving with sleeps in a copy of the header faults every time. Once an entry point
  // exists no insert takes that branch again, so only the first one needs the exclusive lock.
  std::vector<uint8_t> record;
  const void* stored = Stored(vec, &record);
  if (!has_entry_point_.load(std::memory_order_acquire)) {
    std::unique_lock lock(grow_mu_);
    if (hnsw_->cur_element_count == 0) {
      try {
        hnsw_->addPoint(stored, slot, -1);
      } catch (const std::runtime_error& e) {
        return Status::Internal("vector index insert failed: ", e.what());
      }
      if (links != nullptr) links->clear();  // the first vector has nobody to link to
      has_entry_point_.store(true, std::memory_order_release);
      return Status::Ok();
    }
    has_entry_point_.store(true, std::memory_order_release);
  }
  // A concurrent Add may fill the last free place between our check and our insert; hnswlib
  // then throws "exceeds the specified limit" and we grow and retry.
  for (int attempt = 0; attempt < 8; ++attempt) {
    GrowIfFull();
    std::shared_lock lock(grow_mu_);
    try {
      // A slot the index holds already (a recovery that re-adds it) takes hnswlib's update path.
      bool known;
      {
        std::unique_lock guard(hnsw_->cur_element_count_guard_);
        known = hnsw_->label_lookup_.count(slot) != 0;
      }
      hnswlib::tableint internal = known ? hnsw_->addPoint(stored, slot, -1) : InsertNew(stored, slot);
      if (links != nullptr) {
        links->clear();
        std::unique_lock node_lock(hnsw_->link_list_locks_[internal]);
        unsigned int* list = hnsw_->get_linklist0(internal);
        const int n = hnsw_->getListCount(list);
        const hnswlib::tableint* ids = reinterpret_cast<const hnswlib::tableint*>(list + 1);
        for (int i = 0; i < n; ++i) {
          links->push_back({static_cast<uint32_t>(hnsw_->getExternalLabel(ids[i])),
                            1.0f - Distance(stored, hnsw_->getDataByInternalId(ids[i]))});
        }
      }
      return Status::Ok();
    } catch (const std::runtime_error& e) {
      if (std::string_view(e.what()).find("exceeds the specified limit") == std::string_view::npos) {
        return Status::Internal("vector index insert failed: ", e.what());
      }
    }
  }
  return Status::ResourceExhausted("vector index could not grow to take slot ", slot);
}

std::vector<Neighbor> HnswIndex::Search(const float* query_vec, size_t k, int ef) const {
  std::vector<Neighbor> out;
  if (k == 0) return out;
  std::vector<uint8_t> record;
  const void* query = Stored(query_vec, &record);
  std::shared_lock lock(grow_mu_);
  if (hnsw_->cur_element_count == 0) return out;
  const size_t list_size = std::max<size_t>(ef > 0 ? static_cast<size_t>(ef) : options_.ef_search, k);

  // Greedy descent through the upper layers, as hnswlib's searchKnn does, then a level-0 search
  // with our own list size: hnswlib 0.6 keeps ef as one shared member, and setting it per query
  // would race between threads.
  // Concurrent inserts may be publishing a new entry point: read it once, and descend from
  // that node's own level (reading maxlevel_ separately could pair a new level with the old
  // entry point and walk link lists the node does not have).
  const hnswlib::tableint current_entry = hnsw_->enterpoint_node_;
  if (current_entry == static_cast<hnswlib::tableint>(-1)) return out;  // first insert in flight
  hnswlib::tableint current = current_entry;
  float current_dist = Distance(query, hnsw_->getDataByInternalId(current));
  for (int level = hnsw_->element_levels_[current]; level > 0; --level) {
    bool changed = true;
    while (changed) {
      changed = false;
      unsigned int* list = hnsw_->get_linklist(current, level);
      const int n = hnsw_->getListCount(list);
      const hnswlib::tableint* ids = reinterpret_cast<const hnswlib::tableint*>(list + 1);
      for (int i = 0; i < n; ++i) {
        const float d = Distance(query, hnsw_->getDataByInternalId(ids[i]));
        if (d < current_dist) {
          current_dist = d;
          current = ids[i];
          changed = true;
        }
      }
    }
  }
  const auto top = SearchLevel0(current, query, list_size);
  out.resize(std::min(k, top.size()));
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = {static_cast<uint32_t>(hnsw_->getExternalLabel(top[i].second)), 1.0f - top[i].first};
  }
  return out;
}

namespace {
using Candidate = std::pair<float, uint32_t>;  // (distance, internal id)
constexpr size_t kPrefetchAhead = 3;            // records fetched ahead of the distance computed

void PrefetchBytes(const char* p, size_t bytes) {
  for (size_t off = 0; off < bytes; off += 64) __builtin_prefetch(p + off, 0, 3);
}
}  // namespace

std::vector<std::pair<float, uint32_t>> HnswIndex::SearchLevel0(uint32_t entry, const void* query, size_t ef) const {
  auto* h = hnsw_.get();
  const bool has_deletions = h->num_deleted_ > 0;
  hnswlib::VisitedList* vl = h->visited_list_pool_->getFreeVisitedList();
  hnswlib::vl_type* visited = vl->mass;
  const hnswlib::vl_type tag = vl->curV;
  const size_t record_bytes = h->data_size_;
  auto data = [&](uint32_t id) { return h->getDataByInternalId(id); };

  // Two binary heaps: `top` keeps the ef nearest found (farthest on top), `frontier` the nodes
  // still to expand (nearest on top).
  thread_local std::vector<Candidate> top, frontier;
  thread_local std::vector<uint32_t> batch;
  top.clear();
  frontier.clear();
  auto nearer = [](const Candidate& a, const Candidate& b) { return a.first < b.first; };
  auto farther = [](const Candidate& a, const Candidate& b) { return a.first > b.first; };

  float lower = std::numeric_limits<float>::max();
  if (!has_deletions || !h->isMarkedDeleted(entry)) {
    const float d = Distance(query, data(entry));
    lower = d;
    top.emplace_back(d, entry);
  }
  frontier.emplace_back(has_deletions && top.empty() ? lower : top.back().first, entry);
  visited[entry] = tag;

  while (!frontier.empty()) {
    const Candidate current = frontier.front();
    if (current.first > lower && (top.size() == ef || !has_deletions)) break;
    std::pop_heap(frontier.begin(), frontier.end(), farther);
    frontier.pop_back();

    const unsigned int* list = h->get_linklist0(current.second);
    const int n = h->getListCount(const_cast<unsigned int*>(list));
    const auto* ids = reinterpret_cast<const hnswlib::tableint*>(list + 1);
    batch.clear();
    for (int j = 0; j < n; ++j) {
      const uint32_t id = ids[j];
      if (visited[id] == tag) continue;
      visited[id] = tag;
      batch.push_back(id);
    }
    for (size_t i = 0; i < std::min(kPrefetchAhead, batch.size()); ++i) PrefetchBytes(data(batch[i]), record_bytes);
    for (size_t i = 0; i < batch.size(); ++i) {
      if (i + kPrefetchAhead < batch.size()) PrefetchBytes(data(batch[i + kPrefetchAhead]), record_bytes);
      const uint32_t id = batch[i];
      const float d = Distance(query, data(id));
      if (top.size() < ef || d < lower) {
        frontier.emplace_back(d, id);
        std::push_heap(frontier.begin(), frontier.end(), farther);
        __builtin_prefetch(h->get_linklist0(frontier.front().second), 0, 3);
        if (!has_deletions || !h->isMarkedDeleted(id)) {
          top.emplace_back(d, id);
          std::push_heap(top.begin(), top.end(), nearer);
          if (top.size() > ef) {
            std::pop_heap(top.begin(), top.end(), nearer);
            top.pop_back();
          }
        }
        if (!top.empty()) lower = top.front().first;
      }
    }
  }
  h->visited_list_pool_->releaseVisitedList(vl);
  std::vector<Candidate> out(top.begin(), top.end());
  std::sort(out.begin(), out.end(), nearer);
  return out;
}
namespace {
using HnswGraph = hnswlib::HierarchicalNSW<float>;
using InsertQueue = std::priority_queue<Candidate, std::vector<Candidate>, HnswGraph::CompareByFirst>;

// hnswlib's searchBaseLayer (the insert's search on one layer, list size ef_construction)
// with SearchLevel0's access order; farthest on top, as mutuallyConnectNewElement takes them.
InsertQueue SearchLayerForInsert(HnswGraph* h, uint32_t entry, const void* query, int layer) {
  hnswlib::VisitedList* vl = h->visited_list_pool_->getFreeVisitedList();
  hnswlib::vl_type* visited = vl->mass;
  const hnswlib::vl_type tag = vl->curV;
  const size_t ef = h->ef_construction_;
  const size_t record_bytes = h->data_size_;
  auto data = [&](uint32_t id) { return h->getDataByInternalId(id); };
  auto dist = [&](uint32_t id) { return h->fstdistfunc_(query, data(id), h->dist_func_param_); };
  InsertQueue top;
  thread_local std::vector<Candidate> frontier;
  thread_local std::vector<uint32_t> batch;
  frontier.clear();
  auto farther = [](const Candidate& a, const Candidate& b) { return a.first > b.first; };
  float lower;
  if (!h->isMarkedDeleted(entry)) {
    const float d = dist(entry);
    top.emplace(d, entry);
    lower = d;
    frontier.emplace_back(d, entry);
  } else {
    lower = std::numeric_limits<float>::max();
    frontier.emplace_back(lower, entry);
  }
  visited[entry] = tag;
  while (!frontier.empty()) {
    const Candidate current = frontier.front();
    if (current.first > lower && top.size() == ef) break;
    std::pop_heap(frontier.begin(), frontier.end(), farther);
    frontier.pop_back();
    batch.clear();
    {
      std::unique_lock lock(h->link_list_locks_[current.second]);
      const unsigned int* list =
          layer == 0 ? h->get_linklist0(current.second) : h->get_linklist(current.second, layer);
      const int n = h->getListCount(const_cast<unsigned int*>(list));
      const auto* ids = reinterpret_cast<const hnswlib::tableint*>(list + 1);
      for (int j = 0; j < n; ++j) {
        const uint32_t id = ids[j];
        if (visited[id] == tag) continue;
        visited[id] = tag;
        batch.push_back(id);
      }
    }
    for (size_t i = 0; i < std::min(kPrefetchAhead, batch.size()); ++i) PrefetchBytes(data(batch[i]), record_bytes);
    for (size_t i = 0; i < batch.size(); ++i) {
      if (i + kPrefetchAhead < batch.size()) PrefetchBytes(data(batch[i + kPrefetchAhead]), record_bytes);
      const uint32_t id = batch[i];
      const float d = dist(id);
      if (top.size() < ef || lower > d) {
        frontier.emplace_back(d, id);
        std::push_heap(frontier.begin(), frontier.end(), farther);
        if (!h->isMarkedDeleted(id)) top.emplace(d, id);
        if (top.size() > ef) top.pop();
        if (!top.empty()) lower = top.top().first;
      }
    }
  }
  h->visited_list_pool_->releaseVisitedList(vl);
  return top;
}
}  // namespace

uint32_t HnswIndex::InsertNew(const void* record, size_t label) {
  // Step by step hnswlib 0.6.2's addPoint for a label it does not hold yet, with the same locks
  // in the same order; only the layer search differs (SearchLayerForInsert).
  HnswGraph* h = hnsw_.get();
  hnswlib::tableint cur_c;
  {
    std::unique_lock lock(h->cur_element_count_guard_);
    if (h->cur_element_count >= h->max_elements_) {
      throw std::runtime_error("The number of elements exceeds the specified limit");
    }
    cur_c = static_cast<hnswlib::tableint>(h->cur_element_count);
    h->cur_element_count++;
    h->label_lookup_[label] = cur_c;
  }
  std::unique_lock lock_update(h->link_list_update_locks_[cur_c & (HnswGraph::max_update_element_locks - 1)]);
  std::unique_lock lock_el(h->link_list_locks_[cur_c]);
  const int curlevel = h->getRandomLevel(h->mult_);
  h->element_levels_[cur_c] = curlevel;
  std::unique_lock global(h->global);
  const int maxlevel = h->maxlevel_;
  if (curlevel <= maxlevel) global.unlock();
  hnswlib::tableint current = h->enterpoint_node_;
  const hnswlib::tableint entry = current;
  std::memset(h->data_level0_memory_ + cur_c * h->size_data_per_element_ + h->offsetLevel0_, 0, h->size_data_per_element_);
  std::memcpy(h->getExternalLabeLp(cur_c), &label, sizeof(hnswlib::labeltype));
  std::memcpy(h->getDataByInternalId(cur_c), record, h->data_size_);
  if (curlevel > 0) {
    const size_t bytes = h->size_links_per_element_ * static_cast<size_t>(curlevel) + 1;
    h->linkLists_[cur_c] = static_cast<char*>(std::malloc(bytes));
    if (h->linkLists_[cur_c] == nullptr) throw std::runtime_error("Not enough memory: addPoint failed to allocate linklist");
    std::memset(h->linkLists_[cur_c], 0, bytes);
  }
  if (curlevel < maxlevel) {  // greedy descent to the new element's top layer
    float current_dist = h->fstdistfunc_(record, h->getDataByInternalId(current), h->dist_func_param_);
    for (int level = maxlevel; level > curlevel; --level) {
      bool changed = true;
      while (changed) {
        changed = false;
        std::unique_lock lock(h->link_list_locks_[current]);
        unsigned int* list = h->get_linklist(current, level);
        const int n = h->getListCount(list);
        const auto* ids = reinterpret_cast<const hnswlib::tableint*>(list + 1);
        for (int i = 0; i < n; ++i) {
          const float d = h->fstdistfunc_(record, h->getDataByInternalId(ids[i]), h->dist_func_param_);
          if (d < current_dist) {
            current_dist = d;
            current = ids[i];
            changed = true;
          }
        }
      }
    }
  }
  const bool entry_deleted = h->isMarkedDeleted(entry);
  for (int level = std::min(curlevel, maxlevel); level >= 0; --level) {
    InsertQueue top = SearchLayerForInsert(h, current, record, level);
    if (entry_deleted) {
      top.emplace(h->fstdistfunc_(record, h->getDataByInternalId(entry), h->dist_func_param_), entry);
      if (top.size() > h->ef_construction_) top.pop();
    }
    current = h->mutuallyConnectNewElement(record, cur_c, top, level, false);
  }
  if (curlevel > maxlevel) {
    h->enterpoint_node_ = cur_c;
    h->maxlevel_ = curlevel;
  }
  return cur_c;
}


Status HnswIndex::MarkDeleted(uint32_t slot) {
  std::shared_lock lock(grow_mu_);
  try {
    hnsw_->markDelete(slot);
  } catch (const std::runtime_error& e) {
    return Status::NotFound("slot ", slot, " is not in the vector index: ", e.what());
  }
  return Status::Ok();
}

size_t HnswIndex::size() const {
  std::shared_lock lock(grow_mu_);
  return hnsw_->cur_element_count;
}

size_t HnswIndex::capacity() const {
  std::shared_lock lock(grow_mu_);
  return hnsw_->max_elements_;
}

size_t HnswIndex::MemoryBytes() const {
  std::shared_lock lock(grow_mu_);
  return hnsw_->max_elements_ * hnsw_->size_data_per_element_ +
         hnsw_->cur_element_count * hnsw_->size_links_per_element_ / 2;
}

Status HnswIndex::Save(const std::string& path) const {
  std::unique_lock lock(grow_mu_);
  const std::string tmp = path + ".tmp";
  try {
    hnsw_->saveIndex(tmp);
  } catch (const std::exception& e) {
    return Status::IOError("saving vector index to ", tmp, ": ", e.what());
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Status::IOError("renaming ", tmp, " to ", path, ": ", ec.message());
  return Status::Ok();
}

Result<std::unique_ptr<HnswIndex>> HnswIndex::Load(const std::string& path, size_t dim,
                                                   const HnswOptions& options) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return Status::NotFound("no index snapshot at ", path);
  auto index = std::unique_ptr<HnswIndex>(new HnswIndex(dim, HnswOptions{options.m, options.ef_construction, options.ef_search, 16, options.random_seed, options.precision}));
  try {
    auto loaded = std::make_unique<hnswlib::HierarchicalNSW<float>>(index->space_.get(), path);
    // hnswlib takes the vector size from the space, not the file; the per-element record
    // size in the file tells whether the dimensions agree.
    const size_t stored = loaded->size_data_per_element_ - loaded->size_links_level0_ - sizeof(hnswlib::labeltype);
    const size_t expected = Space::RecordBytes(dim, options.precision);
    if (stored != expected) {
      return Status::DataLoss("index snapshot ", path, " holds vector records of ", stored, " bytes, expected ",
                              expected, " (", dim, " dimensions at ", static_cast<int>(options.precision), " bits)");
    }
    index->hnsw_ = std::move(loaded);
    index->hnsw_->setEf(options.ef_search);
  } catch (const std::exception& e) {
    return Status::DataLoss("loading index snapshot ", path, ": ", e.what());
  }
  return index;
}

struct BareHnswlib::Impl {
  explicit Impl(size_t dim) : space(dim) {}
  hnswlib::InnerProductSpace space;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> hnsw;
};

BareHnswlib::BareHnswlib(size_t dim, const HnswOptions& options, size_t capacity)
    : impl_(std::make_unique<Impl>(dim)) {
  impl_->hnsw = std::make_unique<hnswlib::HierarchicalNSW<float>>(
      &impl_->space, capacity, options.m, options.ef_construction, options.random_seed);
  impl_->hnsw->setEf(options.ef_search);
}

BareHnswlib::~BareHnswlib() = default;

void BareHnswlib::Add(uint32_t label, const float* vec) { impl_->hnsw->addPoint(vec, label); }

void BareHnswlib::SetEf(size_t ef) { impl_->hnsw->setEf(ef); }

std::vector<Neighbor> BareHnswlib::Search(const float* query, size_t k) const {
  auto top = impl_->hnsw->searchKnn(query, k);
  std::vector<Neighbor> out(top.size());
  for (size_t i = top.size(); i-- > 0;) {
    out[i] = {static_cast<uint32_t>(top.top().second), 1.0f - top.top().first};
    top.pop();
  }
  return out;
}

std::vector<Neighbor> ExactSearch(const float* query, const float* rows, size_t count,
                                  size_t dim, size_t k) {
  std::vector<float> sims(count);
  kernels::BatchDot(query, rows, count, dim, sims.data());
  std::vector<Neighbor> all(count);
  for (size_t i = 0; i < count; ++i) all[i] = {static_cast<uint32_t>(i), sims[i]};
  k = std::min(k, count);
  std::partial_sort(all.begin(), all.begin() + k, all.end(), [](const Neighbor& a, const Neighbor& b) {
    return a.similarity > b.similarity || (a.similarity == b.similarity && a.slot < b.slot);
  });
  all.resize(k);
  return all;
}

}  // namespace engram::index
