// Deterministic random numbers, specified here rather than taken from <random>.
//
// std::normal_distribution and friends differ between standard libraries, so a scenario and
// seed would not give the same stream everywhere. These generators are fully specified:
// SplitMix64 (Steele, Lea, Flood 2014) seeds xoshiro256** (Blackman, Vigna 2018), and the
// distributions below are written out. Stream(seed, index) derives an independent generator
// per operation index, so a sequence does not depend on thread or connection counts.
//
// Threading: a generator is a value; give each thread its own.
#pragma once

#include <cmath>
#include <cstdint>

namespace engram {

inline uint64_t SplitMix64Next(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// A stateless 64-bit mix of (a, b): the same inputs give the same output everywhere.
inline uint64_t Mix64(uint64_t a, uint64_t b) {
  uint64_t s = a ^ (b * 0xD1B54A32D192ED03ULL);
  return SplitMix64Next(s);
}

class Rng {
 public:
  explicit Rng(uint64_t seed) {
    uint64_t sm = seed;
    for (auto& word : s_) word = SplitMix64Next(sm);
  }
  // An independent generator for element `index` of the stream named by `seed`.
  static Rng Stream(uint64_t seed, uint64_t index) { return Rng(Mix64(seed, index + 1)); }

  // xoshiro256**
  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, 1) with 53 random bits.
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  // Uniform in (0, 1]: safe to take the log of.
  double UniformOpenZero() { return 1.0 - Uniform(); }
  // Uniform integer in [0, n), n > 0 (Lemire's multiply-shift; bias < 2^-64 * n).
  uint64_t Below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }
  // Standard normal by the Box-Muller transform (one value per call, the pair's cosine leg).
  double Normal() {
    const double u1 = UniformOpenZero();
    const double u2 = Uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  // Exponential with the given rate (mean 1/rate).
  double Exponential(double rate) { return -std::log(UniformOpenZero()) / rate; }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace engram
