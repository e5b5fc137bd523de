// Internal: branch-free float versions of exp and sigmoid that the compiler can
// vectorise (the library is built with -fno-trapping-math, which lets it turn the
// selects below into masks). std::exp is a library call per element, which kept
// sigmoid at about 1 GB/s; these keep f32 results within a few ulp of the exact
// values (tests/autograd/test_tensor.cpp bounds the error). f64 keeps std::exp.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

namespace tapegrad::fast_math {

// e^x for x <= 0, including subnormal results; NaN stays NaN.
inline float exp_nonpositive(float x) {
  // Below -104, e^x is under half the smallest subnormal: it rounds to 0. A NaN
  // passes the comparison and reaches the result through r below.
  x = x < -104.0f ? -104.0f : x;
  // x = n ln2 + r with n an integer and |r| <= ln2/2. Adding 1.5 * 2^23 rounds
  // to the nearest integer (SSE2 has no rounding instruction) and leaves n in
  // the low bits of `shifted`, read from there without a float-to-int cast.
  constexpr float kRound = 12582912.0f;
  const float shifted = x * 1.44269504088896341f + kRound;
  const float n = shifted - kRound;
  // ln2 split in two so that n * kLn2High is exact (Cody and Waite).
  const float r = (x - n * 0.693145751953125f) - n * 1.42860682030941723212e-6f;
  // Taylor series of e^r to degree 7: truncation error below 1e-8 relative.
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  // Scale by 2^n in two halves: n reaches -150, beyond a normal float's -126, and
  // the last multiply then rounds once into the subnormal range.
  const auto ni =
      static_cast<int32_t>(std::bit_cast<uint32_t>(shifted) - std::bit_cast<uint32_t>(kRound));
  const int32_t half = ni / 2;
  const float scale_a = std::bit_cast<float>((half + 127) << 23);
  const float scale_b = std::bit_cast<float>((ni - half + 127) << 23);
  return p * scale_a * scale_b;
}

// 1 / (1 + e^-x), computed from e^-|x| so that nothing overflows.
inline float sigmoid(float x) {
  const float e = exp_nonpositive(-std::fabs(x));
  const float d = 1.0f / (1.0f + e);
  // Both sides computed before the select: a multiply inside the branch would
  // stop the compiler from vectorising (it may not speculate an FP operation).
  const float negative_side = e * d;
  return x >= 0.0f ? d : negative_side;
}

// out[i] = sigmoid(x[i]) for i < n; out may be x.
void sigmoid(const float* x, float* out, int64_t n);

}  // namespace tapegrad::fast_math
