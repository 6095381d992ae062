// Space: the token index and pattern completion.
#include "engine/space.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <optional>
#include <span>

#include "engine/space_internal.h"
#include "kernels/kernels.h"

namespace engram {

using internal::kNoToken;
using internal::TokenSet;
using internal::TopK;

namespace {

// Pattern completion's bounded work. The token index is read rarest key first until this many
// postings entries are counted (a key held by most episodes, like "the", says little and is
// read last, if at all); of the episodes met, the ones matching the most keys are scored in
// full, as are the vector index's hits for the known part of the embedding.
constexpr size_t kPostingsBudget = 16384;
constexpr size_t kTokenCandidates = 256;
// An id no token has: a cue token the space has never seen.
constexpr uint32_t kUnknownToken = UINT32_MAX - 1;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The distinct lower-case words of `text` (runs of letters, digits and non-ASCII bytes), sorted.
std::vector<std::string> WordsOf(std::string_view text) {
  std::vector<std::string> words;
  std::string cur;
  for (char ch : text) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c >= 0x80) {
      cur.push_back(static_cast<char>(std::tolower(c)));
    } else if (!cur.empty()) {
      words.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) words.push_back(std::move(cur));
  std::sort(words.begin(), words.end());
  words.erase(std::unique(words.begin(), words.end()), words.end());
  return words;
}

// The index keys of one episode's (or one cue's) fields, by field: "w:" words, "p:" the place,
// "u:" who, "t:" tags, all lower case.
struct FieldKeys {
  std::vector<std::string> words, who, tags;
  std::optional<std::string> where;
};

FieldKeys KeysOf(std::string_view what, const std::string* where, const std::vector<std::string>& who,
                 const std::vector<std::string>& tags) {
  FieldKeys k;
  for (auto& w : WordsOf(what)) k.words.push_back("w:" + w);
  if (where != nullptr) k.where = "p:" + Lower(*where);
  for (auto& w : who) k.who.push_back("u:" + Lower(w));
  for (auto& t : tags) k.tags.push_back("t:" + Lower(t));
  return k;
}

size_t CountCommon(std::span<const uint32_t> a, std::span<const uint32_t> b) {  // both sorted
  size_t i = 0, j = 0, common = 0;
  while (i < a.size() && j < b.size()) {
    if (a[i] == b[j]) {
      ++common, ++i, ++j;
    } else if (a[i] < b[j]) {
      ++i;
    } else {
      ++j;
    }
  }
  return common;
}

// The fraction of `wanted` ids (a cue's who or tags, as given) that `have` (sorted) holds.
float Coverage(const std::vector<uint32_t>& wanted, std::span<const uint32_t> have) {
  if (wanted.empty()) return 1.0f;
  size_t found = 0;
  for (uint32_t w : wanted) found += std::binary_search(have.begin(), have.end(), w) ? 1 : 0;
  return static_cast<float>(found) / static_cast<float>(wanted.size());
}

// Per-thread scratch of the token match count: slot -> keys matched, stamped by generation
// so that a reset costs nothing.
struct MatchScratch {
  std::vector<uint32_t> stamp;
  std::vector<uint16_t> count;
  std::vector<uint32_t> touched;
  std::vector<uint32_t> postings;  // the entries read, copied out under the index's lock
  uint32_t generation = 0;

  void Reset(size_t slots) {
    if (stamp.size() < slots) {
      stamp.resize(slots, 0);
      count.resize(slots, 0);
    }
    if (++generation == 0) {
      std::fill(stamp.begin(), stamp.end(), 0);
      generation = 1;
    }
    touched.clear();
    postings.clear();
  }
  void Add(uint32_t slot) {
    if (slot >= stamp.size()) return;
    if (stamp[slot] != generation) {
      stamp[slot] = generation;
      count[slot] = 0;
      touched.push_back(slot);
    }
    if (count[slot] < UINT16_MAX) ++count[slot];
  }
};

}  // namespace

std::span<const uint32_t> TokenSet::words_span() const { return {ids.data(), words}; }
std::span<const uint32_t> TokenSet::who_span() const { return {ids.data() + words, who}; }
std::span<const uint32_t> TokenSet::tags_span() const {
  return {ids.data() + words + who, ids.size() - words - who};
}

void Space::IndexTokens(uint32_t slot) {
  Meta& m = (*meta_)[slot];
  FieldKeys keys = KeysOf(m.what, m.where.empty() ? nullptr : &m.where, m.who, m.tags);
  TokenSet& t = m.tokens;
  t = TokenSet{};
  std::unique_lock lock(tokens_mu_);
  auto intern = [&](const std::string& key) {
    auto [it, inserted] = token_ids_.try_emplace(key, static_cast<uint32_t>(postings_.size()));
    if (inserted) postings_.emplace_back();
    return it->second;
  };
  auto group = [&](const std::vector<std::string>& ks) {
    const size_t begin = t.ids.size();
    for (const auto& k : ks) t.ids.push_back(intern(k));
    std::sort(t.ids.begin() + static_cast<std::ptrdiff_t>(begin), t.ids.end());
    t.ids.erase(std::unique(t.ids.begin() + static_cast<std::ptrdiff_t>(begin), t.ids.end()), t.ids.end());
    return static_cast<uint32_t>(t.ids.size() - begin);
  };
  t.words = group(keys.words);
  t.who = group(keys.who);
  group(keys.tags);
  if (keys.where) t.where = intern(*keys.where);
  for (uint32_t id : t.ids) postings_[id].push_back(slot);
  if (t.where != kNoToken) postings_[t.where].push_back(slot);
}

void Space::UnindexTokens(uint32_t slot) {
  const TokenSet& t = (*meta_)[slot].tokens;
  std::unique_lock lock(tokens_mu_);
  auto drop = [&](uint32_t id) { std::erase(postings_[id], slot); };
  for (uint32_t id : t.ids) drop(id);
  if (t.where != kNoToken) drop(t.where);
}

Result<CompletionResult> Space::Complete(const CompletionCue& cue) const {
  const size_t dim = options_.dim;
  if (cue.k == 0 || cue.k > 1000) return Status::InvalidArgument("k must be in [1, 1000]");
  // Which embedding values are known: a prefix (the usual cue) or those a mask names.
  std::vector<float> known(dim, 0.0f);
  std::vector<uint8_t> is_known(dim, 0);
  size_t known_count = 0;
  if (!cue.mask.empty()) {
    if (cue.mask.size() != dim || cue.embedding.size() != dim) {
      return Status::InvalidArgument("with a mask, embedding and mask need ", dim, " values");
    }
    for (size_t i = 0; i < dim; ++i) {
      if (cue.mask[i]) is_known[i] = 1;
    }
  } else {
    if (cue.embedding.size() > dim) {
      return Status::InvalidArgument("partial embedding has ", cue.embedding.size(), " values, more than ", dim);
    }
    for (size_t i = 0; i < cue.embedding.size(); ++i) is_known[i] = 1;
  }
  std::vector<uint32_t> known_dims;  // empty when the known values are a prefix
  size_t prefix = 0;
  for (size_t i = 0; i < dim; ++i) {
    if (!is_known[i]) continue;
    if (!std::isfinite(cue.embedding[i])) return Status::InvalidArgument("embedding[", i, "] is not finite");
    known[i] = cue.embedding[i];
    ++known_count;
  }
  while (prefix < dim && is_known[prefix]) ++prefix;
  if (prefix < known_count) {
    for (size_t i = 0; i < dim; ++i) {
      if (is_known[i]) known_dims.push_back(static_cast<uint32_t>(i));
    }
  }
  const bool has_fields = cue.what || cue.where || !cue.who.empty() || !cue.tags.empty();
  const float known_norm = std::sqrt(kernels::SquaredNorm(known.data(), dim));
  const bool has_embedding = known_count > 0 && known_norm > 0.0f;
  if (!has_embedding && !has_fields) {
    return Status::InvalidArgument("the cue has no known field and no non-zero embedding values");
  }

  // Candidates, bounded: the vector index's hits for the known values (zeros elsewhere), and
  // the episodes that share the most of the cue's tokens.
  std::vector<uint32_t> cand;
  if (has_embedding) {
    std::vector<float> q = known;
    kernels::Normalize(q.data(), dim);
    const size_t want = std::max<size_t>(50, cue.k * 4);
    for (const auto& h : index_->Search(q.data(), want, static_cast<int>(want * 2))) cand.push_back(h.slot);
  }
  // The cue's tokens as ids, looked up once; a token the space has never seen matches nothing.
  FieldKeys keys = KeysOf(cue.what ? *cue.what : std::string_view(), cue.where ? &*cue.where : nullptr, cue.who, cue.tags);
  std::vector<uint32_t> cue_words, cue_who, cue_tags;
  uint32_t cue_where = kNoToken;  // kNoToken: the cue's place is "" (matches episodes with none)
  thread_local MatchScratch match;
  match.Reset(next_slot_.load(std::memory_order_acquire));
  if (has_fields) {
    std::vector<std::pair<size_t, uint32_t>> lists;  // (postings length, token id)
    std::shared_lock lock(tokens_mu_);
    auto id_of = [&](const std::string& key) {
      auto it = token_ids_.find(key);
      if (it == token_ids_.end()) return kUnknownToken;
      lists.emplace_back(postings_[it->second].size(), it->second);
      return it->second;
    };
    for (const auto& k : keys.words) {
      if (uint32_t id = id_of(k); id != kUnknownToken) cue_words.push_back(id);
    }
    for (const auto& k : keys.who) cue_who.push_back(id_of(k));
    for (const auto& k : keys.tags) cue_tags.push_back(id_of(k));
    if (cue.where && !cue.where->empty()) cue_where = id_of(*keys.where);
    std::sort(cue_words.begin(), cue_words.end());
    // Rarest first, within the budget; the most recent part of the list that overruns it.
    std::sort(lists.begin(), lists.end());
    lists.erase(std::unique(lists.begin(), lists.end()), lists.end());
    for (const auto& [len, id] : lists) {
      const size_t room = kPostingsBudget - match.postings.size();
      if (room == 0) break;
      const auto& p = postings_[id];
      const size_t take = std::min(room, p.size());
      match.postings.insert(match.postings.end(), p.end() - static_cast<std::ptrdiff_t>(take), p.end());
    }
  }
  for (uint32_t slot : match.postings) match.Add(slot);
  if (match.touched.size() > kTokenCandidates) {
    // Most keys matched first, then the most recent.
    auto key = [&](uint32_t slot) { return (static_cast<uint64_t>(match.count[slot]) << 32) | slot; };
    std::nth_element(match.touched.begin(), match.touched.begin() + kTokenCandidates, match.touched.end(),
                     [&](uint32_t a, uint32_t b) { return key(a) > key(b); });
    match.touched.resize(kTokenCandidates);
  }
  cand.insert(cand.end(), match.touched.begin(), match.touched.end());
  std::sort(cand.begin(), cand.end());
  cand.erase(std::unique(cand.begin(), cand.end()), cand.end());

  struct Scored {
    uint32_t slot;
    float score;
  };
  std::vector<Scored> scored;
  std::vector<float> gathered(known_dims.size());
  const size_t cue_word_count = keys.words.size();
  for (uint32_t slot : cand) {
    if (!IsLive(slot)) continue;
    const TokenSet& t = (*meta_)[slot].tokens;
    float total = 0, parts = 0;
    if (has_embedding) {
      // Cosine over the known dimensions: `known` is zero elsewhere, so the full dot product is
      // the masked one; the episode's norm is taken over the known dimensions only.
      const float* row = embeddings_.Row(slot);
      const float dot = kernels::Dot(known.data(), row, dim);
      float norm2;
      if (known_dims.empty()) {
        norm2 = kernels::SquaredNorm(row, prefix);
      } else {
        for (size_t i = 0; i < known_dims.size(); ++i) gathered[i] = row[known_dims[i]];
        norm2 = kernels::SquaredNorm(gathered.data(), gathered.size());
      }
      const float masked = norm2 > 0 ? dot / (std::sqrt(norm2) * known_norm) : 0.0f;
      total += std::max(masked, 0.0f);
      parts += 1;
    }
    if (cue.what) {  // Jaccard over distinct words; the cue's unknown words are in the union
      const auto words = t.words_span();
      const size_t common = CountCommon(cue_words, words);
      const size_t uni = cue_word_count + words.size() - common;
      total += uni == 0 ? 1.0f : static_cast<float>(common) / static_cast<float>(uni);
      parts += 1;
    }
    if (cue.where) {
      total += t.where == cue_where ? 1.0f : 0.0f;
      parts += 1;
    }
    if (!cue.who.empty()) {
      total += Coverage(cue_who, t.who_span());
      parts += 1;
    }
    if (!cue.tags.empty()) {
      total += Coverage(cue_tags, t.tags_span());
      parts += 1;
    }
    scored.push_back({slot, parts > 0 ? total / parts : 0.0f});
  }
  if (scored.empty()) return Status::NotFound("nothing in space '", name_, "' matches the cue");
  TopK(scored, cue.k, [](const Scored& a, const Scored& b) {
    return a.score > b.score || (a.score == b.score && a.slot < b.slot);
  });

  CompletionResult out;
  for (const auto& s : scored) out.sources.push_back({slot_ids_[s.slot], s.score});
  // Matches vote with weight exp((score - best) / 0.05): a clear best match dominates, near
  // ties share. Field confidences and the filled-in embedding both use these weights.
  std::vector<float> vote(scored.size());
  float weight_sum = 0;
  for (size_t i = 0; i < scored.size(); ++i) {
    vote[i] = std::exp((scored[i].score - scored[0].score) / 0.05f);
    weight_sum += vote[i];
  }
  const Meta& best = (*meta_)[scored[0].slot];
  Episode& e = out.completed;
  e.what = cue.what ? *cue.what : best.what;
  e.where = cue.where ? *cue.where : best.where;
  e.who = cue.who.empty() ? best.who : cue.who;
  e.tags = cue.tags.empty() ? best.tags : cue.tags;
  e.when_us = best.when_us;
  // Each filled field's confidence: the score-weighted share of the matches that agree with it.
  auto agree = [&](auto same) {
    if (weight_sum <= 0) return 0.0f;
    float w = 0;
    for (size_t i = 0; i < scored.size(); ++i) {
      if (same((*meta_)[scored[i].slot])) w += vote[i];
    }
    return w / weight_sum;
  };
  float conf_sum = 0;
  auto fill = [&](const char* field, bool given, auto same) {
    if (given) return;
    const float c = agree(same);
    out.fields.push_back({field, c});
    out.completed_fields.push_back(field);
    conf_sum += c;
  };
  fill("what", cue.what.has_value(), [&](const Meta& m) { return m.what == best.what; });
  fill("where", cue.where.has_value(), [&](const Meta& m) { return m.where == best.where; });
  fill("who", !cue.who.empty(), [&](const Meta& m) { return m.who == best.who; });
  fill("tags", !cue.tags.empty(), [&](const Meta& m) { return m.tags == best.tags; });
  fill("when", false, [&](const Meta& m) { return m.when_us == best.when_us; });
  // The embedding: known values kept (scaled to the matches' norm over those dimensions), the
  // rest the vote-weighted mean of the matches.
  e.embedding.assign(dim, 0.0f);
  float known_part_norm = 0;
  for (size_t j = 0; j < scored.size(); ++j) {
    const float* row = embeddings_.Row(scored[j].slot);
    const float w = vote[j] / weight_sum;
    double part = 0;
    for (size_t i = 0; i < dim; ++i) {
      if (is_known[i]) {
        part += static_cast<double>(row[i]) * row[i];
      } else {
        e.embedding[i] += w * row[i];
      }
    }
    known_part_norm += w * static_cast<float>(std::sqrt(part));
  }
  if (known_count < dim) out.completed_fields.push_back("embedding");
  for (size_t i = 0; i < dim; ++i) {
    if (is_known[i] && known_norm > 0) e.embedding[i] = known[i] / known_norm * known_part_norm;
  }
  kernels::Normalize(e.embedding.data(), dim);
  const float field_conf = out.fields.empty() ? 1.0f : conf_sum / static_cast<float>(out.fields.size());
  out.confidence = std::clamp(scored[0].score * field_conf, 0.0f, 1.0f);
  e.confidence = out.confidence;
  return out;
}

}  // namespace engram
