// FNV-1a 64-bit: the content hash of scenario files and the digest tests use to pin generated
// streams. Not a cryptographic hash; it only needs to be specified and stable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

namespace engram::workload {

class Fnv1a64 {
 public:
  void Add(const void* data, size_t size) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < size; ++i) {
      h_ ^= p[i];
      h_ *= 0x100000001B3ULL;
    }
  }
  void Add(std::string_view s) {
    AddValue(static_cast<uint64_t>(s.size()));  // length first: "ab","c" != "a","bc"
    Add(s.data(), s.size());
  }
  // Adds the object representation of a trivially copyable value (host byte order).
  template <typename T>
  void AddValue(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    Add(&v, sizeof(v));
  }
  uint64_t value() const { return h_; }

 private:
  uint64_t h_ = 0xCBF29CE484222325ULL;
};

// 16 lowercase hex digits of the FNV-1a 64 hash of `bytes`.
std::string Fnv1a64Hex(std::string_view bytes);

}  // namespace engram::workload
