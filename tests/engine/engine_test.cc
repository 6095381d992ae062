#include "engine/engine.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <sstream>

#include "core/random.h"
#include "kernels/kernels.h"

namespace engram {
namespace {

constexpr uint32_t kDim = 32;

std::vector<float> RandomVec(Rng& rng, size_t dim = kDim) {
  std::vector<float> v(dim);
  for (auto& x : v) x = static_cast<float>(rng.Normal());
  return v;
}

std::vector<float> Noisy(const std::vector<float>& base, Rng& rng, double noise) {
  std::vector<float> v = base;
  for (auto& x : v) x += static_cast<float>(noise * rng.Normal());
  return v;
}

EngineOptions SmallOptions(std::string dir = "") {
  EngineOptions o;
  o.data_dir = std::move(dir);
  o.default_space.dim = kDim;
  o.background_consolidation = false;
  return o;
}

std::string FreshDir(const std::string& name) {
  std::string dir = testing::TempDir() + "/engram_engine_test_" + name + "_" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  return dir;
}

EpisodeSpec Spec(std::string id, std::vector<float> emb, std::string what = "") {
  EpisodeSpec s;
  s.id = std::move(id);
  s.embedding = std::move(emb);
  s.what = std::move(what);
  return s;
}

TEST(SpaceTest, RememberThenGetReturnsEveryFieldWithUnitEmbedding) {
  auto engine = Engine::Open(SmallOptions()).value();
  Space* space = engine->GetSpace("default").value();
  Rng rng(1);
  EpisodeSpec s = Spec("first", RandomVec(rng), "coffee with Ada in the library");
  s.where = "library";
  s.who = {"Ada", "me"};
  s.tags = {"social"};
  s.when_us = 1700000000000000;
  s.confidence = 0.9f;
  ASSERT_EQ(space->Remember(s).value(), "first");
  Episode e = space->Get("first").value();
  EXPECT_EQ(e.what, s.what);
  EXPECT_EQ(e.where, "library");
  EXPECT_EQ(e.who, s.who);
  EXPECT_EQ(e.tags, s.tags);
  EXPECT_EQ(e.when_us, s.when_us);
  EXPECT_FLOAT_EQ(e.confidence, 0.9f);
  EXPECT_NEAR(kernels::SquaredNorm(e.embedding.data(), kDim), 1.0f, 1e-5);
  // A generated id when none is given.
  auto generated = space->Remember(Spec("", RandomVec(rng)));
  ASSERT_TRUE(generated.ok());
  EXPECT_FALSE(generated->empty());
  EXPECT_TRUE(space->Get(*generated).ok());
}

TEST(SpaceTest, BadInputIsRejectedAndLeavesDataIntact) {
  auto engine = Engine::Open(SmallOptions()).value();
  Space* space = engine->GetSpace("default").value();
  Rng rng(2);
  ASSERT_TRUE(space->Remember(Spec("a", RandomVec(rng))).ok());
  EXPECT_EQ(space->Remember(Spec("b", RandomVec(rng, kDim + 1))).error().code(), StatusCode::kInvalidArgument);
  auto nan = RandomVec(rng);
  nan[3] = std::nanf("");
  Status st = space->Remember(Spec("c", nan)).error();
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("embedding[3] is NaN"), std::string::npos) << st.message();
  auto inf = RandomVec(rng);
  inf[0] = INFINITY;
  EXPECT_EQ(space->Remember(Spec("d", inf)).error().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(space->Remember(Spec("e", std::vector<float>(kDim, 0.0f))).error().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(space->Remember(Spec("a", RandomVec(rng))).error().code(), StatusCode::kAlreadyExists);
  // A batch with one bad episode stores none of them.
  std::vector<EpisodeSpec> batch{Spec("x1", RandomVec(rng)), Spec("x2", RandomVec(rng, 3))};
  EXPECT_FALSE(space->RememberBatch(batch).ok());
  EXPECT_EQ(space->Get("x1").error().code(), StatusCode::kNotFound);
  EXPECT_EQ(space->Stats().episodes, 1u);
  RecallQuery q;
  q.cue = RandomVec(rng, 5);
  EXPECT_EQ(space->Recall(q).error().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(space->Search(RandomVec(rng), 0, 0).error().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(space->Neighbors("missing", 1, 10).error().code(), StatusCode::kNotFound);
  EXPECT_EQ(space->Forget("missing").code(), StatusCode::kNotFound);
  EXPECT_TRUE(space->Get("a").ok());
}

TEST(EngineTest, SpacesAreIsolated) {
  auto engine = Engine::Open(SmallOptions()).value();
  Space* a = engine->CreateSpace("alpha").value();
  Space* b = engine->CreateSpace("beta").value();
  EXPECT_EQ(engine->CreateSpace("alpha").error().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(engine->CreateSpace("bad/name").error().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(engine->GetSpace("gamma").error().code(), StatusCode::kNotFound);
  Rng rng(3);
  auto v = RandomVec(rng);
  ASSERT_TRUE(a->Remember(Spec("shared-id", v, "alpha's")).ok());
  ASSERT_TRUE(b->Remember(Spec("shared-id", RandomVec(rng), "beta's")).ok());
  EXPECT_EQ(a->Get("shared-id")->what, "alpha's");
  EXPECT_EQ(b->Get("shared-id")->what, "beta's");
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(b->Remember(Spec("b" + std::to_string(i), RandomVec(rng))).ok());
  // A search in alpha never returns beta's episodes.
  auto hits = a->Search(v, 20, 0).value();
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].id, "shared-id");
  ASSERT_TRUE(a->Forget("shared-id").ok());
  EXPECT_TRUE(b->Get("shared-id").ok());
  EXPECT_EQ(engine->ListSpaces().size(), 3u);
}

TEST(SpaceTest, RecallFindsTheCueAndSpreadsToLinkedEpisodes) {
  auto engine = Engine::Open(SmallOptions()).value();
  Space* space = engine->GetSpace("default").value();
  Rng rng(4);
  std::vector<EpisodeSpec> batch;
  for (int i = 0; i < 300; ++i) batch.push_back(Spec("e" + std::to_string(i), RandomVec(rng)));
  ASSERT_TRUE(space->RememberBatch(batch, {}, 2).ok());
  // "far" is unrelated to the cue but explicitly linked to e7.
  ASSERT_TRUE(space->Remember(Spec("far", RandomVec(rng))).ok());
  ASSERT_TRUE(space->Link({"e7", "far", 1.0f}).ok());

  RecallQuery q;
  q.cue = batch[7].embedding;
  q.k = 50;
  q.hops = 2;
  RecallResult r = space->Recall(q).value();
  ASSERT_FALSE(r.hits.empty());
  EXPECT_EQ(r.hits[0].id, "e7");
  EXPECT_NEAR(r.hits[0].similarity, 1.0f, 1e-4);
  EXPECT_GT(r.activated, 1u);
  bool far_found = false;
  for (const auto& h : r.hits) {
    if (h.id == "far") {
      far_found = true;
      EXPECT_GT(h.activation, 0.0f);
    }
  }
  EXPECT_TRUE(far_found) << "spreading activation should reach the linked episode";
  // Without spreading, the unrelated episode is not among the hits.
  q.hops = 0;
  RecallResult plain = space->Recall(q).value();
  for (const auto& h : plain.hits) EXPECT_NE(h.id, "far");
  // Recall reinforces: the top hit's access count went up.
  EXPECT_GE(space->Get("e7")->access_count, 1u);
}

TEST(SpaceTest, NeighborsAndActivationFollowTheGraph) {
  auto engine = Engine::Open(SmallOptions()).value();
  Space* space = engine->GetSpace("default").value();
  Rng rng(5);
  SpaceOptions opts = space->options();
  Space* chain = engine->CreateSpace("chain", [&] { auto o = opts; o.auto_link_k = 0; return o; }()).value();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(chain->Remember(Spec("n" + std::to_string(i), RandomVec(rng))).ok());
  for (int i = 0; i + 1 < 5; ++i) {
    ASSERT_TRUE(chain->Link({"n" + std::to_string(i), "n" + std::to_string(i + 1), 0.5f}).ok());
  }
  auto one = chain->Neighbors("n0", 1, 100).value();
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].id, "n1");
  auto three = chain->Neighbors("n0", 3, 100).value();
  ASSERT_EQ(three.size(), 3u);
  EXPECT_EQ(three[2].id, "n3");
  EXPECT_EQ(three[2].hop, 3);
  EXPECT_FLOAT_EQ(three[2].weight, 0.125f);
  std::vector<std::string> seeds{"n0"};
  auto act = chain->Activate(seeds, 2, 10).value();
  ASSERT_EQ(act.size(), 3u);  // n0, n1, n2
  EXPECT_EQ(act[0].id, "n0");
  EXPECT_GT(act[1].activation, act[2].activation);
}

TEST(SpaceTest, NeighborsEqualABreadthFirstWalkOverTheLinksInTheirOrder) {
  auto engine = Engine::Open(SmallOptions()).value();
  SpaceOptions opts = engine->GetSpace("default").value()->options();
  opts.auto_link_k = 0;
  Space* g = engine->CreateSpace("graph", opts).value();
  Rng rng(11);
  constexpr int kNodes = 300;
  for (int i = 0; i < kNodes; ++i) ASSERT_TRUE(g->Remember(Spec("v" + std::to_string(i), RandomVec(rng))).ok());
  // A reference adjacency built the way the engine builds its own: both directions, in link
  // order, a repeated link keeping the larger weight.
  std::vector<std::vector<std::pair<int, float>>> adj(kNodes);
  auto add = [&](int a, int b, float w) {
    for (auto& e : adj[a]) {
      if (e.first == b) {
        e.second = std::max(e.second, w);
        return;
      }
    }
    adj[a].emplace_back(b, w);
  };
  for (int e = 0; e < 1500; ++e) {
    const int a = static_cast<int>(rng.Below(kNodes)), b = static_cast<int>(rng.Below(kNodes));
    if (a == b) continue;
    const float w = 0.1f + 0.9f * static_cast<float>(rng.Uniform());
    ASSERT_TRUE(g->Link({"v" + std::to_string(a), "v" + std::to_string(b), w}).ok());
    add(a, b, w);
    add(b, a, w);
  }
  ASSERT_TRUE(g->Forget("v7").ok());  // a deleted episode is neither reported nor walked through
  for (int start : {0, 1, 42, 299}) {
    for (int hops : {1, 2, 3}) {
      for (size_t limit : {size_t{5}, size_t{60}, size_t{100000}}) {
        std::vector<NeighborHit> want;
        std::vector<char> seen(kNodes, 0);
        seen[start] = 1;
        std::vector<std::pair<int, float>> frontier{{start, 1.0f}};
        for (int h = 1; h <= hops && want.size() < limit; ++h) {
          std::vector<std::pair<int, float>> next;
          for (auto [u, wu] : frontier) {
            for (auto [v, w] : adj[u]) {
              if (seen[v] || v == 7) continue;
              seen[v] = 1;
              next.emplace_back(v, wu * w);
              want.push_back({"v" + std::to_string(v), h, wu * w});
              if (want.size() >= limit) break;
            }
            if (want.size() >= limit) break;
          }
          frontier.swap(next);
        }
        auto got = g->Neighbors("v" + std::to_string(start), hops, limit).value();
        ASSERT_EQ(got.size(), want.size()) << start << " " << hops << " " << limit;
        for (size_t i = 0; i < got.size(); ++i) {
          EXPECT_EQ(got[i].id, want[i].id);
          EXPECT_EQ(got[i].hop, want[i].hop);
          EXPECT_FLOAT_EQ(got[i].weight, want[i].weight);
        }
      }
    }
  }
}

TEST(SpaceTest, ForgetRemovesEpisodeEdgesAndSearchHits) {
  auto engine = Engine::Open(SmallOptions()).value();
  Space* space = engine->GetSpace("default").value();
  Rng rng(6);
  std::vector<EpisodeSpec> batch;
  for (int i = 0; i < 100; ++i) batch.push_back(Spec("e" + std::to_string(i), RandomVec(rng)));
  ASSERT_TRUE(space->RememberBatch(batch).ok());
  const size_t edges_before = space->Stats().edges;
  ASSERT_GT(edges_before, 0u);
  ASSERT_TRUE(space->Forget("e10").ok());
  EXPECT_EQ(space->Get("e10").error().code(), StatusCode::kNotFound);
  for (const auto& h : space->Search(batch[10].embedding, 10, 0).value()) EXPECT_NE(h.id, "e10");
  EXPECT_LT(space->Stats().edges, edges_before);
  EXPECT_EQ(space->Stats().episodes, 99u);
  EXPECT_EQ(space->Stats().deleted, 1u);
  // The id can be used again.
  EXPECT_TRUE(space->Remember(Spec("e10", RandomVec(rng))).ok());
}

TEST(SpaceTest, ConsolidationFormsConceptsThatSemanticRecallSearches) {
  auto engine = Engine::Open(SmallOptions()).value();
  Space* space = engine->GetSpace("default").value();
  Rng rng(7);
  std::vector<std::vector<float>> centres;
  for (int c = 0; c < 4; ++c) centres.push_back(RandomVec(rng));
  std::vector<EpisodeSpec> batch;
  for (int i = 0; i < 200; ++i) batch.push_back(Spec("e" + std::to_string(i), Noisy(centres[i % 4], rng, 0.1)));
  ASSERT_TRUE(space->RememberBatch(batch).ok());

  RecallQuery q;
  q.cue = centres[2];
  q.mode = RecallMode::kSemantic;
  EXPECT_TRUE(space->Recall(q)->semantic_fallback);  // nothing consolidated yet

  ConsolidationReport rep = space->Consolidate().value();
  EXPECT_EQ(rep.episodes_processed, 200u);
  EXPECT_EQ(rep.concepts_total, 4u);
  EXPECT_EQ(space->ConsolidationBacklog(), 0u);
  RecallResult r = space->Recall(q).value();
  EXPECT_FALSE(r.semantic_fallback);
  ASSERT_EQ(r.hits.size(), 10u);
  const std::string concept_of_2 = space->Get("e2")->concept_id;
  EXPECT_FALSE(concept_of_2.empty());
  for (const auto& h : r.hits) {
    EXPECT_EQ(std::stoi(h.id.substr(1)) % 4, 2) << h.id;
    EXPECT_EQ(h.concept_id, concept_of_2);
  }
  // Incremental: only new episodes are processed.
  ASSERT_TRUE(space->Remember(Spec("late", Noisy(centres[1], rng, 0.1))).ok());
  rep = space->Consolidate().value();
  EXPECT_EQ(rep.episodes_processed, 1u);
  EXPECT_EQ(rep.concepts_created, 0u);
  // Blended merges both and still ranks the cluster first.
  q.mode = RecallMode::kBlended;
  r = space->Recall(q).value();
  ASSERT_FALSE(r.hits.empty());
  EXPECT_EQ(std::stoi(r.hits[0].id.substr(1)) % 4, 2);
}

TEST(SpaceTest, PatternCompletionFillsMissingFieldsFromBestMatch) {
  auto engine = Engine::Open(SmallOptions()).value();
  Space* space = engine->GetSpace("default").value();
  Rng rng(8);
  auto v = RandomVec(rng);
  EpisodeSpec s = Spec("meeting", v, "planning meeting about the launch");
  s.where = "room 4";
  s.who = {"grace", "alan"};
  s.tags = {"work"};
  ASSERT_TRUE(space->Remember(s).ok());
  for (int i = 0; i < 50; ++i) {
    EpisodeSpec o = Spec("o" + std::to_string(i), RandomVec(rng), "lunch number " + std::to_string(i));
    o.where = "cafe";
    ASSERT_TRUE(space->Remember(o).ok());
  }
  // Fields only.
  CompletionCue cue;
  cue.what = "launch planning";
  CompletionResult r = space->Complete(cue).value();
  EXPECT_EQ(r.sources[0].id, "meeting");
  EXPECT_EQ(r.completed.where, "room 4");
  EXPECT_EQ(r.completed.who, s.who);
  EXPECT_GT(r.confidence, 0.0f);
  // Half an embedding only.
  CompletionCue half;
  half.embedding.assign(v.begin(), v.begin() + kDim / 2);
  r = space->Complete(half).value();
  EXPECT_EQ(r.sources[0].id, "meeting");
  EXPECT_EQ(r.completed.what, s.what);
  ASSERT_EQ(r.completed.embedding.size(), kDim);
  Episode stored = space->Get("meeting").value();
  EXPECT_GT(kernels::Dot(r.completed.embedding.data(), stored.embedding.data(), kDim), 0.9f);
  EXPECT_EQ(space->Complete(CompletionCue{}).error().code(), StatusCode::kInvalidArgument);
}

// The completion score of docs/http_api.md computed over every episode, with strings: the
// engine's answer must be the best of these, although it scores only a bounded set.
struct CompletionReference {
  static std::vector<std::string> Words(const std::string& text) {
    std::vector<std::string> w;
    std::string cur;
    for (char ch : text) {
      const unsigned char c = static_cast<unsigned char>(ch);
      if (std::isalnum(c) || c >= 0x80) {
        cur.push_back(static_cast<char>(std::tolower(c)));
      } else if (!cur.empty()) {
        w.push_back(cur);
        cur.clear();
      }
    }
    if (!cur.empty()) w.push_back(cur);
    std::sort(w.begin(), w.end());
    w.erase(std::unique(w.begin(), w.end()), w.end());
    return w;
  }
  static float Score(const CompletionCue& cue, const EpisodeSpec& e, const std::vector<float>& unit) {
    float total = 0, parts = 0;
    const size_t dim = unit.size();
    double dot = 0, nr = 0, nk = 0;
    for (size_t i = 0; i < dim; ++i) {
      const bool known = cue.mask.empty() ? i < cue.embedding.size() : static_cast<bool>(cue.mask[i]);
      if (!known) continue;
      dot += cue.embedding[i] * unit[i];
      nr += unit[i] * unit[i];
      nk += cue.embedding[i] * cue.embedding[i];
    }
    if (nk > 0) {
      total += std::max(0.0f, static_cast<float>(dot / std::sqrt(nr * nk)));
      parts += 1;
    }
    if (cue.what) {
      auto a = Words(*cue.what), b = Words(e.what);
      std::vector<std::string> common;
      std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(common));
      const size_t uni = a.size() + b.size() - common.size();
      total += uni == 0 ? 1.0f : static_cast<float>(common.size()) / static_cast<float>(uni);
      parts += 1;
    }
    auto lower = [](std::string s) {
      for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      return s;
    };
    if (cue.where) {
      total += lower(*cue.where) == lower(e.where) ? 1.0f : 0.0f;
      parts += 1;
    }
    auto coverage = [&](const std::vector<std::string>& want, const std::vector<std::string>& have) {
      size_t found = 0;
      for (const auto& w : want) {
        found += std::any_of(have.begin(), have.end(), [&](const std::string& h) { return lower(h) == lower(w); }) ? 1 : 0;
      }
      return static_cast<float>(found) / static_cast<float>(want.size());
    };
    if (!cue.who.empty()) {
      total += coverage(cue.who, e.who);
      parts += 1;
    }
    if (!cue.tags.empty()) {
      total += coverage(cue.tags, e.tags);
      parts += 1;
    }
    return total / parts;
  }
};

TEST(SpaceTest, PatternCompletionFindsTheBestMatchOfAllEpisodesWithBoundedWork) {
  // Enough episodes that the cue's common words ("the", "in", "about": every episode has them)
  // overrun the token index's read budget, so the bounded candidate set is what is tested.
  auto engine = Engine::Open(SmallOptions()).value();
  Space* space = engine->GetSpace("default").value();
  Rng rng(21);
  const std::vector<std::string> people = {"ada", "alan", "grace", "edsger", "barbara", "ken", "dennis", "linus"};
  const std::vector<std::string> verbs = {"read", "wrote", "fixed", "reviewed", "sketched", "tested"};
  const std::vector<std::string> objects = {"notebook", "paper", "compiler", "schedule", "budget", "map"};
  const std::vector<std::string> places = {"Kitchen", "lab", "cafe", "Office", "park"};
  constexpr int kEpisodes = 9000;
  std::vector<EpisodeSpec> all;
  std::vector<std::vector<float>> unit;
  for (int i = 0; i < kEpisodes; ++i) {
    EpisodeSpec e = Spec("e" + std::to_string(i), RandomVec(rng));
    e.who = {people[rng.Below(people.size())]};
    if (rng.Below(3) == 0) e.who.push_back(people[rng.Below(people.size())]);
    e.where = places[rng.Below(places.size())];
    const std::string obj = objects[rng.Below(objects.size())];
    // The cue takes the first half of the words: two held by every episode, a person, a rare one.
    e.what = "the " + e.who[0] + " in the item" + std::to_string(rng.Below(400)) + " " +
             verbs[rng.Below(verbs.size())] + " a " + obj + " at the " + e.where;
    e.tags = {obj, "t" + std::to_string(rng.Below(20))};
    std::vector<float> u = e.embedding;
    kernels::Normalize(u.data(), u.size());
    unit.push_back(std::move(u));
    all.push_back(std::move(e));
  }
  for (int b = 0; b < kEpisodes; b += 1000) {
    ASSERT_TRUE(space->RememberBatch(std::span<const EpisodeSpec>(all).subspan(b, 1000), {}, 2).ok());
  }
  for (int q = 0; q < 60; ++q) {
    const EpisodeSpec& target = all[rng.Below(kEpisodes)];
    CompletionCue cue;
    std::istringstream words(target.what);
    std::vector<std::string> w;
    for (std::string s; words >> s;) w.push_back(s);
    std::string half;
    for (size_t i = 0; i < w.size() / 2; ++i) half += (i ? " " : "") + w[i];
    switch (q % 4) {
      case 0:  // the load test's cue: half the words and half the embedding
        cue.what = half;
        cue.embedding.assign(target.embedding.begin(), target.embedding.begin() + kDim / 2);
        break;
      case 1:  // words only
        cue.what = half + " unknownword";
        break;
      case 2:  // a masked embedding and the place, in another case
        cue.embedding = target.embedding;
        for (size_t i = 0; i < kDim; ++i) cue.mask.push_back(i % 3 != 0);
        cue.where = target.where == "lab" ? "LAB" : target.where;
        break;
      default:  // who and tags
        cue.who = target.who;
        cue.tags = {target.tags[0]};
        cue.what = half;
    }
    float best = -1;
    for (int i = 0; i < kEpisodes; ++i) best = std::max(best, CompletionReference::Score(cue, all[i], unit[i]));
    CompletionResult r = space->Complete(cue).value();
    ASSERT_FALSE(r.sources.empty());
    EXPECT_NEAR(r.sources[0].similarity, best, 1e-4) << "cue " << q << ": " << (cue.what ? *cue.what : "");
  }
}

TEST(EngineTest, RestartRecoversEpisodesEdgesAndIndex) {
  const std::string dir = FreshDir("restart");
  Rng rng(9);
  std::vector<EpisodeSpec> batch;
  for (int i = 0; i < 400; ++i) batch.push_back(Spec("e" + std::to_string(i), RandomVec(rng), "text " + std::to_string(i)));
  size_t edges = 0;
  {
    auto engine = Engine::Open(SmallOptions(dir)).value();
    Space* other = engine->CreateSpace("other").value();
    ASSERT_TRUE(other->Remember(Spec("o", RandomVec(rng))).ok());
    Space* space = engine->GetSpace("default").value();
    ASSERT_TRUE(space->RememberBatch(std::span(batch).subspan(0, 300)).ok());
    ASSERT_TRUE(engine->Checkpoint().ok());  // index snapshot at 300
    ASSERT_TRUE(space->RememberBatch(std::span(batch).subspan(300)).ok());
    ASSERT_TRUE(space->Forget("e5").ok());      // before the snapshot's watermark
    ASSERT_TRUE(space->Forget("e350").ok());    // after it
    ASSERT_TRUE(space->Link({"e1", "e399", 0.9f}).ok());
    edges = space->Stats().edges;
    // No Close(): destroying without a final checkpoint is the crash-like path below; here we
    // drop the engine normally, which checkpoints again. The crash test lives in integration.
  }
  auto engine = Engine::Open(SmallOptions(dir)).value();
  Space* space = engine->GetSpace("default").value();
  EXPECT_EQ(space->Stats().episodes, 398u);
  EXPECT_EQ(space->Stats().edges, edges);
  EXPECT_EQ(space->Get("e5").error().code(), StatusCode::kNotFound);
  EXPECT_EQ(space->Get("e399")->what, "text 399");
  EXPECT_TRUE(engine->GetSpace("other").value()->Get("o").ok());
  for (int i : {0, 150, 299, 300, 399}) {
    auto hits = space->Search(batch[i].embedding, 1, 0).value();
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0].id, "e" + std::to_string(i));
  }
  bool linked = false;
  for (const auto& n : space->Neighbors("e1", 1, 100).value()) linked |= n.id == "e399";
  EXPECT_TRUE(linked);
  engine.reset();
  std::filesystem::remove_all(dir);
}

TEST(EngineTest, RestartWithoutSnapshotRebuildsIndex) {
  const std::string dir = FreshDir("nosnap");
  Rng rng(10);
  std::vector<EpisodeSpec> batch;
  for (int i = 0; i < 200; ++i) batch.push_back(Spec("e" + std::to_string(i), RandomVec(rng)));
  {
    auto engine = Engine::Open(SmallOptions(dir)).value();
    ASSERT_TRUE(engine->GetSpace("default").value()->RememberBatch(batch).ok());
  }
  std::filesystem::remove_all(dir + "/index");
  std::filesystem::create_directories(dir + "/index");
  auto engine = Engine::Open(SmallOptions(dir)).value();
  Space* space = engine->GetSpace("default").value();
  EXPECT_EQ(space->Stats().index_size, 200u);
  EXPECT_EQ(space->Search(batch[42].embedding, 1, 0).value()[0].id, "e42");
  engine.reset();
  std::filesystem::remove_all(dir);
}

TEST(EngineTest, SpacesKeepTheirVectorPrecisionAcrossRestartsAndOldOnesReadAsFloat32) {
  const std::string dir = FreshDir("precision");
  Rng rng(11);
  std::vector<EpisodeSpec> batch;
  for (int i = 0; i < 100; ++i) batch.push_back(Spec("e" + std::to_string(i), RandomVec(rng)));
  {
    auto engine = Engine::Open(SmallOptions(dir)).value();  // default space: int8
    EXPECT_EQ(engine->GetSpace("default").value()->options().hnsw.precision, index::VectorPrecision::kInt8);
    for (auto [name, precision] : {std::pair{"f32", index::VectorPrecision::kFloat32},
                                   std::pair{"f16", index::VectorPrecision::kFloat16}}) {
      SpaceOptions o = engine->options().default_space;
      o.hnsw.precision = precision;
      ASSERT_TRUE(engine->CreateSpace(name, o).ok());
    }
    for (const char* name : {"default", "f32", "f16"}) ASSERT_TRUE(engine->GetSpace(name).value()->RememberBatch(batch).ok());
  }
  EngineOptions reopen = SmallOptions(dir);
  reopen.default_space.hnsw.precision = index::VectorPrecision::kFloat32;  // the stored choice wins
  auto engine = Engine::Open(reopen).value();
  for (auto [name, precision] : {std::pair{"default", index::VectorPrecision::kInt8},
                                 std::pair{"f32", index::VectorPrecision::kFloat32},
                                 std::pair{"f16", index::VectorPrecision::kFloat16}}) {
    Space* space = engine->GetSpace(name).value();
    EXPECT_EQ(space->options().hnsw.precision, precision) << name;
    EXPECT_EQ(space->Stats().index_size, 100u) << name;
    EXPECT_EQ(space->Search(batch[42].embedding, 1, 0).value()[0].id, "e42") << name;
  }
  engine.reset();
  std::filesystem::remove_all(dir);

  // Options stored before vector_bits existed described float32 indexes.
  SpaceOptions defaults;
  defaults.hnsw.precision = index::VectorPrecision::kFloat16;
  EXPECT_EQ(DecodeSpaceOptions("dim=8;m=16;ef_construction=128;ef_search=96", defaults)->hnsw.precision,
            index::VectorPrecision::kFloat32);
  SpaceOptions half = defaults;
  EXPECT_EQ(DecodeSpaceOptions(EncodeSpaceOptions(half), SpaceOptions{})->hnsw.precision, index::VectorPrecision::kFloat16);
  EXPECT_EQ(DecodeSpaceOptions("dim=8;vector_bits=8", defaults)->hnsw.precision, index::VectorPrecision::kInt8);
  EXPECT_EQ(DecodeSpaceOptions("dim=8;vector_bits=4", defaults).error().code(), StatusCode::kDataLoss);
}

TEST(SpaceTest, SearchReportsExactSimilaritiesFromInt8AndBinary16Indexes) {
  auto engine = Engine::Open(SmallOptions()).value();
  ASSERT_EQ(engine->GetSpace("default").value()->options().hnsw.precision, index::VectorPrecision::kInt8);
  SpaceOptions half = engine->options().default_space;
  half.hnsw.precision = index::VectorPrecision::kFloat16;
  ASSERT_TRUE(engine->CreateSpace("f16", half).ok());
  Rng rng(12);
  std::vector<std::vector<float>> unit;
  std::vector<EpisodeSpec> batch;
  for (int i = 0; i < 300; ++i) {
    auto v = RandomVec(rng);
    batch.push_back(Spec("e" + std::to_string(i), v));
    kernels::scalar::Normalize(v.data(), v.size());
    unit.push_back(std::move(v));
  }
  std::vector<float> q = RandomVec(rng);
  std::vector<float> unit_q = q;
  kernels::scalar::Normalize(unit_q.data(), unit_q.size());
  std::vector<std::pair<float, std::string>> exact;
  for (size_t i = 0; i < unit.size(); ++i) {
    exact.emplace_back(kernels::scalar::Dot(unit_q.data(), unit[i].data(), kDim), "e" + std::to_string(i));
  }
  std::sort(exact.rbegin(), exact.rend());
  for (const char* name : {"default", "f16"}) {
    Space* space = engine->GetSpace(name).value();
    ASSERT_TRUE(space->RememberBatch(batch).ok());
    auto hits = space->Search(q, 10, 0).value();
    ASSERT_EQ(hits.size(), 10u) << name;
    for (size_t i = 0; i < hits.size(); ++i) {
      const size_t slot = std::stoul(hits[i].id.substr(1));
      // Float rounding only: an int8 similarity would be ~1e-3 off at 32 dimensions, binary16 ~1e-4.
      EXPECT_NEAR(hits[i].similarity, kernels::scalar::Dot(unit_q.data(), unit[slot].data(), kDim), 2e-6)
          << name << " " << hits[i].id;
      if (i > 0) {
        EXPECT_GE(hits[i - 1].similarity, hits[i].similarity) << name;
      }
    }
    // 300 vectors are few enough for the graph search to find the true nearest ten, and the
    // re-ranking by float puts them in exact order.
    for (size_t i = 0; i < hits.size(); ++i) EXPECT_EQ(hits[i].id, exact[i].second) << name << " rank " << i;
  }
}

// Spreading activation against a direct reference: every episode within `hops` of the seeds
// (the graph is smaller than the node budget, so the set does not depend on visiting order),
// then `hops` synchronous steps next[v] = min(1, retain*act[v] + decay*sum_u w(u,v)*act[u]) over
// ALL edges among them, values below the threshold set to 0. The engine copies only the edge
// lists of episodes closer than `hops`; this checks that the others never mattered.
TEST(SpaceTest, ActivationEqualsStepsOverTheWholeSubgraph) {
  EngineOptions o = SmallOptions();
  o.default_space.auto_link_k = 0;  // only the links below
  auto engine = Engine::Open(o).value();
  Space* space = engine->GetSpace("default").value();
  const SpaceOptions& so = space->options();
  ASSERT_LT(150u, so.activation_node_budget);
  Rng rng(31);
  const int n = 150;
  std::vector<EpisodeSpec> batch;
  for (int i = 0; i < n; ++i) batch.push_back(Spec("e" + std::to_string(i), RandomVec(rng)));
  ASSERT_TRUE(space->RememberBatch(batch).ok());
  std::vector<std::vector<float>> w(n, std::vector<float>(n, 0.0f));
  for (int k = 0; k < 260; ++k) {
    const int a = static_cast<int>(rng.Next() % n), b = static_cast<int>(rng.Next() % n);
    if (a == b || w[a][b] > 0) continue;
    const float weight = 0.05f + 0.95f * static_cast<float>(rng.Uniform());
    w[a][b] = w[b][a] = weight;
    ASSERT_TRUE(space->Link({"e" + std::to_string(a), "e" + std::to_string(b), weight}).ok());
  }
  const std::vector<int> seeds{3, 77, 120};
  std::vector<std::string> seed_ids;
  for (int sd : seeds) seed_ids.push_back("e" + std::to_string(sd));
  for (int hops = 1; hops <= 4; ++hops) {
    std::vector<int> dist(n, -1);
    std::vector<int> frontier;
    for (int sd : seeds) dist[sd] = 0, frontier.push_back(sd);
    for (int h = 1; h <= hops; ++h) {
      std::vector<int> next;
      for (int u : frontier) {
        for (int v = 0; v < n; ++v) {
          if (w[u][v] > 0 && dist[v] < 0) dist[v] = h, next.push_back(v);
        }
      }
      frontier.swap(next);
    }
    std::vector<double> act(n, 0.0), nxt(n, 0.0);
    for (int sd : seeds) act[sd] = 1.0;
    for (int step = 0; step < hops; ++step) {
      for (int v = 0; v < n; ++v) {
        if (dist[v] < 0) continue;
        double sum = 0;
        for (int u = 0; u < n; ++u) {
          if (dist[u] >= 0) sum += w[u][v] * act[u];
        }
        const double x = std::min(1.0, so.activation_retain * act[v] + so.activation_decay * sum);
        nxt[v] = x < so.activation_threshold ? 0.0 : x;
      }
      act.swap(nxt);
    }
    std::map<std::string, float> got;
    for (const auto& h : space->Activate(seed_ids, hops, 100000).value()) got[h.id] = h.activation;
    size_t expected_nonzero = 0;
    for (int v = 0; v < n; ++v) {
      if (act[v] <= 0) continue;
      ++expected_nonzero;
      const std::string id = "e" + std::to_string(v);
      ASSERT_TRUE(got.count(id)) << "hops " << hops << ": " << id << " should hold " << act[v];
      EXPECT_NEAR(got[id], act[v], 1e-5) << "hops " << hops << " " << id;
    }
    EXPECT_EQ(got.size(), expected_nonzero) << "hops " << hops;
    EXPECT_GT(expected_nonzero, seeds.size()) << "hops " << hops;  // it did spread
  }
}

TEST(EngineTest, ConcurrentRemembersAndRecallsLoseNothing) {
  auto engine = Engine::Open(SmallOptions()).value();
  Space* space = engine->GetSpace("default").value();
  constexpr int kPerThread = 300;
  auto writer = [&](int t) {
    Rng rng(100 + t);
    for (int i = 0; i < kPerThread; ++i) {
      ASSERT_TRUE(space->Remember(Spec("t" + std::to_string(t) + "-" + std::to_string(i), RandomVec(rng))).ok());
    }
  };
  auto reader = [&] {
    Rng rng(999);
    for (int i = 0; i < 200; ++i) {
      RecallQuery q;
      q.cue = RandomVec(rng);
      q.mode = i % 3 == 0 ? RecallMode::kBlended : RecallMode::kEpisodic;
      ASSERT_TRUE(space->Recall(q).ok());
      if (i % 50 == 0) {
        ASSERT_TRUE(space->Consolidate().ok());
      }
    }
  };
  {
    std::jthread a(writer, 0), b(writer, 1), c(reader);
  }
  EXPECT_EQ(space->Stats().episodes, 2u * kPerThread);
  for (int t = 0; t < 2; ++t) {
    for (int i = 0; i < kPerThread; i += 37) EXPECT_TRUE(space->Get("t" + std::to_string(t) + "-" + std::to_string(i)).ok());
  }
}

}  // namespace
}  // namespace engram
