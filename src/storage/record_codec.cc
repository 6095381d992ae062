#include "storage/record_codec.h"

#include <bit>
#include <cstring>

namespace engram::storage {

namespace {

class Writer {
 public:
  explicit Writer(size_t reserve) { out_.reserve(reserve); }

  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U32(uint32_t v) {
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  void U64(uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  void I64(int64_t v) { U64(static_cast<uint64_t>(v)); }
  void F32(float v) { U32(std::bit_cast<uint32_t>(v)); }
  // ENGRAM_CHECK, not a Status: a 4 GiB string or list cannot reach the store through any API.
  void Len(size_t n) {
    ENGRAM_CHECK(n <= UINT32_MAX);
    U32(static_cast<uint32_t>(n));
  }
  void Str(std::string_view s) {
    Len(s.size());
    out_.append(s);
  }
  void StrList(const std::vector<std::string>& list) {
    Len(list.size());
    for (const auto& s : list) Str(s);
  }
  void Floats(const std::vector<float>& v) {
    Len(v.size());
    if constexpr (std::endian::native == std::endian::little) {
      out_.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
    } else {
      for (float f : v) F32(f);
    }
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

// Reads fields front to back; the first failure sticks and every later read is a no-op, so a
// decoder reads all fields and checks status() once.
class Reader {
 public:
  Reader(std::string_view bytes, const char* what) : in_(bytes), what_(what) {}

  uint8_t U8(const char* field) {
    if (!Need(1, field)) return 0;
    return static_cast<uint8_t>(in_[pos_++]);
  }
  uint32_t U32(const char* field) {
    if (!Need(4, field)) return 0;
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= uint32_t{static_cast<uint8_t>(in_[pos_ + i])} << (8 * i);
    pos_ += 4;
    return v;
  }
  uint64_t U64(const char* field) {
    if (!Need(8, field)) return 0;
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<uint8_t>(in_[pos_ + i])} << (8 * i);
    pos_ += 8;
    return v;
  }
  int64_t I64(const char* field) { return static_cast<int64_t>(U64(field)); }
  float F32(const char* field) { return std::bit_cast<float>(U32(field)); }

  std::string Str(const char* field) {
    uint32_t n = U32(field);
    if (!Need(n, field)) return {};
    std::string s(in_.substr(pos_, n));
    pos_ += n;
    return s;
  }
  std::vector<std::string> StrList(const char* field) {
    uint32_t n = U32(field);
    // Each element needs at least its 4-byte length: reject impossible counts before reserving,
    // so garbage cannot make us allocate gigabytes.
    if (!Need(uint64_t{n} * 4, field)) return {};
    std::vector<std::string> list;
    list.reserve(n);
    for (uint32_t i = 0; i < n && status_.ok(); ++i) list.push_back(Str(field));
    return list;
  }
  std::vector<float> Floats(const char* field) {
    uint32_t n = U32(field);
    if (!Need(uint64_t{n} * sizeof(float), field)) return {};
    std::vector<float> v(n);
    if constexpr (std::endian::native == std::endian::little) {
      std::memcpy(v.data(), in_.data() + pos_, size_t{n} * sizeof(float));
      pos_ += size_t{n} * sizeof(float);
    } else {
      for (auto& f : v) f = F32(field);
    }
    return v;
  }

  // Checks the version byte; call first.
  void Version() {
    uint8_t v = U8("version");
    if (status_.ok() && v != kRecordFormatVersion) {
      status_ = Status::DataLoss(what_, " record has format version ", int{v}, ", this build reads ",
                                 int{kRecordFormatVersion});
    }
  }
  // OK when every read succeeded and every byte was consumed.
  Status Finish() {
    if (status_.ok() && pos_ != in_.size()) {
      status_ = Status::DataLoss(what_, " record has ", in_.size() - pos_,
                                 " trailing bytes after ", pos_, " decoded bytes");
    }
    return status_;
  }

 private:
  bool Need(uint64_t n, const char* field) {
    if (!status_.ok()) return false;
    if (n > in_.size() - pos_) {
      status_ = Status::DataLoss(what_, " record is truncated in field '", field, "' at byte ", pos_,
                                 ": needs ", n, " bytes, ", in_.size() - pos_, " remain");
      return false;
    }
    return true;
  }

  std::string_view in_;
  size_t pos_ = 0;
  const char* what_;
  Status status_;
};

}  // namespace

std::string EncodeEpisode(const EpisodeRecord& e) {
  size_t strings = e.id.size() + e.what.size() + e.where.size();
  for (const auto& s : e.who) strings += s.size() + 4;
  for (const auto& s : e.tags) strings += s.size() + 4;
  Writer w(1 + 8 + 8 + 8 + 4 * 7 + 4 + 4 + strings + e.embedding.size() * sizeof(float));
  w.U8(kRecordFormatVersion);
  w.U64(e.seq);
  w.Str(e.id);
  w.Str(e.what);
  w.I64(e.when_us);
  w.Str(e.where);
  w.StrList(e.who);
  w.StrList(e.tags);
  w.Floats(e.embedding);
  w.F32(e.confidence);
  w.F32(e.strength);
  w.I64(e.created_us);
  return w.Take();
}

Result<EpisodeRecord> DecodeEpisode(std::string_view bytes) {
  Reader r(bytes, "episode");
  EpisodeRecord e;
  r.Version();
  e.seq = r.U64("seq");
  e.id = r.Str("id");
  e.what = r.Str("what");
  e.when_us = r.I64("when_us");
  e.where = r.Str("where");
  e.who = r.StrList("who");
  e.tags = r.StrList("tags");
  e.embedding = r.Floats("embedding");
  e.confidence = r.F32("confidence");
  e.strength = r.F32("strength");
  e.created_us = r.I64("created_us");
  ENGRAM_RETURN_IF_ERROR(r.Finish());
  return e;
}

std::string EncodeSpace(const SpaceRecord& s) {
  Writer w(1 + 4 + s.name.size() + 4 + 8 + 4 + s.options_json.size());
  w.U8(kRecordFormatVersion);
  w.Str(s.name);
  w.U32(s.dim);
  w.I64(s.created_us);
  w.Str(s.options_json);
  return w.Take();
}

Result<SpaceRecord> DecodeSpace(std::string_view bytes) {
  Reader r(bytes, "space");
  SpaceRecord s;
  r.Version();
  s.name = r.Str("name");
  s.dim = r.U32("dim");
  s.created_us = r.I64("created_us");
  s.options_json = r.Str("options_json");
  ENGRAM_RETURN_IF_ERROR(r.Finish());
  return s;
}

std::string EncodeEdgeWeight(float weight) {
  Writer w(5);
  w.U8(kRecordFormatVersion);
  w.F32(weight);
  return w.Take();
}

Result<float> DecodeEdgeWeight(std::string_view bytes) {
  Reader r(bytes, "edge");
  r.Version();
  float weight = r.F32("weight");
  ENGRAM_RETURN_IF_ERROR(r.Finish());
  return weight;
}

}  // namespace engram::storage
