#include "loadgen/search_recall.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "kernels/kernels.h"

namespace engram::loadgen {

namespace {

// Node index of a dataset id "n<i>", or -1.
int64_t NodeIndexOf(const std::string& id, uint64_t num_nodes) {
  if (id.size() < 2 || id[0] != 'n') return -1;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(id.data() + 1, id.data() + id.size(), v);
  if (ec != std::errc() || p != id.data() + id.size() || v >= num_nodes) return -1;
  return static_cast<int64_t>(v);
}

struct TopK {
  std::vector<std::pair<float, uint64_t>> items;  // (similarity, node), a min-heap on similarity
  size_t k = 0;
  void Offer(float sim, uint64_t node) {
    auto greater = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
    if (items.size() < k) {
      items.emplace_back(sim, node);
      std::push_heap(items.begin(), items.end(), greater);
    } else if (k > 0 && greater(std::make_pair(sim, node), items.front())) {
      std::pop_heap(items.begin(), items.end(), greater);
      items.back() = {sim, node};
      std::push_heap(items.begin(), items.end(), greater);
    }
  }
  void Merge(const TopK& o) {
    for (const auto& [s, n] : o.items) Offer(s, n);
  }
  // Best first.
  std::vector<uint64_t> Sorted() const {
    auto v = items;
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
    std::vector<uint64_t> out;
    for (const auto& [s, n] : v) out.push_back(n);
    return out;
  }
};

}  // namespace

SearchRecall ComputeSearchRecall(const workload::DatasetGenerator& data, const EmbeddingTable* table,
                                 const std::vector<SearchSample>& samples, int k, int threads) {
  SearchRecall out;
  out.k = k;
  const uint64_t n = data.num_nodes();
  const uint32_t spaces = static_cast<uint32_t>(std::max(1, data.spec().memory_spaces));
  const size_t dim = static_cast<size_t>(data.embedding_dim());
  if (samples.empty() || n == 0 || k <= 0) return out;
  threads = std::max(1, threads);

  std::vector<TopK> exact(samples.size());
  for (auto& t : exact) t.k = static_cast<size_t>(k);
  const bool have_table = table != nullptr && !table->rows.empty();
  if (have_table) {
    std::map<std::string, uint32_t> space_of;
    for (uint32_t x = 0; x < spaces; ++x) space_of[data.SpaceName(static_cast<int>(x))] = x;
    // One sample per task: BatchDot over the space's rows.
    std::atomic<size_t> next{0};
    auto work = [&] {
      std::vector<float> sims;
      for (size_t q; (q = next.fetch_add(1)) < samples.size();) {
        const SearchSample& s = samples[q];
        auto it = table->rows.find(s.space);
        if (it == table->rows.end() || s.query.size() != dim) continue;
        const size_t rows = it->second.size() / dim;
        sims.resize(rows);
        kernels::BatchDot(s.query.data(), it->second.data(), rows, dim, sims.data());
        // Row r of space x is node x + r * S.
        const uint32_t space_index = space_of.count(s.space) != 0 ? space_of.at(s.space) : 0;
        for (size_t r = 0; r < rows; ++r) exact[q].Offer(sims[r], space_index + r * spaces);
      }
    };
    std::vector<std::thread> pool;
    for (int i = 0; i < threads; ++i) pool.emplace_back(work);
    for (auto& t : pool) t.join();
  } else {
    // Regenerate the dataset once, in parallel stripes, scoring every sample of a node's space.
    std::mutex mu;
    std::atomic<uint64_t> next{0};
    constexpr uint64_t kStripe = 1024;
    auto work = [&] {
      std::vector<TopK> local(samples.size());
      for (auto& t : local) t.k = static_cast<size_t>(k);
      for (uint64_t lo; (lo = next.fetch_add(kStripe)) < n;) {
        for (uint64_t i = lo; i < std::min(n, lo + kStripe); ++i) {
          const workload::EpisodeSpec node = data.Node(i);
          for (size_t q = 0; q < samples.size(); ++q) {
            if (samples[q].space != node.space || samples[q].query.size() != dim) continue;
            local[q].Offer(kernels::Dot(samples[q].query.data(), node.embedding.data(), dim), i);
          }
        }
      }
      std::lock_guard lock(mu);
      for (size_t q = 0; q < samples.size(); ++q) exact[q].Merge(local[q]);
    };
    std::vector<std::thread> pool;
    for (int i = 0; i < threads; ++i) pool.emplace_back(work);
    for (auto& t : pool) t.join();
  }

  double sum = 0;
  for (size_t q = 0; q < samples.size(); ++q) {
    const SearchSample& s = samples[q];
    std::vector<int64_t> returned_nodes;
    size_t run_stored = 0;
    for (size_t j = 0; j < s.returned.size() && j < static_cast<size_t>(k); ++j) {
      const int64_t node = NodeIndexOf(s.returned[j], n);
      if (node < 0) {
        ++run_stored;
      } else {
        returned_nodes.push_back(node);
      }
    }
    const size_t want = static_cast<size_t>(k) - run_stored;
    if (want == 0) continue;
    const std::vector<uint64_t> truth = exact[q].Sorted();
    std::unordered_set<uint64_t> top(truth.begin(), truth.begin() + static_cast<std::ptrdiff_t>(std::min(want, truth.size())));
    size_t hits = 0;
    for (int64_t node : returned_nodes) hits += top.count(static_cast<uint64_t>(node));
    const size_t denom = std::min(want, truth.size());
    if (denom == 0) continue;
    sum += static_cast<double>(hits) / static_cast<double>(denom);
    out.samples += 1;
  }
  out.recall_at_k = out.samples > 0 ? sum / static_cast<double>(out.samples) : 0;
  return out;
}

}  // namespace engram::loadgen
