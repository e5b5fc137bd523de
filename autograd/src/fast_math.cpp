#include "fast_math.hpp"

namespace tapegrad::fast_math {

// Built twice and picked when the library loads: AVX2 with FMA where the CPU has
// them (about 4x the SSE2 speed), plain x86-64 otherwise, so that the binaries
// still run anywhere. The two may differ in the last bit (FMA rounds once).
__attribute__((target_clones("arch=x86-64-v3", "default"))) void sigmoid(const float* x, float* out,
                                                                         int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = sigmoid(x[i]);
}

}  // namespace tapegrad::fast_math
