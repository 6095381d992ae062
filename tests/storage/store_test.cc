#include "storage/store.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "test_util.h"

namespace engram::storage {
namespace {

using test_util::MakeEpisode;
using test_util::SameBits;
using test_util::ScratchDir;

std::unique_ptr<Store> OpenOrDie(const std::string& dir, SyncPolicy sync = SyncPolicy::kProcess) {
  StoreOptions options;
  options.data_dir = dir;
  options.sync = sync;
  options.block_cache_bytes = 1 << 20;
  Result<std::unique_ptr<Store>> store = Store::Open(options);
  EXPECT_TRUE(store.ok()) << store.error().ToString();
  if (!store.ok()) std::abort();
  return std::move(store).value();
}

std::vector<EpisodeRecord> Episodes(const Store& store, std::string_view space,
                                    uint64_t from_seq = 0) {
  std::vector<EpisodeRecord> out;
  Status s = store.ForEachEpisode(space, from_seq, [&](EpisodeRecord&& e) {
    out.push_back(std::move(e));
    return Status::Ok();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

std::vector<uint64_t> Seqs(const Store& store, std::string_view space, uint64_t from_seq = 0) {
  std::vector<uint64_t> seqs;
  for (const auto& e : Episodes(store, space, from_seq)) seqs.push_back(e.seq);
  return seqs;
}

std::vector<EdgeRecord> Edges(const Store& store, std::string_view space) {
  std::vector<EdgeRecord> out;
  Status s = store.ForEachEdge(space, [&](const EdgeRecord& e) {
    out.push_back(e);
    return Status::Ok();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

TEST(StoreTest, EpisodeRoundTripKeepsEveryField) {
  ScratchDir dir;
  auto store = OpenOrDie(dir.path());
  std::vector<EpisodeRecord> in;
  in.push_back(MakeEpisode(0));  // 768 floats, embedding[0] == -0.0f, unicode text
  in.push_back(EpisodeRecord{});  // every string and list empty
  in.back().seq = 1;
  in.push_back(MakeEpisode(2));
  in.back().embedding[5] = -0.0f;
  in.back().embedding[6] = std::nextafter(0.0f, -1.0f);
  in.back().who = {"", "\xe5\xbc\xa0\xe4\xbc\x9f", std::string("nul\0byte", 8)};
  in.back().id = std::string(1000, 'x');
  ASSERT_TRUE(store->PutEpisodes("s", in).ok());

  std::vector<EpisodeRecord> out = Episodes(*store, "s");
  ASSERT_EQ(out.size(), in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    EXPECT_TRUE(SameBits(out[i], in[i])) << "seq " << in[i].seq;
  }
  EXPECT_EQ(out[0].embedding.size(), 768u);
  EXPECT_TRUE(std::signbit(out[0].embedding[0]));
  EXPECT_EQ(out[0].embedding[0], 0.0f);
  EXPECT_TRUE(out[1].embedding.empty());
  EXPECT_EQ(out[2].who[2].size(), 8u);
}

TEST(StoreTest, ListSpacesReturnsEverySpaceByName) {
  ScratchDir dir;
  auto store = OpenOrDie(dir.path());
  Result<std::vector<SpaceRecord>> none = store->ListSpaces();
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());

  SpaceRecord b{"b", 384, 20, R"({"x":1})"};
  SpaceRecord a{"a", 768, 10, ""};
  SpaceRecord unicode{"\xe8\xae\xb0\xe5\xbf\x86", 3, 30, "{}"};
  ASSERT_TRUE(store->PutSpace(b).ok());
  ASSERT_TRUE(store->PutSpace(a).ok());
  ASSERT_TRUE(store->PutSpace(unicode).ok());
  b.dim = 512;  // replaces, does not duplicate
  ASSERT_TRUE(store->PutSpace(b).ok());

  Result<std::vector<SpaceRecord>> spaces = store->ListSpaces();
  ASSERT_TRUE(spaces.ok()) << spaces.error().ToString();
  ASSERT_EQ(spaces->size(), 3u);
  EXPECT_EQ((*spaces)[0], a);
  EXPECT_EQ((*spaces)[1], b);
  EXPECT_EQ((*spaces)[2], unicode);
}

TEST(StoreTest, SpacesAreIsolatedEvenWhenNamesArePrefixes) {
  ScratchDir dir;
  auto store = OpenOrDie(dir.path());
  // "a" is a prefix of "ab"; "a\0..." would collide with "a" plus a seq in a naive layout.
  const std::vector<std::string> names = {"a", "ab", "b", "", std::string("a\0\0\0", 4),
                                          std::string(128, 'z')};
  for (size_t i = 0; i < names.size(); ++i) {
    std::vector<EpisodeRecord> eps;
    for (uint64_t seq = 0; seq < 3; ++seq) {
      eps.push_back(MakeEpisode(seq, 4));
      eps.back().id = names[i] + "#" + std::to_string(seq);
    }
    const EdgeRecord edge{0, i + 1, static_cast<float>(i)};
    ASSERT_TRUE(store->PutEpisodes(names[i], eps, std::span(&edge, 1)).ok());
  }
  for (size_t i = 0; i < names.size(); ++i) {
    std::vector<EpisodeRecord> eps = Episodes(*store, names[i]);
    ASSERT_EQ(eps.size(), 3u) << "space '" << names[i] << "'";
    for (const auto& e : eps) EXPECT_EQ(e.id, names[i] + "#" + std::to_string(e.seq));
    std::vector<EdgeRecord> edges = Edges(*store, names[i]);
    ASSERT_EQ(edges.size(), 1u);
    EXPECT_EQ(edges[0], (EdgeRecord{0, i + 1, static_cast<float>(i)}));
  }
  EXPECT_TRUE(Episodes(*store, "c").empty());
  EXPECT_TRUE(Episodes(*store, "a", 3).empty());

  ASSERT_TRUE(store->DeleteEpisode("a", 1).ok());
  EXPECT_EQ(Seqs(*store, "a"), (std::vector<uint64_t>{0, 2}));
  EXPECT_EQ(Seqs(*store, "ab"), (std::vector<uint64_t>{0, 1, 2}));
}

TEST(StoreTest, ForEachEpisodeVisitsInSeqOrderFromSeq) {
  ScratchDir dir;
  auto store = OpenOrDie(dir.path());
  // Written out of order, across byte boundaries where little-endian keys would misorder.
  const std::vector<uint64_t> written = {65536, 1, 256, 0, 255, 257, uint64_t{1} << 40, 2};
  for (uint64_t seq : written) {
    EpisodeRecord e = MakeEpisode(seq, 2);
    ASSERT_TRUE(store->PutEpisodes("s", std::span(&e, 1)).ok());
  }
  EXPECT_EQ(Seqs(*store, "s"),
            (std::vector<uint64_t>{0, 1, 2, 255, 256, 257, 65536, uint64_t{1} << 40}));
  EXPECT_EQ(Seqs(*store, "s", 256), (std::vector<uint64_t>{256, 257, 65536, uint64_t{1} << 40}));
  EXPECT_EQ(Seqs(*store, "s", 258), (std::vector<uint64_t>{65536, uint64_t{1} << 40}));
  EXPECT_TRUE(Seqs(*store, "s", (uint64_t{1} << 40) + 1).empty());
}

TEST(StoreTest, ForEachEpisodeStopsAtFirstErrorAndReturnsIt) {
  ScratchDir dir;
  auto store = OpenOrDie(dir.path());
  std::vector<EpisodeRecord> eps = {MakeEpisode(0, 2), MakeEpisode(1, 2), MakeEpisode(2, 2)};
  ASSERT_TRUE(store->PutEpisodes("s", eps).ok());
  int visited = 0;
  Status s = store->ForEachEpisode("s", 0, [&](EpisodeRecord&& e) {
    ++visited;
    return e.seq == 1 ? Status::ResourceExhausted("stop at ", e.seq) : Status::Ok();
  });
  EXPECT_EQ(s, Status::ResourceExhausted("stop at 1"));
  EXPECT_EQ(visited, 2);
}

TEST(StoreTest, PutEpisodesOverwritesSameSeq) {
  ScratchDir dir;
  auto store = OpenOrDie(dir.path());
  EpisodeRecord e = MakeEpisode(5, 3);
  ASSERT_TRUE(store->PutEpisodes("s", std::span(&e, 1)).ok());
  e.what = "changed";
  e.strength = 0.25f;
  ASSERT_TRUE(store->PutEpisodes("s", std::span(&e, 1)).ok());
  std::vector<EpisodeRecord> out = Episodes(*store, "s");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(SameBits(out[0], e));
}

TEST(StoreTest, PutEpisodesWritesEpisodesAndEdgesTogether) {
  ScratchDir dir;
  auto store = OpenOrDie(dir.path());
  std::vector<EpisodeRecord> eps = {MakeEpisode(0, 4), MakeEpisode(1, 4), MakeEpisode(2, 4)};
  std::vector<EdgeRecord> edges = {{0, 1, 0.5f}, {1, 2, 0.25f}, {2, 0, -1.0f}};
  ASSERT_TRUE(store->PutEpisodes("s", eps, edges).ok());
  EXPECT_EQ(Seqs(*store, "s"), (std::vector<uint64_t>{0, 1, 2}));
  EXPECT_EQ(Edges(*store, "s"), edges);
  // Empty batches are accepted and change nothing.
  ASSERT_TRUE(store->PutEpisodes("s", {}).ok());
  ASSERT_TRUE(store->PutEdges("s", {}).ok());
  EXPECT_EQ(Seqs(*store, "s").size(), 3u);
}

TEST(StoreTest, ForEachEdgeVisitsInFromToOrderAndPutEdgesReplacesWeights) {
  ScratchDir dir;
  auto store = OpenOrDie(dir.path());
  std::vector<EdgeRecord> edges = {{300, 1, 1}, {2, 9, 2}, {2, 3, 3}, {0, 256, 4}, {0, 255, 5}};
  ASSERT_TRUE(store->PutEdges("s", edges).ok());
  EXPECT_EQ(Edges(*store, "s"), (std::vector<EdgeRecord>{
                                    {0, 255, 5}, {0, 256, 4}, {2, 3, 3}, {2, 9, 2}, {300, 1, 1}}));
  const EdgeRecord heavier{2, 3, 7.5f};
  ASSERT_TRUE(store->PutEdges("s", std::span(&heavier, 1)).ok());
  EXPECT_EQ(Edges(*store, "s")[2], heavier);
  EXPECT_EQ(Edges(*store, "s").size(), 5u);

  int visited = 0;
  Status s = store->ForEachEdge("s", [&](const EdgeRecord&) {
    ++visited;
    return Status::Internal("enough");
  });
  EXPECT_EQ(s.code(), StatusCode::kInternal);
  EXPECT_EQ(visited, 1);
}

TEST(StoreTest, DeleteEpisodeRemovesEpisodeAndGivenEdges) {
  ScratchDir dir;
  auto store = OpenOrDie(dir.path());
  std::vector<EpisodeRecord> eps = {MakeEpisode(0, 4), MakeEpisode(1, 4), MakeEpisode(2, 4)};
  std::vector<EdgeRecord> edges = {{0, 1, 0.5f}, {1, 2, 0.25f}, {2, 0, 1.0f}};
  ASSERT_TRUE(store->PutEpisodes("s", eps, edges).ok());

  std::vector<EdgeRecord> touching = {{0, 1, 0}, {1, 2, 0}};  // weights are ignored
  ASSERT_TRUE(store->DeleteEpisode("s", 1, touching).ok());
  EXPECT_EQ(Seqs(*store, "s"), (std::vector<uint64_t>{0, 2}));
  EXPECT_EQ(Edges(*store, "s"), (std::vector<EdgeRecord>{{2, 0, 1.0f}}));
  // Deleting what is not there is not an error.
  EXPECT_TRUE(store->DeleteEpisode("s", 1).ok());
  EXPECT_TRUE(store->DeleteEpisode("nowhere", 7).ok());
}

TEST(StoreTest, MetaPutGetAndMissing) {
  ScratchDir dir;
  auto store = OpenOrDie(dir.path());
  Result<std::optional<std::string>> missing = store->GetMeta("index.watermark");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());

  ASSERT_TRUE(store->PutMeta("index.watermark", "12345").ok());
  ASSERT_TRUE(store->PutMeta("", std::string("\0bin", 4)).ok());
  ASSERT_TRUE(store->PutMeta("empty", "").ok());
  EXPECT_EQ(store->GetMeta("index.watermark").value(), "12345");
  EXPECT_EQ(store->GetMeta("").value(), std::string("\0bin", 4));
  EXPECT_EQ(store->GetMeta("empty").value(), "");
  ASSERT_TRUE(store->PutMeta("index.watermark", "12346").ok());
  EXPECT_EQ(store->GetMeta("index.watermark").value(), "12346");
  EXPECT_FALSE(store->GetMeta("index.watermark2").value().has_value());
  // Meta keys never show up as spaces or episodes.
  EXPECT_TRUE(store->ListSpaces()->empty());
}

TEST(StoreTest, ReopenAfterCloseKeepsEverything) {
  for (SyncPolicy sync : {SyncPolicy::kProcess, SyncPolicy::kFsync}) {
    ScratchDir dir;
    const SpaceRecord space{"s", 768, 99, "{}"};
    std::vector<EpisodeRecord> eps;
    for (uint64_t seq = 0; seq < 100; ++seq) eps.push_back(MakeEpisode(seq));
    const std::vector<EdgeRecord> edges = {{0, 99, 0.5f}, {99, 0, 0.5f}};
    {
      auto store = OpenOrDie(dir.path(), sync);
      EXPECT_EQ(store->options().sync, sync);
      EXPECT_EQ(store->options().data_dir, dir.path());
      ASSERT_TRUE(store->PutSpace(space).ok());
      ASSERT_TRUE(store->PutEpisodes("s", std::span(eps).first(50), edges).ok());
      ASSERT_TRUE(store->Flush().ok());  // half in a table file, half only in the WAL
      ASSERT_TRUE(store->PutEpisodes("s", std::span(eps).subspan(50)).ok());
      ASSERT_TRUE(store->PutMeta("k", "v").ok());
      EXPECT_GT(store->ApproximateDiskBytes(), 50u * 768 * sizeof(float));
    }
    auto store = OpenOrDie(dir.path(), sync);
    std::vector<EpisodeRecord> out = Episodes(*store, "s");
    ASSERT_EQ(out.size(), eps.size());
    for (size_t i = 0; i < eps.size(); ++i) EXPECT_TRUE(SameBits(out[i], eps[i])) << i;
    EXPECT_EQ(Edges(*store, "s"), edges);
    EXPECT_EQ(store->ListSpaces().value(), std::vector<SpaceRecord>{space});
    EXPECT_EQ(store->GetMeta("k").value(), "v");
  }
}

TEST(StoreTest, SecondOpenOfSameDirectoryFailsClearly) {
  ScratchDir dir;
  auto first = OpenOrDie(dir.path());
  StoreOptions options;
  options.data_dir = dir.path();
  Result<std::unique_ptr<Store>> second = Store::Open(options);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(second.error().message().find("'" + dir.path() + "' is in use"), std::string::npos)
      << second.error().message();
  // The first store is unaffected, and the directory opens again once it is closed.
  EpisodeRecord e = MakeEpisode(1, 2);
  EXPECT_TRUE(first->PutEpisodes("s", std::span(&e, 1)).ok());
  first.reset();
  EXPECT_EQ(Seqs(*OpenOrDie(dir.path()), "s"), std::vector<uint64_t>{1});
}

TEST(StoreTest, OpenCreatesMissingDirectories) {
  ScratchDir dir;
  const std::string nested = dir.Sub("a/b/c");
  auto store = OpenOrDie(nested);
  EXPECT_TRUE(std::filesystem::is_directory(nested));
}

TEST(StoreTest, OpenReportsUnusableDirectories) {
  StoreOptions options;
  Result<std::unique_ptr<Store>> empty = Store::Open(options);
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().code(), StatusCode::kInvalidArgument);

  ScratchDir dir;
  const std::string file = dir.Sub("plain_file");
  std::ofstream(file) << "not a directory";
  options.data_dir = file;
  Result<std::unique_ptr<Store>> on_file = Store::Open(options);
  ASSERT_FALSE(on_file.ok());
  EXPECT_EQ(on_file.error().code(), StatusCode::kIOError);
  EXPECT_NE(on_file.error().message().find(file), std::string::npos) << on_file.error().message();
}

}  // namespace
}  // namespace engram::storage
