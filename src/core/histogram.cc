#include "core/histogram.h"

#include <algorithm>
#include <cmath>

namespace engram {

namespace {

using Layout = internal::HistogramLayout;

constexpr std::string_view kPrefix = "HLL1:";

// ---- Encoding primitives ----------------------------------------------------------------------

void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// FNV-1a, 32 bits: enough to catch a damaged result file, not a defence against tampering.
uint32_t Fnv1a32(std::string_view bytes) {
  uint32_t h = 2166136261u;
  for (char c : bytes) {
    h ^= static_cast<uint8_t>(c);
    h *= 16777619u;
  }
  return h;
}

constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string Base64Encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const uint32_t n = (uint32_t{static_cast<uint8_t>(in[i])} << 16) |
                       (uint32_t{static_cast<uint8_t>(in[i + 1])} << 8) |
                       uint32_t{static_cast<uint8_t>(in[i + 2])};
    out.push_back(kBase64Alphabet[(n >> 18) & 63]);
    out.push_back(kBase64Alphabet[(n >> 12) & 63]);
    out.push_back(kBase64Alphabet[(n >> 6) & 63]);
    out.push_back(kBase64Alphabet[n & 63]);
  }
  const size_t rest = in.size() - i;
  if (rest > 0) {
    uint32_t n = uint32_t{static_cast<uint8_t>(in[i])} << 16;
    if (rest == 2) n |= uint32_t{static_cast<uint8_t>(in[i + 1])} << 8;
    out.push_back(kBase64Alphabet[(n >> 18) & 63]);
    out.push_back(kBase64Alphabet[(n >> 12) & 63]);
    out.push_back(rest == 2 ? kBase64Alphabet[(n >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Strict RFC 4648 base64 with padding.
Result<std::string> Base64Decode(std::string_view in) {
  if (in.size() % 4 != 0) {
    return Status::InvalidArgument("histogram encoding is truncated: base64 length ", in.size(),
                                   " is not a multiple of 4");
  }
  std::string out;
  out.reserve(in.size() / 4 * 3);
  for (size_t i = 0; i < in.size(); i += 4) {
    const bool last = i + 4 == in.size();
    int v[4];
    int pad = 0;
    for (int j = 0; j < 4; ++j) {
      const char c = in[i + j];
      if (c == '=' && last && j >= 2) {
        v[j] = 0;
        ++pad;
        continue;
      }
      v[j] = Base64Value(c);
      if (v[j] < 0 || pad > 0) {
        return Status::InvalidArgument("histogram encoding has an invalid base64 character at ",
                                       kPrefix.size() + i + j);
      }
    }
    const uint32_t n = (static_cast<uint32_t>(v[0]) << 18) | (static_cast<uint32_t>(v[1]) << 12) |
                       (static_cast<uint32_t>(v[2]) << 6) | static_cast<uint32_t>(v[3]);
    out.push_back(static_cast<char>((n >> 16) & 0xFF));
    if (pad < 2) out.push_back(static_cast<char>((n >> 8) & 0xFF));
    if (pad < 1) out.push_back(static_cast<char>(n & 0xFF));
  }
  return out;
}

// Reads varints from a byte string, remembering the first error.
class VarintReader {
 public:
  explicit VarintReader(std::string_view bytes) : bytes_(bytes) {}

  // Returns false (and sets error) on truncation or a value over 64 bits.
  bool Read(uint64_t& v, std::string_view what) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= bytes_.size()) {
        error_ = Status::InvalidArgument("histogram encoding is truncated while reading ", what);
        return false;
      }
      const uint8_t byte = static_cast<uint8_t>(bytes_[pos_++]);
      if (shift == 63 && byte > 1) break;
      v |= static_cast<uint64_t>(byte & 0x7F) << shift;
      if ((byte & 0x80) == 0) return true;
    }
    error_ = Status::InvalidArgument("histogram encoding has an over-long varint in ", what);
    return false;
  }
  bool ReadValue(int64_t& v, std::string_view what) {
    uint64_t u;
    if (!Read(u, what)) return false;
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      error_ = Status::InvalidArgument("histogram encoding has ", what, " ", u,
                                       " beyond the int64 range");
      return false;
    }
    v = static_cast<int64_t>(u);
    return true;
  }
  bool at_end() const { return pos_ == bytes_.size(); }
  const Status& error() const { return error_; }

 private:
  std::string_view bytes_;
  size_t pos_ = 0;
  Status error_;
};

}  // namespace

// ---- Histogram --------------------------------------------------------------------------------

Histogram::Histogram() : counts_(Layout::kSlots, 0) {}

void Histogram::Merge(const Histogram& other) {
  if (other.count_ == 0) return;
  for (size_t i = 0; i < Layout::kSlots; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

void Histogram::Reset() {
  std::fill(counts_.begin(), counts_.end(), 0);
  count_ = 0;
  sum_ = 0;
  min_ = std::numeric_limits<int64_t>::max();
  max_ = 0;
}

double Histogram::mean() const {
  return count_ == 0 ? 0.0 : static_cast<double>(sum_) / static_cast<double>(count_);
}

int64_t Histogram::ValueAtQuantile(double q) const {
  if (count_ == 0) return 0;
  if (!(q > 0.0)) q = 0.0;  // also catches NaN
  if (q > 1.0) q = 1.0;
  // The rank of the wanted value, 1-based: ceil(q * count), at least 1, at most count.
  uint64_t rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  if (rank == 1) return min_;
  if (rank == count_) return max_;
  uint64_t seen = 0;
  // Nothing lies below min's slot; start there.
  for (size_t i = Layout::SlotFor(min_); i < Layout::kCountsLen; ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(Layout::SlotHigh(i), max_);
  }
  return max_;  // the rank falls among the overflow values
}

uint64_t Histogram::CountAtOrBelow(int64_t v) const {
  if (count_ == 0 || v < min_) return 0;
  if (v >= max_) return count_;
  if (v > Layout::kHighestTrackable) return count_ - overflow_count();
  const size_t last = Layout::CountsIndex(v);
  uint64_t total = 0;
  for (size_t i = Layout::SlotFor(min_); i <= last; ++i) total += counts_[i];
  return total;
}

int64_t Histogram::LowestEquivalentValue(int64_t v) {
  const size_t slot = Layout::SlotFor(v);
  return slot == Layout::kOverflowSlot ? Layout::kHighestTrackable + 1 : Layout::SlotLow(slot);
}

int64_t Histogram::HighestEquivalentValue(int64_t v) {
  const size_t slot = Layout::SlotFor(v);
  return slot == Layout::kOverflowSlot ? std::numeric_limits<int64_t>::max()
                                       : Layout::SlotHigh(slot);
}

bool Histogram::operator==(const Histogram& other) const {
  return count_ == other.count_ && sum_ == other.sum_ && min() == other.min() &&
         max_ == other.max_ && counts_ == other.counts_;
}

// Payload of version 1, every field a LEB128 varint unless stated:
//   sub-bucket count (2048) | slot count (33792) | count | min | max | sum | overflow |
//   number of non-empty buckets | that many (gap, count) pairs, gap = slot - previous slot - 1
//   (previous starts at -1), count > 0 | FNV-1a 32 of all preceding bytes, 4 bytes LE.
// count is redundant (the bucket counts plus overflow) and is checked on decode.
std::string Histogram::Encode() const {
  std::string payload;
  PutVarint(payload, static_cast<uint64_t>(Layout::kSubBucketCount));
  PutVarint(payload, Layout::kCountsLen);
  PutVarint(payload, count_);
  PutVarint(payload, static_cast<uint64_t>(min()));
  PutVarint(payload, static_cast<uint64_t>(max_));
  PutVarint(payload, sum_);
  PutVarint(payload, overflow_count());
  uint64_t nonempty = 0;
  for (size_t i = 0; i < Layout::kCountsLen; ++i) nonempty += counts_[i] != 0;
  PutVarint(payload, nonempty);
  int64_t previous = -1;
  for (size_t i = 0; i < Layout::kCountsLen; ++i) {
    if (counts_[i] == 0) continue;
    PutVarint(payload, static_cast<uint64_t>(static_cast<int64_t>(i) - previous - 1));
    PutVarint(payload, counts_[i]);
    previous = static_cast<int64_t>(i);
  }
  const uint32_t check = Fnv1a32(payload);
  for (int b = 0; b < 4; ++b) payload.push_back(static_cast<char>((check >> (8 * b)) & 0xFF));
  std::string out(kPrefix);
  out += Base64Encode(payload);
  return out;
}

Result<Histogram> Histogram::Decode(std::string_view text) {
  if (text.substr(0, kPrefix.size()) != kPrefix) {
    const size_t colon = text.find(':');
    if (text.substr(0, 3) == "HLL" && colon != std::string_view::npos && colon < 16) {
      return Status::InvalidArgument("unsupported histogram encoding version '",
                                     text.substr(0, colon), "' (this build reads 'HLL1')");
    }
    return Status::InvalidArgument("not a histogram encoding: expected the prefix 'HLL1:'");
  }
  ENGRAM_ASSIGN_OR_RETURN(std::string bytes, Base64Decode(text.substr(kPrefix.size())));
  if (bytes.size() < 4) {
    return Status::InvalidArgument("histogram encoding is truncated: ", bytes.size(),
                                   " bytes of payload");
  }
  const std::string_view body(bytes.data(), bytes.size() - 4);
  uint32_t stored = 0;
  for (int b = 0; b < 4; ++b) {
    stored |= static_cast<uint32_t>(static_cast<uint8_t>(bytes[body.size() + b])) << (8 * b);
  }
  if (stored != Fnv1a32(body)) {
    return Status::DataLoss("histogram encoding failed its checksum (damaged or truncated)");
  }

  VarintReader in(body);
  uint64_t sub_buckets, slots, count, sum, overflow, nonempty;
  int64_t min, max;
  if (!in.Read(sub_buckets, "the sub-bucket count") || !in.Read(slots, "the slot count") ||
      !in.Read(count, "count") || !in.ReadValue(min, "min") || !in.ReadValue(max, "max") ||
      !in.Read(sum, "sum") || !in.Read(overflow, "the overflow count") ||
      !in.Read(nonempty, "the bucket count")) {
    return in.error();
  }
  if (sub_buckets != static_cast<uint64_t>(Layout::kSubBucketCount) ||
      slots != Layout::kCountsLen) {
    return Status::InvalidArgument("histogram encoding has layout ", sub_buckets, "x", slots,
                                   ", this build uses ", Layout::kSubBucketCount, "x",
                                   Layout::kCountsLen);
  }
  if (nonempty > Layout::kCountsLen) {
    return Status::InvalidArgument("histogram encoding claims ", nonempty, " non-empty buckets");
  }

  Histogram h;
  uint64_t total = overflow;
  int64_t previous = -1;
  size_t first = Layout::kOverflowSlot, last = Layout::kOverflowSlot;
  for (uint64_t k = 0; k < nonempty; ++k) {
    uint64_t gap, n;
    if (!in.Read(gap, "a bucket gap") || !in.Read(n, "a bucket count")) return in.error();
    const uint64_t slot = static_cast<uint64_t>(previous + 1) + gap;
    if (gap >= Layout::kCountsLen || slot >= Layout::kCountsLen) {
      return Status::InvalidArgument("histogram encoding has a bucket past the last slot");
    }
    if (n == 0) return Status::InvalidArgument("histogram encoding lists an empty bucket");
    if (total + n < total) return Status::InvalidArgument("histogram encoding counts overflow");
    total += n;
    h.counts_[slot] = n;
    if (k == 0) first = slot;
    last = slot;
    previous = static_cast<int64_t>(slot);
  }
  if (!in.at_end()) {
    return Status::InvalidArgument("histogram encoding has trailing bytes after the buckets");
  }
  if (total != count) {
    return Status::InvalidArgument("histogram encoding is inconsistent: buckets hold ", total,
                                   " values, count says ", count);
  }
  if (overflow != 0) last = Layout::kOverflowSlot;
  if (count == 0) {
    if (min != 0 || max != 0 || sum != 0) {
      return Status::InvalidArgument("histogram encoding is inconsistent: empty but min, max "
                                     "or sum is non-zero");
    }
  } else if (min > max || Layout::SlotFor(min) != first || Layout::SlotFor(max) != last) {
    return Status::InvalidArgument("histogram encoding is inconsistent: min ", min, " and max ",
                                   max, " do not match the non-empty buckets");
  }
  h.counts_[Layout::kOverflowSlot] = overflow;
  h.count_ = count;
  h.sum_ = sum;
  if (count != 0) {
    h.min_ = min;
    h.max_ = max;
  }
  return h;
}

// ---- AtomicHistogram --------------------------------------------------------------------------

AtomicHistogram::AtomicHistogram()
    : counts_(std::make_unique<std::atomic<uint64_t>[]>(Layout::kSlots)) {}

Histogram AtomicHistogram::Snapshot() const {
  Histogram h;
  uint64_t count = 0;
  // Buckets first (acquire pairs with Record's release), extremes after: every value counted
  // here had updated min/max before its bucket.
  for (size_t i = 0; i < Layout::kSlots; ++i) {
    const uint64_t n = counts_[i].load(std::memory_order_acquire);
    h.counts_[i] = n;
    count += n;
  }
  h.count_ = count;
  if (count == 0) return h;
  h.sum_ = sum_.load(std::memory_order_relaxed);
  h.min_ = min_.load(std::memory_order_relaxed);
  h.max_ = max_.load(std::memory_order_relaxed);
  return h;
}

}  // namespace engram
