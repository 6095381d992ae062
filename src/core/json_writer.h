// JSON text written by hand, for the hot paths where building a Boost.JSON value tree first
// costs more than the work it reports: request bodies carrying embeddings (the load
// generator) and the server's answers to remember, recall, search, completion and traversal.
// Floats are written in their shortest round-trip form ("0.0123457"), about half the size of
// a 17-digit double and faster to write; a non-finite number is written as null.
//
// Threading: a JsonWriter is used by one thread; the free functions are pure.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace engram {

// Appends `s` as a JSON string literal (quoted, escaped).
void AppendJsonString(std::string* out, std::string_view s);
// Appends [v0,v1,...] with each float in shortest round-trip form (non-finite values as 0).
void AppendFloatArray(std::string* out, std::span<const float> values);

// Writes one JSON value into a string, commas placed by the writer:
//   JsonWriter w(&body);
//   w.BeginObject().Key("id").String(id).Key("hits").BeginArray() ... .EndArray().EndObject();
// REQUIRES: calls form a well-nested value, at most 62 levels deep, keys only inside objects.
class JsonWriter {
 public:
  explicit JsonWriter(std::string* out) : out_(out) {}

  JsonWriter& BeginObject() { return Open('{'); }
  JsonWriter& EndObject() { return Close('}'); }
  JsonWriter& BeginArray() { return Open('['); }
  JsonWriter& EndArray() { return Close(']'); }
  JsonWriter& Key(std::string_view key);
  JsonWriter& String(std::string_view s);
  JsonWriter& Float(float v);
  JsonWriter& Double(double v);
  JsonWriter& Int(int64_t v);
  JsonWriter& Uint(uint64_t v);
  JsonWriter& Bool(bool v);
  JsonWriter& Null();
  JsonWriter& FloatArray(std::span<const float> values);
  JsonWriter& StringArray(const std::vector<std::string>& values);

 private:
  void Separate();  // a comma before every value but the first of its container
  JsonWriter& Open(char c);
  JsonWriter& Close(char c);

  std::string* out_;
  uint64_t has_items_ = 0;  // bit d: the container at depth d has a value already
  int depth_ = 0;
  bool after_key_ = false;
};

}  // namespace engram
