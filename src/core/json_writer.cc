#include "core/json_writer.h"

#include <charconv>
#include <cmath>

namespace engram {

namespace {

bool NeedsEscape(char c) { return c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20; }

// std::to_chars gives the shortest form that reads back as the same value.
template <typename T>
void AppendNumber(std::string* out, T v) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr);
}

}  // namespace

void AppendJsonString(std::string* out, std::string_view s) {
  out->push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    size_t clean = i;
    while (clean < s.size() && !NeedsEscape(s[clean])) ++clean;
    out->append(s.data() + i, clean - i);
    if (clean == s.size()) break;
    const char c = s[clean];
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default: {
        static constexpr char kHex[] = "0123456789abcdef";
        const auto u = static_cast<unsigned char>(c);
        const char esc[6] = {'\\', 'u', '0', '0', kHex[u >> 4], kHex[u & 15]};
        out->append(esc, 6);
      }
    }
    i = clean + 1;
  }
  out->push_back('"');
}

void AppendFloatArray(std::string* out, std::span<const float> values) {
  out->push_back('[');
  for (size_t i = 0; i < values.size(); ++i) {
    if (i != 0) out->push_back(',');
    AppendNumber(out, std::isfinite(values[i]) ? values[i] : 0.0f);
  }
  out->push_back(']');
}

void JsonWriter::Separate() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (depth_ == 0) return;
  const uint64_t bit = uint64_t{1} << depth_;
  if ((has_items_ & bit) != 0) out_->push_back(',');
  has_items_ |= bit;
}

JsonWriter& JsonWriter::Open(char c) {
  Separate();
  out_->push_back(c);
  ++depth_;
  has_items_ &= ~(uint64_t{1} << depth_);
  return *this;
}

JsonWriter& JsonWriter::Close(char c) {
  out_->push_back(c);
  --depth_;
  return *this;
}

JsonWriter& JsonWriter::Key(std::string_view key) {
  Separate();
  AppendJsonString(out_, key);
  out_->push_back(':');
  after_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::String(std::string_view s) {
  Separate();
  AppendJsonString(out_, s);
  return *this;
}

JsonWriter& JsonWriter::Float(float v) {
  Separate();
  if (std::isfinite(v)) {
    AppendNumber(out_, v);
  } else {
    out_->append("null");
  }
  return *this;
}

JsonWriter& JsonWriter::Double(double v) {
  Separate();
  if (std::isfinite(v)) {
    AppendNumber(out_, v);
  } else {
    out_->append("null");
  }
  return *this;
}

JsonWriter& JsonWriter::Int(int64_t v) {
  Separate();
  AppendNumber(out_, v);
  return *this;
}

JsonWriter& JsonWriter::Uint(uint64_t v) {
  Separate();
  AppendNumber(out_, v);
  return *this;
}

JsonWriter& JsonWriter::Bool(bool v) {
  Separate();
  out_->append(v ? "true" : "false");
  return *this;
}

JsonWriter& JsonWriter::Null() {
  Separate();
  out_->append("null");
  return *this;
}

JsonWriter& JsonWriter::FloatArray(std::span<const float> values) {
  Separate();
  AppendFloatArray(out_, values);
  return *this;
}

JsonWriter& JsonWriter::StringArray(const std::vector<std::string>& values) {
  BeginArray();
  for (const auto& s : values) String(s);
  return EndArray();
}

}  // namespace engram
