// Space: the token index and pattern completion.
#include "engine/space.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <unordered_set>

#include "engine/space_internal.h"
#include "kernels/kernels.h"

namespace engram {

using internal::TopK;

namespace {
std::string Lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

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

// |a ∩ b| / |a ∪ b| over sorted unique word lists.
float Jaccard(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  if (a.empty() && b.empty()) return 1.0f;
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
  return static_cast<float>(common) / static_cast<float>(a.size() + b.size() - common);
}

// Fraction of `wanted` found in `have` (case-insensitive).
float Coverage(const std::vector<std::string>& wanted, const std::vector<std::string>& have) {
  if (wanted.empty()) return 1.0f;
  size_t found = 0;
  for (const auto& w : wanted) {
    const std::string lw = Lower(w);
    for (const auto& h : have) {
      if (Lower(h) == lw) {
        ++found;
        break;
      }
    }
  }
  return static_cast<float>(found) / static_cast<float>(wanted.size());
}

}  // namespace

size_t Space::Tokenise(uint32_t slot, std::vector<std::string>* keys) const {
  const Meta& m = (*meta_)[slot];
  keys->clear();
  for (auto& w : WordsOf(m.what)) keys->push_back("w:" + w);
  if (!m.where.empty()) keys->push_back("p:" + Lower(m.where));
  for (auto& w : m.who) keys->push_back("u:" + Lower(w));
  for (auto& t : m.tags) keys->push_back("t:" + Lower(t));
  return keys->size();
}

void Space::IndexTokens(uint32_t slot) {
  std::vector<std::string> keys;
  if (Tokenise(slot, &keys) == 0) return;
  std::unique_lock lock(tokens_mu_);
  for (auto& k : keys) postings_[k].push_back(slot);
}

void Space::UnindexTokens(uint32_t slot) {
  std::vector<std::string> keys;
  if (Tokenise(slot, &keys) == 0) return;
  std::unique_lock lock(tokens_mu_);
  for (auto& k : keys) {
    auto it = postings_.find(k);
    if (it == postings_.end()) continue;
    std::erase(it->second, slot);
    if (it->second.empty()) postings_.erase(it);
  }
}

Result<CompletionResult> Space::Complete(const CompletionCue& cue) const {
  const size_t dim = options_.dim;
  if (cue.k == 0 || cue.k > 1000) return Status::InvalidArgument("k must be in [1, 1000]");
  // Which embedding values are known.
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
  for (size_t i = 0; i < dim; ++i) {
    if (!is_known[i]) continue;
    if (!std::isfinite(cue.embedding[i])) return Status::InvalidArgument("embedding[", i, "] is not finite");
    known[i] = cue.embedding[i];
    ++known_count;
  }
  const bool has_fields = cue.what || cue.where || !cue.who.empty() || !cue.tags.empty();
  const float known_norm = std::sqrt(kernels::SquaredNorm(known.data(), dim));
  const bool has_embedding = known_count > 0 && known_norm > 0.0f;
  if (!has_embedding && !has_fields) {
    return Status::InvalidArgument("the cue has no known field and no non-zero embedding values");
  }

  // Candidates: from the vector index (known values, zeros elsewhere) and from the token index.
  std::unordered_set<uint32_t> cand;
  if (has_embedding) {
    std::vector<float> q = known;
    kernels::Normalize(q.data(), dim);
    const size_t want = std::max<size_t>(50, cue.k * 4);
    for (const auto& h : index_->Search(q.data(), want, static_cast<int>(want * 2))) cand.insert(h.slot);
  }
  const std::vector<std::string> cue_words = cue.what ? WordsOf(*cue.what) : std::vector<std::string>{};
  if (has_fields) {
    std::vector<std::string> keys;
    for (auto& w : cue_words) keys.push_back("w:" + w);
    if (cue.where) keys.push_back("p:" + Lower(*cue.where));
    for (auto& w : cue.who) keys.push_back("u:" + Lower(w));
    for (auto& t : cue.tags) keys.push_back("t:" + Lower(t));
    std::shared_lock lock(tokens_mu_);
    for (auto& k : keys) {
      auto it = postings_.find(k);
      if (it == postings_.end()) continue;
      // Long postings say little; take the most recent part of each.
      const auto& p = it->second;
      for (size_t i = p.size() > 2000 ? p.size() - 2000 : 0; i < p.size(); ++i) cand.insert(p[i]);
    }
  }
  struct Scored {
    uint32_t slot;
    float score;
  };
  std::vector<Scored> scored;
  for (uint32_t slot : cand) {
    if (!IsLive(slot)) continue;
    const Meta& m = (*meta_)[slot];
    float total = 0, parts = 0;
    if (has_embedding) {
      const float* row = embeddings_.Row(slot);
      double dot = 0, norm = 0;
      for (size_t i = 0; i < dim; ++i) {
        if (!is_known[i]) continue;
        dot += static_cast<double>(known[i]) * row[i];
        norm += static_cast<double>(row[i]) * row[i];
      }
      const float masked = norm > 0 ? static_cast<float>(dot / (std::sqrt(norm) * known_norm)) : 0.0f;
      total += std::max(masked, 0.0f);
      parts += 1;
    }
    if (cue.what) {
      total += Jaccard(cue_words, WordsOf(m.what));
      parts += 1;
    }
    if (cue.where) {
      total += Lower(*cue.where) == Lower(m.where) ? 1.0f : 0.0f;
      parts += 1;
    }
    if (!cue.who.empty()) {
      total += Coverage(cue.who, m.who);
      parts += 1;
    }
    if (!cue.tags.empty()) {
      total += Coverage(cue.tags, m.tags);
      parts += 1;
    }
    scored.push_back({slot, parts > 0 ? total / parts : 0.0f});
  }
  if (scored.empty()) return Status::NotFound("nothing in space '", name_, "' matches the cue");
  TopK(scored, cue.k, [](const Scored& a, const Scored& b) {
    return a.score > b.score || (a.score == b.score && a.slot < b.slot);
  });

  CompletionResult out;
  for (const auto& s : scored) out.sources.push_back({(*meta_)[s.slot].id, s.score});
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
  // The embedding: known values kept, the rest the score-weighted mean of the matches.
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
