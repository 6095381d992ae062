#include "storage/record_codec.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "core/random.h"
#include "test_util.h"

namespace engram::storage {
namespace {

using test_util::MakeEpisode;
using test_util::SameBits;

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (char c : bytes) {
    out.push_back(kDigits[static_cast<uint8_t>(c) >> 4]);
    out.push_back(kDigits[static_cast<uint8_t>(c) & 0xf]);
  }
  return out;
}

TEST(RecordCodecTest, EpisodeRoundTripIsBitExact) {
  EpisodeRecord e = MakeEpisode(42);
  e.embedding[1] = std::numeric_limits<float>::quiet_NaN();
  e.embedding[2] = -std::numeric_limits<float>::infinity();
  e.embedding[3] = std::numeric_limits<float>::denorm_min();
  Result<EpisodeRecord> back = DecodeEpisode(EncodeEpisode(e));
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  EXPECT_TRUE(SameBits(*back, e));
  EXPECT_TRUE(std::signbit(back->embedding[0]));
  EXPECT_TRUE(std::isnan(back->embedding[1]));
}

TEST(RecordCodecTest, EmptyEpisodeRoundTrips) {
  EpisodeRecord e;  // every string and list empty
  Result<EpisodeRecord> back = DecodeEpisode(EncodeEpisode(e));
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  EXPECT_EQ(*back, e);
}

// Pins the byte layout: a change here is a format change and needs a new version byte.
TEST(RecordCodecTest, EpisodeLayoutIsStable) {
  EpisodeRecord e;
  e.seq = 0x0102;
  e.id = "i";
  e.what = "w";
  e.when_us = -1;
  e.where = "";
  e.who = {"a"};
  e.tags = {};
  e.embedding = {1.0f, -0.0f};
  e.confidence = 0.5f;
  e.strength = 1.0f;
  e.created_us = 2;
  EXPECT_EQ(Hex(EncodeEpisode(e)),
            "01"                         // version
            "0201000000000000"           // seq
            "0100000069"                 // id
            "0100000077"                 // what
            "ffffffffffffffff"           // when_us
            "00000000"                   // where
            "010000000100000061"         // who
            "00000000"                   // tags
            "02000000" "0000803f" "00000080"  // embedding
            "0000003f"                   // confidence
            "0000803f"                   // strength
            "0200000000000000");         // created_us
}

TEST(RecordCodecTest, SpaceAndEdgeRoundTrip) {
  SpaceRecord s{"sp\xc3\xa4" "ce", 1536, 1'700'000'000'000'000, R"({"decay":"exponential"})"};
  Result<SpaceRecord> space = DecodeSpace(EncodeSpace(s));
  ASSERT_TRUE(space.ok()) << space.error().ToString();
  EXPECT_EQ(*space, s);

  Result<float> weight = DecodeEdgeWeight(EncodeEdgeWeight(-0.25f));
  ASSERT_TRUE(weight.ok());
  EXPECT_EQ(*weight, -0.25f);
}

TEST(RecordCodecTest, EveryTruncationIsDataLoss) {
  const std::string episode = EncodeEpisode(MakeEpisode(7, 16));
  for (size_t n = 0; n < episode.size(); ++n) {
    Result<EpisodeRecord> r = DecodeEpisode(std::string_view(episode).substr(0, n));
    ASSERT_FALSE(r.ok()) << "prefix of " << n << " bytes decoded";
    EXPECT_EQ(r.error().code(), StatusCode::kDataLoss) << r.error().ToString();
  }
  const std::string space = EncodeSpace({"s", 8, 1, "{}"});
  for (size_t n = 0; n < space.size(); ++n) {
    Result<SpaceRecord> r = DecodeSpace(std::string_view(space).substr(0, n));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code(), StatusCode::kDataLoss);
  }
  const std::string edge = EncodeEdgeWeight(1.0f);
  for (size_t n = 0; n < edge.size(); ++n) {
    Result<float> r = DecodeEdgeWeight(std::string_view(edge).substr(0, n));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code(), StatusCode::kDataLoss);
  }
}

TEST(RecordCodecTest, TrailingBytesAreDataLoss) {
  Result<EpisodeRecord> r = DecodeEpisode(EncodeEpisode(MakeEpisode(1, 4)) + "x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), StatusCode::kDataLoss);
  EXPECT_NE(r.error().message().find("trailing"), std::string::npos) << r.error().message();
}

TEST(RecordCodecTest, UnknownVersionIsDataLoss) {
  std::string bytes = EncodeEpisode(MakeEpisode(1, 4));
  bytes[0] = 2;
  Result<EpisodeRecord> r = DecodeEpisode(bytes);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), StatusCode::kDataLoss);
  EXPECT_NE(r.error().message().find("version 2"), std::string::npos) << r.error().message();
}

// A corrupt count must be rejected before it is used to size an allocation.
TEST(RecordCodecTest, HugeCountsAreDataLossWithoutAllocating) {
  std::string bytes = EncodeEpisode(EpisodeRecord{});
  // Offset of the `who` count in an empty episode: version, seq, id, what, when_us, where.
  const size_t who_at = 1 + 8 + 4 + 4 + 8 + 4;
  for (size_t field : {who_at, who_at + 4, who_at + 8}) {  // who, tags, embedding
    std::string bad = bytes;
    std::memset(bad.data() + field, 0xff, 4);
    Result<EpisodeRecord> r = DecodeEpisode(bad);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code(), StatusCode::kDataLoss) << r.error().ToString();
  }
  std::string bad_id = bytes;
  std::memset(bad_id.data() + 9, 0xff, 4);  // id length 4 GiB
  EXPECT_EQ(DecodeEpisode(bad_id).error().code(), StatusCode::kDataLoss);
}

// Random bytes, and valid records with random bytes flipped, either decode or fail with
// DataLoss; they never crash or read past the end (run under the asan preset to prove the last).
TEST(RecordCodecTest, GarbageNeverCrashes) {
  Rng rng(20240601);
  const std::string valid = EncodeEpisode(MakeEpisode(3, 8));
  for (int i = 0; i < 20000; ++i) {
    std::string bytes;
    if (i % 2 == 0) {
      bytes.resize(rng.Below(200));
      for (char& c : bytes) c = static_cast<char>(rng.Next());
      if (!bytes.empty() && rng.Below(2) == 0) bytes[0] = kRecordFormatVersion;
    } else {
      bytes = valid;
      for (int flips = 1 + static_cast<int>(rng.Below(4)); flips > 0; --flips) {
        bytes[rng.Below(bytes.size())] = static_cast<char>(rng.Next());
      }
    }
    Result<EpisodeRecord> e = DecodeEpisode(bytes);
    if (!e.ok()) {
      ASSERT_EQ(e.error().code(), StatusCode::kDataLoss) << e.error().ToString();
    }
    Result<SpaceRecord> s = DecodeSpace(bytes);
    if (!s.ok()) {
      ASSERT_EQ(s.error().code(), StatusCode::kDataLoss) << s.error().ToString();
    }
  }
}

}  // namespace
}  // namespace engram::storage
