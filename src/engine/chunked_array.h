// ChunkedArray<T>: an append-only array whose elements never move, so readers may hold
// pointers and read published elements while a writer appends.
//
// Storage is a fixed directory of chunk pointers (kMaxChunks * kChunkSize elements at most),
// allocated chunk by chunk. EnsureSize() is for one writer at a time (the caller serialises
// appends); At() is safe from any thread for an index below a size the caller has published.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <memory>

#include "core/status.h"

namespace engram {

template <typename T, size_t kChunkBits = 12, size_t kMaxChunks = 1 << 16>
class ChunkedArray {
 public:
  static constexpr size_t kChunkSize = size_t{1} << kChunkBits;
  static constexpr size_t kMaxSize = kChunkSize * kMaxChunks;

  // `width` elements per logical row (e.g. the embedding dimension); 1 for plain arrays.
  explicit ChunkedArray(size_t width = 1) : width_(width), chunks_(new std::atomic<T*>[kMaxChunks]) {
    for (size_t i = 0; i < kMaxChunks; ++i) chunks_[i].store(nullptr, std::memory_order_relaxed);
  }
  ~ChunkedArray() {
    for (size_t i = 0; i < kMaxChunks; ++i) delete[] chunks_[i].load(std::memory_order_relaxed);
  }
  ChunkedArray(const ChunkedArray&) = delete;
  ChunkedArray& operator=(const ChunkedArray&) = delete;

  // Makes rows [0, rows) addressable. REQUIRES: one caller at a time.
  Status EnsureRows(size_t rows) {
    if (rows > kMaxSize) return Status::ResourceExhausted("more than ", kMaxSize, " rows in one space");
    const size_t needed = (rows + kChunkSize - 1) >> kChunkBits;
    for (size_t c = allocated_; c < needed; ++c) {
      chunks_[c].store(new T[kChunkSize * width_](), std::memory_order_release);
    }
    if (needed > allocated_) allocated_ = needed;
    return Status::Ok();
  }

  // The row's first element. REQUIRES: row < rows made addressable and published.
  T* Row(size_t row) const {
    T* chunk = chunks_[row >> kChunkBits].load(std::memory_order_acquire);
    return chunk + (row & (kChunkSize - 1)) * width_;
  }
  T& operator[](size_t row) const { return *Row(row); }
  size_t width() const { return width_; }

 private:
  size_t width_;
  size_t allocated_ = 0;
  std::unique_ptr<std::atomic<T*>[]> chunks_;
};

}  // namespace engram
