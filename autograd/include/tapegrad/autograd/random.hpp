// A seeded random generator whose streams are identical on every machine:
// xoshiro256** seeded through splitmix64, with its own uniform and normal
// transforms (the standard library's distributions differ between vendors).
#pragma once

#include <cstdint>

namespace tapegrad {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) { seed_state(seed); }

  void seed_state(uint64_t seed);
  uint64_t next_u64();
  // Uniform on [0, 1) with 53 random bits.
  double uniform01();
  // Uniform integer in [0, n); n must be positive.
  uint64_t below(uint64_t n);
  // Standard normal (Box-Muller, one value per call).
  double normal();

 private:
  uint64_t s_[4]{};
};

}  // namespace tapegrad
